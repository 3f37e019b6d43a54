//! `trickle`: chat as people do it — each sender has one message in flight: it sends the
//! next only once its partner received the last (the partner acks it, the sender
//! acknowledges the `delivered` receipt). Nothing can be batched, so this is the server's
//! cost of one message on its own: reported as messages relayed per server CPU-second and
//! server CPU microseconds per message (on Redis also with `redis-server`'s CPU added, and
//! the commands Redis ran per message).
//! `--in-flight N` keeps N messages in flight per pair instead: the batched row of the side
//! by side with ejabberd.

use serde_json::json;

use super::relay::{self, Relayed, Window};
use super::{each, hundredths, micros_each, per_second};
use crate::server::Server;

/// Runs the scenario; returns the JSON report.
pub async fn run(server: &Server, (pairs, in_flight): (usize, usize), seconds: u64) -> serde_json::Value {
    let window = Window::Delivered(in_flight);
    let Relayed { messages: n, measured } = relay::run(server, pairs, seconds, window).await;
    let (cpu, redis, wall) = (measured.cpu, measured.redis, measured.wall);
    json!({
        "scenario": "trickle", "pairs": pairs, "in_flight": in_flight, "seconds": seconds, "relayed": n,
        "relayed_per_wall_second": per_second(n, wall), "server_cpu_seconds": hundredths(cpu),
        "relayed_per_server_cpu_second": per_second(n, cpu), "server_cpu_us_per_message": micros_each(cpu, n),
        "redis_server_cpu_seconds": redis.map(hundredths),
        "relayed_per_server_and_redis_cpu_second": redis.map(|r| per_second(n, cpu + r)),
        "redis_commands_per_message": measured.redis_commands.map(|c| each(c, n)),
        "server_and_redis_cpu_us_per_message": redis.map(|r| micros_each(cpu + r, n)),
    })
}
