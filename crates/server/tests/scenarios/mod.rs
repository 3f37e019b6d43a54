//! The three demos of the original app at protocol level, with native clients over the
//! real server: recipient online, recipient offline, sender without connection. Each test
//! file runs them against one backend.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::Duration;

use hush_client::{Body, Direction, Event, Status};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(20);

fn texts(chatter: &Chatter) -> Vec<String> {
    chatter
        .received()
        .into_iter()
        .map(|m| match m.body {
            Body::Text { text } => text,
            other => panic!("not opened: {other:?}"),
        })
        .collect()
}

/// Recipient online: delivered live; ticks go stored → delivered → read.
pub async fn recipient_online(app: &TestApp) {
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;
    alice.connect(&app.ws_url()).await;
    bob.connect(&app.ws_url()).await;

    let sent = alice.client.send_text(bob.id, "hello Bob").await.unwrap();
    assert_eq!(sent.status, Status::Sending);
    assert!(
        bob.client.run_until(WAIT, |c| c.events.iter().any(|e| matches!(e, Event::MessageReceived(_)))).await.unwrap()
    );
    assert_eq!(texts(&bob), vec!["hello Bob".to_owned()]);
    let id = sent.id;
    let status_is = |want: Status| {
        move |c: &hush_client::native::NativeClient<hush_client::MemoryStore>| {
            c.events
                .iter()
                .any(|e| matches!(e, Event::StatusChanged { id: i, status, .. } if *i == id && *status == want))
        }
    };
    assert!(alice.client.run_until(WAIT, status_is(Status::Delivered)).await.unwrap(), "delivered receipt");
    bob.client.mark_read(alice.id).await.unwrap();
    assert!(alice.client.run_until(WAIT, status_is(Status::Read)).await.unwrap(), "read receipt");
    let seen: Vec<Status> = alice
        .client
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StatusChanged { id: i, status, .. } if *i == id => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(seen, vec![Status::Stored, Status::Delivered, Status::Read]);

    // Presence and typing reach the friend.
    bob.client.send_frame(hush_shared::ws::ClientFrame::Typing { to: alice.id, active: true }).await.unwrap();
    assert!(
        alice
            .client
            .run_until(WAIT, |c| c.events.iter().any(|e| matches!(e, Event::Typing { active: true, .. })))
            .await
            .unwrap()
    );
    assert!(alice.client.events.iter().any(|e| matches!(e, Event::Presence { online: true, .. })));
}

/// Recipient offline: 100 messages wait in the mailbox; Bob gets all, in order, once;
/// Alice, back later, gets delivered and read receipts.
pub async fn recipient_offline(app: &TestApp) {
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;
    alice.connect(&app.ws_url()).await;
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(alice.client.send_text(bob.id, &format!("message {i}")).await.unwrap().id);
    }
    assert!(
        alice
            .client
            .run_until(WAIT, |c| c.engine.store().all_messages().iter().all(|m| m.status == Status::Stored))
            .await
            .unwrap()
    );
    alice.client.disconnect();

    bob.connect(&app.ws_url()).await;
    assert!(bob.client.run_until(WAIT, |c| c.events.contains(&Event::CaughtUp)).await.unwrap());
    let got = texts(&bob);
    assert_eq!(got, (0..100).map(|i| format!("message {i}")).collect::<Vec<_>>(), "all 100, in order");
    let arrivals: Vec<_> = bob.client.events.iter().filter(|e| matches!(e, Event::MessageReceived(_))).collect();
    assert_eq!(arrivals.len(), 100, "exactly once");
    bob.client.mark_read(alice.id).await.unwrap();
    // Let the server take the read frame before Bob leaves.
    bob.client.run_until(Duration::from_millis(300), |_| false).await.unwrap();
    bob.client.disconnect();

    alice.connect(&app.ws_url()).await;
    let all_read = |c: &Client| c.engine.store().all_messages().iter().all(|m| m.status == Status::Read);
    assert!(alice.client.run_until(WAIT, all_read).await.unwrap(), "read receipts after reconnect");
    let delivered: HashSet<_> = alice
        .client
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StatusChanged { id, status: Status::Delivered | Status::Read, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, ids.into_iter().collect());

    // Receipts were acknowledged — the acks held for a next frame too, written before
    // `run_until` returned: none waits in Alice's mailbox (applying one twice would show
    // nothing), a fresh connection gets none again, and Bob's mailbox is empty.
    let alice_device = alice.client.engine.device_id().expect("Alice's device");
    let alice_mailbox = hush_server::store::Mailbox { user: alice.id, device: alice_device };
    let mut waiting = usize::MAX;
    for _ in 0..100 {
        waiting = app.state.stores.mailbox.fetch_receipts(alice_mailbox, 0, 1000).await.unwrap().len();
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(waiting, 0, "receipts still waiting for Alice's acks");
    alice.reload();
    alice.connect(&app.ws_url()).await;
    assert!(alice.client.run_until(WAIT, |c| c.events.contains(&Event::CaughtUp)).await.unwrap());
    assert!(!alice.client.events.iter().any(|e| matches!(e, Event::StatusChanged { .. })));
    let bob_device = bob.client.engine.device_id().expect("Bob's device");
    let bob_mailbox = hush_server::store::Mailbox { user: bob.id, device: bob_device };
    assert_eq!(app.state.stores.mailbox.depth(bob_mailbox).await.unwrap(), 0);
}

