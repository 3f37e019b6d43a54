//! The `message` frame, the one sent for every message relayed, written without serde.
//!
//! `ServerFrame::Message` (docs/PROTOCOL.md) stays the definition: the text here is the
//! same, byte for byte (the tests hold them equal). Writing it directly puts the envelope's
//! base64url straight into the frame: serde would first make it a string of its own, then
//! scan every one of its bytes for characters to escape — base64url has none — which was
//! the largest part of the JSON work per relayed message (BENCHMARKS.md, "Copies as bytes").

use std::fmt::Write as _;

use axum::extract::ws::{Message, Utf8Bytes};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::store::StoredMessage;

/// `m` as the text of its `message` frame.
pub fn message_text(m: &StoredMessage) -> Message {
    let mut text = String::with_capacity(200 + m.envelope.len().div_ceil(3) * 4);
    let _ = write!(
        text,
        r#"{{"type":"message","id":"{}","from":"{}","from_device":"{}","to":"{}","envelope":""#,
        m.id, m.from, m.from_device, m.to
    );
    URL_SAFE_NO_PAD.encode_string(&m.envelope, &mut text);
    let _ = write!(text, r#"","sent_at":{}}}"#, m.stored_at);
    Message::Text(Utf8Bytes::from(text))
}

#[cfg(test)]
mod tests {
    use hush_shared::ws::ServerFrame;
    use hush_shared::{DeviceId, UserId};
    use uuid::Uuid;

    use super::*;
    use crate::ws::writer::text;

    #[test]
    fn the_frame_is_the_text_serde_makes_of_a_message() {
        for (envelope, sent_at) in [(vec![], 0), (vec![0xfb, 0xff], -1), ((0..=255).collect::<Vec<u8>>(), i64::MAX)] {
            let m = StoredMessage {
                seq: 7,
                id: Uuid::now_v7(),
                from: UserId::new(),
                from_device: DeviceId::new(),
                to: UserId::new(),
                envelope,
                stored_at: sent_at,
            };
            let frame = ServerFrame::Message {
                id: m.id,
                from: m.from,
                from_device: m.from_device,
                to: m.to,
                envelope: URL_SAFE_NO_PAD.encode(&m.envelope),
                sent_at,
            };
            assert_eq!(message_text(&m), text(&frame));
        }
    }
}
