//! The record the store keeps of each message (`message_ids`), separate from its copies: it
//! refuses a resend under the same id and says what already happened to the message
//! (delivered, read, expired), so each receipt kind goes out once per message however many
//! devices the recipient has. A record outlives the message's copies by at least a message
//! lifetime. Records are kept in generations (migration 0016) so that no index by time has to
//! be written with each message: the sweep opens a new generation once the newest is a
//! lifetime old and drops a whole generation — one range of the primary key — once the one
//! after it is that old too. The generations kept are remembered ([`Generations`]), so each
//! statement names one and stays a plain lookup by primary key (asking the table of
//! generations inside the statement cost more than the index saved; BENCHMARKS.md). Within
//! a generation records are keyed by id first (migration 0017): ids are UUIDv7, so new
//! records go to the table's end. Only the newest generation takes new records; each older
//! one is remembered with the greatest id it holds, so a message whose id sorts after that
//! (every new UUIDv7 id) is not looked for in it — nor in the newest one when its id is later
//! than any that one may hold (`newest_ids`): a new message costs no lookup at all. Like the
//! mailbox counters, this holds for the one process that serves the database.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::newest_ids::NewestIds;

/// `state` bits: what already happened to a message.
pub(super) const DELIVERED: i64 = 1;
pub(super) const READ: i64 = 2;
pub(super) const EXPIRED: i64 = 4;

/// The generations kept, oldest first, as read from `message_id_generations` after the last
/// sweep (which alone changes them).
#[derive(Default)]
pub(crate) struct Generations {
    kept: Option<Vec<Generation>>,
    /// Which ids the newest one may hold, read with `kept`.
    newest: NewestIds,
}

/// A generation kept, and which ids it can hold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Generation {
    pub number: i64,
    holds: Holds,
}

/// The ids a generation can hold: any (the newest, which takes new records), or none after
/// the greatest one it held when the next generation opened (`None`: it held none).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Holds {
    Any,
    UpTo(Option<Uuid>),
}

impl Generation {
    /// Whether a record of `id` may be in this generation.
    fn may_hold(&self, id: &Uuid) -> bool {
        match self.holds {
            Holds::Any => true,
            Holds::UpTo(last) => last.is_some_and(|last| *id <= last),
        }
    }
}

impl Generations {
    /// The generations kept, oldest first; never empty.
    pub(super) fn kept(&mut self, c: &Connection) -> rusqlite::Result<&[Generation]> {
        Ok(self.read(c)?.0)
    }

    /// The generations kept, and which ids the newest one may hold; read after a sweep.
    fn read(&mut self, c: &Connection) -> rusqlite::Result<(&[Generation], &mut NewestIds)> {
        if self.kept.is_none() {
            let mut stmt = c.prepare_cached("SELECT gen FROM message_id_generations ORDER BY gen")?;
            let numbers = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
            let mut kept = Vec::with_capacity(numbers.len());
            for (i, &number) in numbers.iter().enumerate() {
                let holds = if i + 1 == numbers.len() { Holds::Any } else { Holds::UpTo(last_id(c, number)?) };
                kept.push(Generation { number, holds });
            }
            self.newest = match kept.last() {
                Some(newest) => NewestIds::read(c, newest.number)?,
                None => NewestIds::default(),
            };
            self.kept = Some(kept);
        }
        Ok((self.kept.as_deref().unwrap_or_default(), &mut self.newest))
    }

    /// When the message `(sender, id)` was first stored, if a generation kept records it (the
    /// duplicate check: a send kept pending, `pending_sends`, claims nothing yet). The newest
    /// generation is looked in only when it may hold the id (`newest_ids`).
    pub(super) fn find(&mut self, c: &Connection, sender: &Uuid, id: &Uuid) -> rusqlite::Result<Option<i64>> {
        let (kept, newest) = self.read(c)?;
        let Some((last, older)) = kept.split_last() else { return Ok(None) };
        if let Some(at) = find_in(c, older, sender, id)? {
            return Ok(Some(at));
        }
        if !newest.may_hold(sender, id) {
            return Ok(None);
        }
        stored_at(c, last.number, sender, id)
    }

