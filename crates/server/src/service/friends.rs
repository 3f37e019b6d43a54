//! Friendship rules: who may ask whom, accepting, and what a friend looks like to the other
//! side (with their account identity key, for safety numbers); blocks end everything
//! between two people.

use hush_shared::api::friends::{Friend, FriendRequest};
use hush_shared::limits::FRIEND_REQUESTS_PER_ACCOUNT_PER_HOUR;
use hush_shared::ws::FriendEvent;
use hush_shared::{ErrorCode, FriendRequestId, UserId};

use crate::error::AppError;
use crate::service::delivery;
use crate::service::signin::enforce;
use crate::state::AppState;
use crate::store::{
    FriendRecord, FriendRequestRecord, FriendRequestView, RateRule, RequestDelivery, RequestFacts, RequestRefusal,
    UserRecord,
};

/// Wire form of a friendship, with the friend's account identity key.
pub async fn friend_view(state: &AppState, f: FriendRecord) -> Result<Friend, AppError> {
    let identity_key = state.stores.devices.device_set(f.user_id).await?.identity;
    Ok(Friend { user_id: f.user_id, display_name: f.display_name, identity_key, since: f.since })
}

/// Wire form of a request, naming the other side.
pub fn request_view(v: FriendRequestView, incoming: bool) -> FriendRequest {
    let r = v.request;
    FriendRequest {
        id: r.id,
        user_id: if incoming { r.from } else { r.to },
        display_name: v.other_display_name,
        phone: v.other_phone,
        created_at: r.created_at,
    }
}

/// When a friend request is refused, checked in this order: the person must exist, the
/// requester must not have blocked them (unblock first), they must not be friends yet, and
/// no request may be pending either way (a pending request from them is to be accepted
/// instead). A request to someone who blocked the requester is not refused — that would
/// tell them of the block — but withheld from its recipient. The stores read the facts and
/// apply this rule in the same step as the write.
pub fn request_rule(facts: &RequestFacts) -> Result<RequestDelivery, RequestRefusal> {
    let refusal = if !facts.recipient_exists {
        RequestRefusal::UnknownUser
    } else if facts.requester_blocked {
        RequestRefusal::Blocked
    } else if facts.friends {
        RequestRefusal::AlreadyFriends
    } else if facts.sent {
        RequestRefusal::AlreadySent
    } else if facts.incoming {
        RequestRefusal::IncomingExists
    } else if facts.blocked_by_recipient {
        return Ok(RequestDelivery::Withheld);
    } else {
        return Ok(RequestDelivery::Shown);
    };
    Err(refusal)
}

/// `POST /friends/requests`.
pub async fn send_request(state: &AppState, from: UserId, to: UserId) -> Result<FriendRequest, AppError> {
    if from == to {
        return Err(AppError::new(ErrorCode::CannotBefriendSelf, "you cannot befriend yourself"));
    }
    enforce(
        state,
        &[RateRule {
            key: format!("friend-req:{from}"),
            limit: FRIEND_REQUESTS_PER_ACCOUNT_PER_HOUR,
            window_secs: 3600,
        }],
    )
    .await?;
    let record = FriendRequestRecord { id: FriendRequestId::new(), from, to, created_at: state.now() };
    let delivery = match state.stores.social.create_request(record.clone(), request_rule).await? {
        Ok(delivery) => delivery,
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
                RequestRefusal::Blocked => (ErrorCode::Blocked, "you blocked this person: unblock them first"),
            };
            return Err(AppError::new(code, message));
        }
    };
    let view_of = |user: Option<UserRecord>| {
        let (other_display_name, other_phone) = user.map(|u| (u.display_name, u.phone)).unwrap_or_default();
        FriendRequestView { request: record.clone(), other_display_name, other_phone }
    };
    if delivery == RequestDelivery::Shown {
        let incoming = request_view(view_of(state.stores.accounts.get(from).await?), true);
        delivery::friend_event(state, to, FriendEvent::RequestReceived { request: incoming }).await;
    }
    Ok(request_view(view_of(state.stores.accounts.get(to).await?), false))
}

