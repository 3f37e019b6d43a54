//! A person's avatar: their initials on a colour derived from their id, so the same
//! friend looks the same in the list, the chat and on every device, with no picture to
//! upload. Decorative (the name is always written beside it), so hidden from screen readers.

use hush_shared::UserId;
use leptos::prelude::*;

/// How many avatar colours the stylesheet defines (`.avatar.c0` … `.avatar.c7`), each dark
/// enough for white initials to pass WCAG AA in light and dark themes.
pub const COLOURS: usize = 8;

/// Up to two initials: the first letters of the first two words, upper-cased.
pub fn initials(name: &str) -> String {
    let first_letters: String = name.split_whitespace().take(2).filter_map(|word| word.chars().next()).collect();
    crate::text_case::uppercase(&first_letters)
}

/// The colour for `id`: the same on every device.
pub fn colour_of(id: UserId) -> usize {
    let sum = id.to_string().bytes().fold(0u32, |acc, b| acc.wrapping_mul(31).wrapping_add(u32::from(b)));
    sum as usize % COLOURS
}

/// The avatar of `name` (`id`'s colour).
pub fn avatar(id: UserId, name: &str) -> impl IntoView + use<> {
    view! { <span class=format!("avatar c{}", colour_of(id)) aria-hidden="true">{initials(name)}</span> }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn initials_are_the_first_letters_of_two_words() {
        assert_eq!(initials("Ada Lovelace Byron"), "AL");
        assert_eq!(initials("bob"), "B");
        assert_eq!(initials("  élodie  durand "), "ÉD");
        assert_eq!(initials(""), "");
    }

    #[wasm_bindgen_test]
    fn a_person_keeps_their_colour_and_people_spread_over_all_colours() {
        let id = UserId::new();
        assert_eq!(colour_of(id), colour_of(id));
        let used: std::collections::HashSet<usize> = (0..200).map(|_| colour_of(UserId::new())).collect();
        assert_eq!(used.len(), COLOURS, "200 people use every colour");
    }
}
