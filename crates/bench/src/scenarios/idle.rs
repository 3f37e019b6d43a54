//! `idle`: N signed-in connections held open (from many loopback source addresses, at most
//! [`PER_ACCOUNT`] per account: an account may open only
//! `WS_CONNECTS_PER_ACCOUNT_PER_MINUTE` a minute). Reports the server's RSS growth per
//! connection and how many it held.

use std::time::Duration;

use serde_json::json;

use crate::server::Server;
use crate::{setup, wire};

const BATCH: usize = 500;

/// Connections opened per account, under its connects-per-minute limit.
const PER_ACCOUNT: usize = 100;

/// Runs the scenario; returns the JSON report.
pub async fn run(server: &Server, connections: usize) -> serde_json::Value {
    let mut tokens = Vec::new();
    for n in 0..connections.div_ceil(PER_ACCOUNT) {
        tokens.push(setup::person(server, n).await.token);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.rss_bytes();
    let mut open = Vec::with_capacity(connections);
    let mut error = None;
    'outer: for start in (0..connections).step_by(BATCH) {
        let mut batch = Vec::new();
        for i in start..(start + BATCH).min(connections) {
            let (url, token) = (server.ws_url(), tokens[i / PER_ACCOUNT].clone());
            batch.push(tokio::spawn(async move { wire::connect(&url, &token, wire::source_ip(i + 1)).await }));
        }
        for t in batch {
            match t.await {
                Ok(Ok(ws)) => open.push(ws),
                Ok(Err(e)) => {
                    error = Some(e);
                    break 'outer;
                }
                Err(e) => {
                    error = Some(e.to_string());
                    break 'outer;
                }
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = server.rss_bytes();
    let held = open.len();
    json!({
        "scenario": "idle", "requested": connections, "held": held, "first_error": error,
        "server_rss_before_mib": rss_before / (1 << 20), "server_rss_after_mib": rss_after / (1 << 20),
        "rss_bytes_per_connection": if held > 0 { (rss_after.saturating_sub(rss_before)) / held as u64 } else { 0 },
    })
}
