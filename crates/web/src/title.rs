//! The tab's title: "Hush", with the number of unread messages in front when there are any
//! ("(3) Hush"), so a person sees from another tab that something new arrived.

use leptos::prelude::*;

use crate::session::Ctx;

/// The title for `unread` unread messages.
pub fn title_for(unread: usize) -> String {
    if unread == 0 { "Hush".into() } else { format!("({unread}) Hush") }
}

/// Keeps the title in step with the unread count (for the app's lifetime).
pub fn follow(ctx: Ctx) {
    Effect::new(move |_| {
        let unread = ctx.live.messages.with(|messages| messages.iter().filter(|m| m.is_unread()).count());
        document().set_title(&title_for(unread));
    });
}