/// Sender without connection: messages written while the server is unreachable survive
/// the client being dropped and rebuilt from its store, and arrive once each, in order.
pub async fn sender_without_connection(app: &TestApp) {
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("ws://{}/api/v1/ws", closed.local_addr().unwrap());
    drop(closed);
    assert!(alice.client.connect(&dead, &alice.person.token).await.is_err());
    for text in ["one", "two", "three"] {
        let m = alice.client.send_text(bob.id, text).await.unwrap();
        assert_eq!(m.status, Status::Sending, "clock tick: waiting on this device");
    }
    alice.reload();
    assert_eq!(alice.sent_with_status(Status::Sending), 3, "the outbox survived the reload");

    bob.connect(&app.ws_url()).await;
    alice.connect(&app.ws_url()).await;
    assert!(bob.client.run_until(WAIT, |c| arrivals(c) == 3).await.unwrap());
    let all_delivered = |c: &Client| c.engine.store().all_messages().iter().all(|m| m.status == Status::Delivered);
    assert!(alice.client.run_until(WAIT, all_delivered).await.unwrap());
    bob.client.run_until(Duration::from_millis(200), |_| false).await.unwrap();
    assert_eq!(texts(&bob), vec!["one", "two", "three"]);
    assert_eq!(arrivals(&bob.client), 3, "exactly once");
    assert!(bob.received().iter().all(|m| m.direction == Direction::Incoming));
}

type Client = hush_client::native::NativeClient<hush_client::MemoryStore>;

/// How many messages a client has received (events, so duplicates would count twice).
pub fn arrivals(c: &Client) -> usize {
    c.events.iter().filter(|e| matches!(e, Event::MessageReceived(_))).count()
}

/// Another browser of `first`'s person, holding the account identity (as linking gives
/// it) and registered as a device of its own.
async fn second_device(app: &TestApp, first: &Chatter, n: u32) -> Chatter {
    app.clock.advance(31); // the next sign-in code for the number
    let person = app.sign_in(&phone(n), None).await;
    Chatter::another_device_of(first, person, &app.base).await
}

/// Texts of a chatter's messages in the conversation with `peer`, in order, by direction.
fn conversation(chatter: &Chatter, peer: hush_shared::UserId, direction: Direction) -> Vec<String> {
    let mut messages: Vec<_> =
        chatter.store.all_messages().into_iter().filter(|m| m.peer == peer && m.direction == direction).collect();
    messages.sort_by_key(|m| m.id);
    messages
        .into_iter()
        .map(|m| match m.body {
            Body::Text { text } => text,
            other => panic!("not opened: {other:?}"),
        })
        .collect()
}

