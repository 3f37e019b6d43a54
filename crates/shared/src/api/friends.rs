//! Friend requests, friendships and blocks.
//!
//! Keys are not part of friendships (crypto v2): each person has one account identity and
//! devices with prekeys (`api::devices`); a friend's identity key travels in the friend
//! list and in `identity_changed` events, and sessions start from their devices' bundles.

use super::wire;
use crate::ids::{FriendRequestId, UserId};

wire! {
/// `POST /api/v1/friends/requests`.
pub struct CreateFriendRequest {
    /// Whom to befriend (from a lookup).
    pub user_id: UserId,
}
}

wire! {
/// A pending friend request, as listed to either side.
pub struct FriendRequest {
    /// Request id, used to accept, decline or cancel.
    pub id: FriendRequestId,
    /// The other person (the requester for incoming, the recipient for outgoing).
    pub user_id: UserId,
    /// Their display name, if set.
    pub display_name: Option<String>,
    /// Their phone number (E.164): a display name is self-chosen, the number shows who
    /// really asks.
    pub phone: String,
    /// Unix time (seconds) the request was made.
    pub created_at: i64,
}
}

wire! {
/// `GET /api/v1/friends/requests`.
pub struct FriendRequestList {
    /// Requests others sent me.
    pub incoming: Vec<FriendRequest>,
    /// Requests I sent and that are still pending.
    pub outgoing: Vec<FriendRequest>,
}
}

wire! {
/// One friendship as seen by me.
pub struct Friend {
    /// The friend.
    pub user_id: UserId,
    /// Their display name, if set.
    pub display_name: Option<String>,
    /// Their account identity key (base64url SEC1), once a device of theirs registered
    /// one; the safety number is computed over it.
    pub identity_key: Option<String>,
    /// Unix time (seconds) the friendship began.
    pub since: i64,
}
}

wire! {
/// `GET /api/v1/friends`.
pub struct FriendList {
    /// All my friends.
    pub friends: Vec<Friend>,
}
}
