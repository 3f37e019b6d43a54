//! Real-time delivery with the mailbox, receipts, rate limits and hub on a real
//! `redis-server` (started by the test): the same demos as on the embedded backend.

mod common;
mod scenarios;

use std::time::Duration;

use common::redis::RedisServer;
use common::*;
use hush_client::{Event, Status};

/// How long a step of a test may take.
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn recipient_online() {
    let redis = RedisServer::start();
    scenarios::recipient_online(&TestApp::spawn_redis(&redis.url(), &[]).await).await;
}

#[tokio::test]
async fn recipient_offline() {
    let redis = RedisServer::start();
    scenarios::recipient_offline(&TestApp::spawn_redis(&redis.url(), &[]).await).await;
}

#[tokio::test]
async fn sender_without_connection() {
    let redis = RedisServer::start();
    scenarios::sender_without_connection(&TestApp::spawn_redis(&redis.url(), &[]).await).await;
}

#[tokio::test]
async fn two_devices_each() {
    let redis = RedisServer::start();
    scenarios::two_devices_each(&TestApp::spawn_redis(&redis.url(), &[]).await).await;
}

#[tokio::test]
async fn linking_brings_the_history() {
    let redis = RedisServer::start();
    scenarios::linking_brings_the_history(&TestApp::spawn_redis(&redis.url(), &[]).await).await;
}

/// A copy stored for a device connected to this node goes to it as it is, and so does the
/// `delivered` receipt of its ack: one message at a time, neither connection reads its
/// mailbox (`XRANGE`; two per message without hand-offs, one with copies only).
#[tokio::test]
async fn a_copy_for_a_device_connected_here_is_handed_over_unread() {
    let redis = RedisServer::start();
    let app = TestApp::spawn_redis(&redis.url(), &[]).await;
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;
    alice.connect(&app.ws_url()).await;
    bob.connect(&app.ws_url()).await;
    relay(&mut alice, &mut bob, WAIT).await;
    let before = redis.calls("xrange");
    for _ in 0..5 {
        relay(&mut alice, &mut bob, WAIT).await;
        relay(&mut bob, &mut alice, WAIT).await;
    }
    let reads = redis.calls("xrange") - before;
    assert!(reads <= 2, "ten messages and their receipts went out unread: {reads} reads");
}

#[tokio::test]
async fn expiry_and_quota_on_redis() {
    let redis = RedisServer::start();
    let app = TestApp::spawn_redis(&redis.url(), &["--mailbox-max-messages", "2"]).await;
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;
    alice.connect(&app.ws_url()).await;
    for i in 0..3 {
        alice.client.send_text(bob.id, &format!("m{i}")).await.unwrap();
    }
    assert!(alice.client.run_until(Duration::from_secs(10), |c| c.engine.next_retry_ms().is_some()).await.unwrap());
    assert_eq!(alice.sent_with_status(Status::Stored), 2);
    app.clock.advance(30 * 86_400);
    assert_eq!(hush_server::service::delivery::sweep_expired(&app.state).await.unwrap(), 1);
    let expired = |c: &hush_client::native::NativeClient<hush_client::MemoryStore>| {
        c.events.iter().filter(|e| matches!(e, Event::StatusChanged { status: Status::Expired, .. })).count() == 2
    };
    assert!(alice.client.run_until(Duration::from_secs(10), expired).await.unwrap());
    let bob_mailbox = hush_server::store::Mailbox { user: bob.id, device: bob.client.engine.device_id().unwrap() };
    assert_eq!(app.state.stores.mailbox.depth(bob_mailbox).await.unwrap(), 0);
}
