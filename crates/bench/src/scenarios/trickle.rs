//! `trickle`: chat as people do it — each sender has one message in flight: it sends the
//! next only once its partner received the last (the partner acks it, the sender
//! acknowledges the `delivered` receipt). Nothing can be batched, so this is the server's
//! cost of one message on its own: reported as messages relayed per server CPU-second and
//! server CPU microseconds per message (on Redis also with `redis-server`'s CPU added).

use serde_json::json;

use super::hundredths;
use super::relay::{self, Relayed, Window};
use crate::server::Server;

/// Runs the scenario; returns the JSON report.
pub async fn run(server: &Server, pairs: usize, seconds: u64) -> serde_json::Value {
    let Relayed { messages: n, measured } = relay::run(server, pairs, seconds, Window::Delivered).await;
    let (cpu, redis, wall) = (measured.cpu, measured.redis, measured.wall);
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
