//! This device's long-term keys: making and registering them (`POST /devices`), and
//! keeping its prekeys on the server topped up and its signed prekey rotated.
//!
//! Secrets are stored before their public halves are uploaded, so a handshake that uses a
//! freshly uploaded prekey always finds its secret.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_crypto::{IdentityKeyPair, KeyPair, LocalDevice, Party, PublicKey, SafetyNumber};
use hush_shared::api::devices::{OneTimePrekey, RegisterDevice, SignedPrekey};
use hush_shared::limits::{PREKEY_REFILL_BELOW, SIGNED_PREKEY_ROTATION_SECS};
use hush_shared::{DeviceId, ErrorCode, UserId};
use sha2::{Digest, Sha256};

use crate::api::{self, ApiError, Http};
use crate::store::{ClientStore, OneTimePrekeySecret, OwnDevice, SignedPrekeySecret, StoreError};

/// One-time prekeys a device keeps on the server.
pub const PREKEY_TARGET: u32 = 100;
/// How long a replaced signed prekey's secret is kept: messages made with it may wait in
/// the mailbox this long.
pub const OLD_SIGNED_PREKEY_LIFETIME_SECS: i64 = 30 * 24 * 3600;
/// How long a one-time prekey's secret is kept once the server handed the key out and no
/// handshake used it (yet): the first message made with it may still wait in its sender's
/// outbox or the mailbox. One arriving later cannot be opened here and is asked for again
/// (`retry`), which makes a new session.
pub const HANDED_OUT_PREKEY_LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// Why setting up or maintaining the device failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server refused or could not be reached.
    #[error("server: {} ({})", .0.message, .0.code)]
    Api(ApiError),
    /// Stored keys are corrupt.
    #[error("stored device keys are invalid")]
    Corrupt,
}

impl From<ApiError> for DeviceError {
    fn from(e: ApiError) -> Self {
        DeviceError::Api(e)
    }
}

/// What setting up found.
#[derive(Debug, Clone)]
pub enum Setup {
    /// This browser is a registered device of the account.
    Ready(Box<LocalDevice>),
    /// The account is in use on another browser under another identity: this browser can
    /// only start again (a new identity; the other browser stops working).
    InUseElsewhere,
    /// This browser was a device of the account and is one no more: another device
    /// removed it, or a browser started again. What it holds should be erased.
    Removed,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn secret_of(text: &str) -> Result<Vec<u8>, DeviceError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| DeviceError::Corrupt)
}

/// The key pair of a stored prekey secret.
pub fn prekey_pair(secret: &str) -> Result<KeyPair, DeviceError> {
    KeyPair::from_secret_bytes(&secret_of(secret)?).map_err(|_| DeviceError::Corrupt)
}

/// This device's keys from storage.
pub fn local_device(own: &OwnDevice) -> Result<LocalDevice, DeviceError> {
    let identity =
        IdentityKeyPair::from_secret_bytes(&secret_of(&own.identity_secret)?).map_err(|_| DeviceError::Corrupt)?;
    let device_key = prekey_pair(&own.device_secret)?;
    Ok(LocalDevice::new(*own.user_id.as_bytes(), *own.device_id.as_bytes(), identity, device_key))
}

fn signed_prekey_body(device: &LocalDevice, id: u32, key: &PublicKey) -> SignedPrekey {
    SignedPrekey { id, public_key: key.to_wire(), signature: device.sign_prekey(id, key).to_wire() }
}

/// Makes `count` one-time prekeys with the next ids, stores their secrets, and returns
/// their public halves to upload.
async fn new_one_time_prekeys(
    store: &impl ClientStore,
    own: &mut OwnDevice,
    count: u32,
) -> Result<Vec<OneTimePrekey>, DeviceError> {
    let mut secrets = Vec::with_capacity(count as usize);
    let mut public = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let id = own.next_prekey_id;
        own.next_prekey_id = own.next_prekey_id.checked_add(1).unwrap_or(1).max(1);
        let pair = KeyPair::generate();
        secrets.push(OneTimePrekeySecret { id, secret: b64(&pair.secret_bytes()[..]), handed_out_at: None });
        public.push(OneTimePrekey { id, public_key: pair.public().to_wire() });
    }
    store.put_one_time_prekeys(&secrets).await?;
    store.put_own_device(own).await?;
    Ok(public)
}

