//! CPU time, the unit the server figures are reported in: of a process (user + system from
//! `/proc/<pid>/stat`) and of a `redis-server` (from `INFO cpu`), so a load generator or a
//! store sharing the machine is counted apart; and the commands a `redis-server` ran, which
//! say where its time goes.

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

/// Section `section` of `INFO` from the Redis at `url` (empty if it cannot be asked).
fn redis_info(url: &str, section: &str) -> String {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .and_then(|mut c| redis::cmd("INFO").arg(section).query::<String>(&mut c))
        .unwrap_or_default()
}

/// `used_cpu_user + used_cpu_sys` of the Redis at `url` (0 if it cannot be asked).
pub fn redis_server_seconds(url: &str) -> f64 {
    redis_info(url, "cpu")
        .lines()
        .filter(|l| l.starts_with("used_cpu_user:") || l.starts_with("used_cpu_sys:"))
        .filter_map(|l| l.split(':').nth(1).and_then(|v| v.trim().parse::<f64>().ok()))
        .sum()
}

/// Commands the Redis at `url` has run (`INFO commandstats`; 0 if it cannot be asked): those
/// a script calls count one by one, the script calls themselves and `INFO` (the measuring)
/// not at all.
pub fn redis_commands_run(url: &str) -> u64 {
    redis_info(url, "commandstats").lines().filter_map(commands_in).sum()
}

/// The calls of one `INFO commandstats` line (`cmdstat_xadd:calls=12,usec=…`), unless its
/// command runs scripts or is `INFO`.
fn commands_in(line: &str) -> Option<u64> {
    let (command, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
    let uncounted = ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "info"];
    if uncounted.contains(&command) {
        return None;
    }
    stats.split(',').find_map(|field| field.strip_prefix("calls="))?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::commands_in;

    #[test]
    fn commands_count_without_script_calls_or_the_measuring() {
        assert_eq!(
            commands_in("cmdstat_xadd:calls=258791,usec=598996,usec_per_call=2.31,rejected_calls=0"),
            Some(258791)
        );
        assert_eq!(commands_in("cmdstat_evalsha:calls=1725,usec=4696704,usec_per_call=2722.73"), None);
        assert_eq!(commands_in("cmdstat_info:calls=3,usec=66,usec_per_call=22.00"), None);
        assert_eq!(commands_in("cmdstat_config|resetstat:calls=1,usec=156"), Some(1));
        assert_eq!(commands_in("# Commandstats"), None);
    }
}
