//! `trickle`: chat as people do it — each sender has one message in flight: it sends the
//! next only once its partner received the last one (the partner acks it, the sender
//! acknowledges the `delivered` receipt). Nothing can be batched, so this is the server's
//! cost of one message on its own: reported as messages relayed per server CPU-second and
//! server CPU microseconds per message (on Redis also with `redis-server`'s CPU added).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hush_shared::ws::{ClientFrame, ServerFrame};
use serde_json::json;
use tokio::sync::Semaphore;

use super::{Measured, hundredths, keep_sending, measure, split};
use crate::server::Server;
use crate::{setup, wire};

/// Runs the scenario; returns the JSON report.
pub async fn run(server: &Server, pairs: usize, seconds: u64) -> serde_json::Value {
    let people = setup::pairs(server, pairs).await;
    let relayed = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    for (a, b) in people {
        let ws_a = wire::connect(&server.ws_url(), &a.token, a.ip).await.expect("connect a");
        let ws_b = wire::connect(&server.ws_url(), &b.token, b.ip).await.expect("connect b");
        let (tx_a, mut rx_a) = split(ws_a);
        let (tx_b, mut rx_b) = split(ws_b);
        let window = Arc::new(Semaphore::new(1));
        let (received, relayed, counting) = (window.clone(), relayed.clone(), counting.clone());
        tokio::spawn(async move {
            while let Some(frame) = wire::next(&mut rx_b).await {
                if let ServerFrame::Message { id, .. } = frame {
                    let _ = tx_b.send(ClientFrame::Ack { ids: vec![id] });
                    if counting.load(Ordering::Relaxed) {
                        relayed.fetch_add(1, Ordering::Relaxed);
                    }
                    received.add_permits(1);
                }
            }
        });
        let tx_ack = tx_a.clone();
        tokio::spawn(async move {
            while let Some(frame) = wire::next(&mut rx_a).await {
                if let ServerFrame::Receipt { id, .. } = frame {
                    let _ = tx_ack.send(ClientFrame::ReceiptAck { ids: vec![id] });
                }
            }
        });
        let envelope = wire::envelope();
        keep_sending(tx_a, window, stop.clone(), move || wire::send_frame(uuid::Uuid::now_v7(), &b, &envelope));
    }
    let Measured { cpu, redis, wall } = measure(server, &counting, &stop, seconds).await;
    let n = relayed.load(Ordering::Relaxed);
    let per = |seconds: f64| if seconds > 0.0 { (n as f64 / seconds).round() } else { 0.0 };
    let micros = |seconds: f64| if n > 0 { (seconds * 1e7 / n as f64).round() / 10.0 } else { 0.0 };
    json!({
        "scenario": "trickle", "pairs": pairs, "seconds": seconds, "relayed": n,
        "relayed_per_wall_second": (n as f64 / wall).round(), "server_cpu_seconds": hundredths(cpu),
        "relayed_per_server_cpu_second": per(cpu), "server_cpu_us_per_message": micros(cpu),
        "redis_server_cpu_seconds": redis.map(hundredths),
        "relayed_per_server_and_redis_cpu_second": redis.map(|r| per(cpu + r)),
        "server_and_redis_cpu_us_per_message": redis.map(|r| micros(cpu + r)),
    })
}
