//! Flow control for one of a connection's two mailbox queues (messages, receipts): where
//! it has read up to, what it has sent and not yet had acknowledged (at most its window:
//! [`DELIVERY_WINDOW`] messages, [`RECEIPT_WINDOW`] receipts), and whether the queue was
//! empty at the last read. Each item sent is remembered with its *owner* — for a message
//! its sender, since a client acks by id and senders choose ids, so only what this
//! connection handed out tells whose message an ack means.

use hush_shared::ws::{DELIVERY_WINDOW, RECEIPT_WINDOW};
use uuid::Uuid;

use crate::maps::{HashMap, HashMapExt};
use crate::store::Preceding;

/// An item this connection sent: whose it is, its id and where it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandedOut {
    pub owner: Uuid,
    pub id: Uuid,
    pub seq: i64,
}

/// A connection's read position in one queue.
pub struct QueueCursor {
    /// Items it keeps in flight at most.
    window: usize,
    /// Sequence number of the last item sent.
    pub after: i64,
    /// Id → owners and positions of the items sent under it (one, unless two senders chose
    /// the same id).
    in_flight: HashMap<Uuid, Vec<(Uuid, i64)>>,
    in_flight_count: usize,
    exhausted: bool,
}

impl QueueCursor {
    /// The cursor of a connection's message queue.
    pub fn messages() -> Self {
        Self::with_window(DELIVERY_WINDOW)
    }

    /// The cursor of a connection's receipt queue.
    pub fn receipts() -> Self {
        Self::with_window(RECEIPT_WINDOW)
    }

    fn with_window(window: usize) -> Self {
        Self { window, after: 0, in_flight: HashMap::new(), in_flight_count: 0, exhausted: false }
    }

    /// How many items to read next, or `None` when the queue was empty at the last read
    /// or the window is full.
    pub fn room(&self) -> Option<usize> {
        let room = self.window.saturating_sub(self.in_flight_count);
        (!self.exhausted && room > 0).then_some(room)
    }

    /// A read asked for `room` items and got `got`: fewer means the queue is empty.
    pub fn read(&mut self, got: usize, room: usize) {
        self.exhausted = got < room;
    }

    /// The item `id` of `owner` at `seq` went out.
    pub fn sent(&mut self, seq: i64, id: Uuid, owner: Uuid) {
        self.after = seq;
        self.in_flight.entry(id).or_default().push((owner, seq));
        self.in_flight_count += 1;
    }

    /// The client acknowledged these: room for more. Whether the queue holds more is
    /// unchanged: a read that filled the window left it not exhausted, and anything stored
    /// after a read that found the queue empty comes with a wake-up — so an ack costs no
    /// mailbox read of its own when nothing is waiting (one message in flight, as people
    /// chat).
    ///
    /// Returns each acknowledged item this connection sent; an id it did not send (or sent
    /// and already had acknowledged) is not in the list.
    pub fn acked(&mut self, ids: &[Uuid]) -> Vec<HandedOut> {
        let mut acked = Vec::with_capacity(ids.len());
        for id in ids {
            for (owner, seq) in self.in_flight.remove(id).unwrap_or_default() {
                self.in_flight_count -= 1;
                acked.push(HandedOut { owner, id: *id, seq });
            }
        }
        acked
    }

