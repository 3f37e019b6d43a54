//! How the mailbox's commands are written and their replies read. Every message relayed on
//! Redis costs a send script, an ack script and its part of two stream reads; through
//! redis-rs's generic paths most of `hush-server`'s own work on them was not Redis's:
//!
//! - a `ScriptInvocation` keeps each argument as a vector of its own, then copies them all
//!   into the command; [`ScriptCall`] writes its `EVALSHA` command in place;
//! - ids went in through `Display` (a `String` each); here they go in as their 36 bytes
//!   ([`ScriptCall::id`], [`mailbox_key`]);
//! - `query_async` first rebuilds every array of a reply, looking for errors inside it, then
//!   converts it through generic types (a `String` per entry id); here replies are walked
//!   as the [`Value`]s they arrive as ([`items`], [`bulk`], [`int`], [`users`]).
//!
//! An error Redis answers in place of a reply is an error here too, and a script Redis does
//! not know (restarted, or flushed) is loaded and the call sent again, as `ScriptInvocation`
//! does (BENCHMARKS.md, "The Redis mailbox's own work in the server").

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, RedisError, Script, ServerErrorKind, ToRedisArgs, Value};
use uuid::Uuid;

use hush_shared::UserId;

use crate::id_text::push_id;
use crate::store::{Mailbox, StoreError, StoreResult};

/// A call of one of the mailbox's scripts (no `KEYS`: the scripts build their keys from the
/// prefix, their first argument).
pub(super) struct ScriptCall<'a> {
    script: &'a Script,
    cmd: Cmd,
}

impl<'a> ScriptCall<'a> {
    /// A call of `script`, with no arguments yet.
    pub fn new(script: &'a Script) -> Self {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(script.get_hash()).arg(0);
        Self { script, cmd }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Adds an id as its hyphenated text.
    pub fn id(&mut self, id: &Uuid) -> &mut Self {
        self.arg(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()) as &str)
    }

    /// Adds a mailbox's name in keys, `{user}:{device}`.
    pub fn mailbox(&mut self, mailbox: Mailbox) -> &mut Self {
        let mut name = String::with_capacity(73);
        push_mailbox(&mut name, mailbox);
        self.arg(name.as_str())
    }

    /// Runs the call: its reply, with the script loaded first if Redis did not have it.
    pub async fn run(&self, conn: &ConnectionManager) -> StoreResult<Value> {
        let mut conn = conn.clone();
        match conn.req_packed_command(&self.cmd).await? {
            Value::ServerError(e) if e.kind() == Some(ServerErrorKind::NoScript) => {
                self.script.load_async(&mut conn).await?;
                reply(&conn, &self.cmd).await
            }
            answer => answered(answer),
        }
    }
}

/// `cmd`'s reply.
pub(super) async fn reply(conn: &ConnectionManager, cmd: &Cmd) -> StoreResult<Value> {
    answered(conn.clone().req_packed_command(cmd).await?)
}

/// A reply, or the error Redis answered instead.
fn answered(answer: Value) -> StoreResult<Value> {
    match answer {
        Value::ServerError(e) => Err(RedisError::from(e).into()),
        answer => Ok(answer),
    }
}

/// Appends a mailbox's name in keys, `{user}:{device}`.
fn push_mailbox(text: &mut String, mailbox: Mailbox) {
    push_id(text, &mailbox.user.0);
    text.push(':');
    push_id(text, &mailbox.device.0);
}

/// The key of a mailbox's stream `stream` (`ms` or `rs`): `{prefix}:{stream}:{user}:{device}`.
pub(super) fn mailbox_key(prefix: &str, stream: &str, mailbox: Mailbox) -> String {
    let mut key = String::with_capacity(prefix.len() + stream.len() + 75);
    key.push_str(prefix);
    key.push(':');
    key.push_str(stream);
    key.push(':');
    push_mailbox(&mut key, mailbox);
    key
}

fn unexpected(what: &str) -> StoreError {
    StoreError(format!("redis: unexpected reply ({what})"))
}

/// The items of an array reply (none for a nil reply).
pub(super) fn items(reply: Value, what: &str) -> StoreResult<Vec<Value>> {
    match reply {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(vec![]),
        _ => Err(unexpected(what)),
    }
}

/// The bytes of a string reply.
pub(super) fn bulk(reply: Value) -> Option<Vec<u8>> {
    match reply {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    }
}

/// An integer reply.
pub(super) fn int(reply: &Value) -> Option<i64> {
    match reply {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

/// The people a script answered (their ids as text), sorted and distinct; an id that does not
/// parse is left out, as before replies were walked here.
pub(super) fn users(reply: Value, what: &str) -> StoreResult<Vec<UserId>> {
    let mut users: Vec<UserId> = items(reply, what)?
        .into_iter()
        .filter_map(|user| Some(UserId(Uuid::try_parse_ascii(&bulk(user)?).ok()?)))
        .collect();
    users.sort();
    users.dedup();
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_shared::DeviceId;

    #[test]
    fn a_mailbox_key_names_its_stream_user_and_device() {
        let mailbox = Mailbox { user: UserId::new(), device: DeviceId::new() };
        assert_eq!(mailbox_key("hush", "ms", mailbox), format!("hush:ms:{}:{}", mailbox.user, mailbox.device));
    }

    #[test]
    fn a_call_writes_evalsha_with_no_keys_then_its_arguments() {
        let script = Script::new("return 1");
        let (id, mailbox) = (Uuid::now_v7(), Mailbox { user: UserId::new(), device: DeviceId::new() });
        let mut call = ScriptCall::new(&script);
        call.arg("p").id(&id).mailbox(mailbox).arg(7);
        let mut expected = redis::cmd("EVALSHA");
        expected
            .arg(script.get_hash())
            .arg(0)
            .arg("p")
            .arg(id.to_string())
            .arg(format!("{}:{}", mailbox.user, mailbox.device));
        expected.arg(7);
        assert_eq!(call.cmd.get_packed_command(), expected.get_packed_command());
    }

    #[test]
    fn replies_are_read_by_their_shape() {
        let (a, b) = (UserId::new(), UserId::new());
        let told = Value::Array(vec![
            Value::BulkString(b.to_string().into_bytes()),
            Value::BulkString(a.to_string().into_bytes()),
            Value::BulkString(b.to_string().into_bytes()),
            Value::BulkString(b"not an id".to_vec()),
        ]);
        let mut expected = vec![a, b];
        expected.sort();
        assert_eq!(users(told, "told").unwrap(), expected);
        assert_eq!(users(Value::Nil, "told").unwrap(), vec![]);
        assert!(users(Value::Int(1), "told").is_err());
        assert_eq!(bulk(Value::SimpleString("0-1".into())), Some(b"0-1".to_vec()));
        assert_eq!(bulk(Value::Int(1)), None);
        assert_eq!(int(&Value::Int(-1)), Some(-1));
        assert_eq!(int(&Value::Nil), None);
    }
}
