//! `rtt`: pairs ping-pong at a fixed offered rate (open loop). Round trips start as a
//! Poisson process at `rate` per second, taken by the pairs in turn: A sends; B acks and
//! replies with the same id; A records now − *scheduled* send time in an HdrHistogram,
//! which corrects for coordinated omission (a stall delays later sends, and their wait
//! counts). The schedule is kept by a thread of its own sleeping on the system's timer
//! (tokio's ticks in whole milliseconds: its sends went out a median of 1 ms late, counted
//! as the server's). Every pair sending at the same instant, as this scenario did before,
//! measured mostly the queue of that burst (BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use hush_shared::ws::{ClientFrame, ServerFrame};
use rand_core::{OsRng, RngCore};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{ms, split};
use crate::server::Server;
use crate::{setup, wire};

/// Runs the scenario; returns the JSON report.
pub async fn run(server: &Server, pairs: usize, rate: u64, seconds: u64) -> serde_json::Value {
    let people = setup::pairs(server, pairs).await;
    let histogram =
        Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3).expect("histogram")));
    let mut senders = Vec::new();
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for (a, b) in people {
        let ws_a = wire::connect(&server.ws_url(), &a.token, a.ip).await.expect("connect a");
        let ws_b = wire::connect(&server.ws_url(), &b.token, b.ip).await.expect("connect b");
        let (tx_a, mut rx_a) = split(ws_a);
        let (tx_b, mut rx_b) = split(ws_b);
        let a_echo = a.clone();
        // B: ack and echo back.
        tokio::spawn(async move {
            while let Some(frame) = wire::next(&mut rx_b).await {
                match frame {
                    ServerFrame::Message { id, envelope, .. } => {
                        let _ = tx_b.send(ClientFrame::Ack { ids: vec![id] });
                        let _ = tx_b.send(wire::send_frame(id, &a_echo, &envelope));
                    }
                    ServerFrame::Receipt { id, .. } => {
                        let _ = tx_b.send(ClientFrame::ReceiptAck { ids: vec![id] });
                    }
                    _ => {}
                }
            }
        });
        let scheduled: Arc<Mutex<HashMap<uuid::Uuid, Instant>>> = Arc::default();
        // A's reader: the echo closes the round trip.
        let (sched, hist, tx_ack, got) = (scheduled.clone(), histogram.clone(), tx_a.clone(), received.clone());
        tokio::spawn(async move {
            while let Some(frame) = wire::next(&mut rx_a).await {
                match frame {
                    ServerFrame::Message { id, .. } => {
                        let _ = tx_ack.send(ClientFrame::Ack { ids: vec![id] });
                        if let Some(at) = sched.lock().ok().and_then(|mut s| s.remove(&id)) {
                            let _ = hist.lock().map(|mut h| h.record(at.elapsed().as_nanos() as u64));
                            got.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    ServerFrame::Receipt { id, .. } => {
                        let _ = tx_ack.send(ClientFrame::ReceiptAck { ids: vec![id] });
                    }
                    _ => {}
                }
            }
        });
        senders.push((tx_a, b, scheduled));
    }
    let sent = tokio::task::spawn_blocking(move || schedule(senders, rate, seconds)).await.unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let h = histogram.lock().map(|h| h.clone()).expect("histogram");
    json!({
        "scenario": "rtt", "pairs": pairs, "offered_rate": rate, "arrivals": "poisson", "seconds": seconds,
        "sent": sent, "round_trips": received.load(std::sync::atomic::Ordering::Relaxed),
        "p50_ms": ms(h.value_at_quantile(0.5)), "p99_ms": ms(h.value_at_quantile(0.99)),
        "p999_ms": ms(h.value_at_quantile(0.999)), "max_ms": ms(h.max()),
    })
}

/// One pair's sending side: A's connection, B, and the send times scheduled.
type Sender = (mpsc::UnboundedSender<ClientFrame>, setup::Person, Arc<Mutex<HashMap<uuid::Uuid, Instant>>>);

/// Starts round trips at `rate` per second for `seconds`, the gaps between them drawn from
/// the exponential distribution (a Poisson process), each pair in turn; how many started.
fn schedule(senders: Vec<Sender>, rate: u64, seconds: u64) -> u64 {
    let envelope = wire::envelope();
    let start = std::time::Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs(seconds);
    let (mut at, mut sent) = (start, 0);
    for (tx_a, b, scheduled) in senders.iter().cycle() {
        at += exponential_gap(rate);
        if at >= end {
            break;
        }
        std::thread::sleep(at.saturating_duration_since(std::time::Instant::now()));
        let id = uuid::Uuid::now_v7();
        if let Ok(mut s) = scheduled.lock() {
            s.insert(id, Instant::from_std(at));
        }
        let _ = tx_a.send(wire::send_frame(id, b, &envelope));
        sent += 1;
    }
    sent
}

/// A gap between arrivals of a Poisson process of `rate` per second.
fn exponential_gap(rate: u64) -> Duration {
    let uniform = (OsRng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    Duration::from_secs_f64(-(1.0 - uniform).ln() / rate.max(1) as f64)
}
