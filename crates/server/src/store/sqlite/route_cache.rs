//! Send routes (are two people friends, and which devices each has) remembered between
//! messages, so a message in a conversation does not take the store's connection to read
//! them again: that read was a tenth of the server's CPU per message one at a time, a third
//! of it waiting for the connection (BENCHMARKS.md, "Routes remembered").
//!
//! A remembered route is used only while nothing that a route is read from has changed
//! since it was read: triggers on `friendships` and `devices` (temporary, on the store's
//! one connection, which makes every change) count each changed row in a generation
//! number, and a route read at an older generation is read again. The triggers see every
//! change whatever made it — a request accepted, a friend removed or blocked, a device
//! registered, linked or removed, an account deleted (its rows go by cascade) — so no
//! code path has to remember to forget a route. Like the mailbox counters, this holds for
//! the one process that serves the database.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hush_shared::UserId;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

use crate::store::SendRoute;

/// Routes remembered before the memory starts over.
const MAX_ROUTES: usize = 20_000;

/// The tables a route is read from.
const ROUTE_TABLES: [&str; 2] = ["friendships", "devices"];

/// A route as read (`None`: not friends) and the generation it was read at.
type Remembered = (u64, Option<SendRoute>);

/// Remembered routes, by sender and recipient.
#[derive(Default)]
pub struct RouteCache {
    generation: Arc<AtomicU64>,
    routes: Mutex<HashMap<(UserId, UserId), Remembered>>,
}

impl RouteCache {
    /// Makes every change to the route tables on `c` count in this cache's generation.
    pub fn watch(&self, c: &Connection) -> rusqlite::Result<()> {
        let generation = Arc::clone(&self.generation);
        c.create_scalar_function("hush_route_changed", 0, FunctionFlags::SQLITE_UTF8, move |_| {
            generation.fetch_add(1, Ordering::AcqRel);
            Ok(0)
        })?;
        for table in ROUTE_TABLES {
            for change in ["INSERT", "UPDATE", "DELETE"] {
                c.execute_batch(&format!(
                    "CREATE TEMP TRIGGER IF NOT EXISTS route_{table}_{change} AFTER {change} ON main.{table}
                     BEGIN SELECT hush_route_changed(); END;"
                ))?;
            }
        }
        Ok(())
    }

    /// The generation now: read it before reading a route, remember the route with it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The route from `from` to `to`, if remembered and nothing changed since.
    pub fn get(&self, from: UserId, to: UserId) -> Option<Option<SendRoute>> {
        let now = self.generation();
        let routes = self.routes.lock().ok()?;
        let (read_at, route) = routes.get(&(from, to))?;
        (*read_at == now).then(|| route.clone())
    }

    /// Remembers the route from `from` to `to` as read at `generation`.
    pub fn put(&self, from: UserId, to: UserId, generation: u64, route: Option<SendRoute>) {
        let Ok(mut routes) = self.routes.lock() else { return };
        if routes.len() >= MAX_ROUTES {
            routes.clear();
        }
        routes.insert((from, to), (generation, route));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_to_a_route_table_forgets_the_routes_read_before() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE owners (id TEXT PRIMARY KEY);
             CREATE TABLE friendships (owner TEXT REFERENCES owners(id) ON DELETE CASCADE, friend TEXT);
             CREATE TABLE devices (user_id TEXT, device_id TEXT);
             CREATE TABLE other (x);
             PRAGMA foreign_keys = ON;
             INSERT INTO owners VALUES ('a');",
        )
        .unwrap();
        let cache = RouteCache::default();
        cache.watch(&c).unwrap();
        let (alice, bob) = (UserId::new(), UserId::new());
        let route = Some(SendRoute { recipient: vec![], sender: vec![] });
        let changes = [
            "INSERT INTO friendships VALUES ('a', 'b')",
            "UPDATE friendships SET friend = 'c'",
            "INSERT INTO devices VALUES ('a', 'd')",
            "UPDATE devices SET device_id = 'e'",
            "DELETE FROM devices",
            "DELETE FROM owners", // the friendship goes by cascade
        ];
        for change in changes {
            cache.put(alice, bob, cache.generation(), route.clone());
            assert_eq!(cache.get(alice, bob), Some(route.clone()), "remembered");
            c.execute_batch("INSERT INTO other VALUES (1)").unwrap();
            assert_eq!(cache.get(alice, bob), Some(route.clone()), "another table changed");
            c.execute_batch(change).unwrap();
            assert_eq!(cache.get(alice, bob), None, "forgotten after: {change}");
        }
        assert_eq!(cache.get(bob, alice), None, "never read");
    }
}
