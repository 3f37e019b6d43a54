//! Fault injection with real processes during a 5,000-message exchange (2,500 each way)
//! between two people with two devices each (each writes from one; the other devices get
//! every message too): `hush-server` killed with SIGKILL 20 times and restarted on the same
//! address and data, every client connection cut by a fault proxy every few batches, and on
//! the Redis backend `redis-server` (AOF `everysec`) killed with SIGKILL 5 times and
//! restarted on its append-only file. Afterwards: nothing answered `stored` is lost, nothing
//! is shown twice on any device, order is kept each way on every device, every delivered and
//! read receipt arrives, and the mailboxes are empty. And an ack the server keeps in memory
//! is written within a second on an idle server, before a SIGKILL can lose it.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::fault_proxy::FaultProxy;
use common::process::{ServerProcess, free_port};
use common::redis::RedisServer;
use common::*;
use hush_client::{Body, Event, Status};

const PER_SIDE: usize = 2500;
const BATCH: usize = 25;
const BATCHES: usize = PER_SIDE / BATCH;
const SERVER_KILLS: usize = 20;
const REDIS_KILLS: usize = 5;

/// Processes frames for a moment, reconnecting (through the proxy) if the link is down.
async fn pump(c: &mut Chatter, ws_url: &str, for_how_long: Duration) {
    if !c.client.is_connected() && c.client.connect(ws_url, &c.person.token).await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return;
    }
    let _ = c.client.run_until(for_how_long, |_| false).await;
}

/// The texts starting with `prefix` a device showed, in the order they arrived.
fn arrival_order(c: &Chatter, prefix: &str) -> Vec<String> {
    c.client
        .events
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived(m) => match &m.body {
                Body::Text { text } => Some(text.clone()),
                other => panic!("not opened: {other:?}"),
            },
            _ => None,
        })
        .filter(|text| text.starts_with(prefix))
        .collect()
}

/// `hush_mailbox_messages` from the server's own metrics.
async fn mailbox_depth(url: &str) -> Option<f64> {
    let text = reqwest::get(format!("{url}/metrics")).await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix("hush_mailbox_messages ")?.parse().ok())
}

#[tokio::test]
async fn sigkills_and_cut_connections_during_a_5000_message_exchange_lose_nothing() {
    exchange_under_faults(None).await;
}

#[tokio::test]
async fn the_same_on_redis_with_redis_killed_too() {
    exchange_under_faults(Some(RedisServer::start())).await;
}