/// Two devices each, with the real client engine: what Alice writes on one device shows on
/// both of Bob's and on her other one; receipts reach both of hers; reading on one of
/// Bob's devices marks it read on the other; Bob's reply reaches both of Alice's devices
/// and his own other one. Nothing is ever undecryptable.
pub async fn two_devices_each(app: &TestApp) {
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;
    let mut alice2 = second_device(app, &alice, 1).await;
    let mut bob2 = second_device(app, &bob, 2).await;
    for (chatter, friend) in [(&mut alice2, bob.id), (&mut bob2, alice.id)] {
        chatter.client.set_up(false).await.unwrap();
        chatter.client.engine.add_friend(friend, None, None).await.unwrap();
    }
    for chatter in [&mut alice, &mut alice2, &mut bob, &mut bob2] {
        chatter.connect(&app.ws_url()).await;
    }

    let texts: Vec<String> = (0..5).map(|i| format!("from Alice's first device {i}")).collect();
    for text in &texts {
        alice.client.send_text(bob.id, text).await.unwrap();
    }
    // The first send names no other device of Alice's: refused, she learns of it, resends.
    let all_out = |c: &Client| c.engine.store().all_messages().iter().all(|m| m.status != Status::Sending);
    assert!(alice.client.run_until(WAIT, all_out).await.unwrap(), "stored after learning of her other device");
    for chatter in [&mut bob, &mut bob2] {
        assert!(chatter.client.run_until(WAIT, |c| arrivals(c) == 5).await.unwrap(), "Bob's devices got all five");
    }
    assert!(alice2.client.run_until(WAIT, |c| arrivals(c) == 5).await.unwrap(), "Alice's other device too");
    for chatter in [&bob, &bob2] {
        assert_eq!(conversation(chatter, alice.id, Direction::Incoming), texts, "in order, opened");
    }
    assert_eq!(conversation(&alice2, bob.id, Direction::Outgoing), texts, "shown as sent from me");
    let delivered = |c: &Client| outgoing_all(c, 5, Status::Delivered);
    assert!(alice.client.run_until(WAIT, delivered).await.unwrap(), "delivered on the sending device");
    assert!(alice2.client.run_until(WAIT, delivered).await.unwrap(), "and on the other");

    // Bob reads on his first device: read on both of Alice's, seen on his second.
    bob.client.mark_read(alice.id).await.unwrap();
    let read = |c: &Client| outgoing_all(c, 5, Status::Read);
    assert!(alice.client.run_until(WAIT, read).await.unwrap());
    assert!(alice2.client.run_until(WAIT, read).await.unwrap());
    let seen = |c: &Client| {
        let incoming: Vec<_> =
            c.engine.store().all_messages().into_iter().filter(|m| m.direction == Direction::Incoming).collect();
        incoming.len() == 5 && incoming.iter().all(|m| m.status == Status::Seen)
    };
    assert!(bob2.client.run_until(WAIT, seen).await.unwrap(), "read on one device clears the other's unread");

    // Bob answers from his second device.
    bob2.client.send_text(alice.id, "hello from Bob's phone").await.unwrap();
    assert!(bob2.client.run_until(WAIT, all_out).await.unwrap());
    for chatter in [&mut alice, &mut alice2] {
        let got_it = |c: &Client| {
            c.engine.store().all_messages().iter().any(|m| m.direction == Direction::Incoming && m.peer == bob.id)
        };
        assert!(chatter.client.run_until(WAIT, got_it).await.unwrap());
        assert_eq!(conversation(chatter, bob.id, Direction::Incoming), vec!["hello from Bob's phone".to_owned()]);
    }
    assert!(bob.client.run_until(WAIT, |c| arrivals(c) == 6).await.unwrap());
    assert_eq!(conversation(&bob, alice.id, Direction::Outgoing), vec!["hello from Bob's phone".to_owned()]);
    for chatter in [&alice, &alice2, &bob, &bob2] {
        let undecryptable = chatter.store.all_messages().into_iter().filter(|m| !matches!(m.body, Body::Text { .. }));
        assert_eq!(undecryptable.count(), 0, "never undecryptable");
    }
}

/// Linking brings the recent history: after Alice and Bob talked, the browser Alice links
/// holds their conversation — her messages as sent (with how far they got), his as read.
pub async fn linking_brings_the_history(app: &TestApp) {
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;
    alice.connect(&app.ws_url()).await;
    bob.connect(&app.ws_url()).await;
    for i in 0..3 {
        alice.client.send_text(bob.id, &format!("from Alice {i}")).await.unwrap();
        bob.client.send_text(alice.id, &format!("from Bob {i}")).await.unwrap();
    }
    assert!(bob.client.run_until(WAIT, |c| arrivals(c) == 3).await.unwrap());
    bob.client.mark_read(alice.id).await.unwrap();
    assert!(alice.client.run_until(WAIT, |c| arrivals(c) == 3 && outgoing_all(c, 3, Status::Read)).await.unwrap());

    let laptop = second_device(app, &alice, 1).await;
    assert_eq!(
        conversation(&laptop, bob.id, Direction::Outgoing),
        (0..3).map(|i| format!("from Alice {i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        conversation(&laptop, bob.id, Direction::Incoming),
        (0..3).map(|i| format!("from Bob {i}")).collect::<Vec<_>>()
    );
    let statuses: Vec<Status> = laptop.store.all_messages().iter().map(|m| m.status).collect();
    assert!(statuses.iter().all(|s| matches!(s, Status::Read | Status::Seen)), "{statuses:?}");
}
