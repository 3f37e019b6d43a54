//! One module per scenario, and the connection plumbing they share: a writer task per
//! socket (frames coalesced into one flush, receipt acks held as the web app holds them)
//! and a reader the scenario drives.

pub mod fanout;
pub mod idle;
pub mod mailbox;
pub mod offline;
pub mod relay;
pub mod rtt;
pub mod saturate;
pub mod storm;
pub mod trickle;
pub mod xmpp;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use hush_client::held_acks::HeldReceiptAcks;
use hush_client::native::write_frames;
use hush_shared::ws::ClientFrame;
use tokio::sync::{Semaphore, mpsc};

use crate::server::Server;
use crate::wire::Ws;

/// A socket split into a frame queue (written by its own task) and the incoming stream.
/// The writer holds receipt acks for the next frame, or until due, as every Hush client
/// does (`hush_client::held_acks`).
pub fn split(ws: Ws) -> (mpsc::UnboundedSender<ClientFrame>, SplitStream<Ws>) {
    let (mut sink, stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<ClientFrame>();
    tokio::spawn(async move {
        let mut held = HeldReceiptAcks::default();
        let epoch = Instant::now();
        let now_ms = || epoch.elapsed().as_millis() as i64;
        loop {
            let next = match held.due_at() {
                None => rx.recv().await,
                Some(due) => {
                    let wait = Duration::from_millis((due - now_ms()).max(0) as u64);
                    tokio::time::timeout(wait, rx.recv()).await.unwrap_or(None)
                }
            };
            // Every sender gone: the acks held go last.
            let last = next.is_none() && rx.is_closed() && rx.is_empty();
            let mut batch: Vec<ClientFrame> = next.into_iter().collect();
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let batch = if last { held.take() } else { held.outgoing(batch, now_ms()) };
            if write_frames(&mut sink, batch).await.is_err() || last {
                return;
            }
        }
    });
    (tx, stream)
}

/// Sends `frame()` on `tx` each time the window has room (the answer to a send gives a
/// permit back), until `stop`.
pub fn keep_sending(
    tx: mpsc::UnboundedSender<ClientFrame>,
    window: Arc<Semaphore>,
    stop: Arc<AtomicBool>,
    frame: impl Fn() -> ClientFrame + Send + 'static,
) {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let Ok(permit) = window.acquire().await else { return };
            permit.forget();
            if tx.send(frame()).is_err() {
                return;
            }
        }
    });
}

/// What a measured stretch cost: server CPU-seconds, `redis-server` CPU-seconds and the
/// commands it ran (on Redis), wall seconds.
pub struct Measured {
    pub cpu: f64,
    pub redis: Option<f64>,
    pub redis_commands: Option<u64>,
    pub wall: f64,
}

/// What a server has spent so far: its CPU-seconds, and its store's CPU-seconds and
/// commands when the store is a process of its own.
pub struct Spent {
    pub cpu: f64,
    pub store_cpu: Option<f64>,
    pub store_commands: Option<u64>,
}

/// Warms up for a second, then counts (`counting` set) for `seconds` and stops the senders.
pub async fn measure(server: &Server, counting: &AtomicBool, stop: &AtomicBool, seconds: u64) -> Measured {
    let spent = || Spent {
        cpu: server.cpu_seconds(),
        store_cpu: server.redis_cpu_seconds(),
        store_commands: server.redis_commands(),
    };
    measure_cpu(spent, counting, stop, seconds).await
}

/// [`measure`] for any server: `spent()` says what it has spent so far.
pub async fn measure_cpu(
    spent: impl Fn() -> Spent,
    counting: &AtomicBool,
    stop: &AtomicBool,
    seconds: u64,
) -> Measured {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (before, t0) = (spent(), Instant::now());
    counting.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    counting.store(false, Ordering::Relaxed);
    let (after, wall) = (spent(), t0.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    Measured {
        cpu: after.cpu - before.cpu,
        redis: after.store_cpu.zip(before.store_cpu).map(|(after, before)| after - before),
        redis_commands: after
            .store_commands
            .zip(before.store_commands)
            .map(|(after, before)| after.saturating_sub(before)),
        wall,
    }
}

/// `n` per second over `seconds`, rounded (0 when no time passed), for reports.
pub fn per_second(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { (n as f64 / seconds).round() } else { 0.0 }
}

/// Microseconds of `seconds` per one of `n`, to a tenth (0 when there were none), for reports.
pub fn micros_each(seconds: f64, n: u64) -> f64 {
    if n > 0 { (seconds * 1e7 / n as f64).round() / 10.0 } else { 0.0 }
}

/// `count` per one of `n`, to a hundredth (0 when there were none), for reports.
pub fn each(count: u64, n: u64) -> f64 {
    if n > 0 { (count as f64 * 100.0 / n as f64).round() / 100.0 } else { 0.0 }
}

/// Seconds rounded to hundredths, for reports.
pub fn hundredths(seconds: f64) -> f64 {
    (seconds * 100.0).round() / 100.0
}

/// Milliseconds with three decimals, for reports.
pub fn ms(nanos: u64) -> f64 {
    (nanos as f64 / 1_000.0).round() / 1_000.0
}
