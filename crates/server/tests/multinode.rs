//! Two `hush-server` processes on one Redis, with accounts in one shared SQLite file (WAL
//! mode; MongoDB cannot run on our build machines): Alice on one node, Bob on the other.
//! Messages, receipts, presence and typing cross between them.

mod common;

use std::time::Duration;

use common::process::ServerProcess;
use common::redis::RedisServer;
use common::*;
use hush_client::{Event, Status};

const WAIT: Duration = Duration::from_secs(20);

/// Within this, a node that starts is heard by one that thought itself alone (it says hello
/// when it subscribes; the next hello would come only after `HELLO_EVERY`, 10 s).
const PROMPT: Duration = Duration::from_secs(5);

/// A server process on `redis`, with accounts in `dir`.
fn node(redis: &RedisServer, dir: &std::path::Path) -> ServerProcess {
    let env = [("HUSH_REDIS_URL", redis.url()), ("HUSH_JWT_SECRET", JWT_SECRET.to_owned())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ServerProcess::start(dir, "127.0.0.1:0", &env)
}

/// Two server processes on one Redis and one SQLite file (keep the first two alive).
fn two_nodes() -> (RedisServer, tempfile::TempDir, ServerProcess, ServerProcess) {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let node_a = node(&redis, dir.path());
    let node_b = node(&redis, dir.path());
    (redis, dir, node_a, node_b)
}

/// A node alone publishes no hub events: Redis answered its first that no other node
/// listens. A node that starts says hello, and the first node publishes again at once: a
/// message from a user on the first reaches a connection on the second within
/// [`PROMPT`], and its receipt comes back. Once the second node is gone, the first stops
/// again, until one of its hellos reaches another subscriber.
#[tokio::test]
async fn a_node_alone_keeps_its_events_at_home_until_another_node_starts() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let node_a = node(&redis, dir.path());
    let mut alice = Chatter::new(node_a.sign_in(&phone(1)).await, &node_a.url);
    let mut bob = Chatter::new(node_a.sign_in(&phone(2)).await, &node_a.url);
    befriend_chatters(&node_a.url, &mut alice, &mut bob).await;
    alice.connect(&node_a.ws_url()).await;
    bob.connect(&node_a.ws_url()).await;
    relay(&mut alice, &mut bob, WAIT).await;

    let before = redis.calls("publish");
    for _ in 0..5 {
        relay(&mut alice, &mut bob, WAIT).await;
        relay(&mut bob, &mut alice, WAIT).await;
    }
    let published = redis.calls("publish") - before;
    assert!(published <= 1, "ten messages and their receipts published nothing but a hello: {published}");

    let node_b = node(&redis, dir.path());
    bob.client.disconnect();
    bob.reload();
    bob.connect(&node_b.ws_url()).await;
    relay(&mut alice, &mut bob, PROMPT).await;
    relay(&mut bob, &mut alice, PROMPT).await;

    node_b.kill9();
    bob.reload();
    bob.connect(&node_a.ws_url()).await;
    relay(&mut alice, &mut bob, WAIT).await;
    let before = redis.calls("publish");
    for _ in 0..3 {
        relay(&mut alice, &mut bob, WAIT).await;
    }
    let published = redis.calls("publish") - before;
    assert!(published <= 1, "alone again, nothing published but a hello: {published}");

    // Something else listens on the nodes' channel: the next hello reaches it, and the node
    // publishes again (even a node whose own subscription stopped hearing others learns of
    // them so, within a hello's period).
    let url = redis.url();
    let listener = tokio::task::spawn_blocking(move || {
        let mut conn = ::redis::Client::open(url).unwrap().get_connection().unwrap();
        let mut pubsub = conn.as_pubsub();
        pubsub.subscribe("hush:nodes").unwrap();
        pubsub.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        pubsub.get_message().map(|m| m.get_payload::<String>().unwrap())
    });
    let hello = listener.await.unwrap().expect("a hello within 15 s");
    assert!(hello.contains("\"hello\""), "{hello}");
    let before = redis.calls("publish");
    relay(&mut alice, &mut bob, WAIT).await;
    assert!(redis.calls("publish") > before, "the hello's answer opened the gate");
}