/// `DELETE /friends/{id}`: ends a friendship; what each had queued for the other goes
/// (their clients drop the sessions on the `removed` event).
pub async fn unfriend(state: &AppState, me: UserId, friend: UserId) -> Result<(), AppError> {
    if !state.stores.social.unfriend(me, friend).await? {
        return Err(AppError::new(ErrorCode::NotFriends, "you are not friends with this person"));
    }
    state.stores.mailbox.purge_between(me, friend).await?;
    delivery::friend_event(state, friend, FriendEvent::Removed { user_id: me }).await;
    Ok(())
}

/// `POST /blocks/{id}`: ends the friendship and pending requests, withholds new requests
/// from me (see [`request_rule`]), and drops what each had queued for the other.
pub async fn block(state: &AppState, me: UserId, other: UserId) -> Result<(), AppError> {
    if other == me {
        return Err(AppError::new(ErrorCode::InvalidParameter, "you cannot block yourself"));
    }
    if !state.stores.social.block(me, other, state.now()).await? {
        return Err(AppError::new(ErrorCode::UserNotFound, "no such user"));
    }
    state.stores.mailbox.purge_between(me, other).await?;
    delivery::friend_event(state, other, FriendEvent::Removed { user_id: me }).await;
    Ok(())
}

/// `POST /friends/requests/{id}/accept`: returns the new friendship as the accepter sees it.
pub async fn accept(state: &AppState, accepter: UserId, id: FriendRequestId) -> Result<Friend, AppError> {
    let Some(request) = state.stores.social.accept_request(id, accepter, state.now()).await? else {
        return Err(AppError::new(ErrorCode::RequestNotFound, "no such friend request addressed to you"));
    };
    if let Some(theirs) = state.stores.social.friend(request.from, accepter).await? {
        let friend = friend_view(state, theirs).await?;
        delivery::friend_event(state, request.from, FriendEvent::RequestAccepted { friend }).await;
    }
    delivery::introduce(state, accepter, request.from).await;
    let friend = state.stores.social.friend(accepter, request.from).await?;
    let friend = friend.ok_or_else(|| AppError::internal("friendship missing right after accept"))?;
    friend_view(state, friend).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Facts with every flag off but the account existing.
    fn strangers() -> RequestFacts {
        RequestFacts { recipient_exists: true, ..RequestFacts::default() }
    }

    #[test]
    fn a_request_between_strangers_is_shown() {
        assert_eq!(request_rule(&strangers()), Ok(RequestDelivery::Shown));
    }

    #[test]
    fn each_fact_alone_has_its_own_answer() {
        let with = |change: fn(&mut RequestFacts)| {
            let mut facts = strangers();
            change(&mut facts);
            request_rule(&facts)
        };
        assert_eq!(with(|f| f.recipient_exists = false), Err(RequestRefusal::UnknownUser));
        assert_eq!(with(|f| f.requester_blocked = true), Err(RequestRefusal::Blocked));
        assert_eq!(with(|f| f.friends = true), Err(RequestRefusal::AlreadyFriends));
        assert_eq!(with(|f| f.sent = true), Err(RequestRefusal::AlreadySent));
        assert_eq!(with(|f| f.incoming = true), Err(RequestRefusal::IncomingExists));
        assert_eq!(with(|f| f.blocked_by_recipient = true), Ok(RequestDelivery::Withheld));
    }

    #[test]
    fn the_order_of_the_checks() {
        let all = RequestFacts {
            recipient_exists: true,
            requester_blocked: true,
            blocked_by_recipient: true,
            friends: true,
            sent: true,
            incoming: true,
        };
        assert_eq!(request_rule(&RequestFacts { recipient_exists: false, ..all }), Err(RequestRefusal::UnknownUser));
        assert_eq!(request_rule(&all), Err(RequestRefusal::Blocked));
        let unblocked = RequestFacts { requester_blocked: false, ..all };
        assert_eq!(request_rule(&unblocked), Err(RequestRefusal::AlreadyFriends));
        assert_eq!(request_rule(&RequestFacts { friends: false, ..unblocked }), Err(RequestRefusal::AlreadySent));
        let waiting = RequestFacts { friends: false, sent: false, ..unblocked };
        assert_eq!(request_rule(&waiting), Err(RequestRefusal::IncomingExists));
        // Being blocked never shows as a refusal: the same answers as anyone's, then withheld.
        assert_eq!(request_rule(&RequestFacts { incoming: false, ..waiting }), Ok(RequestDelivery::Withheld));
    }
}
