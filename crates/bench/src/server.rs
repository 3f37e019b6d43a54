//! The server under test: a `hush-server` child process on a free loopback port with its
//! own data directory, limits raised for load, and its CPU time and memory read from /proc.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:port`.
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
    /// The Redis it stores in, if any.
    redis_url: Option<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the binary.
    pub async fn start(binary: &str, redis_url: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut command = Command::new(binary);
        command
            .env("HUSH_BIND", format!("127.0.0.1:{port}"))
            .env("HUSH_DATA_DIR", dir.path())
            .env("RUST_LOG", "warn,hush::sms=info")
            .env("HUSH_WS_FRAMES_PER_SEC", "1000000")
            .env("HUSH_MAILBOX_MAX_MESSAGES", "10000000")
            .env("HUSH_MAX_CONNECTIONS_PER_ACCOUNT", "1000000")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = redis_url {
            command.env("HUSH_REDIS_URL", url).env("HUSH_REDIS_PREFIX", format!("bench-{}", uuid::Uuid::new_v4()));
        }
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start {binary}: {e} (build it with cargo build --release -p hush-server)")
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        let mut first = String::new();
        let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first);
        let redis_url = redis_url.map(str::to_owned);
        Self { child, url: format!("http://127.0.0.1:{port}"), log, redis_url, _dir: dir }
    }

    /// `ws://…/api/v1/ws`.
    pub fn ws_url(&self) -> String {
        format!("{}/api/v1/ws", self.url.replacen("http://", "ws://", 1))
    }

    /// How many sign-in codes the server has printed for `phone` so far.
    pub fn codes_sent_to(&self, phone: &str) -> usize {
        self.codes_to(phone).len()
    }

    /// The sign-in code the server printed for `phone` after the first `seen` ones (a
    /// second sign-in of the same number must not read the first one's code while the
    /// server's output is still on its way here).
    pub async fn code_for(&self, phone: &str, seen: usize) -> String {
        for _ in 0..400 {
            if let Some(code) = self.codes_to(phone).get(seen) {
                return code.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no code for {phone}")
    }

    fn codes_to(&self, phone: &str) -> Vec<String> {
        let prefix = format!("SMS to {phone}: Your Hush code is ");
        let Ok(log) = self.log.lock() else { return Vec::new() };
        log.iter().filter_map(|line| line.split(&prefix).nth(1).map(|rest| rest[..6].to_owned())).collect()
    }

    /// Server user+system CPU time in seconds (from `/proc/<pid>/stat`).
    pub fn cpu_seconds(&self) -> f64 {
        crate::cpu::process_seconds(&self.child.id().to_string())
    }

    /// CPU seconds of the Redis the server stores in, if it does (`INFO cpu`): a separate
    /// process whose work the server's own figure leaves out.
    pub fn redis_cpu_seconds(&self) -> Option<f64> {
        self.redis_url.as_deref().map(crate::cpu::redis_server_seconds)
    }

    /// Commands the Redis the server stores in has run, if it does.
    pub fn redis_commands(&self) -> Option<u64> {
        self.redis_url.as_deref().map(crate::cpu::redis_commands_run)
    }

    /// Server resident memory in bytes (VmRSS).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
