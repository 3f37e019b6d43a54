//! `offline`: A stores N messages for offline B (at most 512 awaiting `stored`), then B
//! connects and drains with acks (batched as the frames arrive). Reports stored/s and
//! drained/s.

use std::time::Instant;

use hush_shared::ws::{ClientFrame, ServerFrame};
use serde_json::json;

use super::split;
use crate::server::Server;
use crate::{setup, wire};

const OUTSTANDING: usize = 512;

/// Runs the scenario; returns the JSON report.
pub async fn run(server: &Server, messages: usize) -> serde_json::Value {
    let mut people = setup::pairs(server, 1).await;
    let (a, b) = people.remove(0);
    let ws_a = wire::connect(&server.ws_url(), &a.token, a.ip).await.expect("connect a");
    let (tx_a, mut rx_a) = split(ws_a);
    let envelope = wire::envelope();
    let t0 = Instant::now();
    let (mut sent, mut stored) = (0usize, 0usize);
    while stored < messages {
        while sent < messages && sent - stored < OUTSTANDING {
            let _ = tx_a.send(wire::send_frame(uuid::Uuid::now_v7(), &b, &envelope));
            sent += 1;
        }
        match wire::next(&mut rx_a).await {
            Some(ServerFrame::Stored { .. }) => stored += 1,
            Some(ServerFrame::Error { code, message, .. }) => panic!("refused: {code} {message}"),
            Some(_) => {}
            None => panic!("connection lost"),
        }
    }
    let store_secs = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let ws_b = wire::connect(&server.ws_url(), &b.token, b.ip).await.expect("connect b");
    let (tx_b, mut rx_b) = split(ws_b);
    let mut drained = 0usize;
    while drained < messages {
        match wire::next(&mut rx_b).await {
            Some(ServerFrame::Message { id, .. }) => {
                drained += 1;
                let _ = tx_b.send(ClientFrame::Ack { ids: vec![id] });
            }
            Some(_) => {}
            None => panic!("connection lost while draining"),
        }
    }
    let drain_secs = t1.elapsed().as_secs_f64();
    json!({
        "scenario": "offline", "messages": messages,
        "stored_per_second": (messages as f64 / store_secs).round(),
        "drained_per_second": (messages as f64 / drain_secs).round(),
    })
}
