//! Friend requests, friendships, per-friendship public keys and blocks.
//!
//! Keys (crypto v1): each person has one P-256 key pair per friendship, generated on their
//! device. The requester's public key travels in the request, the accepter's in the accept,
//! so both can encrypt the moment the friendship exists.

use super::wire;
use crate::ids::{FriendRequestId, UserId};

wire! {
/// `POST /api/v1/friends/requests`.
pub struct CreateFriendRequest {
    /// Whom to befriend (from a lookup).
    pub user_id: UserId,
    /// The requester's public key for this friendship (base64url SEC1, 87 chars).
    pub public_key: String,
}
}

wire! {
/// `POST /api/v1/friends/requests/{id}/accept`.
pub struct AcceptFriendRequest {
    /// The accepter's public key for this friendship.
    pub public_key: String,
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
    /// The requester's public key for this friendship.
    pub requester_public_key: String,
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
    /// Their public key for this friendship.
    pub their_public_key: String,
    /// My public key for this friendship, as the server holds it.
    pub my_public_key: String,
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

wire! {
/// `PUT /api/v1/friends/{user_id}/key`: replace my key for this friendship.
pub struct RotateKeyRequest {
    /// My new public key for this friendship.
    pub public_key: String,
}
}
