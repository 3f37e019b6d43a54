//! Copies this process stored and no one acked yet, remembered with how many copies their
//! message went to. The usual ack is of a copy handed to a live connection moments before;
//! deciding how to write it (`mailbox::defer_acks`) needs only that count, which was read
//! back from the table in a read transaction of its own for every ack (BENCHMARKS.md,
//! "Acks decided from memory"). A copy not remembered is looked up as before.
//!
//! Exact for the one process that serves the database, as the mailbox counters are: a copy
//! is remembered only once the transaction that stored it committed (for a send, once its
//! rows are in the batch of sends, `group_commit`: a batch that fails forgets them all), is
//! taken by its first ack (or by the ack or retry that deletes it at once), and every other
//! way copies go or move forgets them all: expiry, and through
//! [`super::MailboxMemory::forget_rows`] a mailbox closed or opened, a pair's messages
//! purged, an account deleted. Past [`MAX_REMEMBERED`] the oldest are forgotten (copies of
//! devices that stay away).

use std::collections::VecDeque;

use hush_shared::UserId;
use uuid::Uuid;

use crate::maps::HashMap;
use crate::store::{Mailbox, MessageRef};

/// Copies remembered at most.
pub const MAX_REMEMBERED: usize = 4096;

/// Where a copy is: its mailbox and `seq`.
type Place = (Mailbox, i64);

/// What is remembered of a copy: its message, and how many copies went to the recipient's
/// devices (0: not known).
#[derive(Clone, Copy)]
struct Remembered {
    sender: UserId,
    id: Uuid,
    copies: i64,
}

/// The copies remembered, and the order they were stored in (places of copies taken since
/// stay in the order until they reach its front).
#[derive(Default)]
pub struct UnackedCopies {
    copies: HashMap<Place, Remembered>,
    order: VecDeque<Place>,
}

impl UnackedCopies {
    /// A copy of `message` (of `sender`) was stored at `seq` in `mailbox`, and committed (or
    /// written into the batch of sends).
    pub fn stored(&mut self, (mailbox, seq): Place, sender: UserId, id: Uuid, copies: i64) {
        if self.order.len() >= MAX_REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.copies.remove(&oldest);
        }
        self.copies.insert((mailbox, seq), Remembered { sender, id, copies });
        self.order.push_back((mailbox, seq));
    }

    /// How many copies `message`'s message went to, if its copy in `mailbox` is remembered;
    /// it is forgotten (acked).
    pub fn take(&mut self, mailbox: Mailbox, message: &MessageRef) -> Option<i64> {
        let place = (mailbox, message.seq);
        let copy = *self.copies.get(&place)?;
        if copy.sender != message.sender || copy.id != message.id {
            return None;
        }
        self.copies.remove(&place);
        Some(copy.copies)
    }

    /// Copies went or moved other than by an ack: nothing remembered holds.
    pub fn forget(&mut self) {
        self.copies.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{store_one, two_open_mailboxes};
    use super::*;
    use crate::store::MailboxStore;
    use hush_shared::DeviceId;

    /// A copy remembered and then expired is not acked from memory: its sender hears
    /// `expired`, never `delivered`.
    #[tokio::test]
    async fn a_copy_gone_another_way_is_not_acked_from_memory() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let ack = store_one(&store, a1, b1, 0).await;
        assert_eq!(store.expire(200, 100, 10).await.unwrap(), vec![a1.user]);
        assert!(store.ack_messages(b1, &[ack], 201).await.unwrap().is_empty(), "no one is told");
        store.flush().await.unwrap();
        let kinds: Vec<_> = store.fetch_receipts(a1, 0, 10).await.unwrap().into_iter().map(|r| r.kind).collect();
        assert_eq!(kinds, vec![hush_shared::ws::ReceiptKind::Expired]);
    }

    #[test]
    fn a_copy_is_taken_once_by_the_ack_naming_it_and_the_oldest_go_past_the_bound() {
        let mailbox = Mailbox { user: UserId::new(), device: DeviceId::new() };
        let (sender, id) = (UserId::new(), Uuid::now_v7());
        let mut unacked = UnackedCopies::default();
        unacked.stored((mailbox, 7), sender, id, 2);
        let other_message = MessageRef { sender, id: Uuid::now_v7(), seq: 7 };
        assert_eq!(unacked.take(mailbox, &other_message), None, "another message at that place");
        let ack = MessageRef { sender, id, seq: 7 };
        assert_eq!(unacked.take(mailbox, &ack), Some(2));
        assert_eq!(unacked.take(mailbox, &ack), None, "taken");

        for seq in 0..MAX_REMEMBERED as i64 + 1 {
            unacked.stored((mailbox, 100 + seq), sender, id, 1);
        }
        assert_eq!(unacked.take(mailbox, &MessageRef { sender, id, seq: 100 }), None, "the oldest went");
        assert_eq!(unacked.take(mailbox, &MessageRef { sender, id, seq: 101 }), Some(1));
        assert!(unacked.copies.len() < MAX_REMEMBERED && unacked.order.len() <= MAX_REMEMBERED);
        unacked.forget();
        assert_eq!(unacked.take(mailbox, &MessageRef { sender, id, seq: 102 }), None);
    }
}
