//! How a client reads a [`ServerFrame`]: into one flat set of fields, whatever the frame's
//! `type` (and a friend event's `event`), then into its variant. serde's reader for an
//! internally tagged enum buffers the whole frame and reads it again once per variant
//! type, nested once more for friend events: about 40 KB of the web app, against a
//! fraction of that for one flat struct. The wire format is the derived writer's, unchanged
//! (docs/PROTOCOL.md); the tests read back every frame the server writes.

use serde::Deserialize;
use uuid::Uuid;

use crate::api::friends::{Friend, FriendRequest};
use crate::error::ErrorCode;
use crate::ids::{DeviceId, FriendRequestId, UserId};
use crate::ws::{DeviceMismatch, FriendEvent, ReceiptKind, ServerFrame};

/// Every field any server frame has.
#[derive(Deserialize)]
pub(crate) struct ServerFrameFields {
    #[serde(rename = "type")]
    frame: String,
    event: Option<String>,
    protocol: Option<u32>,
    user_id: Option<UserId>,
    device_id: Option<DeviceId>,
    server_time: Option<i64>,
    id: Option<Uuid>,
    at: Option<i64>,
    from: Option<UserId>,
    from_device: Option<DeviceId>,
    to: Option<UserId>,
    envelope: Option<String>,
    sent_at: Option<i64>,
    kind: Option<ReceiptKind>,
    message_id: Option<Uuid>,
    peer: Option<UserId>,
    peer_device: Option<DeviceId>,
    online: Option<bool>,
    last_seen: Option<i64>,
    active: Option<bool>,
    code: Option<ErrorCode>,
    message: Option<String>,
    devices: Option<DeviceMismatch>,
    request: Option<FriendRequest>,
    friend: Option<Friend>,
    request_id: Option<FriendRequestId>,
    identity_key: Option<String>,
}

/// `field`, which a frame of this kind must have.
pub(crate) fn required<T>(field: Option<T>, name: &str) -> Result<T, String> {
    field.ok_or_else(|| format!("missing field `{name}`"))
}

impl TryFrom<ServerFrameFields> for ServerFrame {
    type Error = String;

    fn try_from(f: ServerFrameFields) -> Result<Self, String> {
        Ok(match f.frame.as_str() {
            "hello" => ServerFrame::Hello {
                protocol: required(f.protocol, "protocol")?,
                user_id: required(f.user_id, "user_id")?,
                device_id: f.device_id,
                server_time: required(f.server_time, "server_time")?,
            },
            "stored" => ServerFrame::Stored { id: required(f.id, "id")?, at: required(f.at, "at")? },
            "message" => ServerFrame::Message {
                id: required(f.id, "id")?,
                from: required(f.from, "from")?,
                from_device: required(f.from_device, "from_device")?,
                to: required(f.to, "to")?,
                envelope: required(f.envelope, "envelope")?,
                sent_at: required(f.sent_at, "sent_at")?,
            },
            "receipt" => ServerFrame::Receipt {
                id: required(f.id, "id")?,
                kind: required(f.kind, "kind")?,
                message_id: required(f.message_id, "message_id")?,
                peer: required(f.peer, "peer")?,
                peer_device: f.peer_device,
                at: required(f.at, "at")?,
            },
            "caught_up" => ServerFrame::CaughtUp,
            "presence" => ServerFrame::Presence {
                user_id: required(f.user_id, "user_id")?,
                online: required(f.online, "online")?,
                last_seen: f.last_seen,
            },
            "typing" => ServerFrame::Typing { from: required(f.from, "from")?, active: required(f.active, "active")? },
            "friend" => ServerFrame::Friend(friend_event(f)?),
            "error" => ServerFrame::Error {
                code: required(f.code, "code")?,
                message: required(f.message, "message")?,
                id: f.id,
                devices: f.devices,
            },
            "pong" => ServerFrame::Pong,
            other => return Err(format!("unknown frame type `{other}`")),
        })
    }
}

