//! The frames sent for every message relayed — `message`, `stored` and `receipt` — written
//! without serde.
//!
//! `ServerFrame` (docs/PROTOCOL.md) stays the definition: the text here is the same, byte
//! for byte (the tests hold them equal). Writing `message` directly puts the envelope's
//! base64url straight into the frame: serde would first make it a string of its own, then
//! scan every one of its bytes for characters to escape — base64url has none — which was
//! the largest part of the JSON work per relayed message (BENCHMARKS.md, "Copies as bytes").
//! `stored` and `receipt` hold only ids, numbers and fixed names, none of which JSON
//! escapes; through serde they were about 1.5 % of the server's CPU on one message at a
//! time (BENCHMARKS.md, "Frames read in one pass"). Ids and numbers are put in as text
//! directly, not through `write!` and its formatting machinery: about 1,600 instructions a
//! message (BENCHMARKS.md, "Frames without the formatting machinery").

use axum::extract::ws::{Message, Utf8Bytes};
use uuid::Uuid;

use hush_shared::ws::ServerFrame;
use hush_shared::{DeviceId, UserId};

use crate::hub::HandedCopy;
use crate::id_text::{push_id, push_number};
use crate::store::StoredMessage;

/// The most a `message` frame holds besides its envelope: the names and punctuation (87
/// bytes), four ids (36 each) and `sent_at` (at most 20): 251. Sized short, the text was
/// copied again to grow once the envelope was in.
const MESSAGE_FRAME_FIELDS: usize = 256;

/// `m` as the text of its `message` frame. The envelope is encoded with SIMD: through the
/// `base64` crate it was 4.6 % of the server's instructions in `saturate` on Redis, where
/// every copy is read from its mailbox (BENCHMARKS.md, "The Redis mailbox's own work in the
/// server").
pub fn message_text(m: &StoredMessage) -> Message {
    let fields = (&m.id, &m.from, &m.from_device, &m.to, m.stored_at);
    let encoded_len = m.envelope.len().div_ceil(3) * 4;
    message_frame(fields, encoded_len, |text| base64_simd::URL_SAFE_NO_PAD.encode_append(&m.envelope, text))
}

/// A copy handed over as the text of its `message` frame: its envelope's text goes in as
/// the sender wrote it ([`HandedCopy`]).
pub fn handed_message_text(c: &HandedCopy) -> Message {
    let fields = (&c.id, &c.from, &c.from_device, &c.to, c.stored_at);
    message_frame(fields, c.envelope_b64.len(), |text| text.push_str(&c.envelope_b64))
}

/// The `message` frame of the message with `fields` (id, from, from device, to, sent at),
/// whose envelope `put_envelope` appends as base64url of `envelope_len` characters.
fn message_frame(
    (id, from, from_device, to, sent_at): (&Uuid, &UserId, &DeviceId, &UserId, i64),
    envelope_len: usize,
    put_envelope: impl FnOnce(&mut String),
) -> Message {
    let mut text = String::with_capacity(MESSAGE_FRAME_FIELDS + envelope_len);
    text.push_str(r#"{"type":"message","id":""#);
    push_id(&mut text, id);
    text.push_str(r#"","from":""#);
    push_id(&mut text, &from.0);
    text.push_str(r#"","from_device":""#);
    push_id(&mut text, &from_device.0);
    text.push_str(r#"","to":""#);
    push_id(&mut text, &to.0);
    text.push_str(r#"","envelope":""#);
    put_envelope(&mut text);
    text.push_str(r#"","sent_at":"#);
    push_number(&mut text, sent_at);
    text.push('}');
    Message::Text(Utf8Bytes::from(text))
}

/// `frame` as its text, written directly when it is a `stored` or a `receipt`; `None` for
/// the other frames (serde writes them).
pub fn per_message_text(frame: &ServerFrame) -> Option<String> {
    match frame {
        ServerFrame::Stored { id, at } => {
            let mut text = String::with_capacity(96);
            text.push_str(r#"{"type":"stored","id":""#);
            push_id(&mut text, id);
            text.push_str(r#"","at":"#);
            push_number(&mut text, *at);
            text.push('}');
            Some(text)
        }
        ServerFrame::Receipt { id, kind, message_id, peer, peer_device, at } => {
            let mut text = String::with_capacity(288);
            text.push_str(r#"{"type":"receipt","id":""#);
            push_id(&mut text, id);
            text.push_str(r#"","kind":""#);
            text.push_str(kind.as_str());
            text.push_str(r#"","message_id":""#);
            push_id(&mut text, message_id);
            text.push_str(r#"","peer":""#);
            push_id(&mut text, &peer.0);
            if let Some(device) = peer_device {
                text.push_str(r#"","peer_device":""#);
                push_id(&mut text, &device.0);
            }
            text.push_str(r#"","at":"#);
            push_number(&mut text, *at);
            text.push('}');
            Some(text)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hush_shared::ws::ReceiptKind;
    use uuid::Uuid;

    use super::*;
    use crate::ws::writer::text;

    #[test]
    fn the_frame_is_the_text_serde_makes_of_a_message() {
        let cases = [
            (vec![], 0),
            (vec![0xfb, 0xff], i64::MIN),
            (vec![0xfc, 0x3f, 0xff], 5),
            ((0..=255).collect::<Vec<u8>>(), i64::MAX),
            ((0..351).map(|i| (i * 7) as u8).collect(), 9),
        ];
        for (envelope, sent_at) in cases {
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
            let handed = HandedCopy {
                seq: m.seq,
                id: m.id,
                from: m.from,
                from_device: m.from_device,
                to: m.to,
                envelope_b64: URL_SAFE_NO_PAD.encode(&m.envelope),
                stored_at: sent_at,
            };
            assert_eq!(handed_message_text(&handed), text(&frame), "a copy handed over: the same frame");
            let Message::Text(written) = text(&frame) else { unreachable!() };
            assert!(written.len() <= MESSAGE_FRAME_FIELDS + handed.envelope_b64.len(), "sized to hold it");
        }
    }

    #[test]
    fn stored_and_receipt_frames_are_the_text_serde_makes_of_them() {
        let (id, peer, device) = (Uuid::now_v7(), UserId::new(), DeviceId::new());
        let mut frames = vec![ServerFrame::Stored { id, at: 0 }, ServerFrame::Stored { id, at: i64::MIN }];
        for kind in ReceiptKind::ALL {
            for peer_device in [None, Some(device)] {
                frames.push(ServerFrame::Receipt { id, kind, message_id: Uuid::now_v7(), peer, peer_device, at: 5 });
            }
        }
        for frame in frames {
            assert_eq!(per_message_text(&frame), Some(serde_json::to_string(&frame).unwrap()));
        }
        assert_eq!(per_message_text(&ServerFrame::Pong), None, "other frames are left to serde");
    }
}
