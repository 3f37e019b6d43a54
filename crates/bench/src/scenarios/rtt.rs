//! `rtt`: pairs ping-pong at a fixed offered rate (open loop). A sends on a schedule; B
//! acks and replies with the same id; A records now − *scheduled* send time in an
//! HdrHistogram, which corrects for coordinated omission (a stall delays the schedule's
//! later sends, and their wait counts).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use hush_shared::ws::{ClientFrame, ServerFrame};
use serde_json::json;
use tokio::time::Instant;

use super::{ms, split};
use crate::server::Server;
use crate::{setup, wire};

/// Runs the scenario; returns the JSON report.
pub async fn run(server: &Server, pairs: usize, rate: u64, seconds: u64) -> serde_json::Value {
    let people = setup::pairs(server, pairs).await;
    let histogram =
        Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3).expect("histogram")));
    let interval = Duration::from_nanos(1_000_000_000 * pairs as u64 / rate.max(1));
    let mut tasks = Vec::new();
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
        // A's sender, on schedule.
        tasks.push(tokio::spawn(async move {
            let envelope = wire::envelope();
            let start = Instant::now() + Duration::from_millis(200);
            let end = start + Duration::from_secs(seconds);
            let mut next = start;
            let mut sent = 0u64;
            while next < end {
                tokio::time::sleep_until(next).await;
                let id = uuid::Uuid::now_v7();
                if let Ok(mut s) = scheduled.lock() {
                    s.insert(id, next);
                }
                let _ = tx_a.send(wire::send_frame(id, &b, &envelope));
                sent += 1;
                next += interval;
            }
            sent
        }));
    }
    let mut sent = 0;
    for t in tasks {
        sent += t.await.unwrap_or(0);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let h = histogram.lock().map(|h| h.clone()).expect("histogram");
    json!({
        "scenario": "rtt", "pairs": pairs, "offered_rate": rate, "seconds": seconds,
        "sent": sent, "round_trips": received.load(std::sync::atomic::Ordering::Relaxed),
        "p50_ms": ms(h.value_at_quantile(0.5)), "p99_ms": ms(h.value_at_quantile(0.99)),
        "p999_ms": ms(h.value_at_quantile(0.999)), "max_ms": ms(h.max()),
    })
}
