//! The app's icons as inline SVG drawn with `currentColor`, so ticks and states show on
//! every system — emoji needed a font that many Linux desktops lack (they rendered as empty
//! boxes). Each icon is decorative (`aria-hidden`); the element around it carries the name.

use leptos::prelude::*;

/// Which icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    /// Waiting (on this device, or for a message to come again).
    Clock,
    /// Sent: stored by the server.
    Check,
    /// Delivered or read.
    DoubleCheck,
    /// Not sent, or expired.
    Warning,
    /// Could not be decrypted.
    Lock,
}

/// The icon, 1em square, in the text's colour.
pub fn icon(which: Icon) -> impl IntoView {
    let shapes = match which {
        Icon::Clock => view! { <circle cx="8" cy="8" r="6.2"/><path d="M8 4.6V8l2.4 1.6"/> }.into_any(),
        Icon::Check => view! { <path d="M2.5 8.6l3.3 3.2L13.5 4"/> }.into_any(),
        Icon::DoubleCheck => view! { <path d="M0.8 8.6l3.1 3.1L11 4M6.7 11.2l.5.5L15.2 4"/> }.into_any(),
        Icon::Warning => view! { <path d="M8 1.8L14.8 13.8H1.2z"/><path d="M8 6.2v3.6M8 11.6v.4"/> }.into_any(),
        Icon::Lock => {
            view! { <rect x="3" y="7.2" width="10" height="7" rx="1.5"/><path d="M5.2 7.2V5.2a2.8 2.8 0 0 1 5.6 0v2"/> }
                .into_any()
        }
    };
    view! {
        <svg class="icon" viewBox="0 0 16 16" width="1em" height="1em" aria-hidden="true" fill="none"
            stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round">
            {shapes}
        </svg>
    }
}
