//! `hush-bench <scenario>`: starts a real `hush-server` (release build) on loopback, signs
//! people in, befriends them and runs one scenario, printing a final JSON line of figures.
//! `mailbox` alone runs in process against the store, without a server.
//! See BENCHMARKS.md for the commands and results.

mod cpu;
mod scenarios;
mod server;
mod setup;
mod wire;

use clap::{Parser, Subcommand};

/// Benchmarks for Hush.
#[derive(Parser, Debug)]
#[command(name = "hush-bench")]
struct Cli {
    /// The hush-server binary to start.
    #[arg(long, default_value = "target/release/hush-server", global = true)]
    server_bin: String,
    /// Run the server on Redis at this URL (mailbox, receipts, hub) instead of SQLite.
    #[arg(long, global = true)]
    redis_url: Option<String>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// The mailbox store alone, in process (no server, sockets or JSON): CPU per message.
    Mailbox {
        /// Sender/recipient pairs.
        #[arg(long, default_value_t = 8)]
        pairs: usize,
        /// Messages in all.
        #[arg(long, default_value_t = 200_000)]
        messages: usize,
        /// Messages per store call (the server batches what a socket already holds).
        #[arg(long, default_value_t = 64)]
        batch: usize,
    },
    /// `trickle` against an XMPP server over WebSocket (the side-by-side peer, e.g.
    /// ejabberd from `scripts/peer/side-by-side.sh`): users `u0…` with password `pw`.
    XmppTrickle {
        /// Messages in flight per pair (sent, not yet received).
        #[arg(long, default_value_t = 1)]
        in_flight: usize,
        /// The server's XMPP-over-WebSocket endpoint.
        #[arg(long, default_value = "ws://127.0.0.1:5280/ws")]
        url: String,
        /// The server's process id (its CPU is what is counted).
        #[arg(long)]
        pid: u32,
        /// Pairs of users.
        #[arg(long, default_value_t = 50)]
        pairs: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    #[command(flatten)]
    AgainstServer(ServerScenario),
}

/// The scenarios that drive a running `hush-server`.
#[derive(Subcommand, Debug)]
enum ServerScenario {
    /// Idle signed-in connections held open: server RSS per connection.
    Idle {
        /// Connections to open.
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
    },
    /// Pairs ping-ponging at a fixed offered rate: round-trip percentiles.
    Rtt {
        /// Pairs of friends.
        #[arg(long, default_value_t = 16)]
        pairs: usize,
        /// Round trips per second offered in total (each is two messages).
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Pairs sending as fast as the server takes them: messages per server CPU-second.
    Saturate {
        /// Pairs of friends.
        #[arg(long, default_value_t = 16)]
        pairs: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// One message in flight per pair (the next is sent once the last arrived), as people
    /// chat: server CPU per message when nothing batches.
    Trickle {
        /// Messages in flight per pair (sent, not yet received): more than one is the
        /// batched row of the side by side with ejabberd.
        #[arg(long, default_value_t = 1)]
        in_flight: usize,
        /// Pairs of friends.
        #[arg(long, default_value_t = 50)]
        pairs: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// `saturate` with several devices per person: messages and envelopes (copies
    /// delivered to devices) per server CPU-second.
    Fanout {
        /// Pairs of friends.
        #[arg(long, default_value_t = 8)]
        pairs: usize,
        /// Devices per person (each extra one waits 30 s for its sign-in code).
        #[arg(long, default_value_t = 2)]
        devices: usize,
        /// Sends per pair not yet answered `stored`: 1 is one message at a time, as people
        /// chat.
        #[arg(long, default_value_t = 256)]
        in_flight: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Store N messages for an offline person, then connect and drain with acks.
    Offline {
        /// Messages.
        #[arg(long, default_value_t = 20_000)]
        messages: usize,
    },
    /// Reconnect storm: authenticated connects per second and p99 connect time.
    Storm {
        /// Connections to open at once.
        #[arg(long, default_value_t = 2_000)]
        connections: usize,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    raise_file_limit();
    let redis_url = cli.redis_url.as_deref();
    let result = match cli.scenario {
        Scenario::Mailbox { pairs, messages, batch } => {
            scenarios::mailbox::run(redis_url, pairs, messages, batch.max(1)).await
        }
        Scenario::XmppTrickle { url, pid, pairs, seconds, in_flight } => {
            scenarios::xmpp::run(&url, pid, (pairs, in_flight.max(1)), seconds).await
        }
        Scenario::AgainstServer(scenario) => {
            let server = server::Server::start(&cli.server_bin, redis_url).await;
            run_against(&server, scenario).await
        }
    };
    println!("{result}");
}

async fn run_against(server: &server::Server, scenario: ServerScenario) -> serde_json::Value {
    match scenario {
        ServerScenario::Idle { connections } => scenarios::idle::run(server, connections).await,
        ServerScenario::Rtt { pairs, rate, seconds } => scenarios::rtt::run(server, pairs, rate, seconds).await,
        ServerScenario::Saturate { pairs, seconds } => scenarios::saturate::run(server, pairs, seconds).await,
        ServerScenario::Trickle { pairs, seconds, in_flight } => {
            scenarios::trickle::run(server, (pairs, in_flight.max(1)), seconds).await
        }
        ServerScenario::Fanout { pairs, devices, in_flight, seconds } => {
            scenarios::fanout::run(server, (pairs, devices.max(1), in_flight.max(1)), seconds).await
        }
        ServerScenario::Offline { messages } => scenarios::offline::run(server, messages).await,
        ServerScenario::Storm { connections } => scenarios::storm::run(server, connections).await,
    }
}

fn raise_file_limit() {
    if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
        let _ = rlimit::Resource::NOFILE.set(hard, hard);
    }
}
