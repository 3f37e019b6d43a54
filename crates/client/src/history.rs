//! The recent history a device sends a browser it links (`docs/CRYPTO.md` §13, *Recent
//! history*): which messages go (text, the last `HISTORY_DAYS` days, the newest
//! `HISTORY_MESSAGES`), their record format, and how they are cut into chunks that fit one
//! request once sealed; and, on the new browser, turning the records back into messages.

use hush_shared::UserId;
use hush_shared::limits::{HISTORY_DAYS, HISTORY_MESSAGES, MAX_HISTORY_CHUNK_B64};
use hush_shared::ws::MessageId;
use serde::{Deserialize, Serialize};

use crate::model::{Body, ChatMessage, Direction, Status};

/// Most plaintext bytes in one chunk: sealed (16-byte tag) and in base64url it stays within
/// `MAX_HISTORY_CHUNK_B64`.
pub const MAX_CHUNK_PLAINTEXT: usize = MAX_HISTORY_CHUNK_B64 / 4 * 3 - 16;

/// One message of the history, as the record of the specification (fields in its order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRecord {
    /// The message id.
    pub id: MessageId,
    /// The friend of the conversation.
    pub peer: UserId,
    /// Whether I sent it.
    pub out: bool,
    /// The text.
    pub text: String,
    /// When it was written (Unix milliseconds).
    pub at_ms: i64,
    /// How far it got: `sent`, `delivered` or `read` (incoming ones are `read`).
    pub status: String,
}

/// The records to send: text messages of the last `HISTORY_DAYS` days, at most the newest
/// `HISTORY_MESSAGES`, oldest first. Messages still on their way (or failed) are not history.
pub fn records(messages: Vec<ChatMessage>, now_ms: i64) -> Vec<HistoryRecord> {
    let since = now_ms - HISTORY_DAYS * 86_400_000;
    let mut records: Vec<HistoryRecord> = messages
        .into_iter()
        .filter(|m| m.created_at_ms >= since)
        .filter_map(|m| {
            let Body::Text { text } = m.body else { return None };
            let status = match (m.direction, m.status) {
                (Direction::Incoming, _) | (_, Status::Read) => "read",
                (_, Status::Delivered) => "delivered",
                (_, Status::Stored) => "sent",
                _ => return None,
            };
            let out = m.direction == Direction::Outgoing;
            Some(HistoryRecord { id: m.id, peer: m.peer, out, text, at_ms: m.created_at_ms, status: status.into() })
        })
        .collect();
    crate::order::sort_by_key_u128(&mut records, |r| r.id.as_u128());
    let excess = records.len().saturating_sub(HISTORY_MESSAGES);
    records.drain(..excess);
    records
}

/// The records as chunks of compact JSON arrays, each at most [`MAX_CHUNK_PLAINTEXT`] bytes
/// (a record too long for a chunk on its own is left out).
pub fn chunks(records: &[HistoryRecord]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut size = 2; // the brackets
    for record in records {
        let Ok(bytes) = serde_json::to_vec(record) else { continue };
        if bytes.len() + 2 > MAX_CHUNK_PLAINTEXT {
            continue;
        }
        if size + bytes.len() + 1 > MAX_CHUNK_PLAINTEXT {
            chunks.push(join(&current));
            current.clear();
            size = 2;
        }
        size += bytes.len() + 1;
        current.push(bytes);
    }
    if !current.is_empty() {
        chunks.push(join(&current));
    }
    chunks
}

fn join(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![b'['];
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(record);
    }
    out.push(b']');
    out
}

/// A record as this browser's message.
pub fn message(record: HistoryRecord) -> ChatMessage {
    let (direction, status) = match (record.out, record.status.as_str()) {
        (false, _) => (Direction::Incoming, Status::Seen),
        (true, "read") => (Direction::Outgoing, Status::Read),
        (true, "delivered") => (Direction::Outgoing, Status::Delivered),
        (true, _) => (Direction::Outgoing, Status::Stored),
    };
    ChatMessage {
        id: record.id,
        peer: record.peer,
        direction,
        body: Body::Text { text: record.text },
        status,
        created_at_ms: record.at_ms,
        server_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize, at_ms: i64, status: Status, direction: Direction) -> ChatMessage {
        ChatMessage {
            id: MessageId::now_v7(),
            peer: UserId::new(),
            direction,
            body: Body::Text { text: "x".repeat(n) },
            status,
            created_at_ms: at_ms,
            server_at: None,
        }
    }

    #[test]
    fn recent_text_only_and_chunks_within_bounds() {
        let now = 100 * 86_400_000;
        let old = text(5, now - 31 * 86_400_000, Status::Read, Direction::Outgoing);
        let sending = text(5, now, Status::Sending, Direction::Outgoing);
        let kept: Vec<ChatMessage> =
            (0..40).map(|i| text(900, now - i, Status::Delivered, Direction::Outgoing)).collect();
        let mut all = vec![old, sending];
        all.extend(kept.clone());
        let records = records(all, now);
        assert_eq!(records.len(), 40, "not older than 30 days, nothing still on its way");
        let chunks = chunks(&records);
        assert!(chunks.len() > 1 && chunks.iter().all(|c| c.len() <= MAX_CHUNK_PLAINTEXT));
        let back: Vec<HistoryRecord> =
            chunks.iter().flat_map(|c| serde_json::from_slice::<Vec<HistoryRecord>>(c).unwrap()).collect();
        assert_eq!(back, records);
        assert_eq!(message(back[0].clone()).status, Status::Delivered);
    }
}
