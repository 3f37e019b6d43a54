//! Upper- and lower-casing by the browser (`String.prototype.toUpperCase` and
//! `toLowerCase`): the same Unicode case mapping as Rust's `str` methods, without shipping
//! Rust's case tables in the WASM (BENCHMARKS.md, "Web bundle"). Text known to be ASCII
//! uses `to_ascii_lowercase` instead.

/// `text` lower-cased.
pub fn lowercase(text: &str) -> String {
    js_sys::JsString::from(text).to_lower_case().into()
}

/// `text` upper-cased.
pub fn uppercase(text: &str) -> String {
    js_sys::JsString::from(text).to_upper_case().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn cases_map_as_rust_maps_them() {
        for text in ["Ada", "ÉLODIE Durand", "straße", "ΣΊΣΥΦΟΣ", "İstanbul", "", "日本"] {
            assert_eq!(lowercase(text), text.to_lowercase(), "{text}");
            assert_eq!(uppercase(text), text.to_uppercase(), "{text}");
        }
    }
}