/// Makes the next signed prekey, stores its secret, returns its body to upload.
async fn new_signed_prekey(
    store: &impl ClientStore,
    own: &mut OwnDevice,
    device: &LocalDevice,
    now: i64,
) -> Result<SignedPrekey, DeviceError> {
    let id = own.next_signed_prekey_id;
    own.next_signed_prekey_id = own.next_signed_prekey_id.checked_add(1).unwrap_or(1).max(1);
    let pair = KeyPair::generate();
    let secret = SignedPrekeySecret { id, secret: b64(&pair.secret_bytes()[..]), created_at: now, replaced_at: None };
    store.put_signed_prekey(&secret).await?;
    store.put_own_device(own).await?;
    Ok(signed_prekey_body(device, id, pair.public()))
}

/// Makes this browser a new device under an account identity it was given by a device of
/// the account over `link` (`crate::linking`): fresh device keys under a new device id,
/// registered (naming the link) by the next [`set_up`].
pub async fn adopt_identity(
    store: &impl ClientStore,
    me: UserId,
    identity_secret: &str,
    link: uuid::Uuid,
) -> Result<(), DeviceError> {
    IdentityKeyPair::from_secret_bytes(&secret_of(identity_secret)?).map_err(|_| DeviceError::Corrupt)?;
    let device_key = KeyPair::generate();
    let own = OwnDevice {
        user_id: me,
        device_id: DeviceId::new(),
        identity_secret: identity_secret.to_owned(),
        device_secret: b64(&device_key.secret_bytes()[..]),
        next_prekey_id: 1,
        next_signed_prekey_id: 1,
        registered_at: 0,
        link_id: Some(link),
    };
    store.put_own_device(&own).await?;
    Ok(())
}

/// Sets this browser up as a device of `me`: uses the keys it already has, or makes new
/// ones, and registers them unless the server already lists this device as the session's.
/// With `new_identity` it starts again: a fresh identity replaces the account's and every
/// other device (friends are told the identity changed).
pub async fn set_up(
    store: &impl ClientStore,
    http: &(impl Http + ?Sized),
    me: UserId,
    name: Option<&str>,
    new_identity: bool,
    now: i64,
) -> Result<Setup, DeviceError> {
    let existing = store.own_device().await?.filter(|own| own.user_id == me && !new_identity);
    if let Some(own) = &existing {
        let listed = match api::devices(http).await {
            Ok(listed) => listed,
            // Without a connection a registered device starts from its own keys (the app
            // opens offline, the outbox fills); the server's `hello` checks that it is
            // still the session's device once a connection opens.
            Err(e) if e.code == ErrorCode::Unavailable && own.registered_at > 0 => {
                return Ok(Setup::Ready(Box::new(local_device(own)?)));
            }
            Err(e) => return Err(e.into()),
        };
        if listed.devices.iter().any(|d| d.device_id == own.device_id && d.current) {
            return Ok(Setup::Ready(Box::new(local_device(own)?)));
        }
        // Registered once, and now not listed at all (not merely under an older sign-in).
        if own.registered_at > 0 && !listed.devices.iter().any(|d| d.device_id == own.device_id) {
            return Ok(Setup::Removed);
        }
    }
    let mut own = match existing {
        Some(own) => own,
        None => {
            let identity = IdentityKeyPair::generate();
            let device_key = KeyPair::generate();
            let own = OwnDevice {
                user_id: me,
                device_id: DeviceId::new(),
                identity_secret: b64(&identity.secret_bytes()[..]),
                device_secret: b64(&device_key.secret_bytes()[..]),
                next_prekey_id: 1,
                next_signed_prekey_id: 1,
                registered_at: 0,
                link_id: None,
            };
            store.put_own_device(&own).await?;
            own
        }
    };
    let device = local_device(&own)?;
    let signed_prekey = new_signed_prekey(store, &mut own, &device, now).await?;
    let one_time_prekeys = new_one_time_prekeys(store, &mut own, PREKEY_TARGET).await?;
    // The device may have registered from an earlier sign-in (even if the answer was lost):
    // prove it is ours, so it moves to this sign-in rather than looking like a stranger.
    let session_proof = http.access_token().map(|token| {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        device.identity.prove_session(&device.user_id, &device.device_id, &digest).to_wire()
    });
    let body = RegisterDevice {
        device_id: own.device_id,
        identity_key: device.identity.public().to_wire(),
        device_key: device.device_key.public().to_wire(),
        certificate: device.certificate.to_wire(),
        signed_prekey,
        one_time_prekeys,
        name: name.map(str::to_owned),
        new_identity,
        session_proof,
        link_id: own.link_id.filter(|_| !new_identity),
    };
    match api::register_device(http, &body).await {
        Ok(_) => {
            own.registered_at = now;
            own.link_id = None;
            store.put_own_device(&own).await?;
            Ok(Setup::Ready(Box::new(device)))
        }
        Err(e) => {
            // Nothing was registered: forget the prekeys made for it.
            store.remove_signed_prekey(body.signed_prekey.id).await?;
            for prekey in &body.one_time_prekeys {
                store.remove_one_time_prekey(prekey.id).await?;
            }
            if matches!(
                e.code,
                ErrorCode::IdentityMismatch
                    | ErrorCode::DeviceLimit
                    | ErrorCode::DeviceExists
                    | ErrorCode::LinkRequired
            ) {
                Ok(Setup::InUseElsewhere)
            } else {
                Err(e.into())
            }
        }
    }
}

