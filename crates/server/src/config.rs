//! Configuration: one struct, read from flags and `HUSH_*` environment variables (flags
//! win). Every option and its default is listed in the README.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Which SMS provider delivers sign-in codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmsProviderKind {
    /// Print the code in the server log (development).
    Console,
    /// Send through Twilio's REST Messages API.
    Twilio,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Everything `hush-server` can be told.
#[derive(Debug, Clone, Parser)]
#[command(name = "hush-server", version, about = "Hush: self-hosted end-to-end-encrypted chat")]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "HUSH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Directory for the embedded database and the generated JWT secret.
    #[arg(long, env = "HUSH_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// The origin people open in their browser, e.g. `https://chat.example.org`.
    /// Defaults to `http://<bind>`. Decides the `Secure` cookie flag.
    #[arg(long, env = "HUSH_PUBLIC_ORIGIN")]
    pub public_origin: Option<String>,

    /// Directory of the built web app to serve at `/` (none: API only).
    #[arg(long, env = "HUSH_WEB_DIR")]
    pub web_dir: Option<PathBuf>,

    /// Secret for signing access tokens (at least 32 characters). If unset, one is
    /// generated on first start and kept in `<data dir>/jwt_secret` (mode 0600).
    #[arg(long, env = "HUSH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// SMS provider for sign-in codes.
    #[arg(long, env = "HUSH_SMS_PROVIDER", value_enum, default_value = "console")]
    pub sms_provider: SmsProviderKind,

    /// Twilio account SID (`AC…`).
    #[arg(long, env = "HUSH_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,

    /// Twilio auth token.
    #[arg(long, env = "HUSH_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,

    /// Sender: a Twilio phone number in E.164, or a Messaging Service SID (`MG…`).
    #[arg(long, env = "HUSH_TWILIO_FROM")]
    pub twilio_from: Option<String>,

    /// Base URL of Twilio's REST API (change only to point at a test double).
    #[arg(long, env = "HUSH_TWILIO_API_BASE", default_value = "https://api.twilio.com")]
    pub twilio_api_base: String,

    /// Take the client address from the last `X-Forwarded-For` hop (only behind a
    /// reverse proxy you run; otherwise clients could choose their rate-limit bucket).
    #[arg(long, env = "HUSH_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    /// Seconds before a request is answered with `timeout`.
    #[arg(long, env = "HUSH_REQUEST_TIMEOUT_SECS", default_value_t = 15)]
    pub request_timeout_secs: u64,

    /// Days an undelivered message waits in the mailbox before it expires (the sender
    /// then gets an `expired` receipt).
    #[arg(long, env = "HUSH_MAILBOX_TTL_DAYS", default_value_t = 30)]
    pub mailbox_ttl_days: u32,

    /// Messages one device's mailbox may hold; beyond it senders get `mailbox_full`.
    #[arg(long, env = "HUSH_MAILBOX_MAX_MESSAGES", default_value_t = 10_000)]
    pub mailbox_max_messages: u32,

    /// The contact push services see in the server's VAPID tokens (`mailto:` or `https:`
    /// URI); the public origin when not set.
    #[arg(long, env = "HUSH_PUSH_SUBJECT")]
    pub push_subject: Option<String>,

    /// Tests only: take push endpoints on `http` and on loopback or private addresses
    /// (a local push-service stand-in). Never in production: it lets a signed-in person
    /// make the server post to the operator's own network.
    #[arg(long, env = "HUSH_PUSH_ALLOW_PRIVATE", default_value_t = false)]
    pub push_allow_private: bool,

    /// Devices (linked browsers) one account may have at a time.
    #[arg(long, env = "HUSH_MAX_DEVICES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_devices: u32,

    /// Live WebSocket connections one account may hold per server node.
    #[arg(long, env = "HUSH_MAX_CONNECTIONS_PER_ACCOUNT", default_value_t = 16)]
    pub max_connections_per_account: usize,

    /// WebSocket frames a connection may send per second (sustained; bursts of twice
    /// that are allowed).
    #[arg(long, env = "HUSH_WS_FRAMES_PER_SEC", default_value_t = 200)]
    pub ws_frames_per_sec: u32,

    /// Seconds between WebSocket pings; a connection silent for 2.5 times this is closed.
    #[arg(long, env = "HUSH_WS_PING_SECS", default_value_t = 30)]
    pub ws_ping_secs: u64,

    /// Seconds between sweeps for expired mailbox messages.
    #[arg(long, env = "HUSH_SWEEP_INTERVAL_SECS", default_value_t = 60)]
    pub sweep_interval_secs: u64,

    /// Threads serving connections. Default: one with the embedded store, whose work all
    /// goes through one SQLite connection — a second thread then mostly adds hand-offs
    /// between threads (BENCHMARKS.md, "One serving thread") —, and one per CPU with Redis.
    #[arg(long, env = "HUSH_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,

    /// Redis URL (e.g. `redis://127.0.0.1:6379/0`). When set, the mailbox, receipts, rate
    /// limits, presence and cross-node fan-out live in Redis, so several nodes can serve
    /// one deployment.
    #[arg(long, env = "HUSH_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key, so deployments can share a Redis.
    #[arg(long, env = "HUSH_REDIS_PREFIX", default_value = "hush")]
    pub redis_prefix: String,

    /// MongoDB URI (e.g. `mongodb://mongo:27017`). When set, accounts, sessions, sign-in
    /// codes and friendships live in MongoDB instead of the embedded SQLite file.
    #[arg(long, env = "HUSH_MONGODB_URI", hide_env_values = true)]
    pub mongodb_uri: Option<String>,

    /// MongoDB database name.
    #[arg(long, env = "HUSH_MONGODB_DATABASE", default_value = "hush")]
    pub mongodb_database: String,

    /// Bearer token that lets a scraper read `/metrics` from anywhere. Unset: `/metrics`
    /// answers loopback clients only.
    #[arg(long, env = "HUSH_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Do not serve: write a consistent copy of the embedded database and the signing
    /// secret into this new directory (safe while a server runs on the same data
    /// directory), then exit.
    #[arg(long, value_name = "DIR")]
    pub backup_to: Option<PathBuf>,

    /// Do not serve: ask the server listening on `HUSH_BIND` whether it is ready
    /// (`/readyz`) and exit 0 if so, 1 if not. For container health checks.
    #[arg(long)]
    pub probe: bool,

    /// Do not serve: validate the configuration and reach every configured backend
    /// (SQLite, MongoDB, Redis) without changing anything, print one line per check and exit
    /// 0 if all passed, 1 if not. Run it before a restart or an upgrade.
    #[arg(long)]
    pub check_config: bool,

    /// Log format.
    #[arg(long, env = "HUSH_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl Config {
    /// How many threads serve connections ([`Self::worker_threads`], or its default).
    pub fn serving_threads(&self) -> usize {
        match (self.worker_threads, &self.redis_url) {
            (Some(threads), _) => usize::from(threads),
            (None, None) => 1,
            (None, Some(_)) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// The public origin, defaulting to `http://<bind>`.
    pub fn public_origin(&self) -> String {
        self.public_origin.clone().unwrap_or_else(|| format!("http://{}", self.bind)).trim_end_matches('/').to_owned()
    }

    /// Whether people reach the server over https (refresh cookie gets `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_origin().starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        Config::try_parse_from([&["hush-server"], args].concat()).unwrap()
    }

    /// One serving thread on the embedded store, one per CPU with Redis, unless told.
    #[test]
    fn serving_threads_follow_the_store_unless_set() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(parse(&[]).serving_threads(), 1);
        assert_eq!(parse(&["--redis-url", "redis://127.0.0.1:6379/0"]).serving_threads(), cpus);
        assert_eq!(parse(&["--worker-threads", "3"]).serving_threads(), 3);
        assert_eq!(parse(&["--worker-threads", "2", "--redis-url", "redis://127.0.0.1:6379/0"]).serving_threads(), 2);
        assert!(Config::try_parse_from(["hush-server", "--worker-threads", "0"]).is_err());
    }
}
