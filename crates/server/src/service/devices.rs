//! Devices and prekeys (crypto v2, `docs/CRYPTO.md` §2–§4): which registrations are allowed,
//! checking every key and signature before it is stored, topping up and rotating prekeys,
//! and handing out bundles with each one-time prekey at most once.
//!
//! The registration rules are decided once here, in [`decide_registration`] (a pure
//! function of the account's current device set), and applied with the store's
//! versioned update, so every backend enforces the same rules atomically.

use hush_crypto::{PublicKey, Signature, verify_device_certificate, verify_session_proof, verify_signed_prekey};
use hush_shared::api::devices::{
    BundleList, Device, DeviceBundle, DeviceList, OneTimePrekey, PrekeyStatus, RegisterDevice, SignedPrekey,
};
use hush_shared::limits::{
    BUNDLE_FETCHES_PER_ACCOUNT_PER_HOUR, BUNDLE_FETCHES_PER_TARGET_PER_HOUR, DEVICE_CHANGES_PER_ACCOUNT_PER_HOUR,
    MAX_PREKEYS_PER_UPLOAD, MAX_STORED_PREKEYS, PREKEY_UPLOADS_PER_ACCOUNT_PER_HOUR,
};
use hush_shared::validate::{device_name, public_key_shape};
use hush_shared::ws::FriendEvent;
use hush_shared::{DeviceId, ErrorCode, UserId};

use crate::error::AppError;
use crate::hub::HubEvent;
use crate::service::signin::enforce;
use crate::service::{delivery, links};
use crate::state::AppState;
use crate::store::{DeviceRecord, DeviceSet, Mailbox, PrekeysAdded, RateRule, SessionId, SignedPrekeyRecord};

/// Who is asking: the account and the session (the browser's sign-in).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The account.
    pub user: UserId,
    /// The session.
    pub session: SessionId,
    /// SHA-256 of the access token used (what a session proof signs).
    pub token_digest: [u8; 32],
}

/// How often a registration is retried when another change to the same account won.
const REGISTRATION_ATTEMPTS: usize = 3;

fn public_key(wire: &str, what: &str) -> Result<PublicKey, AppError> {
    public_key_shape(wire)?;
    PublicKey::from_wire(wire)
        .map_err(|_| AppError::new(ErrorCode::InvalidPublicKey, format!("{what} is not a point on P-256")))
}

fn signature(wire: &str, what: &str) -> Result<Signature, AppError> {
    Signature::from_wire(wire).map_err(|_| {
        AppError::new(ErrorCode::InvalidSignature, format!("{what} is not a 64-byte signature in base64url"))
    })
}

fn bad_signature(what: &str) -> AppError {
    AppError::new(ErrorCode::InvalidSignature, format!("{what} does not verify under the account identity key"))
}

fn device_not_found() -> AppError {
    AppError::new(ErrorCode::DeviceNotFound, "no such device of this session")
}

/// Checks a signed prekey's id, key and signature under `identity`.
fn check_signed_prekey(
    user: UserId,
    device: DeviceId,
    identity: &PublicKey,
    prekey: &SignedPrekey,
    now: i64,
) -> Result<SignedPrekeyRecord, AppError> {
    if prekey.id == 0 {
        return Err(AppError::new(ErrorCode::InvalidPrekeyId, "prekey id 0 is reserved"));
    }
    let key = public_key(&prekey.public_key, "the signed prekey")?;
    let sig = signature(&prekey.signature, "the signed prekey's signature")?;
    verify_signed_prekey(identity, user.as_bytes(), device.as_bytes(), prekey.id, &key, &sig)
        .map_err(|_| bad_signature("the signed prekey's signature"))?;
    Ok(SignedPrekeyRecord {
        id: prekey.id,
        public_key: prekey.public_key.clone(),
        signature: prekey.signature.clone(),
        uploaded_at: now,
    })
}

