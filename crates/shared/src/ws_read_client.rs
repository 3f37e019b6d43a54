//! How the server reads a [`ClientFrame`]: its fields in one pass, whatever the frame's
//! `type`, then into its variant. serde's reader for an internally tagged enum buffers the
//! whole frame (a `send`'s envelopes included) into a tree of its own and reads it again
//! for the variant: on one message at a time that was about 4 % of the server's CPU
//! (BENCHMARKS.md, "Frames read in one pass"). The wire format is the derived writer's,
//! unchanged (docs/PROTOCOL.md). A field the frame's type does not have is refused (also
//! one no frame has), as is a field given twice; `ping` ignores the fields no frame has,
//! while a field another frame has must hold a value of its type there (it is read before
//! the `type` may be known). Unlike serde's reader, a frame written as a JSON array is
//! refused: frames are objects.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::ids::UserId;
use crate::ws::{ClientFrame, DeviceEnvelope, MessageId};
use crate::ws_read::required;

/// Every field any client frame has, as read; `unknown` is the first field no frame has.
#[derive(Default)]
pub(crate) struct ClientFrameFields {
    frame: Option<FrameType>,
    token: Option<String>,
    id: Option<MessageId>,
    to: Option<UserId>,
    envelopes: Option<Vec<DeviceEnvelope>>,
    own: Option<Vec<DeviceEnvelope>>,
    ids: Option<Vec<MessageId>>,
    active: Option<bool>,
    unknown: Option<String>,
}

/// A frame's `type`, read without copying it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FrameType {
    Auth,
    Send,
    Ack,
    Retry,
    Read,
    ReceiptAck,
    Typing,
    Ping,
}

impl FrameType {
    /// The name on the wire (what an error names).
    fn name(self) -> &'static str {
        match self {
            FrameType::Auth => "auth",
            FrameType::Send => "send",
            FrameType::Ack => "ack",
            FrameType::Retry => "retry",
            FrameType::Read => "read",
            FrameType::ReceiptAck => "receipt_ack",
            FrameType::Typing => "typing",
            FrameType::Ping => "ping",
        }
    }

    /// The fields a frame of this type has.
    fn fields(self) -> &'static [&'static str] {
        match self {
            FrameType::Auth => &["token"],
            FrameType::Send => &["id", "to", "envelopes", "own"],
            FrameType::Ack | FrameType::Retry | FrameType::ReceiptAck => &["ids"],
            FrameType::Read => &["to", "ids"],
            FrameType::Typing => &["to", "active"],
            FrameType::Ping => &[],
        }
    }
}

impl<'de> Deserialize<'de> for FrameType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TypeName;
        impl Visitor<'_> for TypeName {
            type Value = FrameType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a frame type")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<FrameType, E> {
                Ok(match name {
                    "auth" => FrameType::Auth,
                    "send" => FrameType::Send,
                    "ack" => FrameType::Ack,
                    "retry" => FrameType::Retry,
                    "read" => FrameType::Read,
                    "receipt_ack" => FrameType::ReceiptAck,
                    "typing" => FrameType::Typing,
                    "ping" => FrameType::Ping,
                    other => return Err(E::custom(format_args!("unknown frame type `{other}`"))),
                })
            }
        }
        deserializer.deserialize_str(TypeName)
    }
}

/// A field name as read: one a frame can have, or another.
enum Field {
    Type,
    Token,
    Id,
    To,
    Envelopes,
    Own,
    Ids,
    Active,
    Unknown(String),
}

