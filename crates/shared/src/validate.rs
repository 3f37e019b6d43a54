//! Input validation shared by server and clients, so both reject the same things with the
//! same [`ErrorCode`].

use crate::error::ErrorCode;
use crate::limits::{MAX_DEVICE_NAME_CHARS, MAX_DISPLAY_NAME_CHARS, MAX_PHONE_INPUT_CHARS, PUBLIC_KEY_B64_LEN};

/// A validation failure: the code to answer with and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// Stable code.
    pub code: ErrorCode,
    /// Explanation.
    pub message: String,
}

impl Invalid {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// Checks the shape of a phone number as typed: `+`, a country code and 7 to 15 digits in
/// all, with spaces, dashes, dots or parentheses allowed. Returns the `+digits` form. This
/// is what a client without the numbering-plan metadata can check; [`normalize_phone`]
/// (feature `phone-metadata`) checks the number really exists in its country's plan.
pub fn phone_shape(input: &str) -> Result<String, Invalid> {
    let trimmed = input.trim();
    let invalid = |m: &str| Invalid::new(ErrorCode::InvalidPhone, m);
    if !trimmed.starts_with('+') {
        return Err(invalid("the phone number must start with + and the country code"));
    }
    if trimmed.chars().count() > MAX_PHONE_INPUT_CHARS
        || !trimmed[1..].chars().all(|c| c.is_ascii_digit() || " -.()".contains(c))
    {
        return Err(invalid("the phone number may contain only digits, spaces, dashes, dots and parentheses"));
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if !(7..=15).contains(&digits.len()) {
        return Err(invalid("a phone number has 7 to 15 digits with its country code"));
    }
    Ok(format!("+{digits}"))
}

/// Parses a phone number as typed and returns it in E.164 (`+15551234567`).
///
/// Numbers must carry their country code (`+…`); spaces, dashes, dots and parentheses are
/// allowed. The number must be *possible* and *valid* for its region according to
/// libphonenumber's metadata.
#[cfg(feature = "phone-metadata")]
pub fn normalize_phone(input: &str) -> Result<String, Invalid> {
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_PHONE_INPUT_CHARS {
        return Err(Invalid::new(
            ErrorCode::InvalidPhone,
            "enter a phone number with its country code, e.g. +1 555 123 4567",
        ));
    }
    if !trimmed.starts_with('+') {
        return Err(Invalid::new(ErrorCode::InvalidPhone, "the phone number must start with + and the country code"));
    }
    if !trimmed[1..].chars().all(|c| c.is_ascii_digit() || " -.()".contains(c)) {
        return Err(Invalid::new(
            ErrorCode::InvalidPhone,
            "the phone number may contain only digits, spaces, dashes, dots and parentheses",
        ));
    }
    let e164 = valid_e164(trimmed)?;
    // The parser sometimes rewrites what it reads (a short country code re-read as a longer
    // one, a trunk prefix dropped): the result must be a number in its own right that
    // normalises to itself, or the account could never be found by typing its number.
    if valid_e164(&e164).ok().as_deref() != Some(e164.as_str()) {
        return Err(Invalid::new(
            ErrorCode::InvalidPhone,
            "this phone number does not exist in its country's numbering plan",
        ));
    }
    phone_shape(&e164)
}

/// Parses with libphonenumber, requires a valid number, formats it in E.164.
#[cfg(feature = "phone-metadata")]
fn valid_e164(input: &str) -> Result<String, Invalid> {
    let parsed = phonenumber::parse(None, input)
        .map_err(|_| Invalid::new(ErrorCode::InvalidPhone, "this is not a phone number"))?;
    if !phonenumber::is_valid(&parsed) {
        return Err(Invalid::new(
            ErrorCode::InvalidPhone,
            "this phone number does not exist in its country's numbering plan",
        ));
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// Trims a display name and checks it: 1 to 64 characters, no control characters.
pub fn display_name(input: &str) -> Result<String, Invalid> {
    label(input, MAX_DISPLAY_NAME_CHARS, ErrorCode::InvalidDisplayName, "the display name")
}

/// Trims a device name and checks it like a display name (1 to 64 characters).
pub fn device_name(input: &str) -> Result<String, Invalid> {
    label(input, MAX_DEVICE_NAME_CHARS, ErrorCode::InvalidDeviceName, "the device name")
}

/// A name people read: trimmed, not empty, at most `max` characters, and free of control
/// and direction-override characters (which could disguise it).
fn label(input: &str, max: usize, code: ErrorCode, what: &str) -> Result<String, Invalid> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new(code, format!("{what} must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(Invalid::new(code, format!("{what} must be at most {max} characters")));
    }
    if trimmed.chars().any(|c| {
        c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }) {
        return Err(Invalid::new(code, format!("{what} must not contain control or direction-override characters")));
    }
    Ok(trimmed.to_owned())
}

/// Cheap shape check of a wire public key (87 base64url characters, no padding). The full
/// check — that it decodes to a point on P-256 — is `hush_crypto::PublicKey::from_wire`.
pub fn public_key_shape(input: &str) -> Result<(), Invalid> {
    if input.len() != PUBLIC_KEY_B64_LEN || !input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Invalid::new(
            ErrorCode::InvalidPublicKey,
            "a public key is a 65-byte SEC1 uncompressed P-256 point in base64url without padding",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `request_body` fuzz target: the parser read `+4 …` as `+49…` with 17
    /// digits, and `+8100006606098989` as a valid `+81006606098989` that is itself invalid.
    #[cfg(feature = "phone-metadata")]
    #[test]
    fn normalised_numbers_are_e164_and_normalise_to_themselves() {
        for rewritten in ["+4 993 067 89 993 067 89", "+8100006606098989"] {
            assert_eq!(normalize_phone(rewritten).unwrap_err().code, ErrorCode::InvalidPhone, "{rewritten}");
        }
        assert_eq!(normalize_phone("+1 650 253 0000").unwrap(), "+16502530000");
        assert_eq!(normalize_phone("+81 3-1234-5678").unwrap(), "+81312345678");
    }

    #[test]
    fn phone_shape_is_checked_without_metadata() {
        assert_eq!(phone_shape("+1 (650) 253-0000").unwrap(), "+16502530000");
        for bad in ["6502530000", "+1 650", "+1abc", &format!("+{}", "1".repeat(16))] {
            assert_eq!(phone_shape(bad).unwrap_err().code, ErrorCode::InvalidPhone, "{bad:?}");
        }
    }

    #[test]
    fn phone_numbers_normalise_to_e164() {
        assert_eq!(normalize_phone("+1 (650) 253-0000").unwrap(), "+16502530000");
        assert_eq!(normalize_phone(" +44 20 7946 0958 ").unwrap(), "+442079460958");
        assert_eq!(normalize_phone("+39 06 4991 1234").unwrap(), "+390649911234");
    }

    #[test]
    fn bad_phone_numbers_are_rejected_with_invalid_phone() {
        for bad in [
            "",
            "   ",
            "6502530000",
            "+1",
            "+1 650 253 00001234567890123456789",
            "+1abc",
            "+999 123",
            "+1 000 000 0000",
        ] {
            let err = normalize_phone(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidPhone, "{bad:?} should be rejected");
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name("  Alice  ").unwrap(), "Alice");
        assert_eq!(display_name("Zoë 🎉").unwrap(), "Zoë 🎉");
        assert!(display_name("").is_err());
        assert!(display_name("a\u{0007}b").is_err());
        assert!(display_name("evil\u{202E}txt").is_err());
        assert!(display_name(&"x".repeat(65)).is_err());
        assert!(display_name(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn public_key_shape_check() {
        assert!(public_key_shape(&"A".repeat(87)).is_ok());
        assert!(public_key_shape(&"A".repeat(86)).is_err());
        assert!(public_key_shape(&format!("{}=", "A".repeat(86))).is_err());
        assert!(public_key_shape(&format!("{}+", "A".repeat(86))).is_err());
    }
}
