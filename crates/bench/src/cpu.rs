//! CPU time, the unit the server figures are reported in: of a process (user + system from
//! `/proc/<pid>/stat`) and of a `redis-server` (from `INFO cpu`), so a load generator or a
//! store sharing the machine is counted apart.

/// User + system CPU seconds of process `pid` (`"self"` for this one).
pub fn process_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// This process's CPU seconds.
pub fn own_seconds() -> f64 {
    process_seconds("self")
}

/// `used_cpu_user + used_cpu_sys` of the Redis at `url` (0 if it cannot be asked).
pub fn redis_server_seconds(url: &str) -> f64 {
    let info = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .and_then(|mut c| redis::cmd("INFO").arg("cpu").query::<String>(&mut c))
        .unwrap_or_default();
    info.lines()
        .filter(|l| l.starts_with("used_cpu_user:") || l.starts_with("used_cpu_sys:"))
        .filter_map(|l| l.split(':').nth(1).and_then(|v| v.trim().parse::<f64>().ok()))
        .sum()
}
