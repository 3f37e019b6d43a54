//! A real `redis-server` for a test: its own port, its own directory, AOF on (`everysec`).
//! It can be killed with SIGKILL and restarted on the same port and directory, reloading
//! its append-only file. The test command installs Redis when it is missing; a test that
//! needs it fails loudly without it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn spawn(port: u16, dir: &std::path::Path) -> Child {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
        .args(["--appendfsync", "everysec", "--dir", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start redis-server ({e}); scripts/test.sh installs it (apt-get install redis-server)")
        });
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

impl RedisServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = super::process::free_port();
        Self { child: spawn(port, dir.path()), port, dir }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// How many times `redis-server` ran `command` (lower case, e.g. `publish`) since it
    /// started: its `INFO commandstats`.
    pub fn calls(&self, command: &str) -> u64 {
        let mut conn = ::redis::Client::open(self.url()).unwrap().get_connection().unwrap();
        let stats: String = ::redis::cmd("INFO").arg("commandstats").query(&mut conn).unwrap();
        let prefix = format!("cmdstat_{command}:calls=");
        stats.lines().find_map(|line| line.strip_prefix(&prefix)?.split(',').next()?.parse().ok()).unwrap_or(0)
    }

    /// SIGKILL (no shutdown save), then a new process on the same port and directory.
    pub fn kill9_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.port, self.dir.path());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
