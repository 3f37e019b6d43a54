//! Whether this node publishes its hub events to the other nodes at all. A deployment on
//! Redis often runs a single node, and then every event it published (two per message: the
//! recipient's wake-up, then the sender's for the `delivered` receipt) was one more round
//! trip to Redis and came back to this node alone, to be parsed and ignored — 12–14 % of
//! the cost of a message sent one at a time (BENCHMARKS.md, "Real chat on Redis").
//!
//! The gate *closes* when a publish reached no subscriber but this node (Redis answers
//! `PUBLISH` with the number of subscribers it reached) while this node's own subscription
//! is up. It *opens* again when anything arrives from another node (an event, or the hello
//! every node publishes when it subscribes and every few seconds after), when this node's
//! own hello reached another subscriber, or when this node's subscription is lost (it can
//! no longer know who listens). Opening bumps an epoch, so the answer to a publish sent
//! before another node appeared cannot close the gate after that node was heard. A gate
//! that opens after being closed may have skipped events the new node needed: the caller
//! then asks every node to wake all its connections, which re-read their mailboxes and
//! find whatever those events were about (a wake-up only ever prompts a read; nothing is
//! lost while a gate is closed, and nothing waits once it opens).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The gate: an epoch and whether it is open, in one word (`epoch << 1 | open`), and whether
/// this node's subscription is up.
#[derive(Debug)]
pub struct PublishGate {
    state: AtomicU64,
    subscribed: AtomicBool,
}

/// The gate as a publish found it ([`PublishGate::ticket`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl Ticket {
    /// Whether events are to be published.
    pub fn is_open(self) -> bool {
        self.0 & 1 == 1
    }
}

impl Default for PublishGate {
    /// Open, not yet subscribed.
    fn default() -> Self {
        Self { state: AtomicU64::new(1), subscribed: AtomicBool::new(false) }
    }
}

impl PublishGate {
    /// The gate as it is now, to publish with (or not, when closed).
    pub fn ticket(&self) -> Ticket {
        Ticket(self.state.load(Ordering::Acquire))
    }

    /// A publish made with `ticket` reached `receivers` subscribers: when that is this node
    /// alone (or no one) and this node's subscription is up, the gate closes — unless it
    /// opened again since the ticket was taken.
    pub fn published(&self, ticket: Ticket, receivers: i64) {
        if ticket.is_open() && receivers <= 1 && self.subscribed.load(Ordering::Acquire) {
            let closed = ticket.0 & !1;
            let _ = self.state.compare_exchange(ticket.0, closed, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Another node was heard from, or this node can no longer tell who listens: the gate
    /// opens (a new epoch, whatever its state). Returns whether it was closed — events may
    /// have been skipped, so every node should wake all its connections.
    pub fn open(&self) -> bool {
        let before = self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| Some(((s >> 1) + 1) << 1 | 1));
        before.is_ok_and(|s| s & 1 == 0)
    }

    /// This node's subscription is up.
    pub fn subscribed(&self) {
        self.subscribed.store(true, Ordering::Release);
    }

    /// This node's subscription is lost: the gate opens ([`Self::open`]'s answer).
    pub fn unsubscribed(&self) -> bool {
        self.subscribed.store(false, Ordering::Release);
        self.open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribed_gate() -> PublishGate {
        let gate = PublishGate::default();
        gate.subscribed();
        gate
    }

    #[test]
    fn a_publish_only_this_node_heard_closes_the_gate_and_another_node_opens_it() {
        let gate = subscribed_gate();
        let ticket = gate.ticket();
        assert!(ticket.is_open(), "a new gate publishes");
        gate.published(ticket, 2);
        assert!(gate.ticket().is_open(), "another node listens");
        gate.published(gate.ticket(), 1);
        assert!(!gate.ticket().is_open(), "this node alone heard it");
        gate.published(gate.ticket(), 1);
        assert!(!gate.ticket().is_open());
        assert!(gate.open(), "it was closed: events may have been skipped");
        assert!(gate.ticket().is_open());
        assert!(!gate.open(), "it was open already");
        assert!(gate.ticket().is_open());
    }

    #[test]
    fn the_answer_to_a_publish_sent_before_another_node_was_heard_does_not_close_the_gate() {
        let gate = subscribed_gate();
        let before = gate.ticket();
        assert!(!gate.open(), "a hello while open");
        gate.published(before, 1);
        assert!(gate.ticket().is_open(), "the stale answer is ignored");
        gate.published(gate.ticket(), 1);
        assert!(!gate.ticket().is_open(), "a fresh answer counts");
    }

    #[test]
    fn without_its_own_subscription_the_node_cannot_tell_who_listens() {
        let gate = PublishGate::default();
        gate.published(gate.ticket(), 0);
        assert!(gate.ticket().is_open(), "not subscribed yet: the count says nothing");
        gate.subscribed();
        gate.published(gate.ticket(), 1);
        assert!(!gate.ticket().is_open());
        assert!(gate.unsubscribed(), "losing the subscription opens a closed gate");
        gate.published(gate.ticket(), 0);
        assert!(gate.ticket().is_open(), "and it stays open until subscribed again");
        assert!(!gate.unsubscribed(), "already open");
    }
}
