//! Copies handed straight to the connections of devices connected here, instead of those
//! connections reading their mailboxes after the wake-up (one store call fewer per message
//! and device; BENCHMARKS.md, "Stored copies handed over"); likewise the `delivered`
//! receipt of a message acked on its own, where the store says where it went
//! (`store::PlacedReceipt`). The envelopes of such copies are kept before they move into
//! the store; where the store says what came before each copy in its mailbox
//! (`store::Placed`), the copy goes to the hub with it, and a connection that has read up
//! to there sends it as it is (`hub::Handoff`). Everything else is read
//! from the mailbox as before: a hand-off only saves a read, it is never the only way a
//! message arrives.

use hush_shared::ws::MessageId;
use hush_shared::{DeviceId, UserId};

use crate::hub::{Handed, HandedCopy, Handoff};
use crate::state::AppState;
use crate::store::{Mailbox, Outgoing, Placed, PlacedReceipt};

/// What a batch of sends keeps to hand its copies over once they are stored.
pub struct Kept {
    /// Each person's devices connected here, for everyone a copy is for.
    here: Vec<(UserId, Vec<DeviceId>)>,
    /// Each message's id and addressee, by its place in the batch.
    messages: Vec<(MessageId, UserId)>,
    /// The envelopes of copies for devices connected here: message, mailbox, envelope as
    /// the sender's base64url text.
    envelopes: Vec<(usize, Mailbox, String)>,
}

impl Kept {
    /// Keeps what `batch` needs, before it moves into the store, with `texts`: the base64url
    /// text of its envelopes, by message (its place in the batch) and mailbox. Only a batch
    /// of one message keeps envelopes: several sends read together mean a busy
    /// conversation, whose recipients are mostly in the middle of a window and read in
    /// batches anyway (handing those over cost 4 % batched; BENCHMARKS.md).
    pub fn of(state: &AppState, batch: &[Outgoing], mut texts: Vec<(usize, Mailbox, String)>) -> Self {
        let mut here: Vec<(UserId, Vec<DeviceId>)> = Vec::new();
        let mut envelopes = Vec::new();
        let hand_over = batch.len() == 1;
        for (index, message) in batch.iter().enumerate() {
            for copy in &message.copies {
                let devices = devices_here(state, &mut here, copy.mailbox.user);
                if hand_over
                    && devices.contains(&copy.mailbox.device)
                    && let Some(at) = texts.iter().position(|(i, mailbox, _)| *i == index && *mailbox == copy.mailbox)
                {
                    envelopes.push(texts.swap_remove(at));
                }
            }
        }
        Self { here, messages: batch.iter().map(|m| (m.id, m.to)).collect(), envelopes }
    }

    /// Whether a copy may be handed over: the store is asked where copies went only then.
    pub fn hands_over(&self) -> bool {
        !self.envelopes.is_empty()
    }

    /// Whether `mailbox`'s device had a connection here.
    pub fn is_here(&self, mailbox: Mailbox) -> bool {
        self.here.iter().any(|(user, devices)| *user == mailbox.user && devices.contains(&mailbox.device))
    }

    /// The hand-offs for each person, from where the store put the copies (sent by `from`
    /// at `now`).
    pub fn handoffs(mut self, from: Mailbox, placed: &[Placed], now: i64) -> ByPerson {
        let mut by_person = ByPerson::default();
        for place in placed {
            let Some(prev) = place.prev else { continue };
            let kept = self
                .envelopes
                .iter()
                .position(|(index, mailbox, _)| *index == place.message && *mailbox == place.mailbox);
            let (Some(at), Some(&(id, to))) = (kept, self.messages.get(place.message)) else { continue };
            let (_, _, envelope_b64) = self.envelopes.swap_remove(at);
            let message = HandedCopy {
                seq: place.seq,
                id,
                from: from.user,
                from_device: from.device,
                to,
                envelope_b64,
                stored_at: now,
            };
            by_person.push(
                place.mailbox.user,
                Handoff { device: place.mailbox.device, prev, item: Handed::Message(message) },
            );
        }
        by_person
    }
}

/// The receipts placed in mailboxes of devices connected here, as hand-offs for each
/// person (the hub is asked only about people a receipt was placed for).
pub fn receipts_here(state: &AppState, placed: Vec<PlacedReceipt>) -> ByPerson {
    let mut here: Vec<(UserId, Vec<DeviceId>)> = Vec::new();
    let mut by_person = ByPerson::default();
    for place in placed {
        if !devices_here(state, &mut here, place.mailbox.user).contains(&place.mailbox.device) {
            continue;
        }
        by_person.push(
            place.mailbox.user,
            Handoff { device: place.mailbox.device, prev: place.prev, item: Handed::Receipt(place.receipt) },
        );
    }
    by_person
}

/// Hand-offs gathered by person. A batch hands over only when it is one message (its
/// recipient, the sender's other devices) or one ack (its sender): a person or two, so a
/// list looked through beats a hash map made for each message (its table grown, hashed and
/// freed: about 0.3 % of the instructions of a message relayed one at a time).
#[derive(Debug, Default)]
pub struct ByPerson(Vec<(UserId, Vec<Handoff>)>);

impl ByPerson {
    /// Adds `handoff` to `user`'s.
    fn push(&mut self, user: UserId, handoff: Handoff) {
        match self.0.iter_mut().find(|(u, _)| *u == user) {
            Some((_, handoffs)) => handoffs.push(handoff),
            None => self.0.push((user, vec![handoff])),
        }
    }

    /// Takes `user`'s hand-offs, if any.
    pub fn take(&mut self, user: UserId) -> Option<Vec<Handoff>> {
        let at = self.0.iter().position(|(u, _)| *u == user)?;
        Some(self.0.swap_remove(at).1)
    }
}

/// `user`'s devices connected here, asked of the hub once per person (`here` keeps the
/// answers).
fn devices_here<'a>(state: &AppState, here: &'a mut Vec<(UserId, Vec<DeviceId>)>, user: UserId) -> &'a [DeviceId] {
    let at = match here.iter().position(|(u, _)| *u == user) {
        Some(at) => at,
        None => {
            here.push((user, state.hub.devices_here(user)));
            here.len() - 1
        }
    };
    &here[at].1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Preceding, StoredReceipt};
    use hush_shared::ws::ReceiptKind;
    use uuid::Uuid;

    fn receipt_to(device: DeviceId, seq: i64) -> Handoff {
        let receipt = StoredReceipt {
            seq,
            id: Uuid::now_v7(),
            kind: ReceiptKind::Delivered,
            message_id: Uuid::now_v7(),
            peer: UserId::new(),
            peer_device: None,
            at: 0,
        };
        Handoff { device, prev: Preceding::exactly(seq - 1), item: Handed::Receipt(receipt) }
    }

    #[test]
    fn hand_offs_are_kept_by_person_in_order_and_taken_once() {
        let (ann, bob, device) = (UserId::new(), UserId::new(), DeviceId::new());
        let (first, second, other) = (receipt_to(device, 1), receipt_to(device, 2), receipt_to(device, 7));
        let mut by_person = ByPerson::default();
        by_person.push(ann, first.clone());
        by_person.push(bob, other.clone());
        by_person.push(ann, second.clone());
        assert_eq!(by_person.take(ann), Some(vec![first, second]));
        assert_eq!(by_person.take(ann), None);
        assert_eq!(by_person.take(UserId::new()), None);
        assert_eq!(by_person.take(bob), Some(vec![other]));
    }
}