    /// Records each message of `records` in the newest generation, several per statement,
    /// unless a generation kept records it already (then that record is left as it is).
    pub(super) fn record_all(&mut self, tx: &Connection, records: &[Record<'_>]) -> rusqlite::Result<()> {
        let (kept, newest_ids) = self.read(tx)?;
        let Some((newest, older)) = kept.split_last() else { return Err(rusqlite::Error::QueryReturnedNoRows) };
        let mut new = Vec::with_capacity(records.len());
        for record in records {
            if find_in(tx, older, record.sender, record.id)?.is_none() {
                newest_ids.claimed(record.sender, record.id);
                new.push(record);
            }
        }
        let mut rest = &new[..];
        for (rows, sql) in RECORDS_PER_INSERT.iter().zip(INSERT_RECORDS.iter()) {
            while rest.len() >= *rows {
                let (these, after) = rest.split_at(*rows);
                insert_records(tx, sql, newest.number, these)?;
                rest = after;
            }
        }
        Ok(())
    }
}

/// A message's record as [`Generations::record_all`] writes it.
pub(super) struct Record<'a> {
    pub sender: &'a Uuid,
    pub id: &'a Uuid,
    pub recipient: &'a Uuid,
    pub stored_at: i64,
    pub state: i64,
}

/// The rows one `INSERT` of [`Generations::record_all`] writes, largest first: a statement
/// per record cost its dispatch, its cache lookup, its reset and its halt for each one
/// (BENCHMARKS.md, "Sockets polled when they may hold a frame, records written many at a
/// time"); a few sizes keep the statements cached few.
const RECORDS_PER_INSERT: [usize; 3] = [16, 4, 1];

