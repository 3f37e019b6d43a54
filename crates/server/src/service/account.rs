//! An account's life after sign-in: reading and renaming it, logging a session out, and
//! deleting it with everything tied to it — the rules and the events they cause, so the
//! handlers only parse and render.

use hush_shared::api::account::User;
use hush_shared::validate::display_name;
use hush_shared::ws::FriendEvent;
use hush_shared::{ErrorCode, UserId};

use crate::error::AppError;
use crate::hub::HubEvent;
use crate::service::signin::user_view;
use crate::service::{delivery, devices};
use crate::state::AppState;
use crate::store::SessionId;

fn gone() -> AppError {
    AppError::new(ErrorCode::SessionRevoked, "this account no longer exists")
}

/// `GET /me`.
pub async fn get(state: &AppState, user: UserId) -> Result<User, AppError> {
    let user = state.stores.accounts.get(user).await?.ok_or_else(gone)?;
    Ok(user_view(&user))
}

/// `PATCH /me`: a new display name.
pub async fn rename(state: &AppState, user: UserId, name: &str) -> Result<User, AppError> {
    let name = display_name(name)?;
    let user = state.stores.accounts.set_display_name(user, &name).await?.ok_or_else(gone)?;
    Ok(user_view(&user))
}

/// `POST /auth/logout`: the session ends and its connections close at once.
pub async fn log_out(state: &AppState, user: UserId, session: SessionId) -> Result<(), AppError> {
    state.stores.sessions.revoke(session, state.now()).await?;
    state.hub.send(user, HubEvent::SessionRevoked(session)).await;
    Ok(())
}

/// `DELETE /me`: the account and everything tied to it — sessions, requests, friendships,
/// blocks, identity, devices with their prekeys and mailboxes, and what it had queued for
/// its friends; friends are told, and this session's connections close.
pub async fn delete(state: &AppState, user: UserId, session: SessionId) -> Result<(), AppError> {
    let friends = state.stores.social.friend_ids(user).await?;
    devices::forget_account(state, user).await?;
    state.stores.accounts.delete(user).await?;
    for friend in friends {
        delivery::friend_event(state, friend, FriendEvent::Removed { user_id: user }).await;
    }
    state.hub.send(user, HubEvent::SessionRevoked(session)).await;
    tracing::info!(user = %user, "account deleted");
    Ok(())
}
