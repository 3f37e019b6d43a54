//! Ids and numbers written as text without `fmt`'s machinery, for what is written for every
//! message relayed: its frames (`ws::message_frame`) and, on Redis, its copy, its receipt and
//! the script arguments naming them (`store::redis`). Through `Display` an id cost about
//! five times the instructions of writing its 36 bytes directly (BENCHMARKS.md, "Frames
//! without the formatting machinery" and "The Redis mailbox's own work in the server").

use uuid::Uuid;

/// Appends `id` in its hyphenated form, as `Display` writes it.
pub fn push_id(text: &mut String, id: &Uuid) {
    text.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
}

/// Appends `n` in decimal.
pub fn push_number(text: &mut String, n: i64) {
    text.push_str(itoa::Buffer::new().format(n));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_numbers_are_written_as_display_writes_them() {
        let mut text = String::from("x");
        for id in [Uuid::nil(), Uuid::max(), Uuid::now_v7()] {
            push_id(&mut text, &id);
            text.push(' ');
            assert!(text.ends_with(&format!("{id} ")));
        }
        for n in [0, -1, 7, i64::MIN, i64::MAX] {
            push_number(&mut text, n);
            assert!(text.ends_with(&n.to_string()));
        }
    }
}