/// Keeps the server stocked: tops one-time prekeys up to [`PREKEY_TARGET`] when fewer
/// than `PREKEY_REFILL_BELOW` remain, replaces the signed prekey once a week, and forgets
/// a replaced signed prekey [`OLD_SIGNED_PREKEY_LIFETIME_SECS`] after its replacement and
/// a handed-out one-time prekey no handshake used [`HANDED_OUT_PREKEY_LIFETIME_SECS`] after
/// that was first seen.
pub async fn replenish(
    store: &impl ClientStore,
    http: &(impl Http + ?Sized),
    device: &LocalDevice,
    now: i64,
) -> Result<(), DeviceError> {
    let Some(mut own) = store.own_device().await? else { return Ok(()) };
    let device_id = own.device_id;
    let mut status = api::prekey_status(http, device_id).await?;
    forget_handed_out_prekeys(store, &own, status.one_time_prekeys, now).await?;
    if status.one_time_prekeys < PREKEY_REFILL_BELOW {
        let fresh = new_one_time_prekeys(store, &mut own, PREKEY_TARGET - status.one_time_prekeys).await?;
        status = api::upload_prekeys(http, device_id, fresh).await?;
    }
    if now - status.signed_prekey_uploaded_at >= SIGNED_PREKEY_ROTATION_SECS {
        let body = new_signed_prekey(store, &mut own, device, now).await?;
        status = api::rotate_signed_prekey(http, device_id, &body).await?;
    }
    for mut old in store.signed_prekeys().await? {
        if old.id == status.signed_prekey_id {
            continue;
        }
        match old.replaced_at {
            None => {
                old.replaced_at = Some(now);
                store.put_signed_prekey(&old).await?;
            }
            Some(at) if now - at > OLD_SIGNED_PREKEY_LIFETIME_SECS => store.remove_signed_prekey(old.id).await?,
            Some(_) => {}
        }
    }
    Ok(())
}

/// The server hands out a device's one-time prekeys lowest id first (PROTOCOL.md) and this
/// device numbers them upwards, so of those it made the `on_server` highest are still
/// there and every lower one was handed out. Each of those is marked when first found, and
/// its secret deleted [`HANDED_OUT_PREKEY_LIFETIME_SECS`] later.
async fn forget_handed_out_prekeys(
    store: &impl ClientStore,
    own: &OwnDevice,
    on_server: u32,
    now: i64,
) -> Result<(), DeviceError> {
    let still_on_server_from = own.next_prekey_id.saturating_sub(on_server);
    let mut marked = Vec::new();
    for mut prekey in store.one_time_prekeys().await? {
        if prekey.id >= still_on_server_from {
            continue;
        }
        match prekey.handed_out_at {
            None => {
                prekey.handed_out_at = Some(now);
                marked.push(prekey);
            }
            Some(at) if now - at > HANDED_OUT_PREKEY_LIFETIME_SECS => store.remove_one_time_prekey(prekey.id).await?,
            Some(_) => {}
        }
    }
    if !marked.is_empty() {
        store.put_one_time_prekeys(&marked).await?;
    }
    Ok(())
}

/// The safety number between me and `peer` over our account identities, once this device
/// is set up and `peer`'s identity is known.
pub async fn safety_number(store: &impl ClientStore, peer: UserId) -> Result<Option<SafetyNumber>, DeviceError> {
    let (Some(own), Some(record)) = (store.own_device().await?, store.peer(peer).await?) else { return Ok(None) };
    let Some(theirs) = record.identity_key.as_deref().and_then(|k| PublicKey::from_wire(k).ok()) else {
        return Ok(None);
    };
    let mine = local_device(&own)?;
    Ok(Some(SafetyNumber::for_identities(
        Party { user_id: own.user_id.as_bytes(), public_key: mine.identity.public() },
        Party { user_id: peer.as_bytes(), public_key: &theirs },
    )))
}