/// Checks a batch of one-time prekeys: size, ids (not 0, not repeated) and keys.
fn check_one_time_prekeys(prekeys: &[OneTimePrekey]) -> Result<Vec<(u32, String)>, AppError> {
    if prekeys.len() > MAX_PREKEYS_PER_UPLOAD {
        return Err(AppError::new(
            ErrorCode::TooManyPrekeys,
            format!("at most {MAX_PREKEYS_PER_UPLOAD} one-time prekeys per upload"),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(prekeys.len());
    for prekey in prekeys {
        if prekey.id == 0 || !seen.insert(prekey.id) {
            return Err(AppError::new(
                ErrorCode::InvalidPrekeyId,
                format!("one-time prekey id {} is 0 or repeated in this upload", prekey.id),
            ));
        }
        public_key(&prekey.public_key, "a one-time prekey")?;
    }
    Ok(prekeys.iter().map(|p| (p.id, p.public_key.clone())).collect())
}

/// What a registration changes, once allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationPlan {
    /// Devices to remove: the session's previous device, and with a new identity every
    /// other device.
    pub remove: Vec<DeviceId>,
    /// The account identity this registration replaces, if it changes it.
    pub previous_identity: Option<String>,
}

/// The registration rules, decided on the account's current device set:
/// - a session has one device: registering again replaces the session's previous one;
/// - a device registered from an earlier sign-in moves to this one if the request proves
///   it (`moved`: same id, device key and identity, and a valid session proof);
/// - `new_identity` (start again) replaces the account identity and removes every other
///   device; with no other device left, any identity may start over too;
/// - otherwise the identity must be the account's (`identity_mismatch`), and a browser that
///   is not yet a device of an account that has devices must come through a completed
///   link (`linked`, else `link_required`): holding the identity and an SMS code is not
///   enough, so a removed browser cannot come back on its own;
/// - a device id is unique within the account and names one device key (`device_exists`);
/// - at most `max_devices` devices (`device_limit`).
pub fn decide_registration(
    set: &DeviceSet,
    session: SessionId,
    device: &DeviceRecord,
    identity: &str,
    new_identity: bool,
    (moved, linked): (bool, bool),
    max_devices: usize,
) -> Result<RegistrationPlan, AppError> {
    let same_device = |d: &DeviceRecord| {
        moved && d.id == device.id && d.device_key == device.device_key && set.identity.as_deref() == Some(identity)
    };
    let (mine, others): (Vec<&DeviceRecord>, Vec<&DeviceRecord>) =
        set.devices.iter().partition(|d| d.session == session || same_device(d));
    let (device, new_key) = (device.id, &device.device_key);
    let mut remove: Vec<DeviceId> = mine.iter().map(|d| d.id).collect();
    let changes_identity = set.identity.as_deref().is_some_and(|current| current != identity);
    let others: Vec<&DeviceRecord> = if new_identity {
        remove.extend(others.iter().map(|d| d.id));
        vec![]
    } else {
        if changes_identity && !others.is_empty() {
            return Err(AppError::new(
                ErrorCode::IdentityMismatch,
                "this account has devices under another identity; start again to replace it",
            ));
        }
        others
    };
    if others.iter().any(|d| d.id == device) {
        return Err(AppError::new(ErrorCode::DeviceExists, "another device of this account uses this device id"));
    }
    // A device id names one device key for good, so friends holding sessions with it never
    // meet other keys under the same id ("stale" devices): new keys take a new id.
    if mine.iter().any(|d| d.id == device && &d.device_key != new_key) {
        return Err(AppError::new(ErrorCode::DeviceExists, "this device id was registered with another device key"));
    }
    if !others.is_empty() && mine.is_empty() && !linked {
        return Err(AppError::new(
            ErrorCode::LinkRequired,
            "this account has devices: link this browser from one of them, or start again",
        ));
    }
    if others.len() + 1 > max_devices {
        return Err(AppError::new(
            ErrorCode::DeviceLimit,
            format!("this account already has {max_devices} device(s); start again to replace them"),
        ));
    }
    Ok(RegistrationPlan { remove, previous_identity: set.identity.clone().filter(|_| changes_identity) })
}

fn device_view(record: &DeviceRecord, session: SessionId, last_seen: Option<i64>) -> Device {
    Device {
        device_id: record.id,
        name: record.name.clone(),
        created_at: record.created_at,
        last_seen,
        current: record.session == session,
    }
}

/// Ends the sessions of removed devices, so their browsers stop at once (closing with
/// 4004: they erase what they hold).
async fn end_sessions(state: &AppState, user: UserId, devices: &[DeviceRecord], except: SessionId) {
    for device in devices.iter().filter(|d| d.session != except) {
        if let Err(e) = state.stores.sessions.revoke(device.session, state.now()).await {
            tracing::warn!(error = %e, "revoking a removed device's session failed");
        }
        state.hub.send(user, HubEvent::DeviceRemoved(device.session)).await;
    }
}

/// Tells every friend of `user` their identity is now `identity`.
async fn announce_identity(state: &AppState, user: UserId, identity: &str) -> Result<(), AppError> {
    for friend in state.stores.social.friend_ids(user).await? {
        let event = FriendEvent::IdentityChanged { user_id: user, identity_key: identity.to_owned() };
        delivery::friend_event(state, friend, event).await;
    }
    Ok(())
}

/// Counts one device-management call (register, rotate, remove) against the account's
/// hourly budget, before any costly check runs.
async fn count_device_change(state: &AppState, user: UserId) -> Result<(), AppError> {
    let rule = RateRule {
        key: format!("device-change:{user}"),
        limit: DEVICE_CHANGES_PER_ACCOUNT_PER_HOUR,
        window_secs: 3600,
    };
    enforce(state, &[rule]).await
}

/// `POST /devices`.
pub async fn register(state: &AppState, auth: &Caller, req: RegisterDevice) -> Result<Device, AppError> {
    count_device_change(state, auth.user).await?;
    let identity = public_key(&req.identity_key, "the identity key")?;
    let device_key = public_key(&req.device_key, "the device key")?;
    let certificate = signature(&req.certificate, "the certificate")?;
    verify_device_certificate(&identity, auth.user.as_bytes(), req.device_id.as_bytes(), &device_key, &certificate)
        .map_err(|_| bad_signature("the device certificate"))?;
    let now = state.now();
    let signed_prekey = check_signed_prekey(auth.user, req.device_id, &identity, &req.signed_prekey, now)?;
    let one_time = check_one_time_prekeys(&req.one_time_prekeys)?;
    let name = req.name.as_deref().map(device_name).transpose()?;
    let moved = match &req.session_proof {
        Some(proof) => {
            let proof = signature(proof, "the session proof")?;
            let (user, device) = (auth.user.as_bytes(), req.device_id.as_bytes());
            verify_session_proof(&identity, user, device, &auth.token_digest, &proof)
                .map_err(|_| bad_signature("the session proof"))?;
            true
        }
        None => false,
    };
    let record = DeviceRecord {
        id: req.device_id,
        session: auth.session,
        device_key: req.device_key,
        certificate: req.certificate,
        name,
        signed_prekey,
        created_at: now,
    };
    let link = match req.link_id {
        Some(id) => Some(links::completed(state, auth.user, auth.session, id).await?),
        None => None,
    };
    let ways = (moved, link.is_some());
    let (set, plan) = apply_registration(state, auth, &req.identity_key, &record, req.new_identity, ways).await?;
    if let Some(link) = &link {
        state.stores.links.delete_link(link).await?;
    }
    let removed: Vec<DeviceRecord> = set.devices.into_iter().filter(|d| plan.remove.contains(&d.id)).collect();
    for device in &removed {
        discard_device(state, auth.user, device.id).await?;
    }
    let mailbox = Mailbox { user: auth.user, device: record.id };
    state.stores.mailbox.open_mailbox(mailbox).await?;
    end_sessions(state, auth.user, &removed, auth.session).await;
    if !one_time.is_empty() {
        add_prekeys(state, auth.user, record.id, &one_time).await?;
    }
    if set.identity.is_none() || plan.previous_identity.is_some() {
        announce_identity(state, auth.user, &req.identity_key).await?;
    }
    tracing::info!(user = %auth.user, device = %record.id, new_identity = plan.previous_identity.is_some(), "device registered");
    Ok(device_view(&record, auth.session, None))
}

/// Decides and applies a registration, retrying when another change to the account won.
async fn apply_registration(
    state: &AppState,
    auth: &Caller,
    identity: &str,
    record: &DeviceRecord,
    new_identity: bool,
    ways: (bool, bool),
) -> Result<(DeviceSet, RegistrationPlan), AppError> {
    let max_devices = state.config.max_devices as usize;
    for _ in 0..REGISTRATION_ATTEMPTS {
        let set = state.stores.devices.device_set(auth.user).await?;
        let plan = decide_registration(&set, auth.session, record, identity, new_identity, ways, max_devices)?;
        let devices = &state.stores.devices;
        if devices.update_device_set(auth.user, set.version, identity, &plan.remove, record.clone()).await? {
            return Ok((set, plan));
        }
    }
    Err(AppError::new(ErrorCode::Unavailable, "the account's devices changed meanwhile; try again"))
}

async fn add_prekeys(
    state: &AppState,
    user: UserId,
    device: DeviceId,
    keys: &[(u32, String)],
) -> Result<u32, AppError> {
    match state.stores.prekeys.add_prekeys(user, device, keys, MAX_STORED_PREKEYS).await? {
        PrekeysAdded::Stored(count) => Ok(count),
        PrekeysAdded::IdTaken(id) => Err(AppError::new(
            ErrorCode::InvalidPrekeyId,
            format!("one-time prekey id {id} is already stored for this device"),
        )),
        PrekeysAdded::Full => Err(AppError::new(
            ErrorCode::TooManyPrekeys,
            format!("a device keeps at most {MAX_STORED_PREKEYS} one-time prekeys on the server"),
        )),
    }
}

/// The caller's device `device`: it must be the device of the caller's session.
async fn own_device(state: &AppState, auth: &Caller, device: DeviceId) -> Result<(DeviceSet, DeviceRecord), AppError> {
    let set = state.stores.devices.device_set(auth.user).await?;
    let record = set.devices.iter().find(|d| d.id == device && d.session == auth.session).cloned();
    let record = record.ok_or_else(device_not_found)?;
    Ok((set, record))
}

/// `GET /devices`.
pub async fn list(state: &AppState, auth: &Caller) -> Result<DeviceList, AppError> {
    let set = state.stores.devices.device_set(auth.user).await?;
    let seen = state.stores.mailbox.last_seen(auth.user).await?;
    let seen_at = |device: DeviceId| seen.iter().find(|(d, _)| *d == device).map(|(_, at)| *at);
    Ok(DeviceList {
        identity_key: set.identity,
        devices: set.devices.iter().map(|d| device_view(d, auth.session, seen_at(d.id))).collect(),
    })
}

/// `POST /devices/{id}/one-time-prekeys`.
pub async fn upload_prekeys(
    state: &AppState,
    auth: &Caller,
    device: DeviceId,
    prekeys: &[OneTimePrekey],
) -> Result<PrekeyStatus, AppError> {
    enforce(
        state,
        &[RateRule {
            key: format!("prekey-upload:{}", auth.user),
            limit: PREKEY_UPLOADS_PER_ACCOUNT_PER_HOUR,
            window_secs: 3600,
        }],
    )
    .await?;
    let keys = check_one_time_prekeys(prekeys)?;
    let (_, record) = own_device(state, auth, device).await?;
    let count = add_prekeys(state, auth.user, device, &keys).await?;
    Ok(status(&record, count))
}

fn status(record: &DeviceRecord, count: u32) -> PrekeyStatus {
    PrekeyStatus {
        one_time_prekeys: count,
        signed_prekey_id: record.signed_prekey.id,
        signed_prekey_uploaded_at: record.signed_prekey.uploaded_at,
    }
}

/// `GET /devices/{id}/prekeys`.
pub async fn prekey_status(state: &AppState, auth: &Caller, device: DeviceId) -> Result<PrekeyStatus, AppError> {
    let (_, record) = own_device(state, auth, device).await?;
    let count = state.stores.prekeys.count_prekeys(auth.user, device).await?;
    Ok(status(&record, count))
}

/// `PUT /devices/{id}/signed-prekey`.
pub async fn rotate_signed_prekey(
    state: &AppState,
    auth: &Caller,
    device: DeviceId,
    prekey: &SignedPrekey,
) -> Result<PrekeyStatus, AppError> {
    count_device_change(state, auth.user).await?;
    let (set, _) = own_device(state, auth, device).await?;
    let identity = set.identity.as_deref().ok_or_else(device_not_found)?;
    let identity = public_key(identity, "the stored identity key").map_err(AppError::internal)?;
    let record = check_signed_prekey(auth.user, device, &identity, prekey, state.now())?;
    if !state.stores.devices.set_signed_prekey(auth.user, device, record).await? {
        return Err(device_not_found());
    }
    prekey_status(state, auth, device).await
}

/// `DELETE /devices/{id}`: removes one of my devices, its prekeys and its session. A
/// session may remove its own device; removing another takes a device of the account (a
/// browser that only knows the SMS code cannot silently remove the real device — it can
/// only start again, which every friend is told about).
pub async fn remove(state: &AppState, auth: &Caller, device: DeviceId) -> Result<(), AppError> {
    count_device_change(state, auth.user).await?;
    let set = state.stores.devices.device_set(auth.user).await?;
    let caller_is_a_device = set.devices.iter().any(|d| d.session == auth.session);
    let record = set.devices.into_iter().find(|d| d.id == device);
    let record = record.ok_or_else(|| AppError::new(ErrorCode::DeviceNotFound, "no such device of yours"))?;
    if record.session != auth.session && !caller_is_a_device {
        return Err(AppError::new(ErrorCode::Forbidden, "only a device of this account may remove another device"));
    }
    if !state.stores.devices.remove_device(auth.user, device).await? {
        return Err(AppError::new(ErrorCode::DeviceNotFound, "no such device of yours"));
    }
    discard_device(state, auth.user, device).await?;
    end_sessions(state, auth.user, std::slice::from_ref(&record), SessionId::nil()).await;
    tracing::info!(user = %auth.user, device = %device, "device removed");
    Ok(())
}

/// `GET /users/{id}/bundles`: every device of `target` (a friend, or myself), each with
/// one one-time prekey taken from its pool.
pub async fn bundles(state: &AppState, auth: &Caller, target: UserId) -> Result<BundleList, AppError> {
    if target != auth.user && !state.stores.social.are_friends(auth.user, target).await? {
        return Err(AppError::new(ErrorCode::NotFriends, "bundles are only handed out to friends"));
    }
    enforce(
        state,
        &[
            RateRule {
                key: format!("bundles:{}", auth.user),
                limit: BUNDLE_FETCHES_PER_ACCOUNT_PER_HOUR,
                window_secs: 3600,
            },
            RateRule {
                key: format!("bundles:{}:{target}", auth.user),
                limit: BUNDLE_FETCHES_PER_TARGET_PER_HOUR,
                window_secs: 3600,
            },
        ],
    )
    .await?;
    let set = state.stores.devices.device_set(target).await?;
    let mut devices = Vec::with_capacity(set.devices.len());
    for device in set.devices {
        let one_time_prekey = state
            .stores
            .prekeys
            .take_prekey(target, device.id)
            .await?
            .map(|(id, public_key)| OneTimePrekey { id, public_key });
        devices.push(DeviceBundle {
            device_id: device.id,
            device_key: device.device_key,
            certificate: device.certificate,
            signed_prekey: SignedPrekey {
                id: device.signed_prekey.id,
                public_key: device.signed_prekey.public_key,
                signature: device.signed_prekey.signature,
            },
            one_time_prekey,
        });
    }
    Ok(BundleList { user_id: target, identity_key: set.identity, devices })
}

/// Before an account is deleted: empties its devices' prekey pools and mailboxes, and
/// drops what it had queued for its friends (all of which may live in another store than
/// the account).
pub async fn forget_account(state: &AppState, user: UserId) -> Result<(), AppError> {
    for device in state.stores.devices.device_set(user).await?.devices {
        discard_device(state, user, device.id).await?;
    }
    for friend in state.stores.social.friend_ids(user).await? {
        state.stores.mailbox.purge_between(user, friend).await?;
    }
    Ok(())
}

/// What a removed device leaves on the server: its one-time prekeys and its mailbox.
async fn discard_device(state: &AppState, user: UserId, device: DeviceId) -> Result<(), AppError> {
    state.stores.prekeys.clear_prekeys(user, device).await?;
    state.stores.mailbox.close_mailbox(Mailbox { user, device }).await?;
    state.stores.push.remove_push_subscription(user, device, None).await?;
    state.push.subscriptions_changed(user);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(session: SessionId) -> DeviceRecord {
        DeviceRecord {
            id: DeviceId::new(),
            session,
            device_key: String::new(),
            certificate: String::new(),
            name: None,
            signed_prekey: SignedPrekeyRecord {
                id: 1,
                public_key: String::new(),
                signature: String::new(),
                uploaded_at: 0,
            },
            created_at: 0,
        }
    }

    fn set(identity: Option<&str>, devices: Vec<DeviceRecord>) -> DeviceSet {
        DeviceSet { identity: identity.map(str::to_owned), devices, version: 1 }
    }

    fn code(result: Result<RegistrationPlan, AppError>) -> ErrorCode {
        result.expect_err("refused").code
    }

    fn decide(
        set: &DeviceSet,
        session: SessionId,
        device: DeviceId,
        identity: &str,
        new_identity: bool,
        max: usize,
    ) -> Result<RegistrationPlan, AppError> {
        let mut new = record(session);
        new.id = device;
        decide_registration(set, session, &new, identity, new_identity, (false, true), max)
    }

    #[test]
    fn the_first_device_sets_the_identity() {
        let plan = decide(&DeviceSet::default(), SessionId::new_v4(), DeviceId::new(), "A", false, 1);
        assert_eq!(plan.unwrap(), RegistrationPlan { remove: vec![], previous_identity: None });
    }

    #[test]
    fn a_device_moves_to_a_new_sign_in_only_with_a_proof_and_its_own_keys() {
        let (old, new) = (SessionId::new_v4(), SessionId::new_v4());
        let mut device = record(old);
        device.device_key = "DK".into();
        let current = set(Some("A"), vec![device.clone()]);
        let mut again = device.clone();
        again.session = new;
        let plan = decide_registration(&current, new, &again, "A", false, (true, false), 1).unwrap();
        assert_eq!(plan, RegistrationPlan { remove: vec![device.id], previous_identity: None });
        let refused = decide_registration(&current, new, &again, "A", false, (false, false), 1);
        assert_eq!(code(refused), ErrorCode::DeviceExists, "without a proof");
        let mut other_key = again.clone();
        other_key.device_key = "DK2".into();
        assert_eq!(
            code(decide_registration(&current, new, &other_key, "A", false, (true, false), 1)),
            ErrorCode::DeviceExists
        );
    }

    #[test]
    fn a_session_replaces_its_own_device() {
        let (me, other) = (SessionId::new_v4(), SessionId::new_v4());
        let mine = record(me);
        let plan = decide(&set(Some("A"), vec![mine.clone()]), me, DeviceId::new(), "A", false, 1).unwrap();
        assert_eq!(plan.remove, vec![mine.id]);
        // Another session's device counts against the limit, and its identity holds.
        let theirs = record(other);
        let current = set(Some("A"), vec![theirs.clone()]);
        assert_eq!(code(decide(&current, me, DeviceId::new(), "A", false, 1)), ErrorCode::DeviceLimit);
        assert_eq!(code(decide(&current, me, DeviceId::new(), "B", false, 5)), ErrorCode::IdentityMismatch);
        assert_eq!(code(decide(&current, me, theirs.id, "A", false, 5)), ErrorCode::DeviceExists);
        let plan = decide(&current, me, DeviceId::new(), "A", false, 2).unwrap();
        assert_eq!(plan, RegistrationPlan { remove: vec![], previous_identity: None });
        // Without a completed link, holding the identity is not enough.
        let mut new = record(me);
        new.id = DeviceId::new();
        let unlinked = decide_registration(&current, me, &new, "A", false, (false, false), 2);
        assert_eq!(code(unlinked), ErrorCode::LinkRequired);
    }

    #[test]
    fn starting_again_removes_every_device_and_replaces_the_identity() {
        let me = SessionId::new_v4();
        let (a, b) = (record(SessionId::new_v4()), record(me));
        let current = set(Some("A"), vec![a.clone(), b.clone()]);
        let plan = decide(&current, me, DeviceId::new(), "B", true, 1).unwrap();
        assert_eq!(plan.remove, vec![b.id, a.id]);
        assert_eq!(plan.previous_identity.as_deref(), Some("A"));
        // With no other device left, a new identity needs no flag.
        let only_mine = set(Some("A"), vec![b.clone()]);
        let plan = decide(&only_mine, me, DeviceId::new(), "B", false, 1).unwrap();
        assert_eq!((plan.remove, plan.previous_identity.as_deref()), (vec![b.id], Some("A")));
        let plan = decide(&set(Some("A"), vec![]), me, DeviceId::new(), "B", false, 1).unwrap();
        assert_eq!(plan.previous_identity.as_deref(), Some("A"));
    }
}
