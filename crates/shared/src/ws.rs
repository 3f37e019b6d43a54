//! WebSocket frames of `GET /api/v1/ws` (protocol version [`PROTOCOL_VERSION`]).
//!
//! Every frame is one JSON text message, an object tagged by `"type"`. The client's first
//! frame must be [`ClientFrame::Auth`] within [`AUTH_TIMEOUT_SECS`]; the server answers
//! [`ServerFrame::Hello`] and then drains the mailbox, ending with
//! [`ServerFrame::CaughtUp`]. `docs/PROTOCOL.md` describes the semantics.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::friends::{Friend, FriendRequest};
use crate::error::ErrorCode;
use crate::ids::{DeviceId, FriendRequestId, UserId};

/// Version announced in `hello`: 2 is crypto v2 (envelopes per device).
pub const PROTOCOL_VERSION: u32 = 2;
/// Seconds the server waits for the `auth` frame.
pub const AUTH_TIMEOUT_SECS: u64 = 5;
/// Largest WebSocket message the server accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Most ids in one `ack`, `read` or `receipt_ack` frame.
pub const MAX_IDS_PER_FRAME: usize = 512;
/// Messages the server keeps in flight to one connection before it waits for acks.
pub const DELIVERY_WINDOW: usize = 256;
/// Receipts the server keeps in flight to one connection before it waits for receipt acks.
/// Wider than [`DELIVERY_WINDOW`]: a receipt is small and cheap to apply, and a sender's
/// receipt acks queue behind its own sends — a device sending many messages at once acks
/// its receipts tens of milliseconds late, so the messages' window would let fewer
/// receipts through than its messages make (BENCHMARKS.md, "Receipts kept flowing").
pub const RECEIPT_WINDOW: usize = 2048;
/// Milliseconds a client may hold a `receipt_ack` for its next frame (`hush_client::held_acks`).
/// The server keeps a `delivered` receipt in memory awaiting its ack for longer (its
/// `AWAIT_AT_MOST`, checked against this), so a held ack still spares it writing the receipt.
pub const RECEIPT_ACK_HOLD_MS: i64 = 100;

/// A message id: a UUID (v7 recommended) chosen by the sender's client; resends reuse it.
pub type MessageId = Uuid;
/// A receipt id, chosen by the server.
pub type ReceiptId = Uuid;

/// Frames a client sends. The server reads them in one pass over their fields
/// (`ws_read_client`), not through serde's reader for tagged enums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "crate::ws_read_client::ClientFrameFields")]
pub enum ClientFrame {
    /// First frame: the access token (never in the URL).
    Auth {
        /// A valid access token.
        token: String,
    },
    /// Send an encrypted message to a friend: one envelope per device of theirs and one per
    /// other device of mine (so my other devices show what I sent), all under one message
    /// id. Each list must name exactly the current devices.
    Send {
        /// Client-chosen id; resending with the same id never duplicates.
        id: MessageId,
        /// The friend.
        to: UserId,
        /// One crypto v2 envelope per device of the friend.
        envelopes: Vec<DeviceEnvelope>,
        /// One crypto v2 envelope per other device of mine (none when I have one device).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        own: Vec<DeviceEnvelope>,
    },
    /// These messages are safely stored on this device: delete them from the mailbox and
    /// tell their senders (delivered receipt).
    Ack {
        /// Message ids.
        ids: Vec<MessageId>,
    },
    /// These messages could not be opened on this device (no session, or keys lost): delete
    /// them without a delivered receipt and ask each sender to start a new session and send
    /// them again (a `resend` receipt). Used once per message; the sender resends under
    /// the same id.
    Retry {
        /// Message ids.
        ids: Vec<MessageId>,
    },
    /// I have read these messages from `to`: queue a read receipt for them.
    Read {
        /// The original sender of the messages.
        to: UserId,
        /// Message ids.
        ids: Vec<MessageId>,
    },
    /// These receipts are stored on this device: delete them.
    ReceiptAck {
        /// Receipt ids.
        ids: Vec<ReceiptId>,
    },
    /// I am (or stopped) typing to this friend.
    Typing {
        /// The friend.
        to: UserId,
        /// Whether typing.
        active: bool,
    },
    /// Keep-alive; answered with `pong`.
    Ping,
}

