//! Read receipts until the server is known to have them. The server answers no `read`
//! frame, so the engine follows its `read` frames with a `ping` (see [`ReadReceipts`]).

use hush_shared::UserId;
use hush_shared::ws::{ClientFrame, MessageId};

/// Read receipts sent but not yet known to be stored. The server answers no `read` frame,
/// but it handles one connection's frames in order: a `ping` sent after them is answered
/// with `pong` only once they are done. So each batch is followed by a ping, its pong
/// confirms the batch, and a new connection sends whatever was not confirmed again.
#[derive(Default)]
pub(crate) struct ReadReceipts {
    /// Unconfirmed batches, oldest first.
    unconfirmed: Vec<(UserId, Vec<MessageId>)>,
    /// For each ping in flight on this connection: how many batches its pong confirms.
    pings: std::collections::VecDeque<usize>,
    /// An error without a message id (a failed `read`) arrived since the last pong.
    pub(crate) failed: bool,
}

impl ReadReceipts {
    /// Adds batches to send; returns their frames and the ping that confirms them.
    pub(crate) fn send(&mut self, batches: Vec<(UserId, Vec<MessageId>)>) -> Vec<ClientFrame> {
        let from = self.unconfirmed.len();
        self.unconfirmed.extend(batches);
        self.resend_from(from)
    }

    /// Frames for the batches from index `from` on, then a confirming ping.
    fn resend_from(&mut self, from: usize) -> Vec<ClientFrame> {
        if from >= self.unconfirmed.len() {
            return vec![];
        }
        let mut out: Vec<ClientFrame> =
            self.unconfirmed[from..].iter().map(|(to, ids)| ClientFrame::Read { to: *to, ids: ids.clone() }).collect();
        out.push(ClientFrame::Ping);
        self.pings.push_back(self.unconfirmed.len());
        out
    }

    /// A new connection: nothing in flight any more; everything unconfirmed goes again.
    pub(crate) fn on_connected(&mut self) -> Vec<ClientFrame> {
        self.pings.clear();
        self.failed = false;
        self.resend_from(0)
    }

    /// A pong: confirms the batches its ping followed, unless one failed, then resends.
    pub(crate) fn on_pong(&mut self) -> Vec<ClientFrame> {
        let Some(confirmed) = self.pings.pop_front() else { return vec![] };
        if std::mem::take(&mut self.failed) {
            self.pings.clear();
            return self.resend_from(0);
        }
        self.unconfirmed.drain(..confirmed.min(self.unconfirmed.len()));
        for later in &mut self.pings {
            *later -= confirmed.min(*later);
        }
        vec![]
    }
}
