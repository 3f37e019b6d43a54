//! A waiting copy as its mailbox stream holds it (field `p` of an `ms:` entry).
//!
//! Since layout 4 a copy is a line of text, then the envelope's bytes as they are:
//! `{id} {sender} {sender's device} {addressee} {stored_at} {only}\n{envelope}`, `only` 1
//! when it is the addressee's only copy, else 0. The scripts read the line alone
//! (`copy_of` in `mailbox_lua.rs`). Layouts 2 and 3 kept a JSON object with the envelope in
//! base64url; copies stored so are read as they are until acked or expired. The JSON cost
//! `hush-server` a base64 encoding and a JSON escape of the envelope per copy stored, a
//! parse and a decoding per copy read, and `redis-server` a third more bytes per copy to
//! hash in Lua and to copy (BENCHMARKS.md, "Copies as bytes").

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_shared::ws::MessageId;
use hush_shared::{DeviceId, UserId};
use serde::Deserialize;
use uuid::Uuid;

use super::line_fields::LineFields;
use crate::id_text::{push_id, push_number};
use crate::store::Mailbox;

/// A copy as read back: who wrote it to whom, when, and its envelope.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Copy {
    pub id: MessageId,
    pub from: UserId,
    /// The nil id on copies queued before crypto v2.
    pub from_device: DeviceId,
    pub to: UserId,
    pub stored_at: i64,
    /// The addressee's only copy: its ack needs no look at the message's record.
    pub only: bool,
    pub envelope: Vec<u8>,
}

/// The value of a copy of message `id` from `from` to `to`, stored at `at`.
pub(super) fn copy_value(id: MessageId, from: Mailbox, to: UserId, at: i64, only: bool, envelope: &[u8]) -> Vec<u8> {
    let mut line = String::with_capacity(4 * 37 + 24 + envelope.len());
    for named in [&id, &from.user.0, &from.device.0, &to.0] {
        push_id(&mut line, named);
        line.push(' ');
    }
    push_number(&mut line, at);
    line.push_str(if only { " 1\n" } else { " 0\n" });
    let mut value = line.into_bytes();
    value.extend_from_slice(envelope);
    value
}

/// The copy in `value`, or `None` when it is neither of the two forms. `owner` is the
/// mailbox's owner: the addressee of JSON copies queued before they named one.
pub(super) fn parse_copy(mut value: Vec<u8>, owner: UserId) -> Option<Copy> {
    if value.first() == Some(&b'{') {
        return parse_json(&value, owner);
    }
    let mut fields = LineFields::new(&value);
    let mut id_then_space = || {
        let id = fields.id()?;
        fields.skip(b' ')?;
        Some(id)
    };
    let (id, from, from_device, to) = (id_then_space()?, id_then_space()?, id_then_space()?, id_then_space()?);
    let stored_at = fields.number()?;
    fields.skip(b' ')?;
    let only = match fields.word() {
        b"1" => true,
        b"0" => false,
        _ => return None,
    };
    fields.skip(b'\n')?;
    let line_len = value.len() - fields.rest().len();
    value.drain(..line_len);
    Some(Copy {
        id,
        from: UserId(from),
        from_device: DeviceId(from_device),
        to: UserId(to),
        stored_at,
        only,
        envelope: value,
    })
}

/// A copy as layouts 2 and 3 kept it.
#[derive(Deserialize)]
struct JsonCopy {
    i: MessageId,
    f: UserId,
    /// Absent on copies queued before crypto v2.
    #[serde(default)]
    d: Option<DeviceId>,
    /// Absent on messages queued before devices had mailboxes: then the mailbox's owner.
    #[serde(default)]
    t: Option<UserId>,
    e: String,
    a: i64,
    /// Absent on copies stored before the mark existed: they are acked as if there were others.
    #[serde(default)]
    o: bool,
}

fn parse_json(value: &[u8], owner: UserId) -> Option<Copy> {
    let c: JsonCopy = serde_json::from_slice(value).ok()?;
    Some(Copy {
        id: c.i,
        from: c.f,
        from_device: c.d.unwrap_or(DeviceId(Uuid::nil())),
        to: c.t.unwrap_or(owner),
        stored_at: c.a,
        only: c.o,
        envelope: URL_SAFE_NO_PAD.decode(c.e).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (MessageId, Mailbox, UserId) {
        let from = Mailbox { user: UserId(Uuid::from_u128(1)), device: DeviceId(Uuid::from_u128(2)) };
        (Uuid::from_u128(3), from, UserId(Uuid::from_u128(4)))
    }

    #[test]
    fn a_copy_reads_back_as_written_whatever_bytes_its_envelope_holds() {
        let (id, from, to) = ids();
        let envelope: Vec<u8> = (0..=255u8).chain([b'\n', b' ', b'{']).collect();
        for only in [true, false] {
            let value = copy_value(id, from, to, 1_700_000_000, only, &envelope);
            let line = "00000000-0000-0000-0000-000000000003 00000000-0000-0000-0000-000000000001 \
                        00000000-0000-0000-0000-000000000002 00000000-0000-0000-0000-000000000004 1700000000";
            assert!(value.starts_with(format!("{line} {}\n", u8::from(only)).as_bytes()));
            let copy = parse_copy(value, UserId(Uuid::from_u128(9))).unwrap();
            let expected = Copy {
                id,
                from: from.user,
                from_device: from.device,
                to,
                stored_at: 1_700_000_000,
                only,
                envelope: envelope.clone(),
            };
            assert_eq!(copy, expected);
        }
    }

    #[test]
    fn a_copy_kept_as_json_reads_with_the_defaults_of_its_time() {
        let (id, from, to) = ids();
        let owner = UserId(Uuid::from_u128(9));
        let full =
            format!(r#"{{"i":"{id}","f":"{}","d":"{}","t":"{to}","e":"AAEC","a":5,"o":true}}"#, from.user, from.device);
        let copy = parse_copy(full.into_bytes(), owner).unwrap();
        assert_eq!((copy.from_device, copy.to, copy.only, copy.envelope), (from.device, to, true, vec![0, 1, 2]));
        let oldest = format!(r#"{{"i":"{id}","f":"{}","e":"AAEC","a":5}}"#, from.user);
        let copy = parse_copy(oldest.into_bytes(), owner).unwrap();
        assert_eq!((copy.from_device, copy.to, copy.only), (DeviceId(Uuid::nil()), owner, false));
    }

    #[test]
    fn a_damaged_copy_is_refused() {
        let (id, from, to) = ids();
        let good = copy_value(id, from, to, 5, false, b"envelope");
        let line_end = good.iter().position(|&b| b == b'\n').unwrap();
        let no_line_end = good[..line_end].to_vec();
        let mut bad_mark = good.clone();
        bad_mark[line_end - 1] = b'2';
        let mut extra_field = good[..line_end].to_vec();
        extra_field.extend_from_slice(b" 7\nenvelope");
        let short = b"1 2 3\nenvelope".to_vec();
        let bad_json = br#"{"i":"x"}"#.to_vec();
        for value in [no_line_end, bad_mark, extra_field, short, bad_json, vec![]] {
            assert_eq!(parse_copy(value.clone(), to), None, "{:?}", String::from_utf8_lossy(&value));
        }
    }
}
