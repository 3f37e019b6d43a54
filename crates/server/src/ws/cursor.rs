//! Flow control for one of a connection's two mailbox queues (messages, receipts): where
//! it has read up to, what it has sent and not yet had acknowledged (at most
//! [`DELIVERY_WINDOW`]), and whether the queue was empty at the last read.

use std::collections::HashSet;

use hush_shared::ws::DELIVERY_WINDOW;
use uuid::Uuid;

/// A connection's read position in one queue.
#[derive(Default)]
pub struct QueueCursor {
    /// Sequence number of the last item sent.
    pub after: i64,
    in_flight: HashSet<Uuid>,
    exhausted: bool,
}

impl QueueCursor {
    /// How many items to read next, or `None` when the queue was empty at the last read
    /// or the window is full.
    pub fn room(&self) -> Option<usize> {
        let room = DELIVERY_WINDOW.saturating_sub(self.in_flight.len());
        (!self.exhausted && room > 0).then_some(room)
    }

    /// A read asked for `room` items and got `got`: fewer means the queue is empty.
    pub fn read(&mut self, got: usize, room: usize) {
        self.exhausted = got < room;
    }

    /// The item `id` at `seq` went out.
    pub fn sent(&mut self, seq: i64, id: Uuid) {
        self.after = seq;
        self.in_flight.insert(id);
    }

    /// The client acknowledged these: room for more, and the queue may hold more.
    pub fn acked(&mut self, ids: &[Uuid]) {
        for id in ids {
            self.in_flight.remove(id);
        }
        self.exhausted = false;
    }

    /// New items may be waiting (a wake-up).
    pub fn woken(&mut self) {
        self.exhausted = false;
    }

    /// The last read found the queue empty.
    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }
}
