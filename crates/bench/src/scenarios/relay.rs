//! The relay loop `saturate` and `trickle` share: pairs of friends, A sends ~300-byte
//! envelopes to B as its window allows, B acks each message, A acknowledges each receipt.
//! What differs is what opens A's window again ([`Window`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hush_shared::ws::{ClientFrame, ServerFrame};
use tokio::sync::Semaphore;

use super::{Measured, keep_sending, measure, split};
use crate::server::Server;
use crate::{setup, wire};

/// How many messages a sender keeps in flight, and what frees a slot.
#[derive(Clone, Copy)]
pub enum Window {
    /// Up to this many sends unanswered; the server's `stored` (or an error) frees one.
    Answered(usize),
    /// Up to this many messages not yet received; an arrival at the recipient frees one.
    Delivered(usize),
}

/// Messages relayed (received by recipients) in the measured stretch, and its cost.
pub struct Relayed {
    pub messages: u64,
    pub measured: Measured,
}

/// Runs `pairs` senders for `seconds` (after a second's warm-up) under `window`.
pub async fn run(server: &Server, pairs: usize, seconds: u64, window: Window) -> Relayed {
    let people = setup::pairs(server, pairs).await;
    let relayed = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    for (a, b) in people {
        let ws_a = wire::connect(&server.ws_url(), &a.token, a.ip).await.expect("connect a");
        let ws_b = wire::connect(&server.ws_url(), &b.token, b.ip).await.expect("connect b");
        let (tx_a, mut rx_a) = split(ws_a);
        let (tx_b, mut rx_b) = split(ws_b);
        let slots = Arc::new(Semaphore::new(match window {
            Window::Answered(n) | Window::Delivered(n) => n,
        }));
        let (arrived, relayed, counting) = (slots.clone(), relayed.clone(), counting.clone());
        tokio::spawn(async move {
            while let Some(frame) = wire::next(&mut rx_b).await {
                if let ServerFrame::Message { id, .. } = frame {
                    let _ = tx_b.send(ClientFrame::Ack { ids: vec![id] });
                    if counting.load(Ordering::Relaxed) {
                        relayed.fetch_add(1, Ordering::Relaxed);
                    }
                    if matches!(window, Window::Delivered(_)) {
                        arrived.add_permits(1);
                    }
                }
            }
        });
        let (answered, tx_ack) = (slots.clone(), tx_a.clone());
        tokio::spawn(async move {
            while let Some(frame) = wire::next(&mut rx_a).await {
                match frame {
                    ServerFrame::Stored { .. } | ServerFrame::Error { .. } if matches!(window, Window::Answered(_)) => {
                        answered.add_permits(1)
                    }
                    ServerFrame::Receipt { id, .. } => {
                        let _ = tx_ack.send(ClientFrame::ReceiptAck { ids: vec![id] });
                    }
                    _ => {}
                }
            }
        });
        let envelope = wire::envelope();
        keep_sending(tx_a, slots, stop.clone(), move || wire::send_frame(uuid::Uuid::now_v7(), &b, &envelope));
    }
    let measured = measure(server, &counting, &stop, seconds).await;
    Relayed { messages: relayed.load(Ordering::Relaxed), measured }
}
