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

#[tokio::test]
async fn two_nodes_share_one_deployment() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let env = [("HUSH_REDIS_URL", redis.url()), ("HUSH_JWT_SECRET", JWT_SECRET.to_owned())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let node_a = ServerProcess::start(dir.path(), "127.0.0.1:0", &env);
    let node_b = ServerProcess::start(dir.path(), "127.0.0.1:0", &env);
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