impl Field {
    /// The name on the wire (what an error names).
    fn name(&self) -> &str {
        match self {
            Field::Type => "type",
            Field::Token => "token",
            Field::Id => "id",
            Field::To => "to",
            Field::Envelopes => "envelopes",
            Field::Own => "own",
            Field::Ids => "ids",
            Field::Active => "active",
            Field::Unknown(name) => name,
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldName;
        impl Visitor<'_> for FieldName {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    "type" => Field::Type,
                    "token" => Field::Token,
                    "id" => Field::Id,
                    "to" => Field::To,
                    "envelopes" => Field::Envelopes,
                    "own" => Field::Own,
                    "ids" => Field::Ids,
                    "active" => Field::Active,
                    other => Field::Unknown(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_identifier(FieldName)
    }
}

/// Reads `slot`'s value once: a field given twice is refused, as the derived readers do.
fn once<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut Option<T>,
    map: &mut A,
    field: &Field,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::custom(format_args!("duplicate field `{}`", field.name())));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Deserialize<'de> for ClientFrameFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = ClientFrameFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a client frame (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ClientFrameFields, A::Error> {
                let mut f = ClientFrameFields::default();
                while let Some(field) = map.next_key::<Field>()? {
                    match &field {
                        Field::Type => once(&mut f.frame, &mut map, &field)?,
                        Field::Token => once(&mut f.token, &mut map, &field)?,
                        Field::Id => once(&mut f.id, &mut map, &field)?,
                        Field::To => once(&mut f.to, &mut map, &field)?,
                        Field::Envelopes => once(&mut f.envelopes, &mut map, &field)?,
                        Field::Own => once(&mut f.own, &mut map, &field)?,
                        Field::Ids => once(&mut f.ids, &mut map, &field)?,
                        Field::Active => once(&mut f.active, &mut map, &field)?,
                        Field::Unknown(_) => {
                            map.next_value::<IgnoredAny>()?;
                            if f.unknown.is_none()
                                && let Field::Unknown(name) = field
                            {
                                f.unknown = Some(name);
                            }
                        }
                    }
                }
                Ok(f)
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

impl ClientFrameFields {
    /// A field given that `allowed` (the frame type's fields) does not name: a field
    /// another frame has first (in the order of [`Field`]), else the first one no frame has.
    fn stray(&self, allowed: &[&str]) -> Option<&str> {
        let given = [
            ("token", self.token.is_some()),
            ("id", self.id.is_some()),
            ("to", self.to.is_some()),
            ("envelopes", self.envelopes.is_some()),
            ("own", self.own.is_some()),
            ("ids", self.ids.is_some()),
            ("active", self.active.is_some()),
        ];
        let known = given.into_iter().find(|(name, present)| *present && !allowed.contains(name)).map(|(n, _)| n);
        known.or(self.unknown.as_deref())
    }
}

impl TryFrom<ClientFrameFields> for ClientFrame {
    type Error = String;

