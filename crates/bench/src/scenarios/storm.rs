//! `storm`: C authenticated WebSocket connections opened at once (16 accounts, spread over
//! loopback source addresses). Reports connects/s over the whole storm and connect-time
//! percentiles (TCP + upgrade + auth frame + `hello`).

use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::json;

use super::ms;
use crate::server::Server;
use crate::{setup, wire};

const ACCOUNTS: usize = 16;

/// Runs the scenario; returns the JSON report.
pub async fn run(server: &Server, connections: usize) -> serde_json::Value {
    let mut people = Vec::new();
    for n in 0..ACCOUNTS {
        people.push(setup::person(server, n).await);
    }
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for i in 0..connections {
        let (url, token) = (server.ws_url(), people[i % ACCOUNTS].token.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ws = wire::connect(&url, &token, wire::source_ip(i)).await;
            (t.elapsed().as_nanos() as u64, ws.ok())
        }));
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1_000, 120_000_000_000, 3).expect("histogram");
    let mut open = Vec::new();
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok((nanos, Some(ws))) => {
                let _ = histogram.record(nanos);
                open.push(ws);
            }
            _ => failed += 1,
        }
    }
    let wall = start.elapsed().as_secs_f64();
    json!({
        "scenario": "storm", "connections": connections, "failed": failed,
        "connects_per_second": ((connections - failed) as f64 / wall).round(),
        "p50_ms": ms(histogram.value_at_quantile(0.5)), "p99_ms": ms(histogram.value_at_quantile(0.99)),
    })
}
