//! `mailbox`: the durable mailbox alone, in process, without sockets or JSON — the floor
//! under `saturate`. Each pair repeatedly stores a batch of ~300-byte envelopes, reads them
//! as the recipient, acks them (which queues `delivered` receipts), reads the receipts as
//! the sender and acks those: the store calls one relayed message costs the server. Reports
//! microseconds of CPU per message for this process and, on Redis, for `redis-server` too
//! (from `INFO cpu`).

use std::time::Instant;

use hush_server::store::redis::RedisStore;
use hush_server::store::sqlite::SqliteStore;
use hush_server::store::{EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, MessageRef, Outgoing, ReceiptRef};
use hush_shared::{DeviceId, UserId};
use serde_json::json;

use crate::cpu;

const POLICY: MailboxPolicy = MailboxPolicy { max_messages: u32::MAX, ttl_secs: 86_400 };

/// Runs the scenario; returns the JSON report.
pub async fn run(redis_url: Option<&str>, pairs: usize, messages: usize, batch: usize) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, backend): (Box<dyn MailboxStore>, &str) = match redis_url {
        Some(url) => {
            let prefix = format!("bench-{}", uuid::Uuid::new_v4());
            (Box::new(RedisStore::connect(url, &prefix).await.expect("redis")), "redis")
        }
        None => (Box::new(SqliteStore::open(&dir.path().join("hush.db")).expect("sqlite")), "sqlite"),
    };
    // One device each, as `saturate` has.
    let one_device = || {
        let user = UserId(uuid::Uuid::now_v7());
        Mailbox { user, device: DeviceId(user.0) }
    };
    let people: Vec<(Mailbox, Mailbox)> = (0..pairs).map(|_| (one_device(), one_device())).collect();
    for &(from, to) in &people {
        store.open_mailbox(from).await.expect("open");
        store.open_mailbox(to).await.expect("open");
    }
    let mut cursors = vec![(0i64, 0i64); pairs];
    let envelope = crate::wire::envelope_bytes();
    let redis_cpu = || redis_url.map(cpu::redis_server_seconds);
    let (cpu0, redis0, t0) = (cpu::own_seconds(), redis_cpu(), Instant::now());
    let (mut done, mut written) = (0usize, Instant::now());
    while done < messages {
        // As the server's owner does: what the store deferred, and (on SQLite) the sends it
        // keeps pending, are written ten times a second.
        if written.elapsed() >= hush_server::store::SETTLED_FLUSH_INTERVAL {
            store.flush_settled().await.expect("owner's write");
            written = Instant::now();
        }
        for (i, &(from, to)) in people.iter().enumerate() {
            let copy = || vec![EnvelopeCopy { mailbox: to, envelope: envelope.clone() }];
            let outgoing =
                (0..batch).map(|_| Outgoing { to: to.user, id: uuid::Uuid::now_v7(), copies: copy() }).collect();
            store.enqueue_many(from, outgoing, 1, POLICY).await.expect("enqueue");
            let got = store.fetch_messages(to, cursors[i].0, batch).await.expect("fetch");
            assert_eq!(got.len(), batch, "every stored message is read back");
            cursors[i].0 = got.last().map_or(cursors[i].0, |m| m.seq);
            let acked: Vec<_> = got.iter().map(|m| MessageRef { sender: m.from, id: m.id, seq: m.seq }).collect();
            store.ack_messages(to, &acked, 2).await.expect("ack");
            let receipts = store.fetch_receipts(from, cursors[i].1, batch).await.expect("receipts");
            assert_eq!(receipts.len(), batch, "every ack queues a receipt");
            cursors[i].1 = receipts.last().map_or(cursors[i].1, |r| r.seq);
            let acked: Vec<_> = receipts.iter().map(|r| ReceiptRef { id: r.id, seq: r.seq }).collect();
            store.ack_receipts(from, &acked).await.expect("receipt ack");
            done += batch;
        }
    }
    store.flush().await.expect("flush");
    let (own, wall) = (cpu::own_seconds() - cpu0, t0.elapsed().as_secs_f64());
    let redis = redis_cpu().zip(redis0).map(|(after, before)| after - before);
    let total = own + redis.unwrap_or(0.0);
    let micros = |seconds: f64| (seconds * 1e6 / done as f64 * 100.0).round() / 100.0;
    json!({
        "scenario": "mailbox", "backend": backend, "pairs": pairs, "batch": batch, "messages": done,
        "wall_seconds": (wall * 100.0).round() / 100.0,
        "cpu_micros_per_message_this_process": micros(own),
        "cpu_micros_per_message_redis_server": redis.map(micros),
        "messages_per_cpu_second": (done as f64 / total).round(),
    })
}