async fn exchange_under_faults(mut redis: Option<RedisServer>) {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let bind = format!("127.0.0.1:{}", free_port());
    let redis_url = redis.as_ref().map(RedisServer::url);
    let env: Vec<(&str, &str)> = redis_url.iter().map(|url| ("HUSH_REDIS_URL", url.as_str())).collect();
    let mut server = ServerProcess::start(dir.path(), &bind, &env);
    let proxy = FaultProxy::start(bind.clone()).await;
    let ws_url = proxy.ws_url();
    let mut alice = Chatter::new(server.sign_in(&phone(1)).await, &server.url);
    let mut bob = Chatter::new(server.sign_in(&phone(2)).await, &server.url);
    befriend_chatters(&server.url, &mut alice, &mut bob).await;
    // Each links a second browser (one sign-in code per number every 30 seconds).
    tokio::time::sleep(Duration::from_secs(31)).await;
    let mut alice2 = Chatter::another_device_of(&alice, server.sign_in(&phone(1)).await, &server.url).await;
    let mut bob2 = Chatter::another_device_of(&bob, server.sign_in(&phone(2)).await, &server.url).await;
    for (chatter, friend) in [(&mut alice2, bob.id), (&mut bob2, alice.id)] {
        chatter.client.set_up(false).await.unwrap();
        chatter.client.engine.add_friend(friend, None, None).await.unwrap();
    }
    for chatter in [&mut alice, &mut bob, &mut alice2, &mut bob2] {
        chatter.connect(&ws_url).await;
    }

    let (mut server_kills, mut redis_kills, mut cuts) = (0, 0, 0);
    let mut stored_ever: HashSet<uuid::Uuid> = HashSet::new();
    for batch in 0..BATCHES {
        for i in 0..BATCH {
            let n = batch * BATCH + i;
            // A failed write means the link is down: the message waits in the outbox.
            let _ = alice.client.send_text(bob.id, &format!("a{n:04}")).await;
            let _ = bob.client.send_text(alice.id, &format!("b{n:04}")).await;
        }
        for c in [&mut alice, &mut bob, &mut alice2, &mut bob2] {
            pump(c, &ws_url, Duration::from_millis(10)).await;
        }
        for c in [&alice, &bob] {
            for e in &c.client.events {
                if let Event::StatusChanged { id, status: Status::Stored, .. } = e {
                    stored_ever.insert(*id);
                }
            }
        }
        if batch % 5 == 2 && server_kills < SERVER_KILLS {
            server.kill9();
            server_kills += 1;
            server = ServerProcess::start(dir.path(), &bind, &env);
        } else if batch % 20 == 9
            && let Some(redis) = redis.as_mut()
        {
            redis.kill9_and_restart();
            redis_kills += 1;
        } else if batch % 3 == 0 {
            proxy.cut_all();
            cuts += 1;
        }
    }
    assert_eq!(server_kills, SERVER_KILLS);
    assert_eq!(redis_kills, if redis.is_some() { REDIS_KILLS } else { 0 });

    // Everything arrives, then both read everything and the read receipts come back.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut marked_read = false;
    loop {
        let received = [&alice, &bob, &alice2, &bob2].iter().all(|c| c.received().len() == PER_SIDE);
        if received && !marked_read {
            marked_read = alice.client.mark_read(bob.id).await.is_ok() && bob.client.mark_read(alice.id).await.is_ok();
        }
        if marked_read && [&alice, &bob, &alice2, &bob2].iter().all(|c| outgoing_all(&c.client, PER_SIDE, Status::Read))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not converged: alice got {}, bob {}, their second devices {} and {}; read receipts asked: {marked_read}",
            alice.received().len(),
            bob.received().len(),
            alice2.received().len(),
            bob2.received().len()
        );
        for c in [&mut alice, &mut bob, &mut alice2, &mut bob2] {
            pump(c, &ws_url, Duration::from_millis(50)).await;
        }
    }
    // Every device: the friend's messages, and on the second devices also the messages sent
    // from the first, each once and in order.
    let devices = [
        ("bob", &bob, "a"),
        ("bob's second device", &bob2, "a"),
        ("bob's second device (his own)", &bob2, "b"),
        ("alice", &alice, "b"),
        ("alice's second device", &alice2, "b"),
        ("alice's second device (her own)", &alice2, "a"),
    ];
    for (who, c, prefix) in devices {
        let expected: Vec<String> = (0..PER_SIDE).map(|n| format!("{prefix}{n:04}")).collect();
        let arrived = arrival_order(c, prefix);
        let first_difference = arrived.iter().zip(&expected).position(|(a, e)| a != e);
        assert!(
            arrived.len() == expected.len() && first_difference.is_none(),
            "{who} saw {} messages; first out of place at position {first_difference:?}: {:?}",
            arrived.len(),
            first_difference.map(|i| &arrived[i..(i + 5).min(arrived.len())])
        );
    }
    let received: HashSet<uuid::Uuid> = alice.received().iter().chain(bob.received().iter()).map(|m| m.id).collect();
    assert!(stored_ever.is_subset(&received), "a message answered `stored` was lost");
    let depth_deadline = Instant::now() + Duration::from_secs(20);
    while mailbox_depth(&server.url).await != Some(0.0) {
        assert!(Instant::now() < depth_deadline, "mailboxes not empty: {:?}", mailbox_depth(&server.url).await);
        for c in [&mut alice, &mut bob, &mut alice2, &mut bob2] {
            pump(c, &ws_url, Duration::from_millis(50)).await;
        }
    }
    eprintln!(
        "fault test ({}): {server_kills} hush-server SIGKILLs, {redis_kills} redis-server SIGKILLs, {cuts} cuts of \
         every connection; {} messages answered stored during the faults; {} delivered once each to both devices \
         of each person, in order, all read; mailboxes empty; {:.1} s",
        if redis.is_some() { "Redis" } else { "embedded" },
        stored_ever.len(),
        2 * PER_SIDE,
        started.elapsed().as_secs_f64()
    );
}

/// An ack may wait in memory, but not past a second even when nothing else is written: a
/// message acked on an idle server is gone from its mailbox after a SIGKILL two seconds
/// later (the server writes deferred acks every second).
#[tokio::test]
async fn an_ack_on_an_idle_server_is_written_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let bind = format!("127.0.0.1:{}", free_port());
    let server = ServerProcess::start(dir.path(), &bind, &[]);
    let mut alice = Chatter::new(server.sign_in(&phone(1)).await, &server.url);
    let mut bob = Chatter::new(server.sign_in(&phone(2)).await, &server.url);
    befriend_chatters(&server.url, &mut alice, &mut bob).await;
    let ws_url = server.ws_url();
    alice.connect(&ws_url).await;
    bob.connect(&ws_url).await;
    alice.client.send_text(bob.id, "once").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !outgoing_all(&alice.client, 1, Status::Delivered) {
        assert!(Instant::now() < deadline, "the message was never delivered");
        let _ = bob.client.run_until(Duration::from_millis(50), |_| false).await;
        let _ = alice.client.run_until(Duration::from_millis(50), |_| false).await;
    }
    assert_eq!(bob.received().len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.kill9();
    let server = ServerProcess::start(dir.path(), &bind, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let depth = loop {
        match mailbox_depth(&server.url).await {
            Some(depth) => break depth,
            None if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            None => panic!("the restarted server never answered /metrics"),
        }
    };
    assert_eq!(depth, 0.0, "the ack was written before the kill: nothing waits for Bob");
}
