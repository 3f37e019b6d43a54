//! One module per scenario, and the connection plumbing they share: a writer task per
//! socket (frames coalesced into one flush) and a reader the scenario drives.

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

use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use hush_shared::ws::ClientFrame;
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;

use crate::server::Server;
use crate::wire::Ws;

/// A socket split into a frame queue (written by its own task) and the incoming stream.
pub fn split(ws: Ws) -> (mpsc::UnboundedSender<ClientFrame>, SplitStream<Ws>) {
    let (mut sink, stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<ClientFrame>();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            let mut batch = vec![frame];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            for frame in hush_client::engine::coalesce(batch) {
                let text = serde_json::to_string(&frame).unwrap_or_default();
                if sink.feed(Message::text(text)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
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

/// What a measured stretch cost: server CPU-seconds, `redis-server` CPU-seconds (on
/// Redis), wall seconds.
pub struct Measured {
    pub cpu: f64,
    pub redis: Option<f64>,
    pub wall: f64,
}

/// Warms up for a second, then counts (`counting` set) for `seconds` and stops the senders.
pub async fn measure(server: &Server, counting: &AtomicBool, stop: &AtomicBool, seconds: u64) -> Measured {
    measure_cpu(|| (server.cpu_seconds(), server.redis_cpu_seconds()), counting, stop, seconds).await
}

/// [`measure`] for any server: `cpu()` gives its CPU-seconds so far (and its store's, if
/// separate).
pub async fn measure_cpu(
    cpu: impl Fn() -> (f64, Option<f64>),
    counting: &AtomicBool,
    stop: &AtomicBool,
    seconds: u64,
) -> Measured {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ((cpu0, store0), t0) = (cpu(), Instant::now());
    counting.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    counting.store(false, Ordering::Relaxed);
    let ((cpu1, store1), wall) = (cpu(), t0.elapsed().as_secs_f64());
    let redis = store1.zip(store0).map(|(after, before)| after - before);
    stop.store(true, Ordering::Relaxed);
    Measured { cpu: cpu1 - cpu0, redis, wall }
}

/// `n` per second over `seconds`, rounded (0 when no time passed), for reports.
pub fn per_second(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { (n as f64 / seconds).round() } else { 0.0 }
}

/// Microseconds of `seconds` per one of `n`, to a tenth (0 when there were none), for reports.
pub fn micros_each(seconds: f64, n: u64) -> f64 {
    if n > 0 { (seconds * 1e7 / n as f64).round() / 10.0 } else { 0.0 }
}

/// Seconds rounded to hundredths, for reports.
pub fn hundredths(seconds: f64) -> f64 {
    (seconds * 100.0).round() / 100.0
}

/// Milliseconds with three decimals, for reports.
pub fn ms(nanos: u64) -> f64 {
    (nanos as f64 / 1_000.0).round() / 1_000.0
}
