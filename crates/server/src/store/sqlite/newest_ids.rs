//! Which message ids may have a record in the newest generation of `message_ids`
//! (`message_records`), known without a lookup: a send's id is new nearly always, and the
//! duplicate check's lookup by primary key was the largest part of storing a send
//! (BENCHMARKS.md, "New ids not looked up").
//!
//! Message ids are UUIDv7, time first. When the generations are read, the records of the
//! newest one whose ids sort after that moment — a client whose clock runs ahead — are read
//! too, each sender's greatest kept; every record claimed from then on raises its sender's
//! greatest. So a record there has an id up to that moment, or up to its sender's greatest,
//! and a send whose id is later than both is new. Ids that are not time-ordered only cost
//! the lookup they always did; more than [`MAX_AHEAD`] records ahead turn the shortcut off
//! until the next reading (after the next sweep). Like the rest of the store's memory, this
//! holds for the one process that serves the database.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};
use uuid::Uuid;

use crate::maps::HashMap;

/// Records ahead of the moment of reading beyond which every id may be recorded.
const MAX_AHEAD: usize = 4096;

/// What the newest generation may hold (see the module header).
#[derive(Debug)]
pub(super) struct NewestIds {
    /// Every record read has an id up to this or is counted in `by_sender`.
    read_up_to: Uuid,
    /// Each sender's greatest id among the records read after `read_up_to` and those
    /// claimed since.
    by_sender: HashMap<Uuid, Uuid>,
}

/// Before the generations are read: any id may be recorded.
impl Default for NewestIds {
    fn default() -> Self {
        Self { read_up_to: Uuid::max(), by_sender: HashMap::default() }
    }
}

impl NewestIds {
    /// Reads generation `newest` at the present moment.
    pub fn read(c: &Connection, newest: i64) -> rusqlite::Result<Self> {
        let read_up_to = last_id_at(SystemTime::now());
        let mut ahead = c.prepare_cached("SELECT sender, id FROM message_ids WHERE gen = ?1 AND id > ?2 LIMIT ?3")?;
        let mut rows = ahead.query(params![newest, read_up_to.as_bytes(), MAX_AHEAD as i64 + 1])?;
        let mut newest_ids = Self { read_up_to, by_sender: HashMap::default() };
        let mut read = 0;
        while let Some(row) = rows.next()? {
            read += 1;
            if read > MAX_AHEAD {
                return Ok(Self::default());
            }
            newest_ids.claimed(&super::uuid_blob(row, 0)?, &super::uuid_blob(row, 1)?);
        }
        Ok(newest_ids)
    }

    /// Whether the newest generation may hold a record of `id` from `sender`.
    pub fn may_hold(&self, sender: &Uuid, id: &Uuid) -> bool {
        *id <= self.read_up_to || self.by_sender.get(sender).is_some_and(|greatest| id <= greatest)
    }

    /// A record of `id` from `sender` goes into the newest generation (or may: a
    /// transaction rolled back only leaves the shortcut a little more cautious).
    pub fn claimed(&mut self, sender: &Uuid, id: &Uuid) {
        if *id <= self.read_up_to {
            return;
        }
        let greatest = self.by_sender.entry(*sender).or_insert(*id);
        *greatest = (*greatest).max(*id);
    }
}

/// The greatest UUIDv7 of the millisecond `at`: every id made up to then sorts before it.
fn last_id_at(at: SystemTime) -> Uuid {
    let millis = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut bytes = [0xff; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    Uuid::from_bytes(bytes)
}

/// A UUIDv7 made in the millisecond `millis` since the epoch (for tests).
#[cfg(test)]
pub(super) fn v7_at_ms(millis: u64) -> Uuid {
    Uuid::new_v7(uuid::Timestamp::from_unix_time(millis / 1000, (millis % 1000) as u32 * 1_000_000, 0, 0))
}

/// A UUIDv7 made `offset_ms` from now, before it when negative (for tests).
#[cfg(test)]
pub(super) fn v7_in(offset_ms: i64) -> Uuid {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    v7_at_ms((now + offset_ms) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn table() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE message_ids (gen INTEGER NOT NULL, sender BLOB NOT NULL, id BLOB NOT NULL,
             PRIMARY KEY (gen, id, sender)) WITHOUT ROWID",
        )
        .unwrap();
        c
    }

    fn record(c: &Connection, generation: i64, sender: &Uuid, id: &Uuid) {
        c.execute(
            "INSERT INTO message_ids (gen, sender, id) VALUES (?1, ?2, ?3)",
            params![generation, sender.as_bytes(), id.as_bytes()],
        )
        .unwrap();
    }

    #[test]
    fn later_ids_are_new_unless_their_sender_ran_ahead() {
        let c = table();
        let (alice, bob, carol) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let (past, ahead) = (v7_in(-60_000), v7_in(3_600_000));
        record(&c, 1, &alice, &past);
        record(&c, 1, &bob, &ahead);
        record(&c, 0, &carol, &v7_in(7_200_000));
        let mut newest = NewestIds::read(&c, 1).unwrap();
        assert!(newest.may_hold(&alice, &past) && newest.may_hold(&carol, &past), "up to the reading: looked up");
        assert!(newest.may_hold(&bob, &ahead), "a record read ahead of the moment");
        assert!(newest.may_hold(&bob, &v7_in(1_000)), "bob's clock runs ahead: his ids are looked up");
        assert!(!newest.may_hold(&alice, &v7_in(1_000)), "alice's next id is new");
        assert!(!newest.may_hold(&carol, &v7_in(5_000_000)), "another generation's record is not this one's");

        let next = v7_in(2_000);
        newest.claimed(&alice, &next);
        assert!(newest.may_hold(&alice, &next) && newest.may_hold(&alice, &v7_in(1_000)));
        assert!(!newest.may_hold(&alice, &v7_in(3_000)) && !newest.may_hold(&carol, &next));
        newest.claimed(&alice, &v7_in(1_500));
        assert!(newest.may_hold(&alice, &next), "a smaller claim keeps the greatest");
    }

    #[test]
    fn too_many_records_ahead_turn_the_shortcut_off() {
        let c = table();
        let sender = Uuid::now_v7();
        for n in 0..MAX_AHEAD as i64 {
            record(&c, 3, &sender, &v7_in(60_000 + n));
        }
        let later = v7_in(600_000);
        assert!(!NewestIds::read(&c, 3).unwrap().may_hold(&Uuid::now_v7(), &later), "at the limit");
        record(&c, 3, &sender, &v7_in(59_000));
        assert!(NewestIds::read(&c, 3).unwrap().may_hold(&Uuid::now_v7(), &later), "one more: every id is looked up");
        assert!(NewestIds::default().may_hold(&sender, &later), "not read yet");
    }

    #[test]
    fn the_last_id_of_a_moment_sorts_after_its_ids_and_before_the_next() {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let last = last_id_at(UNIX_EPOCH + Duration::from_millis(millis));
        assert!(v7_at_ms(millis) <= last);
        assert!(v7_at_ms(millis + 1) > last);
    }
}