/// One device's envelope in a `send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceEnvelope {
    /// The device it is for.
    pub device: DeviceId,
    /// The crypto v2 envelope for it, base64url without padding.
    pub envelope: String,
}

/// Why a `send` was refused with `devices_changed`: the devices it named for one person
/// (the recipient, or the sender's own other devices) are not that person's current ones.
/// Fetch their bundles again and resend. (A device id names one device key for good, so a
/// device whose keys changed shows up as one id missing and another extra.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMismatch {
    /// The person whose devices the send got wrong: the recipient or the sender.
    pub user_id: UserId,
    /// Current devices the send had no envelope for.
    pub missing: Vec<DeviceId>,
    /// Devices named that the person no longer has (or never had), and for the sender the
    /// sending device itself.
    pub extra: Vec<DeviceId>,
}

/// What a receipt says about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// Stored on a device of the recipient (two ticks); sent once per message, for the
    /// first of their devices that acks it.
    Delivered,
    /// Read by the recipient on one of their devices (blue ticks); once per message.
    Read,
    /// Never delivered: it expired in the mailbox.
    Expired,
    /// The recipient's device `peer_device` could not open it: start a new session with that
    /// device and send the message again under the same id (only that device's copy is
    /// stored again).
    Resend,
    /// I read this message from `peer` on another of my devices: clear its unread mark.
    ReadElsewhere,
}

impl ReceiptKind {
    /// Every kind.
    pub const ALL: [ReceiptKind; 5] = [
        ReceiptKind::Delivered,
        ReceiptKind::Read,
        ReceiptKind::Expired,
        ReceiptKind::Resend,
        ReceiptKind::ReadElsewhere,
    ];

    /// The kind's name on the wire (the name serde writes; a test holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Delivered => "delivered",
            ReceiptKind::Read => "read",
            ReceiptKind::Expired => "expired",
            ReceiptKind::Resend => "resend",
            ReceiptKind::ReadElsewhere => "read_elsewhere",
        }
    }
}

/// Friendship changes pushed live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FriendEvent {
    /// Someone sent me a request.
    RequestReceived {
        /// The request (its `user_id` is the requester).
        request: FriendRequest,
    },
    /// My request was accepted: the friendship as I see it, with their key.
    RequestAccepted {
        /// The new friendship.
        friend: Friend,
    },
    /// My request was declined.
    RequestDeclined {
        /// The request.
        request_id: FriendRequestId,
    },
    /// A request to me was cancelled by its sender.
    RequestCancelled {
        /// The request.
        request_id: FriendRequestId,
    },
    /// The friendship ended (unfriended or blocked).
    Removed {
        /// The former friend.
        user_id: UserId,
    },
    /// A friend's account identity key is now `identity_key` (crypto v2): set for the
    /// first time, or replaced because they started again. The safety number changed.
    IdentityChanged {
        /// The friend.
        user_id: UserId,
        /// Their account identity key.
        identity_key: String,
    },
}