    fn try_from(f: ClientFrameFields) -> Result<Self, String> {
        let frame = required(f.frame, "type")?;
        if frame == FrameType::Ping {
            return Ok(ClientFrame::Ping);
        }
        if let Some(stray) = f.stray(frame.fields()) {
            return Err(format!("unknown field `{stray}` in a frame of type `{}`", frame.name()));
        }
        Ok(match frame {
            FrameType::Auth => ClientFrame::Auth { token: required(f.token, "token")? },
            FrameType::Send => ClientFrame::Send {
                id: required(f.id, "id")?,
                to: required(f.to, "to")?,
                envelopes: required(f.envelopes, "envelopes")?,
                own: f.own.unwrap_or_default(),
            },
            FrameType::Ack => ClientFrame::Ack { ids: required(f.ids, "ids")? },
            FrameType::Retry => ClientFrame::Retry { ids: required(f.ids, "ids")? },
            FrameType::ReceiptAck => ClientFrame::ReceiptAck { ids: required(f.ids, "ids")? },
            FrameType::Read => ClientFrame::Read { to: required(f.to, "to")?, ids: required(f.ids, "ids")? },
            FrameType::Typing => {
                ClientFrame::Typing { to: required(f.to, "to")?, active: required(f.active, "active")? }
            }
            FrameType::Ping => ClientFrame::Ping,
        })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use crate::ids::DeviceId;
    use crate::ws::ClientFrame;

    fn read(text: &str) -> Result<ClientFrame, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Every frame a client writes reads back as itself; a frame added to the protocol fails
    /// to compile in `kind` until it is tried here.
    #[test]
    fn every_client_frame_reads_back() {
        let (friend, id) = (crate::ids::UserId::new(), Uuid::now_v7());
        let envelope = |n: u8| crate::ws::DeviceEnvelope { device: DeviceId::new(), envelope: format!("AQ{n}") };
        let frames = [
            ClientFrame::Auth { token: "t.o.k".into() },
            ClientFrame::Send { id, to: friend, envelopes: vec![envelope(1), envelope(2)], own: vec![] },
            ClientFrame::Send { id, to: friend, envelopes: vec![envelope(1)], own: vec![envelope(3)] },
            ClientFrame::Ack { ids: vec![id, Uuid::now_v7()] },
            ClientFrame::Retry { ids: vec![id] },
            ClientFrame::Read { to: friend, ids: vec![] },
            ClientFrame::ReceiptAck { ids: vec![id] },
            ClientFrame::Typing { to: friend, active: false },
            ClientFrame::Ping,
        ];
        let kinds: std::collections::HashSet<_> = frames.iter().map(kind).collect();
        assert_eq!(kinds.len(), 8, "every kind of client frame is tried");
        for frame in frames {
            let written = serde_json::to_string(&frame).unwrap();
            assert_eq!(read(&written).unwrap(), frame, "{written}");
        }
        let reordered = format!(r#"{{"ids":["{id}"],"type":"ack"}}"#);
        assert_eq!(read(&reordered).unwrap(), ClientFrame::Ack { ids: vec![id] }, "`type` may come last");
        let escaped = format!(r#"{{"typ\u0065":"ack","ids":["{id}"]}}"#);
        assert_eq!(read(&escaped).unwrap(), ClientFrame::Ack { ids: vec![id] }, "escaped names read as any JSON");
    }

    fn kind(frame: &ClientFrame) -> &'static str {
        match frame {
            ClientFrame::Auth { .. } => "auth",
            ClientFrame::Send { .. } => "send",
            ClientFrame::Ack { .. } => "ack",
            ClientFrame::Retry { .. } => "retry",
            ClientFrame::Read { .. } => "read",
            ClientFrame::ReceiptAck { .. } => "receipt_ack",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::Ping => "ping",
        }
    }

    #[test]
    fn stray_missing_repeated_or_unknown_fields_are_refused() {
        let id = Uuid::now_v7();
        let to = crate::ids::UserId::new();
        for (text, why) in [
            (r#"{"type":"ack","ids":[],"x":1}"#.to_owned(), "unknown field `x`"),
            (format!(r#"{{"type":"ack","ids":[],"to":"{to}"}}"#), "unknown field `to`"),
            (format!(r#"{{"type":"typing","to":"{to}","active":true,"token":"t"}}"#), "unknown field `token`"),
            (r#"{"type":"auth","token":"a","token":"b"}"#.to_owned(), "duplicate field `token`"),
            (r#"{"type":"ack","type":"ack","ids":[]}"#.to_owned(), "duplicate field `type`"),
            (format!(r#"{{"type":"send","id":"{id}","to":"{to}"}}"#), "missing field `envelopes`"),
            (
                format!(
                    r#"{{"type":"send","id":"{id}","to":"{to}","envelopes":[{{"device":"{to}","envelope":"A","x":0}}]}}"#
                ),
                "unknown field `x`",
            ),
            (r#"{"ids":[]}"#.to_owned(), "missing field `type`"),
            (r#"{"type":"teleport"}"#.to_owned(), "unknown frame type `teleport`"),
            (r#"{"type":"ack","ids":"nope"}"#.to_owned(), "invalid type"),
            (r#"["ack"]"#.to_owned(), "invalid type"),
            (r#"{"type":"ack","ids":[]"#.to_owned(), "EOF"),
            (r#"{"type":1}"#.to_owned(), "invalid type"),
            (r#"{"type":null}"#.to_owned(), "invalid type"),
            (format!(r#"{{"type":"send","id":"{id}","to":"{to}","envelopes":[],"own":null}}"#), "invalid type"),
            (r#"{"type":"ping","ids":"nope"}"#.to_owned(), "invalid type"),
        ] {
            let error = read(&text).expect_err(&text);
            assert!(error.contains(why), "{text}: {error}");
        }
        for ping in [r#"{"type":"ping","added_later":[1]}"#, r#"{"later":1,"type":"ping","later":2}"#] {
            assert_eq!(read(ping).unwrap(), ClientFrame::Ping, "ping ignores fields no frame has: {ping}");
        }
    }
}
