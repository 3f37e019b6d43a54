//! `/api/v1/push`: Web Push for this session's device — the server's VAPID key, and the
//! device's subscription (what `PushSubscription.toJSON()` gives, without
//! `expirationTime`).

use super::wire;

wire! {
/// `GET /api/v1/push/key`.
pub struct PushKey {
    /// The server's VAPID public key (the uncompressed P-256 point, base64url without
    /// padding): the browser's `applicationServerKey`.
    pub public_key: String,
}
}

wire! {
/// The browser's keys for a subscription.
pub struct PushKeys {
    /// The browser's P-256 public key (uncompressed point, base64url).
    pub p256dh: String,
    /// The browser's 16-byte authentication secret (base64url).
    pub auth: String,
}
}

wire! {
/// `PUT /api/v1/push/subscription`: where to push this device's notifications.
pub struct PushSubscription {
    /// The push service's URL for this browser: `https`, on a public address, at most
    /// 1,024 characters.
    pub endpoint: String,
    /// The keys the payload is encrypted for (RFC 8291).
    pub keys: PushKeys,
}
}
