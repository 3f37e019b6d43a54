//! Message content v1: the typed, versioned record inside an envelope (`docs/CRYPTO.md` §8,
//! `docs/PROTOCOL.md`). New kinds (replies, reactions, edits, deletions, attachments) are
//! added here without touching the envelope; a kind or version this client does not know
//! decodes to [`Content::Unsupported`] and is kept, never dropped.

use hush_shared::UserId;
use serde::{Deserialize, Serialize};

/// The content version this client writes.
pub const CONTENT_VERSION: u32 = 1;

/// What an envelope carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A text message.
    Text {
        /// The text.
        text: String,
        /// The sender's clock when written (Unix milliseconds).
        sent_at_ms: i64,
    },
    /// A kind (or version) this client cannot show.
    Unsupported {
        /// The kind it named (or `v<version>` for an unknown version).
        kind: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Record {
    v: u32,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent_at_ms: Option<i64>,
    /// Only in the copies for the sender's own other devices: the friend it was written
    /// to (the server's `to` is not authenticated; this is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<UserId>,
}

/// Why bytes are not a content record at all (not JSON, no `v` or `kind`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a content record")]
pub struct NotContent;

impl Content {
    /// The record's bytes (UTF-8 JSON).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_for(None)
    }

    /// The record's bytes for my own other devices: it names `to`, the friend it was
    /// written to.
    pub fn encode_for(&self, to: Option<UserId>) -> Vec<u8> {
        let record = match self {
            Content::Text { text, sent_at_ms } => Record {
                v: CONTENT_VERSION,
                kind: "text".into(),
                text: Some(text.clone()),
                sent_at_ms: Some(*sent_at_ms),
                to,
            },
            Content::Unsupported { kind } => {
                Record { v: CONTENT_VERSION, kind: kind.clone(), text: None, sent_at_ms: None, to }
            }
        };
        serde_json::to_vec(&record).unwrap_or_default()
    }

    /// The friend a record from my other device was written to, if it names one.
    pub fn addressee(bytes: &[u8]) -> Option<UserId> {
        #[derive(Deserialize)]
        struct Addressed {
            to: Option<String>,
        }
        serde_json::from_slice::<Addressed>(bytes).ok()?.to?.parse().ok()
    }

    /// Reads a record: known kinds become their variant, anything else
    /// [`Content::Unsupported`]; bytes that are not a record at all are an error. The
    /// version and kind are read first, on their own, so a kind this version does not know
    /// is kept whatever its other fields hold.
    pub fn decode(bytes: &[u8]) -> Result<Self, NotContent> {
        #[derive(Deserialize)]
        struct Head {
            v: u64,
            kind: String,
        }
        let Head { v: version, kind } = serde_json::from_slice(bytes).map_err(|_| NotContent)?;
        if version != u64::from(CONTENT_VERSION) {
            return Ok(Content::Unsupported { kind: format!("v{version}") });
        }
        match kind.as_str() {
            "text" => match serde_json::from_slice::<Record>(bytes) {
                Ok(Record { text: Some(text), sent_at_ms: Some(sent_at_ms), .. }) => {
                    Ok(Content::Text { text, sent_at_ms })
                }
                _ => Err(NotContent),
            },
            _ => Ok(Content::Unsupported { kind }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_unknown_kinds_are_kept() {
        let text = Content::Text { text: "héllo".into(), sent_at_ms: 42 };
        assert_eq!(Content::decode(&text.encode()), Ok(text.clone()));
        assert_eq!(
            Content::decode(br#"{"v":1,"kind":"reaction","emoji":"+1"}"#),
            Ok(Content::Unsupported { kind: "reaction".into() })
        );
        assert_eq!(
            Content::decode(br#"{"v":7,"kind":"text","text":"x"}"#),
            Ok(Content::Unsupported { kind: "v7".into() })
        );
        assert_eq!(
            Content::decode(br#"{"v":1,"kind":"poll","text":5}"#),
            Ok(Content::Unsupported { kind: "poll".into() }),
            "an unknown kind is kept whatever its fields hold"
        );
        assert_eq!(Content::decode(b"not json"), Err(NotContent));
        assert_eq!(Content::decode(br#"{"kind":"text"}"#), Err(NotContent));
        assert_eq!(Content::decode(br#"{"v":1,"kind":"text"}"#), Err(NotContent), "a text record needs its text");
        let friend = UserId::new();
        let synced = text.encode_for(Some(friend));
        assert_eq!((Content::decode(&synced), Content::addressee(&synced)), (Ok(text.clone()), Some(friend)));
        assert_eq!(Content::addressee(&text.encode()), None);
    }
}
