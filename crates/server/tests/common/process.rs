//! `hush-server` as a real process: started with `HUSH_*` variables, its log collected,
//! stopped with SIGTERM or killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct ServerProcess {
    pub child: Child,
    pub url: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// A port that was free a moment ago (for restarting a server on the same address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl ServerProcess {
    /// Starts the binary on `bind` (`127.0.0.1:0` for any port) with extra variables.
    pub fn start(data_dir: &Path, bind: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hush-server"));
        command
            .env_clear()
            .env("HUSH_BIND", bind)
            .env("HUSH_DATA_DIR", data_dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL printed; log: {:?}", log.lock().unwrap()))
            .to_owned();
        Self { child, url, log }
    }

    pub fn ws_url(&self) -> String {
        format!("{}/api/v1/ws", self.url.replacen("http://", "ws://", 1))
    }

    /// Sign-in codes texted to `phone` so far, oldest first, from the console provider's
    /// log lines.
    fn codes_for(&self, phone: &str) -> Vec<String> {
        let prefix = format!("SMS to {phone}: Your Hush code is ");
        let log = self.log.lock().unwrap();
        log.iter()
            .filter_map(|l| {
                let at = l.find(&prefix)?;
                Some(l[at + prefix.len()..].get(..6)?.to_owned())
            })
            .collect()
    }

    /// The first code texted to `phone` after the `seen` already logged (a person signing
    /// in again must not pick up the code of the time before while the new line is on its
    /// way).
    fn next_code_for(&self, phone: &str, seen: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(code) = self.codes_for(phone).into_iter().nth(seen) {
                return code;
            }
            assert!(Instant::now() < deadline, "no new SMS line for {phone} in the log");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Signs a number in over HTTP, reading the code from the log.
    pub async fn sign_in(&self, phone: &str) -> super::Person {
        let http = reqwest::Client::new();
        let seen = self.codes_for(phone).len();
        let r = http
            .post(format!("{}/api/v1/auth/code", self.url))
            .json(&serde_json::json!({ "phone": phone }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let sent: serde_json::Value = r.json().await.unwrap();
        let code = self.next_code_for(phone, seen);
        let body: serde_json::Value = http
            .post(format!("{}/api/v1/auth/verify", self.url))
            .json(&serde_json::json!({ "phone": phone, "challenge": sent["challenge"], "code": code }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        super::Person {
            phone: phone.into(),
            user_id: body["user"]["user_id"].as_str().unwrap().into(),
            token: body["access_token"].as_str().unwrap().into(),
            refresh_cookie: String::new(),
        }
    }

    fn signal(&self, name: &str) {
        Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().unwrap();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        self.wait()
    }

    /// SIGKILL, then waits for the exit.
    pub fn kill9(mut self) {
        self.signal("KILL");
        self.wait();
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "hush-server did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
