//! Every size, time and rate limit of the protocol, in one place. The server enforces
//! them; clients use them to validate before sending; docs quote them.

/// Maximum size of any JSON request body, in bytes.
pub const MAX_JSON_BODY_BYTES: usize = 16 * 1024;
/// Maximum display-name length, in Unicode scalar values (after trimming).
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Maximum length of a phone number as typed (before normalisation).
pub const MAX_PHONE_INPUT_CHARS: usize = 32;
/// Digits in a sign-in code.
pub const SIGN_IN_CODE_DIGITS: usize = 6;
/// Seconds a sign-in code stays valid.
pub const SIGN_IN_CODE_TTL_SECS: u64 = 10 * 60;
/// Wrong guesses after which a code is burned.
pub const SIGN_IN_CODE_MAX_ATTEMPTS: u32 = 5;
/// Minimum seconds between two codes sent to one number.
pub const CODE_SEND_MIN_INTERVAL_SECS: u64 = 30;
/// Codes sent to one number per hour.
pub const CODE_SENDS_PER_NUMBER_PER_HOUR: u32 = 5;
/// Codes requested from one IP address per hour.
pub const CODE_SENDS_PER_IP_PER_HOUR: u32 = 20;
/// Verify attempts from one IP address per hour (all numbers together).
pub const VERIFY_ATTEMPTS_PER_IP_PER_HOUR: u32 = 60;
/// Phone-number lookups per account per hour.
pub const LOOKUPS_PER_ACCOUNT_PER_HOUR: u32 = 60;
/// Friend requests sent per account per hour.
pub const FRIEND_REQUESTS_PER_ACCOUNT_PER_HOUR: u32 = 30;
/// Access-token lifetime in seconds.
pub const ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;
/// Refresh-token lifetime in seconds (a refresh rotates it and restarts the clock).
pub const REFRESH_TOKEN_TTL_SECS: u64 = 30 * 24 * 60 * 60;
/// Length of an encoded public key: 65 bytes SEC1 uncompressed → 87 base64url chars.
pub const PUBLIC_KEY_B64_LEN: usize = 87;