/// The `INSERT` of each size in [`RECORDS_PER_INSERT`]: `?1` is the generation, then five
/// parameters per record.
static INSERT_RECORDS: LazyLock<[String; 3]> = LazyLock::new(|| {
    RECORDS_PER_INSERT.map(|rows| {
        let values = (0..rows)
            .map(|row| {
                let p = 2 + 5 * row;
                format!("(?1, ?{}, ?{}, ?{}, ?{}, ?{})", p, p + 1, p + 2, p + 3, p + 4)
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO message_ids (gen, sender, id, stored_at, recipient, state) VALUES {values} ON CONFLICT DO NOTHING"
        )
    })
});

/// Runs `sql` (one of [`INSERT_RECORDS`]) for `records` in generation `generation`.
fn insert_records(tx: &Connection, sql: &str, generation: i64, records: &[&Record<'_>]) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(sql)?;
    insert.raw_bind_parameter(1, generation)?;
    for (row, record) in records.iter().enumerate() {
        let p = 2 + 5 * row;
        insert.raw_bind_parameter(p, record.sender.as_bytes())?;
        insert.raw_bind_parameter(p + 1, record.id.as_bytes())?;
        insert.raw_bind_parameter(p + 2, record.stored_at)?;
        insert.raw_bind_parameter(p + 3, record.recipient.as_bytes())?;
        insert.raw_bind_parameter(p + 4, record.state)?;
    }
    insert.raw_execute()?;
    Ok(())
}

/// The greatest message id recorded in generation `number` (ids compare as SQLite compares
/// their bytes, as [`Uuid`]s do).
fn last_id(c: &Connection, number: i64) -> rusqlite::Result<Option<Uuid>> {
    c.prepare_cached("SELECT id FROM message_ids WHERE gen = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([number], |r| super::uuid_blob(r, 0))
        .optional()
}

/// When the message `(sender, id)` was first stored, if one of `generations` records it.
fn find_in(tx: &Connection, generations: &[Generation], sender: &Uuid, id: &Uuid) -> rusqlite::Result<Option<i64>> {
    for generation in generations.iter().filter(|g| g.may_hold(id)) {
        if let Some(at) = stored_at(tx, generation.number, sender, id)? {
            return Ok(Some(at));
        }
    }
    Ok(None)
}

/// When the message `(sender, id)` was first stored, if generation `generation` records it.
fn stored_at(tx: &Connection, generation: i64, sender: &Uuid, id: &Uuid) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT stored_at FROM message_ids WHERE gen = ?3 AND sender = ?1 AND id = ?2")?
        .query_row(params![sender.as_bytes(), id.as_bytes(), generation], |r| r.get(0))
        .optional()
}

/// Marks `state` on the message `(sender, id)` if it is not set yet (nor `unless`): true
/// when this call set it, i.e. when its receipt is due.
pub(super) fn mark(
    (tx, kept): (&Connection, &[Generation]),
    sender: &Uuid,
    id: &Uuid,
    state: i64,
    unless: i64,
) -> rusqlite::Result<bool> {
    for generation in kept.iter().rev().filter(|g| g.may_hold(id)) {
        let changed = tx
            .prepare_cached(
                "UPDATE message_ids SET state = state | ?3
                 WHERE gen = ?5 AND sender = ?1 AND id = ?2 AND state & (?3 | ?4) = 0",
            )?
            .execute(params![sender.as_bytes(), id.as_bytes(), state, unless, generation.number])?;
        if changed == 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Marks the message `(sender, id)` read by `reader`'s person if it was sent to them and
/// not read yet: true when its `read` receipt is due.
pub(super) fn mark_read(
    (tx, kept): (&Connection, &[Generation]),
    sender: &Uuid,
    id: &Uuid,
    reader: &Uuid,
) -> rusqlite::Result<bool> {
    for generation in kept.iter().rev().filter(|g| g.may_hold(id)) {
        let changed = tx
            .prepare_cached(
                "UPDATE message_ids SET state = state | ?4
                 WHERE gen = ?5 AND sender = ?1 AND id = ?2 AND (recipient = ?3 OR recipient IS NULL) AND state & ?4 = 0",
            )?
            .execute(params![sender.as_bytes(), id.as_bytes(), reader.as_bytes(), READ, generation.number])?;
        if changed == 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Drops the records stored at or before `cutoff` a generation at a time, and opens a new
/// generation at `now` once the newest started that long ago. Called once every copy stored
/// at or before `cutoff` is gone.
pub(super) fn expire(
    (tx, generations): (&Connection, &mut Generations),
    now: i64,
    cutoff: i64,
) -> rusqlite::Result<()> {
    // Read again at the next use, whether this transaction commits or not.
    generations.kept = None;
    let (newest, started): (i64, i64) = tx
        .prepare_cached("SELECT gen, started_at FROM message_id_generations ORDER BY gen DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if started <= cutoff {
        tx.prepare_cached("INSERT INTO message_id_generations (gen, started_at) VALUES (?1, ?2)")?
            .execute(params![newest + 1, now])?;
    }
    // Each generation before the newest one started by `cutoff` holds only older records.
    let whole: Option<i64> = tx
        .prepare_cached("SELECT MAX(gen) FROM message_id_generations WHERE started_at <= ?1")?
        .query_row([cutoff], |r| r.get(0))?;
    if let Some(whole) = whole {
        tx.prepare_cached("DELETE FROM message_ids WHERE gen < ?1")?.execute([whole])?;
        tx.prepare_cached("DELETE FROM message_id_generations WHERE gen < ?1")?.execute([whole])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::super::newest_ids::v7_in;
    use super::super::tests::{store_one, two_open_mailboxes};
    use crate::store::{Enqueued, EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, Outgoing};

    /// A message's lifetime in these tests.
    const TTL: i64 = 1_000;

    /// The store's answer to the message `id` sent from `from` to `to` at `now`.
    async fn send_one(store: &SqliteStore, (from, to): (Mailbox, Mailbox), id: uuid::Uuid, now: i64) -> Enqueued {
        let policy = MailboxPolicy { max_messages: 100, ttl_secs: TTL };
        let copies = vec![EnvelopeCopy { mailbox: to, envelope: vec![1; 40] }];
        let sent = store.enqueue_many(from, vec![Outgoing { to: to.user, id, copies }], now, policy).await;
        sent.unwrap().remove(0)
    }

    /// A record lives at least a lifetime, so a resend within it is refused, and at most
    /// about two: the sweep drops a generation once the one after it is a lifetime old.
    #[tokio::test]
    async fn records_live_a_lifetime_and_go_a_generation_at_a_time() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let send = async |id: uuid::Uuid, now: i64| send_one(&store, (a1, b1), id, now).await;
        let generations = || {
            let c = store.conn.try_lock().unwrap();
            let mut stmt = c.prepare("SELECT gen FROM message_id_generations ORDER BY gen").unwrap();
            stmt.query_map([], |r| r.get::<_, i64>(0)).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
        };
        let (first, second) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());

        assert_eq!(send(first, 0).await, Enqueued::Stored { at: 0 });
        store.expire(TTL, TTL, 10).await.unwrap();
        assert_eq!(generations(), vec![0, 1], "the first generation started a lifetime ago");
        assert_eq!(send(second, 1_100).await, Enqueued::Stored { at: 1_100 });
        store.expire(1_500, TTL, 10).await.unwrap();
        assert_eq!(send(first, 1_500).await, Enqueued::Duplicate { at: 0 }, "kept until its generation goes");
        assert_eq!(generations(), vec![0, 1]);

        store.expire(2_000, TTL, 10).await.unwrap();
        assert_eq!(generations(), vec![1, 2], "the one after it is a lifetime old: it goes");
        assert_eq!(send(second, 2_000).await, Enqueued::Duplicate { at: 1_100 }, "younger than a lifetime: kept");
        assert_eq!(send(first, 2_001).await, Enqueued::Stored { at: 2_001 }, "gone with its generation");
        store.flush().await.unwrap();
        let c = store.conn.try_lock().unwrap();
        let newest: i64 = c.query_row("SELECT gen FROM message_ids WHERE stored_at = 2001", [], |r| r.get(0)).unwrap();
        assert_eq!(newest, 2, "recorded in the generation the sweep opened");
    }

    /// A closed generation is looked in only for ids up to the greatest one it held when the
    /// next opened: a new UUIDv7 id sorts after, so its send looks in the newest generation
    /// alone. A resend of an id it holds is found, also of one that sorts first (any UUID
    /// is a valid id).
    #[tokio::test]
    async fn a_closed_generation_is_looked_in_only_up_to_its_last_id() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let send = async |id: uuid::Uuid, now: i64| send_one(&store, (a1, b1), id, now).await;
        let (first, last) = (uuid::Uuid::from_u128(1), uuid::Uuid::now_v7());
        assert_eq!(send(first, 0).await, Enqueued::Stored { at: 0 });
        assert_eq!(send(last, 0).await, Enqueued::Stored { at: 0 });
        store.expire(TTL, TTL, 10).await.unwrap();
        assert_eq!(send(uuid::Uuid::now_v7(), 1_050).await, Enqueued::Stored { at: 1_050 }, "generation 1 opened");

        // Planted behind the store's back, after generation 0 was closed: an id past its
        // last one is not looked for there.
        let planted = uuid::Uuid::now_v7();
        store
            .conn
            .try_lock()
            .unwrap()
            .execute(
                "INSERT INTO message_ids (gen, sender, id, stored_at, recipient) VALUES (0, ?1, ?2, 5, ?3)",
                rusqlite::params![a1.user.0.as_bytes(), planted.as_bytes(), b1.user.0.as_bytes()],
            )
            .unwrap();
        assert_eq!(send(planted, 1_100).await, Enqueued::Stored { at: 1_100 }, "generation 0 was not looked in");
        assert_eq!(send(last, 1_100).await, Enqueued::Duplicate { at: 0 });
        assert_eq!(send(first, 1_100).await, Enqueued::Duplicate { at: 0 });
    }

    /// The newest generation is looked in only for ids it may hold (`newest_ids`): a resend
    /// is found there whatever its id — made before the generations were read, ahead of the
    /// clock then, or recorded since — and a new id is not looked for.
    #[tokio::test]
    async fn a_resend_is_found_in_the_newest_generation_whatever_its_id() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let send = async |id: uuid::Uuid, now: i64| send_one(&store, (a1, b1), id, now).await;
        let (early, ahead) = (uuid::Uuid::now_v7(), v7_in(3_600_000));
        assert_eq!(send(early, 0).await, Enqueued::Stored { at: 0 });
        assert_eq!(send(ahead, 0).await, Enqueued::Stored { at: 0 });
        store.flush().await.unwrap();
        // The generations read again, as after a sweep or a restart: `ahead` sorts after
        // the moment of reading.
        store.expire(10, TTL, 10).await.unwrap();
        assert_eq!(send(early, 10).await, Enqueued::Duplicate { at: 0 });
        assert_eq!(send(ahead, 10).await, Enqueued::Duplicate { at: 0 }, "read as a record ahead");

        let since = v7_in(7_200_000);
        assert_eq!(send(since, 20).await, Enqueued::Stored { at: 20 });
        store.flush().await.unwrap();
        assert_eq!(send(since, 30).await, Enqueued::Duplicate { at: 20 }, "recorded since the reading");

        // Planted behind the store's back in the newest generation: a new id from a sender
        // whose clock is not ahead is not looked for.
        let c1 = Mailbox { user: hush_shared::UserId::new(), device: hush_shared::DeviceId::new() };
        store.open_mailbox(c1).await.unwrap();
        let planted = v7_in(1_000);
        let newest: i64 =
            store.conn.try_lock().unwrap().query_row("SELECT MAX(gen) FROM message_ids", [], |r| r.get(0)).unwrap();
        store
            .conn
            .try_lock()
            .unwrap()
            .execute(
                "INSERT INTO message_ids (gen, sender, id, stored_at, recipient) VALUES (?4, ?1, ?2, 5, ?3)",
                rusqlite::params![c1.user.0.as_bytes(), planted.as_bytes(), b1.user.0.as_bytes(), newest],
            )
            .unwrap();
        assert_eq!(send_one(&store, (c1, b1), planted, 40).await, Enqueued::Stored { at: 40 }, "not looked for");
    }

    /// Records are written many per statement (16, 4, then one at a time: the 22 here need
    /// each size), a record that exists already is left as it is, and one an older
    /// generation holds is not written again into the newest.
    #[tokio::test]
    async fn records_are_written_many_at_a_time_and_once() {
        use super::{DELIVERED, Generations, READ, Record};
        let (store, a1, b1) = two_open_mailboxes().await;
        let old = uuid::Uuid::from_u128(1);
        assert_eq!(send_one(&store, (a1, b1), old, 0).await, Enqueued::Stored { at: 0 });
        store.flush().await.unwrap();
        store.expire(TTL, TTL, 10).await.unwrap();
        let c = store.conn.try_lock().unwrap();
        let existing = uuid::Uuid::now_v7();
        c.execute(
            "INSERT INTO message_ids (gen, sender, id, stored_at, recipient, state) VALUES (1, ?1, ?2, 5, ?3, ?4)",
            rusqlite::params![a1.user.0.as_bytes(), existing.as_bytes(), b1.user.0.as_bytes(), READ],
        )
        .unwrap();
        let new: Vec<uuid::Uuid> = (0..21).map(|_| uuid::Uuid::now_v7()).collect();
        let record = |id| Record { sender: &a1.user.0, id, recipient: &b1.user.0, stored_at: 7, state: DELIVERED };
        let mut records: Vec<Record<'_>> = new.iter().map(record).collect();
        records.push(record(&existing));
        records.push(record(&old));
        Generations::default().record_all(&c, &records).unwrap();

        let count = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM message_ids WHERE gen = 1 AND stored_at = 7 AND state = 1"), 21);
        assert_eq!(count("SELECT COUNT(*) FROM message_ids WHERE gen = 1"), 22, "the existing record is not doubled");
        let kept: (i64, i64) = c
            .query_row("SELECT stored_at, state FROM message_ids WHERE id = ?1", [existing.as_bytes()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(kept, (5, READ), "left as it was");
        let olds: Vec<i64> = c
            .prepare("SELECT gen FROM message_ids WHERE id = ?1")
            .unwrap()
            .query_map([old.as_bytes()], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(olds, vec![0], "kept in the older generation only");
    }

    /// Records from several senders are kept in the order of their (UUIDv7, time-first)
    /// ids, so each new one goes to the table's end (migration 0017) rather than into the
    /// middle of its sender's range.
    #[tokio::test]
    async fn records_are_kept_in_the_order_their_ids_were_made() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let mut made = Vec::new();
        for round in 0..3 {
            made.push(store_one(&store, a1, b1, round).await.id);
            made.push(store_one(&store, b1, a1, round).await.id);
        }
        let c = store.conn.try_lock().unwrap();
        let mut stmt = c.prepare("SELECT id FROM message_ids").unwrap();
        let kept = stmt.query_map([], |r| super::super::uuid_blob(r, 0)).unwrap().collect::<Result<Vec<_>, _>>();
        assert_eq!(kept.unwrap(), made);
    }
}