#[tokio::test]
async fn two_nodes_share_one_deployment() {
    let (_redis, _dir, node_a, node_b) = two_nodes();
    assert_ne!(node_a.url, node_b.url);

    // Alice signs in on node A, Bob on node B; a code sent by A could be verified on B.
    let mut alice = Chatter::new(node_a.sign_in(&phone(1)).await, &node_a.url);
    let mut bob = Chatter::new(node_b.sign_in(&phone(2)).await, &node_b.url);
    befriend_chatters(&node_a.url, &mut alice, &mut bob).await;
    alice.connect(&node_a.ws_url()).await;
    bob.connect(&node_b.ws_url()).await;

    // Presence crosses: Alice learns that Bob (on B) is online.
    let bob_online = |c: &hush_client::native::NativeClient<hush_client::MemoryStore>, who| {
        c.events.iter().any(|e| matches!(e, Event::Presence { user, online: true, .. } if *user == who))
    };
    let bob_id = bob.id;
    assert!(alice.client.run_until(WAIT, |c| bob_online(c, bob_id)).await.unwrap(), "presence across nodes");

    // Typing crosses.
    alice.client.send_frame(hush_shared::ws::ClientFrame::Typing { to: bob.id, active: true }).await.unwrap();
    assert!(
        bob.client
            .run_until(WAIT, |c| c.events.iter().any(|e| matches!(e, Event::Typing { active: true, .. })))
            .await
            .unwrap()
    );

    // Messages and receipts cross, both ways.
    let m = alice.client.send_text(bob.id, "from node A").await.unwrap();
    assert!(bob.client.run_until(WAIT, |c| scenarios_arrivals(c) == 1).await.unwrap());
    let delivered = |c: &hush_client::native::NativeClient<hush_client::MemoryStore>| {
        c.events.iter().any(|e| matches!(e, Event::StatusChanged { id, status: Status::Delivered, .. } if *id == m.id))
    };
    assert!(alice.client.run_until(WAIT, delivered).await.unwrap(), "delivered receipt across nodes");
    bob.client.mark_read(alice.id).await.unwrap();
    let read = |c: &hush_client::native::NativeClient<hush_client::MemoryStore>| {
        c.events.iter().any(|e| matches!(e, Event::StatusChanged { id, status: Status::Read, .. } if *id == m.id))
    };
    assert!(alice.client.run_until(WAIT, read).await.unwrap(), "read receipt across nodes");
    let reply = bob.client.send_text(alice.id, "from node B").await.unwrap();
    assert!(alice.client.run_until(WAIT, |c| scenarios_arrivals(c) == 1).await.unwrap());
    let stored = |c: &hush_client::native::NativeClient<hush_client::MemoryStore>| {
        c.engine.store().all_messages().iter().any(|x| x.id == reply.id && x.status == Status::Delivered)
    };
    assert!(bob.client.run_until(WAIT, stored).await.unwrap());

    // Bob leaves node B: Alice, on node A, sees him go offline.
    bob.client.disconnect();
    drop(bob);
    let offline = |c: &hush_client::native::NativeClient<hush_client::MemoryStore>| {
        c.events
            .iter()
            .any(|e| matches!(e, Event::Presence { user, online: false, last_seen: Some(_) } if *user == bob_id))
    };
    assert!(alice.client.run_until(WAIT, offline).await.unwrap(), "offline presence across nodes");
}

fn scenarios_arrivals(c: &hush_client::native::NativeClient<hush_client::MemoryStore>) -> usize {
    c.events.iter().filter(|e| matches!(e, Event::MessageReceived(_))).count()
}

/// Two devices each, spread over the two nodes: a message from Alice's device on node A
/// reaches Bob's devices on A and B and her own other device on B, once each; removing
/// Bob's device on node B from his device on node A closes it there at once, and it gets
/// nothing more.
#[tokio::test]
async fn fan_out_and_removal_across_nodes() {
    let (_redis, _dir, node_a, node_b) = two_nodes();
    let mut alice = Chatter::new(node_a.sign_in(&phone(1)).await, &node_a.url);
    let mut bob = Chatter::new(node_a.sign_in(&phone(2)).await, &node_a.url);
    befriend_chatters(&node_a.url, &mut alice, &mut bob).await;
    // One sign-in code per number every 30 seconds.
    tokio::time::sleep(Duration::from_secs(31)).await;
    let mut alice2 = Chatter::another_device_of(&alice, node_b.sign_in(&phone(1)).await, &node_b.url).await;
    let mut bob2 = Chatter::another_device_of(&bob, node_b.sign_in(&phone(2)).await, &node_b.url).await;
    for (chatter, friend) in [(&mut alice2, bob.id), (&mut bob2, alice.id)] {
        chatter.client.set_up(false).await.unwrap();
        chatter.client.engine.add_friend(friend, None, None).await.unwrap();
    }
    alice.connect(&node_a.ws_url()).await;
    bob.connect(&node_a.ws_url()).await;
    alice2.connect(&node_b.ws_url()).await;
    bob2.connect(&node_b.ws_url()).await;

    let first = alice.client.send_text(bob.id, "to every device").await.unwrap();
    let sent = |c: &Client| c.engine.store().all_messages().iter().all(|m| m.status != Status::Sending);
    assert!(alice.client.run_until(WAIT, sent).await.unwrap());
    for chatter in [&mut bob, &mut bob2, &mut alice2] {
        assert!(chatter.client.run_until(WAIT, |c| scenarios_arrivals(c) == 1).await.unwrap());
        let got = chatter.store.all_messages();
        assert_eq!(got.iter().map(|m| m.id).collect::<Vec<_>>(), vec![first.id], "once, on each device");
    }

    // Bob removes his device on node B from his device on node A.
    let bob2_device = bob2.client.engine.device_id().unwrap();
    let r = reqwest::Client::new()
        .delete(format!("{}/api/v1/devices/{bob2_device}", node_a.url))
        .bearer_auth(&bob.person.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let closed = bob2.client.run_until(WAIT, |_| false).await;
    let reason = format!("{:?}", closed.expect_err("the removed device's socket closes"));
    assert!(reason.contains("4004"), "closed on node B, saying the device was removed: {reason}");

    let second = alice.client.send_text(bob.id, "after the removal").await.unwrap();
    assert!(alice.client.run_until(WAIT, sent).await.unwrap(), "stored once Alice learnt Bob's devices changed");
    assert!(bob.client.run_until(WAIT, |c| scenarios_arrivals(c) == 2).await.unwrap());
    assert!(alice2.client.run_until(WAIT, |c| scenarios_arrivals(c) == 2).await.unwrap());
    let listed = reqwest::Client::new()
        .get(format!("{}/api/v1/users/{}/bundles", node_b.url, bob.id))
        .bearer_auth(&alice.person.token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(listed["devices"].as_array().unwrap().len(), 1, "one device of Bob's left");
    assert!(bob.store.all_messages().iter().any(|m| m.id == second.id));
}

type Client = hush_client::native::NativeClient<hush_client::MemoryStore>;
