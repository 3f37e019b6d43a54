//! Chat messages as a client keeps them, and the status state machine.

use hush_shared::UserId;
use hush_shared::ws::MessageId;
use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// I sent it.
    Outgoing,
    /// My friend sent it.
    Incoming,
}

/// Where a message stands. For outgoing messages the order is
/// `Sending → Stored → Delivered → Read`, or `Expired`; updates never move backwards, so a
/// late or duplicated receipt cannot undo a newer one. Incoming messages are `Received`
/// until I read them (`Seen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// On this device only (clock icon); will be sent when connected.
    Sending,
    /// Durably stored by the server (one tick).
    Stored,
    /// Stored on my friend's device (two ticks).
    Delivered,
    /// Read by my friend (blue ticks).
    Read,
    /// Never delivered: it expired in the server's mailbox.
    Expired,
    /// Refused by the server for good (e.g. no longer friends); can be retried by hand.
    Failed,
    /// Incoming, not yet read by me.
    Received,
    /// Incoming, read by me.
    Seen,
}

impl Status {
    fn rank(self) -> u8 {
        match self {
            Status::Sending | Status::Received => 0,
            Status::Failed => 1,
            Status::Stored => 2,
            Status::Delivered => 3,
            Status::Read | Status::Seen => 4,
            Status::Expired => 5,
        }
    }

    /// Whether moving from `self` to `next` is allowed.
    pub fn can_become(self, next: Status) -> bool {
        match (self, next) {
            // Expiry only happens to messages the recipient never got.
            (Status::Sending | Status::Stored | Status::Failed, Status::Expired) => true,
            (_, Status::Expired) => false,
            // A manual retry takes a failed message back to the outbox.
            (Status::Failed, Status::Sending) => true,
            (Status::Expired, _) => false,
            (current, next) => next.rank() > current.rank(),
        }
    }
}

/// What a message says. Stored as an object whose `kind` names the variant; read back
/// through `BodyFields` (serde's reader for a tagged enum buffers the whole object and
/// reads it again: 9 KB of the web app for this one type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "BodyFields")]
pub enum Body {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// A kind of content this version does not show (it is kept, never dropped).
    Unsupported {
        /// The content kind it named.
        content_kind: String,
    },
    /// It arrived but could not be opened yet: the sender's device was asked to start a
    /// new session and send it again.
    Waiting {
        /// How many times it was handed back (at most `MAX_RESEND_REQUESTS`).
        requests: u8,
    },
    /// It could not be opened, even after a resend.
    Undecryptable {
        /// Why, for the curious.
        reason: String,
    },
}

/// A stored [`Body`]'s fields, whatever its kind.
#[derive(Deserialize)]
struct BodyFields {
    kind: String,
    text: Option<String>,
    content_kind: Option<String>,
    requests: Option<u8>,
    reason: Option<String>,
}

impl TryFrom<BodyFields> for Body {
    type Error = String;

    fn try_from(fields: BodyFields) -> Result<Self, String> {
        let BodyFields { kind, text, content_kind, requests, reason } = fields;
        let missing = |field: &str| format!("a `{kind}` body without `{field}`");
        Ok(match kind.as_str() {
            "text" => Body::Text { text: text.ok_or_else(|| missing("text"))? },
            "unsupported" => Body::Unsupported { content_kind: content_kind.ok_or_else(|| missing("content_kind"))? },
            "waiting" => Body::Waiting { requests: requests.ok_or_else(|| missing("requests"))? },
            "undecryptable" => Body::Undecryptable { reason: reason.ok_or_else(|| missing("reason"))? },
            other => return Err(format!("unknown body kind `{other}`")),
        })
    }
}

/// One message in a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Chosen by the sender's client (UUID v7: sorts by creation time).
    pub id: MessageId,
    /// The friend this conversation is with.
    pub peer: UserId,
    /// Who wrote it.
    pub direction: Direction,
    /// Content.
    pub body: Body,
    /// Status.
    pub status: Status,
    /// Sender's clock when written (Unix milliseconds).
    pub created_at_ms: i64,
    /// Server's clock when stored (Unix seconds), once known.
    pub server_at: Option<i64>,
}

impl ChatMessage {
    /// Received and not yet seen on this device: what the app counts as unread.
    pub fn is_unread(&self) -> bool {
        self.status == Status::Received
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;

    #[test]
    fn status_never_moves_backwards() {
        assert!(Sending.can_become(Stored));
        assert!(Stored.can_become(Read));
        assert!(!Read.can_become(Delivered));
        assert!(!Delivered.can_become(Stored));
        assert!(!Delivered.can_become(Expired));
        assert!(Stored.can_become(Expired));
        assert!(!Expired.can_become(Delivered));
        assert!(Failed.can_become(Sending));
        assert!(Received.can_become(Seen));
        assert!(!Seen.can_become(Received));
    }

    /// Every kind reads back as written (the stored form is `{"kind": …, fields}`), and a
    /// body of an unknown kind or missing its field is refused.
    #[test]
    fn bodies_read_back_as_stored() {
        use super::Body;
        let bodies = [
            Body::Text { text: "hi".into() },
            Body::Unsupported { content_kind: "poll".into() },
            Body::Waiting { requests: 2 },
            Body::Undecryptable { reason: "no session".into() },
        ];
        for body in bodies {
            let stored = serde_json::to_string(&body).unwrap();
            assert_eq!(serde_json::from_str::<Body>(&stored).unwrap(), body, "{stored}");
        }
        assert_eq!(
            serde_json::to_string(&Body::Waiting { requests: 1 }).unwrap(),
            r#"{"kind":"waiting","requests":1}"#
        );
        assert!(serde_json::from_str::<Body>(r#"{"kind":"text"}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"kind":"sticker","text":"x"}"#).is_err());
    }
}
