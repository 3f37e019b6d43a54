//! `hush-server` is killed with SIGKILL five times during a 2,000-message exchange and
//! restarted on the same address and data directory: nothing answered `stored` is lost,
//! nothing is shown twice, order is kept, and every message ends delivered.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::process::{ServerProcess, free_port};
use common::redis::RedisServer;
use common::*;
use hush_client::{Body, Event, Status};

const PER_SIDE: usize = 1000;
const BATCH: usize = 25;
const KILLS: usize = 5;

/// Processes frames for a moment, reconnecting if the server went away.
async fn pump(c: &mut Chatter, ws_url: &str, for_how_long: Duration) {
    if !c.client.is_connected() && c.client.connect(ws_url, &c.person.token).await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return;
    }
    let _ = c.client.run_until(for_how_long, |_| false).await;
}

fn arrival_order(c: &Chatter) -> Vec<String> {
    c.client
        .events
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived(m) => match &m.body {
                Body::Text { text } => Some(text.clone()),
                Body::Undecryptable { reason } => panic!("undecryptable: {reason}"),
            },
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn sigkill_during_a_2000_message_exchange_loses_and_duplicates_nothing() {
    exchange_with_kills(&[]).await;
}

#[tokio::test]
async fn the_same_on_redis() {
    let redis = RedisServer::start();
    exchange_with_kills(&[("HUSH_REDIS_URL", &redis.url())]).await;
}

async fn exchange_with_kills(env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let bind = format!("127.0.0.1:{}", free_port());
    let mut server = ServerProcess::start(dir.path(), &bind, env);
    let ws_url = server.ws_url();
    let mut alice = Chatter::new(server.sign_in(&phone(1)).await);
    let mut bob = Chatter::new(server.sign_in(&phone(2)).await);
    befriend_chatters(&server.url, &mut alice, &mut bob).await;
    alice.connect(&ws_url).await;
    bob.connect(&ws_url).await;

    let mut kills = 0;
    let mut stored_ever: HashSet<uuid::Uuid> = HashSet::new();
    for batch in 0..PER_SIDE / BATCH {
        for i in 0..BATCH {
            let n = batch * BATCH + i;
            // A failed write means the server is down: the message waits in the outbox.
            let _ = alice.client.send_text(bob.id, &format!("a{n:04}")).await;
            let _ = bob.client.send_text(alice.id, &format!("b{n:04}")).await;
        }
        pump(&mut alice, &ws_url, Duration::from_millis(15)).await;
        pump(&mut bob, &ws_url, Duration::from_millis(15)).await;
        for c in [&alice, &bob] {
            for e in &c.client.events {
                if let Event::StatusChanged { id, status: Status::Stored, .. } = e {
                    stored_ever.insert(*id);
                }
            }
        }
        if batch % 8 == 4 && kills < KILLS {
            server.kill9();
            kills += 1;
            server = ServerProcess::start(dir.path(), &bind, env);
        }
    }
    assert_eq!(kills, KILLS);

    let deadline = Instant::now() + Duration::from_secs(120);
    let done = |c: &Chatter| {
        c.received().len() == PER_SIDE
            && c.store
                .all_messages()
                .iter()
                .all(|m| matches!(m.status, Status::Delivered | Status::Read | Status::Received))
    };
    while !(done(&alice) && done(&bob)) {
        assert!(
            Instant::now() < deadline,
            "not converged: alice got {}, bob got {}",
            alice.received().len(),
            bob.received().len()
        );
        pump(&mut alice, &ws_url, Duration::from_millis(50)).await;
        pump(&mut bob, &ws_url, Duration::from_millis(50)).await;
    }

    for (who, c, prefix) in [("bob", &bob, "a"), ("alice", &alice, "b")] {
        let expected: Vec<String> = (0..PER_SIDE).map(|n| format!("{prefix}{n:04}")).collect();
        assert_eq!(arrival_order(c), expected, "{who} saw every message once, in order");
    }
    let received: HashSet<uuid::Uuid> = alice.received().iter().chain(bob.received().iter()).map(|m| m.id).collect();
    assert!(stored_ever.is_subset(&received), "a message answered `stored` was lost");
    eprintln!(
        "crash test: {KILLS} SIGKILLs, {} messages answered stored before convergence, 2000 delivered once each",
        stored_ever.len()
    );
    drop(server);
}