/// The friend event a `friend` frame carries.
fn friend_event(f: ServerFrameFields) -> Result<FriendEvent, String> {
    Ok(match required(f.event, "event")?.as_str() {
        "request_received" => FriendEvent::RequestReceived { request: required(f.request, "request")? },
        "request_accepted" => FriendEvent::RequestAccepted { friend: required(f.friend, "friend")? },
        "request_declined" => FriendEvent::RequestDeclined { request_id: required(f.request_id, "request_id")? },
        "request_cancelled" => FriendEvent::RequestCancelled { request_id: required(f.request_id, "request_id")? },
        "removed" => FriendEvent::Removed { user_id: required(f.user_id, "user_id")? },
        "identity_changed" => FriendEvent::IdentityChanged {
            user_id: required(f.user_id, "user_id")?,
            identity_key: required(f.identity_key, "identity_key")?,
        },
        other => return Err(format!("unknown friend event `{other}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame and friend event the server writes reads back as itself.
    #[test]
    fn every_server_frame_reads_back() {
        let (me, friend, device) = (UserId::new(), UserId::new(), DeviceId::new());
        let request = FriendRequest {
            id: FriendRequestId::new(),
            user_id: friend,
            display_name: Some("Bob".into()),
            phone: "+16502530000".into(),
            created_at: 7,
        };
        let befriended = Friend { user_id: friend, display_name: None, identity_key: Some("key".into()), since: 8 };
        let events = [
            FriendEvent::RequestReceived { request },
            FriendEvent::RequestAccepted { friend: befriended },
            FriendEvent::RequestDeclined { request_id: FriendRequestId::new() },
            FriendEvent::RequestCancelled { request_id: FriendRequestId::new() },
            FriendEvent::Removed { user_id: friend },
            FriendEvent::IdentityChanged { user_id: friend, identity_key: "key2".into() },
        ];
        let mismatch = DeviceMismatch { user_id: friend, missing: vec![device], extra: vec![] };
        let mut frames = vec![
            ServerFrame::Hello { protocol: 2, user_id: me, device_id: Some(device), server_time: 9 },
            ServerFrame::Hello { protocol: 2, user_id: me, device_id: None, server_time: 9 },
            ServerFrame::Stored { id: Uuid::now_v7(), at: 10 },
            ServerFrame::Message {
                id: Uuid::now_v7(),
                from: friend,
                from_device: device,
                to: me,
                envelope: "AQID".into(),
                sent_at: 11,
            },
            ServerFrame::CaughtUp,
            ServerFrame::Presence { user_id: friend, online: false, last_seen: Some(12) },
            ServerFrame::Presence { user_id: friend, online: true, last_seen: None },
            ServerFrame::Typing { from: friend, active: true },
            ServerFrame::Error { code: ErrorCode::RateLimited, message: "slow down".into(), id: None, devices: None },
            ServerFrame::Error {
                code: ErrorCode::DevicesChanged,
                message: "devices".into(),
                id: Some(Uuid::now_v7()),
                devices: Some(mismatch),
            },
            ServerFrame::Pong,
        ];
        for (kind, peer_device) in [(ReceiptKind::Delivered, None), (ReceiptKind::Resend, Some(device))] {
            let id = Uuid::now_v7();
            frames.push(ServerFrame::Receipt { id, kind, message_id: id, peer: friend, peer_device, at: 13 });
        }
        frames.extend(events.into_iter().map(ServerFrame::Friend));
        let kinds: std::collections::HashSet<_> = frames.iter().map(kind).collect();
        assert_eq!(kinds.len(), 9 + 6, "every kind of frame (9 besides `friend`) and friend event (6) is tried");
        for frame in frames {
            let written = serde_json::to_string(&frame).unwrap();
            assert_eq!(serde_json::from_str::<ServerFrame>(&written).unwrap(), frame, "{written}");
        }
    }

    /// A frame's kind (a friend frame's by its event); a frame or event added to the
    /// protocol fails to compile here until the test above tries it.
    fn kind(frame: &ServerFrame) -> &'static str {
        match frame {
            ServerFrame::Hello { .. } => "hello",
            ServerFrame::Stored { .. } => "stored",
            ServerFrame::Message { .. } => "message",
            ServerFrame::Receipt { .. } => "receipt",
            ServerFrame::CaughtUp => "caught_up",
            ServerFrame::Presence { .. } => "presence",
            ServerFrame::Typing { .. } => "typing",
            ServerFrame::Friend(event) => match event {
                FriendEvent::RequestReceived { .. } => "request_received",
                FriendEvent::RequestAccepted { .. } => "request_accepted",
                FriendEvent::RequestDeclined { .. } => "request_declined",
                FriendEvent::RequestCancelled { .. } => "request_cancelled",
                FriendEvent::Removed { .. } => "removed",
                FriendEvent::IdentityChanged { .. } => "identity_changed",
            },
            ServerFrame::Error { .. } => "error",
            ServerFrame::Pong => "pong",
        }
    }

    #[test]
    fn frames_missing_a_field_or_of_an_unknown_type_are_refused() {
        for text in [
            r#"{"type":"stored","id":"0190a000-0000-7000-8000-000000000000"}"#,
            r#"{"type":"friend","event":"removed"}"#,
            r#"{"type":"friend","event":"poked","user_id":"0190a000-0000-7000-8000-000000000000"}"#,
            r#"{"type":"teleport"}"#,
            r#"{"at":1}"#,
        ] {
            assert!(serde_json::from_str::<ServerFrame>(text).is_err(), "{text}");
        }
        let later = r#"{"type":"pong","added_later":true}"#;
        assert_eq!(serde_json::from_str::<ServerFrame>(later).unwrap(), ServerFrame::Pong, "new fields are ignored");
    }
}