    /// Whether an item stored right after the one at `prev` can be sent without reading:
    /// the last read found nothing after what this connection sent last, which is where
    /// `prev` is, and the window has room.
    pub fn can_take(&self, prev: Preceding) -> bool {
        self.exhausted && prev.holds(self.after) && self.in_flight_count < self.window
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_after_the_queue_was_found_empty_needs_no_read() {
        let mut cursor = QueueCursor::messages();
        let room = cursor.room().unwrap();
        let id = Uuid::now_v7();
        cursor.sent(7, id, Uuid::nil());
        cursor.read(1, room);
        assert!(cursor.is_exhausted());
        cursor.acked(&[id]);
        assert_eq!(cursor.room(), None, "nothing new was stored: no read until a wake-up");
        cursor.woken();
        assert_eq!(cursor.room(), Some(DELIVERY_WINDOW));
        assert_eq!(cursor.after, 7);
    }

    #[test]
    fn an_item_is_taken_without_a_read_only_right_after_what_was_sent_and_found_last() {
        let at = Preceding::exactly;
        let mut cursor = QueueCursor::messages();
        assert!(!cursor.can_take(at(0)), "never read: read first");
        let room = cursor.room().unwrap();
        cursor.sent(7, Uuid::now_v7(), Uuid::nil());
        cursor.read(1, room);
        assert!(cursor.can_take(at(7)) && !cursor.can_take(at(5)), "only after the last one sent");
        cursor.sent(9, Uuid::now_v7(), Uuid::nil());
        assert!(cursor.can_take(at(9)) && !cursor.can_take(at(7)));
        let either = |lowest, highest| Preceding { lowest, highest };
        assert!(cursor.can_take(either(8, 9)) && cursor.can_take(either(9, 10)) && !cursor.can_take(either(10, 11)));
        cursor.woken();
        assert!(!cursor.can_take(at(9)), "something else may be waiting: read first");
        let mut full = QueueCursor::messages();
        full.read(0, DELIVERY_WINDOW);
        for seq in 1..=DELIVERY_WINDOW as i64 {
            assert!(full.can_take(at(seq - 1)));
            full.sent(seq, Uuid::now_v7(), Uuid::nil());
        }
        assert!(!full.can_take(at(DELIVERY_WINDOW as i64)), "the window is full");
    }

    #[test]
    fn an_ack_that_opens_a_full_window_lets_the_next_read_happen() {
        let mut cursor = QueueCursor::messages();
        let ids: Vec<Uuid> = (0..DELIVERY_WINDOW).map(|_| Uuid::now_v7()).collect();
        for (seq, id) in ids.iter().enumerate() {
            cursor.sent(seq as i64 + 1, *id, Uuid::nil());
        }
        cursor.read(DELIVERY_WINDOW, DELIVERY_WINDOW);
        assert_eq!(cursor.room(), None, "window full");
        cursor.acked(&ids[..2]);
        assert_eq!(cursor.room(), Some(2), "the queue may hold more: read them");
    }

    #[test]
    fn the_receipt_queue_keeps_a_wider_window_than_the_message_queue() {
        let (mut messages, mut receipts) = (QueueCursor::messages(), QueueCursor::receipts());
        assert_eq!((messages.room(), receipts.room()), (Some(DELIVERY_WINDOW), Some(RECEIPT_WINDOW)));
        messages.read(0, DELIVERY_WINDOW);
        receipts.read(0, RECEIPT_WINDOW);
        for seq in 1..=DELIVERY_WINDOW as i64 {
            messages.sent(seq, Uuid::now_v7(), Uuid::nil());
            receipts.sent(seq, Uuid::now_v7(), Uuid::nil());
        }
        let next = Preceding::exactly(DELIVERY_WINDOW as i64);
        assert!(!messages.can_take(next) && receipts.can_take(next));
    }

    #[test]
    fn an_ack_names_every_sender_of_that_id_and_nothing_not_handed_out() {
        let mut cursor = QueueCursor::messages();
        let (alice, carol, shared, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        cursor.sent(1, shared, alice);
        cursor.sent(2, shared, carol);
        assert_eq!(cursor.room(), Some(DELIVERY_WINDOW - 2));
        assert_eq!(cursor.acked(&[other]), vec![], "never handed out here");
        let both = vec![HandedOut { owner: alice, id: shared, seq: 1 }, HandedOut { owner: carol, id: shared, seq: 2 }];
        assert_eq!(cursor.acked(&[shared]), both);
        assert_eq!(cursor.acked(&[shared]), vec![], "already acknowledged");
        cursor.woken();
        assert_eq!(cursor.room(), Some(DELIVERY_WINDOW));
    }
}
