//! The embedded store's WAL stays bounded under writes that never pause: its checkpoint
//! thread makes the WAL start over (the header's checkpoint sequence number changes) long
//! before SQLite's own 64 MiB backstop would.

use std::time::{Duration, Instant};

use hush_server::store::sqlite::SqliteStore;
use hush_server::store::{EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, Outgoing};
use hush_shared::{DeviceId, UserId};

/// The WAL header's checkpoint sequence number: it changes each time the WAL starts over.
fn wal_generation(path: &std::path::Path) -> Option<u32> {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(path).ok()?.read_exact(&mut header).ok()?;
    Some(u32::from_be_bytes([header[12], header[13], header[14], header[15]]))
}

#[tokio::test]
async fn wal_restarts_under_continuous_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("hush.db")).unwrap();
    let wal = dir.path().join("hush.db-wal");
    let policy = MailboxPolicy { max_messages: u32::MAX, ttl_secs: 86_400 };
    let device = || Mailbox { user: UserId::new(), device: DeviceId::new() };
    let (alice, bob) = (device(), device());
    let started = Instant::now();
    let (mut generations, mut largest) = (Vec::new(), 0u64);
    while generations.len() < 4 && started.elapsed() < Duration::from_secs(60) {
        let copies = || vec![EnvelopeCopy { mailbox: bob, envelope: vec![1; 600] }];
        let batch = (0..64).map(|_| Outgoing { to: bob.user, id: uuid::Uuid::now_v7(), copies: copies() }).collect();
        store.enqueue_many(alice, batch, 1, policy).await.unwrap();
        // The sends reach the tables when the store's owner writes what waits (the server
        // does ten times a second).
        store.flush_settled().await.unwrap();
        // Continuous, but at a pace a loaded 2-core machine sustains (~40 MB of WAL a
        // second): without the checkpoint thread the WAL still reaches the 64 MiB backstop
        // within two seconds.
        tokio::time::sleep(Duration::from_millis(1)).await;
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        if let Some(generation) = wal_generation(&wal)
            && generations.last() != Some(&generation)
        {
            generations.push(generation);
        }
    }
    assert!(generations.len() >= 4, "the WAL started over only {} times in 60 s of writes", generations.len());
    assert!(largest < 56 << 20, "the WAL grew to {largest} bytes: the checkpoint thread did not restart it");
}
