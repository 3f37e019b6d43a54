//! One module per scenario, and the connection plumbing they share: a writer task per
//! socket (frames coalesced into one flush) and a reader the scenario drives.

pub mod fanout;
pub mod idle;
pub mod mailbox;
pub mod offline;
pub mod rtt;
pub mod saturate;
pub mod storm;

use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use hush_shared::ws::ClientFrame;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

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

/// Milliseconds with three decimals, for reports.
pub fn ms(nanos: u64) -> f64 {
    (nanos as f64 / 1_000.0).round() / 1_000.0
}
