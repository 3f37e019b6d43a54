//! Devices and their prekeys (crypto v2, `docs/CRYPTO.md` §2–§4): registering this browser
//! as a device of my account, keeping its prekeys topped up, and fetching a friend's
//! bundles to start sessions with each of their devices.
//!
//! Keys travel as base64url without padding: public keys as 65-byte SEC1 uncompressed
//! points (87 characters), signatures as 64-byte `r || s` (86 characters).

use super::wire;
use crate::ids::{DeviceId, UserId};

wire! {
/// A signed prekey: the device's medium-term DH key, signed by the account identity.
pub struct SignedPrekey {
    /// Chosen by the device; not 0.
    pub id: u32,
    /// The prekey.
    pub public_key: String,
    /// `SIGN(AIK, "hush/v2/signed-prekey" || user_id || device_id || u32_be(id) || key)`.
    pub signature: String,
}
}

wire! {
/// A one-time prekey; the server hands each out once.
pub struct OneTimePrekey {
    /// Chosen by the device, unique among its one-time prekeys; not 0.
    pub id: u32,
    /// The prekey.
    pub public_key: String,
}
}

wire! {
/// `POST /api/v1/devices`: register this browser as a device of my account. The session
/// that registers becomes the device's session.
pub struct RegisterDevice {
    /// Chosen by the device (a random UUID).
    pub device_id: DeviceId,
    /// The account identity key (`AIK`). It must equal the account's unless the account
    /// has no device left or `new_identity` is set.
    pub identity_key: String,
    /// The device key (`DK`).
    pub device_key: String,
    /// `SIGN(AIK, "hush/v2/device-certificate" || user_id || device_id || DK)`.
    pub certificate: String,
    /// The first signed prekey.
    pub signed_prekey: SignedPrekey,
    /// The first one-time prekeys (up to `MAX_PREKEYS_PER_UPLOAD`).
    pub one_time_prekeys: Vec<OneTimePrekey>,
    /// A name people recognise the device by (e.g. "Firefox on Linux").
    #[serde(default)]
    pub name: Option<String>,
    /// Start again: this identity replaces the account's, and every other device of the
    /// account is removed. Friends are told the identity changed.
    #[serde(default)]
    pub new_identity: bool,
    /// For a device already registered from an earlier sign-in (whose session ended):
    /// `SIGN(AIK, "hush/v2/device-session" || user_id || device_id || SHA-256(access
    /// token))`, proving the device's owner moves it to this sign-in. With it, the same
    /// device id, device key and identity register again without `device_exists`.
    #[serde(default)]
    pub session_proof: Option<String>,
    /// A further device of an account that has devices: the link (`/api/v1/links`) over
    /// which a device of the account gave this browser the identity, completed for this
    /// sign-in.
    #[serde(default)]
    pub link_id: Option<uuid::Uuid>,
}
}

wire! {
/// One of my devices, as listed.
pub struct Device {
    /// The device.
    pub device_id: DeviceId,
    /// Its name, if it gave one.
    pub name: Option<String>,
    /// Unix seconds it registered.
    pub created_at: i64,
    /// Unix seconds it last connected or disconnected (`null` before its first connection).
    pub last_seen: Option<i64>,
    /// Whether it is the device of the session asking.
    pub current: bool,
}
}

wire! {
/// `GET /api/v1/devices`: my account identity and devices.
pub struct DeviceList {
    /// The account identity key, once a device registered one.
    pub identity_key: Option<String>,
    /// My devices, oldest first.
    pub devices: Vec<Device>,
}
}

wire! {
/// `POST /api/v1/devices/{device_id}/one-time-prekeys`: more one-time prekeys.
pub struct UploadPrekeys {
    /// The new prekeys (up to `MAX_PREKEYS_PER_UPLOAD`, ids not yet used by this device).
    pub one_time_prekeys: Vec<OneTimePrekey>,
}
}

wire! {
/// `GET /api/v1/devices/{device_id}/prekeys`: what the server holds for my device, so it
/// knows when to top up or rotate.
pub struct PrekeyStatus {
    /// One-time prekeys not yet handed out.
    pub one_time_prekeys: u32,
    /// The current signed prekey's id.
    pub signed_prekey_id: u32,
    /// Unix seconds the current signed prekey was uploaded.
    pub signed_prekey_uploaded_at: i64,
}
}

wire! {
/// One device of a person, ready for a handshake (verify before use!).
pub struct DeviceBundle {
    /// The device.
    pub device_id: DeviceId,
    /// Its device key.
    pub device_key: String,
    /// Its certificate under the account identity.
    pub certificate: String,
    /// Its current signed prekey.
    pub signed_prekey: SignedPrekey,
    /// A one-time prekey, now deleted from the server; `null` when the device has none
    /// left (the handshake then runs without one).
    pub one_time_prekey: Option<OneTimePrekey>,
}
}

wire! {
/// `GET /api/v1/users/{user_id}/bundles`: every device of a friend (or of myself).
pub struct BundleList {
    /// The person.
    pub user_id: UserId,
    /// Their account identity key; `null` when they have no device yet.
    pub identity_key: Option<String>,
    /// One bundle per device.
    pub devices: Vec<DeviceBundle>,
}
}
