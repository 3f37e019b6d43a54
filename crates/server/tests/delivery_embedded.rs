//! Real-time delivery on the embedded (SQLite) backend: the three demos, expiry, the
//! mailbox quota and the protocol's refusals.

mod common;
mod scenarios;

use std::time::Duration;

use common::*;
use hush_client::{Event, Status};

#[tokio::test]
async fn recipient_online() {
    scenarios::recipient_online(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn recipient_offline() {
    scenarios::recipient_offline(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn sender_without_connection() {
    scenarios::sender_without_connection(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn two_devices_each() {
    scenarios::two_devices_each(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn linking_brings_the_history() {
    scenarios::linking_brings_the_history(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn undelivered_messages_expire_and_the_sender_is_told() {
    let app = TestApp::spawn().await;
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;
    alice.connect(&app.ws_url()).await;
    let m = alice.client.send_text(bob.id, "you will never read this").await.unwrap();
    assert!(
        alice
            .client
            .run_until(Duration::from_secs(10), |c| c
                .events
                .iter()
                .any(|e| matches!(e, Event::StatusChanged { status: Status::Stored, .. })))
            .await
            .unwrap()
    );
    app.clock.advance(30 * 86_400);
    assert_eq!(hush_server::service::delivery::sweep_expired(&app.state).await.unwrap(), 1);
    assert!(
        alice
            .client
            .run_until(Duration::from_secs(10), |c| c
                .events
                .iter()
                .any(|e| matches!(e, Event::StatusChanged { status: Status::Expired, .. })))
            .await
            .unwrap()
    );
    assert_eq!(alice.client.message(m.id).await.unwrap().unwrap().status, Status::Expired);
    // A month later Bob's old access token has expired: he signs in again.
    bob.person = app.sign_in(&bob.person.phone, None).await;
    bob.connect(&app.ws_url()).await;
    assert!(bob.client.run_until(Duration::from_secs(10), |c| c.events.contains(&Event::CaughtUp)).await.unwrap());
    assert!(bob.received().is_empty(), "an expired message is gone");
}

#[tokio::test]
async fn a_full_mailbox_refuses_and_the_client_retries_later() {
    let app = TestApp::spawn_with(&["--mailbox-max-messages", "3"]).await;
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;
    alice.connect(&app.ws_url()).await;
    for i in 0..5 {
        alice.client.send_text(bob.id, &format!("m{i}")).await.unwrap();
    }
    assert!(alice.client.run_until(Duration::from_secs(10), |c| c.engine.next_retry_ms().is_some()).await.unwrap());
    assert_eq!(alice.sent_with_status(Status::Stored), 3);
    assert_eq!(alice.sent_with_status(Status::Sending), 2, "refused messages stay in the outbox");
    // Bob drains his mailbox; Alice's retries then go through.
    bob.connect(&app.ws_url()).await;
    assert!(bob.client.run_until(Duration::from_secs(10), |c| c.events.contains(&Event::CaughtUp)).await.unwrap());
    assert!(
        alice
            .client
            .run_until(Duration::from_secs(20), |c| c
                .engine
                .store()
                .all_messages()
                .iter()
                .all(|m| m.status != Status::Sending))
            .await
            .unwrap()
    );
    assert!(
        bob.client
            .run_until(Duration::from_secs(10), |c| c
                .events
                .iter()
                .filter(|e| matches!(e, Event::MessageReceived(_)))
                .count()
                == 5)
            .await
            .unwrap()
    );
}
