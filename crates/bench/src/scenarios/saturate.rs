//! `saturate`: pairs send ~300-byte envelopes as fast as the server answers `stored`
//! (at most 256 outstanding per sender); recipients ack. The figure is messages relayed
//! (received by recipients) per second of *server* CPU time (user + system, /proc), so the
//! load generator sharing the machine does not distort it. On Redis the figure with
//! `redis-server`'s CPU added is reported too, and the commands Redis ran per message.

use serde_json::json;

use super::relay::{self, Relayed, Window};
use super::{each, hundredths, per_second};
use crate::server::Server;

const OUTSTANDING: usize = 256;

/// Runs the scenario; returns the JSON report.
pub async fn run(server: &Server, pairs: usize, seconds: u64) -> serde_json::Value {
    let Relayed { messages: n, measured } = relay::run(server, pairs, seconds, Window::Answered(OUTSTANDING)).await;
    let (cpu, redis, wall) = (measured.cpu, measured.redis, measured.wall);
    json!({
        "scenario": "saturate", "pairs": pairs, "seconds": seconds, "relayed": n,
        "relayed_per_wall_second": per_second(n, wall), "server_cpu_seconds": hundredths(cpu),
        "relayed_per_server_cpu_second": per_second(n, cpu),
        "redis_server_cpu_seconds": redis.map(hundredths),
        "relayed_per_server_and_redis_cpu_second": redis.map(|r| per_second(n, cpu + r)),
        "redis_commands_per_message": measured.redis_commands.map(|c| each(c, n)),
    })
}
