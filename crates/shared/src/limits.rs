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
/// Minimum seconds between two codes sent to one number for one address.
pub const CODE_SEND_MIN_INTERVAL_SECS: u64 = 30;
/// Codes sent to one number per day for requests from one address (an IPv6 address counts
/// by its /64): a stranger on one address can use only this share of the number's codes,
/// so the person, on another address, can still get theirs.
pub const CODE_SENDS_PER_NUMBER_PER_ADDRESS_PER_DAY: u32 = 5;
/// Codes sent to one number per day, all addresses together: at most 10 codes × 5 guesses
/// = 50 guesses a day on one number, odds 1 in 20,000 (SECURITY.md).
pub const CODE_SENDS_PER_NUMBER_PER_DAY: u32 = 10;
/// WebSocket connections one account may open per minute. Each connect and disconnect of
/// an account shows as presence to its friends, so this also bounds the presence frames one
/// friend can cause (a connect loop could otherwise flood the others' connections).
pub const WS_CONNECTS_PER_ACCOUNT_PER_MINUTE: u32 = 120;
/// Codes requested from one IP address per hour (an IPv6 address counts by its /64).
pub const CODE_SENDS_PER_IP_PER_HOUR: u32 = 20;
/// Verify attempts from one IP address per hour (all numbers together; IPv6 by /64).
pub const VERIFY_ATTEMPTS_PER_IP_PER_HOUR: u32 = 60;
/// Token refreshes from one IP address per hour (IPv6 by /64): a browser refreshes about
/// four times an hour, so this serves ~150 people behind one address.
pub const REFRESHES_PER_IP_PER_HOUR: u32 = 600;
/// Phone-number lookups per account per hour.
pub const LOOKUPS_PER_ACCOUNT_PER_HOUR: u32 = 60;
/// Friend requests sent per account per hour.
pub const FRIEND_REQUESTS_PER_ACCOUNT_PER_HOUR: u32 = 30;
/// `typing` frames one connection forwards to one friend per second (bursts of twice
/// that); further ones are dropped, so a friend cannot flood the other's connection.
pub const TYPING_FRAMES_PER_FRIEND_PER_SEC: u32 = 2;
/// Access-token lifetime in seconds.
pub const ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;
/// Refresh-token lifetime in seconds (a refresh rotates it and restarts the clock).
pub const REFRESH_TOKEN_TTL_SECS: u64 = 30 * 24 * 60 * 60;
/// Length of an encoded public key: 65 bytes SEC1 uncompressed → 87 base64url chars.
pub const PUBLIC_KEY_B64_LEN: usize = 87;
/// Length of an encoded signature: 64 bytes `r || s` → 86 base64url chars.
pub const SIGNATURE_B64_LEN: usize = 86;
/// Longest device name, in Unicode scalar values.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;
/// One-time prekeys in one registration or upload.
pub const MAX_PREKEYS_PER_UPLOAD: usize = 100;
/// One-time prekeys the server keeps per device.
pub const MAX_STORED_PREKEYS: u32 = 200;
/// Clients top up when fewer than this many one-time prekeys remain.
pub const PREKEY_REFILL_BELOW: u32 = 25;
/// Seconds after which a client replaces its signed prekey (a week).
pub const SIGNED_PREKEY_ROTATION_SECS: i64 = 7 * 24 * 3600;
/// Bundle fetches per account per hour (all targets together).
pub const BUNDLE_FETCHES_PER_ACCOUNT_PER_HOUR: u32 = 120;
/// Bundle fetches of one target per account per hour: each takes a one-time prekey of
/// every device of the target, so this bounds how fast one friend can drain them.
pub const BUNDLE_FETCHES_PER_TARGET_PER_HOUR: u32 = 20;
/// Device registrations, signed-prekey rotations and device removals per account per hour
/// (counted before any signature is checked; a registration may tell every friend of a new
/// identity).
pub const DEVICE_CHANGES_PER_ACCOUNT_PER_HOUR: u32 = 20;
/// One-time prekey uploads per account per hour.
pub const PREKEY_UPLOADS_PER_ACCOUNT_PER_HOUR: u32 = 60;
/// Links a browser may open per account per hour (each shows a new code).
pub const LINKS_PER_ACCOUNT_PER_HOUR: u32 = 10;
/// Tries to join a link by its code, per account per hour.
pub const LINK_JOINS_PER_ACCOUNT_PER_HOUR: u32 = 10;
/// Reads and steps of links (both sides poll about once a second), per account per hour.
pub const LINK_CALLS_PER_ACCOUNT_PER_HOUR: u32 = 2_000;
/// Seconds a link stays open.
pub const LINK_TTL_SECS: i64 = 600;
/// Digits of a link code.
pub const LINK_CODE_DIGITS: usize = 8;
/// Longest sealed link payload, in base64url characters.
pub const MAX_LINK_SEALED_B64: usize = 2_048;
/// Longest sealed history chunk, in base64url characters (under the 16 KiB body limit).
pub const MAX_HISTORY_CHUNK_B64: usize = 15_000;
/// How far back the history sent to a linked browser goes, in days.
pub const HISTORY_DAYS: i64 = 30;
/// Most messages of history sent to a linked browser (the newest).
pub const HISTORY_MESSAGES: usize = 10_000;
/// Longest push subscription endpoint accepted (characters).
pub const MAX_PUSH_ENDPOINT_CHARS: usize = 1024;
/// Push subscription changes (set or removed) one account may make per hour.
pub const PUSH_SUBSCRIPTION_CHANGES_PER_ACCOUNT_PER_HOUR: u32 = 30;
