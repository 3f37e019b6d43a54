//! Friendship rules: requests carry the requester's key, accepts carry the accepter's,
//! keys are validated as P-256 points, blocks end everything between two people.

use hush_crypto::PublicKey;
use hush_shared::api::friends::{Friend, FriendRequest};
use hush_shared::limits::FRIEND_REQUESTS_PER_ACCOUNT_PER_HOUR;
use hush_shared::validate::public_key_shape;
use hush_shared::ws::FriendEvent;
use hush_shared::{ErrorCode, FriendRequestId, UserId};

use crate::error::AppError;
use crate::service::delivery;
use crate::service::signin::enforce;
use crate::state::AppState;
use crate::store::{FriendRecord, FriendRequestRecord, FriendRequestView, RateRule, RequestRefusal};

/// Checks that a wire public key is a valid P-256 point.
pub fn validate_key(key: &str) -> Result<(), AppError> {
    public_key_shape(key)?;
    PublicKey::from_wire(key)
        .map(|_| ())
        .map_err(|_| AppError::new(ErrorCode::InvalidPublicKey, "the public key is not a point on P-256"))
}

/// Wire form of a friendship.
pub fn friend_view(f: FriendRecord) -> Friend {
    Friend {
        user_id: f.user_id,
        display_name: f.display_name,
        their_public_key: f.their_key,
        my_public_key: f.my_key,
        since: f.since,
    }
}

/// Wire form of a request, naming the other side.
pub fn request_view(v: FriendRequestView, incoming: bool) -> FriendRequest {
    let r = v.request;
    FriendRequest {
        id: r.id,
        user_id: if incoming { r.from } else { r.to },
        display_name: v.other_display_name,
        requester_public_key: r.from_key,
        created_at: r.created_at,
    }
}

/// `POST /friends/requests`.
pub async fn send_request(state: &AppState, from: UserId, to: UserId, key: &str) -> Result<FriendRequest, AppError> {
    if from == to {
        return Err(AppError::new(ErrorCode::CannotBefriendSelf, "you cannot befriend yourself"));
    }
    validate_key(key)?;
    enforce(
        state,
        &[RateRule {
            key: format!("friend-req:{from}"),
            limit: FRIEND_REQUESTS_PER_ACCOUNT_PER_HOUR,
            window_secs: 3600,
        }],
    )
    .await?;
    let record =
        FriendRequestRecord { id: FriendRequestId::new(), from, to, from_key: key.to_owned(), created_at: state.now() };
    match state.stores.social.create_request(record.clone()).await? {
        Ok(()) => {}
        Err(refusal) => {
            let (code, message) = match refusal {
                RequestRefusal::UnknownUser => (ErrorCode::UserNotFound, "no such user"),
                RequestRefusal::AlreadyFriends => (ErrorCode::AlreadyFriends, "you are already friends"),
                RequestRefusal::AlreadySent => {
                    (ErrorCode::RequestAlreadySent, "you already sent this person a request")
                }
                RequestRefusal::IncomingExists => {
                    (ErrorCode::IncomingRequestExists, "this person already sent you a request: accept it")
                }
                RequestRefusal::Blocked => (ErrorCode::Blocked, "you cannot send this person a request"),
            };
            return Err(AppError::new(code, message));
        }
    }
    let to_name = state.stores.accounts.get(to).await?.and_then(|u| u.display_name);
    let from_name = state.stores.accounts.get(from).await?.and_then(|u| u.display_name);
    let incoming = request_view(FriendRequestView { request: record.clone(), other_display_name: from_name }, true);
    delivery::friend_event(state, to, FriendEvent::RequestReceived { request: incoming }).await;
    Ok(request_view(FriendRequestView { request: record, other_display_name: to_name }, false))
}

/// `POST /friends/requests/{id}/accept`: returns the new friendship as the accepter sees it.
pub async fn accept(state: &AppState, accepter: UserId, id: FriendRequestId, key: &str) -> Result<Friend, AppError> {
    validate_key(key)?;
    let Some(request) = state.stores.social.accept_request(id, accepter, key, state.now()).await? else {
        return Err(AppError::new(ErrorCode::RequestNotFound, "no such friend request addressed to you"));
    };
    if let Some(theirs) = state.stores.social.friend(request.from, accepter).await? {
        delivery::friend_event(state, request.from, FriendEvent::RequestAccepted { friend: friend_view(theirs) }).await;
    }
    let friend = state.stores.social.friend(accepter, request.from).await?;
    friend.map(friend_view).ok_or_else(|| AppError::internal("friendship missing right after accept"))
}
