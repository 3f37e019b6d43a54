//! `saturate`: pairs send ~300-byte envelopes as fast as the server answers `stored`
//! (at most 256 outstanding per sender); recipients ack. The figure is messages relayed
//! (received by recipients) per second of *server* CPU time (user + system, /proc), so the
//! load generator sharing the machine does not distort it. On Redis the figure with
//! `redis-server`'s CPU added is reported too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hush_shared::ws::{ClientFrame, ServerFrame};
use serde_json::json;
use tokio::sync::Semaphore;

use super::{Measured, hundredths, keep_sending, measure, split};
use crate::server::Server;
use crate::{setup, wire};

const OUTSTANDING: usize = 256;

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
        let (relayed, counting) = (relayed.clone(), counting.clone());
        tokio::spawn(async move {
            while let Some(frame) = wire::next(&mut rx_b).await {
                if let ServerFrame::Message { id, .. } = frame {
                    let _ = tx_b.send(ClientFrame::Ack { ids: vec![id] });
                    if counting.load(Ordering::Relaxed) {
                        relayed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        let window = Arc::new(Semaphore::new(OUTSTANDING));
        let (permits, tx_ack) = (window.clone(), tx_a.clone());
        tokio::spawn(async move {
            while let Some(frame) = wire::next(&mut rx_a).await {
                match frame {
                    ServerFrame::Stored { .. } | ServerFrame::Error { .. } => permits.add_permits(1),
                    ServerFrame::Receipt { id, .. } => {
                        let _ = tx_ack.send(ClientFrame::ReceiptAck { ids: vec![id] });
                    }
                    _ => {}
                }
            }
        });
        let envelope = wire::envelope();
        keep_sending(tx_a, window, stop.clone(), move || wire::send_frame(uuid::Uuid::now_v7(), &b, &envelope));
    }
    let Measured { cpu, redis, wall } = measure(server, &counting, &stop, seconds).await;
    let n = relayed.load(Ordering::Relaxed);
    let per = |seconds: f64| if seconds > 0.0 { (n as f64 / seconds).round() } else { 0.0 };
    json!({
        "scenario": "saturate", "pairs": pairs, "seconds": seconds, "relayed": n,
        "relayed_per_wall_second": (n as f64 / wall).round(), "server_cpu_seconds": hundredths(cpu),
        "relayed_per_server_cpu_second": per(cpu),
        "redis_server_cpu_seconds": redis.map(hundredths),
        "relayed_per_server_and_redis_cpu_second": redis.map(|r| per(cpu + r)),
    })
}
