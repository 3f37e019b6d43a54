//! Web Push subscriptions: the device of the calling session says where its pushes go. The
//! endpoint must be an `https` URL on a public address (`push::endpoint`) and the keys a
//! P-256 public key and a 16-byte secret; one subscription per device, replaced by the
//! next, removed with the device. Changes are rate-limited per account.

use hush_shared::api::push::PushSubscription;
use hush_shared::limits::PUSH_SUBSCRIPTION_CHANGES_PER_ACCOUNT_PER_HOUR;
use hush_shared::{DeviceId, ErrorCode, UserId};

use crate::error::AppError;
use crate::push::endpoint;
use crate::push::sender::receiver_of;
use crate::service::signin::enforce;
use crate::state::AppState;
use crate::store::{PushSubscriptionRecord, RateRule, SessionId};

fn invalid(why: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::InvalidPushSubscription, why)
}

async fn count_change(state: &AppState, user: UserId) -> Result<(), AppError> {
    let rule = RateRule {
        key: format!("push-change:{user}"),
        limit: PUSH_SUBSCRIPTION_CHANGES_PER_ACCOUNT_PER_HOUR,
        window_secs: 3600,
    };
    enforce(state, &[rule]).await
}

fn no_device() -> AppError {
    AppError::new(ErrorCode::NoDevice, "this session has no registered device")
}

/// The device registered under `session`.
async fn session_device(state: &AppState, user: UserId, session: SessionId) -> Result<DeviceId, AppError> {
    let set = state.stores.devices.device_set(user).await?;
    set.of_session(session).map(|d| d.id).ok_or_else(no_device)
}

/// Sets (or replaces) the session's device's subscription.
pub async fn subscribe(
    state: &AppState,
    user: UserId,
    session: SessionId,
    subscription: PushSubscription,
) -> Result<(), AppError> {
    endpoint::check(&subscription.endpoint, state.push.allow_private()).map_err(|e| invalid(e.to_string()))?;
    let record = PushSubscriptionRecord {
        endpoint: subscription.endpoint,
        p256dh: subscription.keys.p256dh,
        auth: subscription.keys.auth,
        created_at: state.now(),
    };
    // The keys must make a receiver: a P-256 point and a 16-byte secret.
    if receiver_of(&record).is_none() {
        return Err(invalid("keys.p256dh must be a P-256 public key and keys.auth 16 bytes, both base64url"));
    }
    count_change(state, user).await?;
    let device = session_device(state, user, session).await?;
    if !state.stores.push.put_push_subscription(user, device, record).await? {
        return Err(no_device());
    }
    state.push.subscriptions_changed(user);
    Ok(())
}

/// Removes the session's device's subscription (nothing if it has none).
pub async fn unsubscribe(state: &AppState, user: UserId, session: SessionId) -> Result<(), AppError> {
    count_change(state, user).await?;
    let device = session_device(state, user, session).await?;
    state.stores.push.remove_push_subscription(user, device, None).await?;
    state.push.subscriptions_changed(user);
    Ok(())
}
