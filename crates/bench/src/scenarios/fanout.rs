//! `fanout`: `saturate` with several devices per person. Each sender writes from its first
//! device with an envelope for every device of the recipient and for each of its own other
//! devices (one `send`, one message id); every one of those devices acks its copy, and
//! every device of the sender acks the receipts. Each sender keeps up to `in_flight` sends
//! unanswered (256 by default; 1 is one message at a time, as people chat). Reported per
//! second of server CPU: messages (one per `send`) and envelopes (copies delivered to
//! devices).
//!
//! Each extra device is another sign-in of the person's number, and the server sends one
//! code per number every 30 seconds: setting up waits that long per extra device.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hush_crypto::IdentityKeyPair;
use hush_shared::ws::{ClientFrame, DeviceEnvelope, ServerFrame};
use serde_json::json;
use tokio::sync::Semaphore;

use super::{Measured, hundredths, keep_sending, measure, micros_each, per_second, split};
use crate::server::Server;
use crate::setup::{self, Person};
use crate::wire;

/// Person `n` with `devices` devices (all signed in, all registered under one identity).
async fn with_devices(server: &Server, people: &[usize], devices: usize) -> Vec<Vec<Person>> {
    let identities: Vec<IdentityKeyPair> = people.iter().map(|_| IdentityKeyPair::generate()).collect();
    let mut all: Vec<Vec<Person>> = vec![Vec::new(); people.len()];
    for round in 0..devices {
        if round > 0 {
            tokio::time::sleep(Duration::from_secs(31)).await;
        }
        for (i, &n) in people.iter().enumerate() {
            let first = all[i].first().cloned();
            all[i].push(setup::device_of(server, n, &identities[i], first.as_ref()).await);
        }
    }
    all
}

/// Acks every message a device gets (counting them when asked) and every receipt.
fn ack_everything(server_frames: wire::Ws, person: Person, counted: Option<(Arc<AtomicU64>, Arc<AtomicBool>)>) {
    let (tx, mut rx) = split(server_frames);
    tokio::spawn(async move {
        let _person = person;
        while let Some(frame) = wire::next(&mut rx).await {
            match frame {
                ServerFrame::Message { id, .. } => {
                    let _ = tx.send(ClientFrame::Ack { ids: vec![id] });
                    if let Some((count, counting)) = &counted
                        && counting.load(Ordering::Relaxed)
                    {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
                ServerFrame::Receipt { id, .. } => {
                    let _ = tx.send(ClientFrame::ReceiptAck { ids: vec![id] });
                }
                _ => {}
            }
        }
    });
}

/// Runs the scenario; returns the JSON report.
pub async fn run(
    server: &Server,
    (pairs, devices, in_flight): (usize, usize, usize),
    seconds: u64,
) -> serde_json::Value {
    let numbers: Vec<usize> = (0..2 * pairs).collect();
    let people = with_devices(server, &numbers, devices).await;
    for pair in people.chunks(2) {
        setup::befriend(server, &pair[0][0], &pair[1][0]).await;
    }
    let copies = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let stored = Arc::new(AtomicU64::new(0));
    let mut people = people.into_iter();
    while let (Some(alice), Some(bob)) = (people.next(), people.next()) {
        // Bob's devices and Alice's other ones receive (and count) the copies.
        for device in bob.iter().chain(&alice[1..]) {
            let ws = wire::connect(&server.ws_url(), &device.token, device.ip).await.expect("connect");
            ack_everything(ws, device.clone(), Some((copies.clone(), counting.clone())));
        }
        let sender = &alice[0];
        let ws = wire::connect(&server.ws_url(), &sender.token, sender.ip).await.expect("connect");
        let (tx, mut rx) = split(ws);
        let window = Arc::new(Semaphore::new(in_flight));
        let (permits, tx_ack, stored, counting_stored) = (window.clone(), tx.clone(), stored.clone(), counting.clone());
        tokio::spawn(async move {
            while let Some(frame) = wire::next(&mut rx).await {
                match frame {
                    ServerFrame::Stored { .. } => {
                        permits.add_permits(1);
                        if counting_stored.load(Ordering::Relaxed) {
                            stored.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    ServerFrame::Error { .. } => permits.add_permits(1),
                    ServerFrame::Receipt { id, .. } => {
                        let _ = tx_ack.send(ClientFrame::ReceiptAck { ids: vec![id] });
                    }
                    _ => {}
                }
            }
        });
        let envelope = wire::envelope();
        let for_each = |devices: &[Person]| -> Vec<DeviceEnvelope> {
            devices.iter().map(|d| DeviceEnvelope { device: d.device, envelope: envelope.clone() }).collect()
        };
        let (theirs, own, to) = (for_each(&bob), for_each(&alice[1..]), bob[0].id);
        keep_sending(tx, window, stop.clone(), move || ClientFrame::Send {
            id: uuid::Uuid::now_v7(),
            to,
            envelopes: theirs.clone(),
            own: own.clone(),
        });
    }
    let Measured { cpu, redis, wall, .. } = measure(server, &counting, &stop, seconds).await;
    let (messages, envelopes) = (stored.load(Ordering::Relaxed), copies.load(Ordering::Relaxed));
    json!({
        "scenario": "fanout", "pairs": pairs, "devices_per_person": devices, "in_flight": in_flight, "seconds": seconds,
        "messages": messages, "envelopes_delivered": envelopes,
        "messages_per_wall_second": per_second(messages, wall),
        "server_cpu_seconds": hundredths(cpu),
        "messages_per_server_cpu_second": per_second(messages, cpu),
        "envelopes_per_server_cpu_second": per_second(envelopes, cpu),
        "server_cpu_us_per_message": micros_each(cpu, messages),
        "redis_server_cpu_seconds": redis.map(hundredths),
    })
}
