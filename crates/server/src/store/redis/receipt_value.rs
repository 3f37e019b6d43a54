//! A receipt as its mailbox's receipt stream holds it (field `p` of an `rs:` entry).
//!
//! Since layout 4 a receipt is one line, `{receipt id} {kind} {message id} {peer} {at}`, then
//! ` {peer's device}` on a `resend`; the kind as the protocol names it (`delivered`, `read`,
//! …). The scripts write it with `receipt_value` and read the peer with `receipt_peer`
//! (`mailbox_lua.rs`). Layouts 2 and 3 kept a JSON object (`r`, `k`, `m`, `p`, `q`, `a`);
//! receipts stored so are read as they are until acked. A line costs `hush-server` no JSON
//! per `delivered` receipt written and per receipt read, and Lua fewer bytes to hash
//! (BENCHMARKS.md, "Copies as bytes").

use hush_shared::ws::{MessageId, ReceiptId, ReceiptKind};
use hush_shared::{DeviceId, UserId};
use serde::Deserialize;

use super::line_fields::LineFields;
use crate::id_text::{push_id, push_number};
use crate::store::StoredReceipt;

fn kind_named(name: &str) -> Option<ReceiptKind> {
    ReceiptKind::ALL.into_iter().find(|kind| kind.as_str() == name)
}

/// The value of a receipt without a peer's device (the only kind Rust writes is
/// `delivered`; the scripts write the others).
pub(super) fn receipt_value(id: ReceiptId, kind: ReceiptKind, message_id: MessageId, peer: UserId, at: i64) -> String {
    let mut value = String::with_capacity(3 * 37 + 16 + 21);
    push_id(&mut value, &id);
    value.push(' ');
    value.push_str(kind.as_str());
    value.push(' ');
    push_id(&mut value, &message_id);
    value.push(' ');
    push_id(&mut value, &peer.0);
    value.push(' ');
    push_number(&mut value, at);
    value
}

/// The receipt in `value`, entry `seq` of its stream, or `None` when it is neither of the
/// two forms.
pub(super) fn parse_receipt(seq: i64, value: &[u8]) -> Option<StoredReceipt> {
    if value.first() == Some(&b'{') {
        let r: JsonReceipt = serde_json::from_slice(value).ok()?;
        return Some(StoredReceipt { seq, id: r.r, kind: r.k, message_id: r.m, peer: r.p, peer_device: r.q, at: r.a });
    }
    let mut fields = LineFields::new(value);
    let id = fields.id()?;
    fields.skip(b' ')?;
    let kind = kind_named(std::str::from_utf8(fields.word()).ok()?)?;
    fields.skip(b' ')?;
    let message_id = fields.id()?;
    fields.skip(b' ')?;
    let peer = UserId(fields.id()?);
    fields.skip(b' ')?;
    let at = fields.number()?;
    let peer_device = match fields.skip(b' ') {
        Some(()) => Some(DeviceId(fields.id()?)),
        None => None,
    };
    fields.rest().is_empty().then_some(StoredReceipt { seq, id, kind, message_id, peer, peer_device, at })
}

/// A receipt as layouts 2 and 3 kept it.
#[derive(Deserialize)]
struct JsonReceipt {
    r: ReceiptId,
    k: ReceiptKind,
    m: MessageId,
    p: UserId,
    #[serde(default)]
    q: Option<DeviceId>,
    a: i64,
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_receipt_reads_back_as_written_and_as_the_scripts_write_it() {
        let (id, message_id, peer, device) = (Uuid::from_u128(1), Uuid::from_u128(2), UserId::new(), DeviceId::new());
        for kind in ReceiptKind::ALL {
            let value = receipt_value(id, kind, message_id, peer, 1_700_000_000);
            let expected = StoredReceipt { seq: 3, id, kind, message_id, peer, peer_device: None, at: 1_700_000_000 };
            assert_eq!(parse_receipt(3, value.as_bytes()), Some(expected));
        }
        let resend = format!("{id} resend {message_id} {peer} 5 {device}");
        let expected =
            StoredReceipt { seq: 3, id, kind: ReceiptKind::Resend, message_id, peer, peer_device: Some(device), at: 5 };
        assert_eq!(parse_receipt(3, resend.as_bytes()), Some(expected));
    }

    #[test]
    fn a_receipt_kept_as_json_reads_and_a_damaged_one_is_refused() {
        let (id, message_id, peer) = (Uuid::from_u128(1), Uuid::from_u128(2), UserId::new());
        let json = format!(r#"{{"r":"{id}","k":"read_elsewhere","m":"{message_id}","p":"{peer}","a":5}}"#);
        let expected =
            StoredReceipt { seq: 3, id, kind: ReceiptKind::ReadElsewhere, message_id, peer, peer_device: None, at: 5 };
        assert_eq!(parse_receipt(3, json.as_bytes()), Some(expected));
        let good = format!("{id} read {message_id} {peer} 5");
        for bad in [
            good.replace(" read ", " seen "),
            format!("{good} not-a-device"),
            format!("{good} {} extra", DeviceId::new()),
            good.replace(" 5", ""),
            String::new(),
            r#"{"r":"x"}"#.to_owned(),
        ] {
            assert_eq!(parse_receipt(3, bad.as_bytes()), None, "{bad}");
        }
    }
}