/// Frames the server sends. Clients read them through one flat set of fields
/// (`ws_read`), not serde's reader for tagged enums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "crate::ws_read::ServerFrameFields")]
pub enum ServerFrame {
    /// Authenticated.
    Hello {
        /// [`PROTOCOL_VERSION`].
        protocol: u32,
        /// Me.
        user_id: UserId,
        /// This session's registered device; `null` when this browser is not (yet) a
        /// device of the account: it then receives no messages and may not send any.
        device_id: Option<DeviceId>,
        /// Server time, Unix seconds.
        server_time: i64,
    },
    /// The message is durably stored (one tick). Sent again for a resend.
    Stored {
        /// The message.
        id: MessageId,
        /// When it was first stored.
        at: i64,
    },
    /// A message for this device: from a friend, or (when `from` is me) one I sent from
    /// another of my devices. Ack it once stored on the device.
    Message {
        /// Its id.
        id: MessageId,
        /// The sender.
        from: UserId,
        /// The sender's device.
        from_device: DeviceId,
        /// The person it is addressed to: me, or the friend I wrote to from another device.
        to: UserId,
        /// The envelope for this device, base64url.
        envelope: String,
        /// When the server stored it.
        sent_at: i64,
    },
    /// Something happened to a message I sent (or, for `read_elsewhere`, one I received).
    /// `receipt_ack` it once applied.
    Receipt {
        /// Receipt id.
        id: ReceiptId,
        /// What happened.
        kind: ReceiptKind,
        /// The message.
        message_id: MessageId,
        /// The other person of the conversation.
        peer: UserId,
        /// With `resend`: the device of `peer` that asks for the message again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer_device: Option<DeviceId>,
        /// When.
        at: i64,
    },
    /// The mailbox drain after connecting is complete.
    CaughtUp,
    /// A friend came online or went offline.
    Presence {
        /// The friend.
        user_id: UserId,
        /// Whether online now.
        online: bool,
        /// When last seen, if offline and known.
        last_seen: Option<i64>,
    },
    /// A friend is (or stopped) typing to me.
    Typing {
        /// The friend.
        from: UserId,
        /// Whether typing.
        active: bool,
    },
    /// A friendship change.
    Friend(FriendEvent),
    /// A frame was refused. `id` names the message concerned, if any.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Explanation.
        message: String,
        /// The message id the error is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<MessageId>,
        /// With `devices_changed`: which devices the send got wrong.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        devices: Option<DeviceMismatch>,
    },
    /// Answer to `ping`.
    Pong,
}

/// Close codes the server uses besides the standard ones (1008 policy, 1009 too big,
/// 1011 server error).
pub mod close {
    /// No valid `auth` frame in time, or an invalid token.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The session was revoked (logout, account deleted).
    pub const SESSION_REVOKED: u16 = 4003;
    /// This browser's device was removed from the account (by another device, or by a
    /// browser that started again): erase what it holds.
    pub const DEVICE_REMOVED: u16 = 4004;
    /// The connection fell too far behind; reconnect and resync.
    pub const LAGGING: u16 = 4008;
    /// Too many connections for this account.
    pub const TOO_MANY_CONNECTIONS: u16 = 4029;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_snake_case() {
        let f: ClientFrame = serde_json::from_str(r#"{"type":"ack","ids":[]}"#).unwrap();
        assert_eq!(f, ClientFrame::Ack { ids: vec![] });
        assert_eq!(serde_json::to_string(&ClientFrame::Ping).unwrap(), r#"{"type":"ping"}"#);
        let s =
            serde_json::to_value(ServerFrame::Friend(FriendEvent::Removed { user_id: UserId(Uuid::nil()) })).unwrap();
        let e = serde_json::to_value(ServerFrame::Error {
            code: ErrorCode::DevicesChanged,
            message: String::new(),
            id: None,
            devices: Some(DeviceMismatch { user_id: UserId(Uuid::nil()), missing: vec![], extra: vec![] }),
        })
        .unwrap();
        assert_eq!(e["devices"]["missing"], serde_json::json!([]));
        assert_eq!(s["type"], "friend");
        assert_eq!(s["event"], "removed");
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"ack","ids":[],"x":1}"#).is_err());
    }

    #[test]
    fn receipt_kinds_are_named_as_serde_writes_them() {
        for kind in ReceiptKind::ALL {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.as_str()));
        }
        let names: std::collections::HashSet<_> = ReceiptKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ReceiptKind::ALL.len(), "each kind once");
    }
}
