//! Times as people read them: `HH:MM` today, the weekday within a week, the date before.

const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

fn date(ms: i64) -> js_sys::Date {
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64))
}

/// `HH:MM` in local time.
pub fn clock(ms: i64) -> String {
    let d = date(ms);
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

/// The local calendar day, for grouping.
pub fn day_key(ms: i64) -> (u32, u32, u32) {
    let d = date(ms);
    (d.get_full_year(), d.get_month(), d.get_date())
}

/// A day separator's label: Today, Yesterday, weekday, or the date.
pub fn day_label(ms: i64) -> String {
    let now = js_sys::Date::now() as i64;
    if day_key(ms) == day_key(now) {
        return "Today".into();
    }
    if day_key(ms) == day_key(now - 86_400_000) {
        return "Yesterday".into();
    }
    let d = date(ms);
    if now - ms < 6 * 86_400_000 {
        return WEEKDAYS[d.get_day() as usize % 7].into();
    }
    format!("{}-{:02}-{:02}", d.get_full_year(), d.get_month() + 1, d.get_date())
}

/// A chat-list time: `HH:MM` today, weekday this week, date before.
pub fn list_time(ms: i64) -> String {
    let label = day_label(ms);
    match label.as_str() {
        "Today" => clock(ms),
        _ => label,
    }
}
