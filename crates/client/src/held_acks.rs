//! Receipt acks held back a moment, to go with the next frame the client writes anyway.
//!
//! A `receipt_ack` answers nothing the person sees: it only lets the server forget the
//! receipt (and the copy behind it) instead of sending it again on the next connection. On
//! its own each one costs the server a wake-up, a socket read and a frame; held for up to
//! [`RECEIPT_ACK_HOLD_MS`] it goes with the client's next send, typing notice, message ack
//! or ping, and the receipts that came meanwhile share one frame: a friend with the chat
//! open sends `delivered` and `read` within milliseconds, and a device catching up gets
//! hundreds of receipts in a row (BENCHMARKS.md, "Receipt acks held for the next write").
//!
//! The hold stays well under the time the server keeps a `delivered` receipt in memory
//! waiting for its ack before it writes it down: a held ack still saves the server that
//! write. Acks held when the socket closes are dropped once another opens: an ack counts
//! only on the connection that handed its receipt out, and the server sends those receipts
//! again on the next one; applying a receipt twice changes nothing. Callers give the time from a
//! monotonic clock, and arm a timer for [`HeldReceiptAcks::due_at`]: a browser may run it
//! late (a background tab's timers), so the 100 ms is the aim, not a promise.

use hush_shared::ws::{ClientFrame, MAX_IDS_PER_FRAME, RECEIPT_ACK_HOLD_MS, ReceiptId};

/// The receipt acks held, and since when.
#[derive(Debug, Default)]
pub struct HeldReceiptAcks {
    ids: Vec<ReceiptId>,
    /// When the oldest held ack was held (`None`: nothing held).
    since_ms: Option<i64>,
}

impl HeldReceiptAcks {
    /// Takes the frames the client is about to write and says what to write now: its
    /// receipt acks are held, and whenever something else goes — another frame, a full
    /// frame of acks, or acks held [`RECEIPT_ACK_HOLD_MS`] — every held ack goes after it
    /// (an ack never overtakes the frames its receipt made, such as the `send` a `resend`
    /// receipt asks for).
    pub fn outgoing(&mut self, frames: Vec<ClientFrame>, now_ms: i64) -> Vec<ClientFrame> {
        let mut others = Vec::with_capacity(frames.len());
        for frame in frames {
            match frame {
                ClientFrame::ReceiptAck { ids } if !ids.is_empty() => {
                    self.since_ms.get_or_insert(now_ms);
                    self.ids.extend(ids);
                }
                frame => others.push(frame),
            }
        }
        let due = self.due_at().is_some_and(|due| due <= now_ms);
        if others.is_empty() && !due && self.ids.len() < MAX_IDS_PER_FRAME {
            return others;
        }
        others.extend(self.take());
        others
    }

    /// When the held acks must be written even if nothing else goes (`None`: none held).
    pub fn due_at(&self) -> Option<i64> {
        self.since_ms.map(|since| since + RECEIPT_ACK_HOLD_MS)
    }

    /// Every held ack, in frames of at most [`MAX_IDS_PER_FRAME`] ids; none held after.
    pub fn take(&mut self) -> Vec<ClientFrame> {
        self.since_ms = None;
        let ids = std::mem::take(&mut self.ids);
        ids.chunks(MAX_IDS_PER_FRAME).map(|ids| ClientFrame::ReceiptAck { ids: ids.to_vec() }).collect()
    }

    /// Forgets the held acks: a new connection started, and they count only on the one
    /// that handed their receipts out (the server sends those receipts again).
    pub fn clear(&mut self) {
        self.ids.clear();
        self.since_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_shared::UserId;

    fn ack(n: usize) -> ClientFrame {
        ClientFrame::ReceiptAck { ids: (0..n).map(|_| uuid::Uuid::now_v7()).collect() }
    }

    fn ack_of(ids: Vec<ReceiptId>) -> ClientFrame {
        ClientFrame::ReceiptAck { ids }
    }

    fn ack_counts(frames: &[ClientFrame]) -> Vec<usize> {
        frames
            .iter()
            .map(|frame| match frame {
                ClientFrame::ReceiptAck { ids } => ids.len(),
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn acks_wait_for_the_next_frame_and_go_after_it() {
        let mut held = HeldReceiptAcks::default();
        assert!(held.outgoing(vec![ack(1)], 1_000).is_empty(), "held");
        assert!(held.outgoing(vec![ack(2)], 1_050).is_empty(), "held with the first");
        assert_eq!(held.due_at(), Some(1_000 + RECEIPT_ACK_HOLD_MS), "due from the oldest");
        let typing = ClientFrame::Typing { to: UserId::new(), active: true };
        let out = held.outgoing(vec![typing.clone()], 1_060);
        assert_eq!(ack_counts(&out), vec![0, 3], "the typing notice, then the three acks in one frame");
        assert_eq!(out[0], typing);
        assert_eq!(held.due_at(), None, "nothing held after");
        assert!(held.outgoing(vec![], 1_070).is_empty(), "nothing to write");
    }

    #[test]
    fn acks_go_after_the_frames_their_receipts_made() {
        let mut held = HeldReceiptAcks::default();
        // What handling a receipt made (for a `resend` receipt, the `send` again), then its ack.
        let made = ClientFrame::Typing { to: UserId::new(), active: false };
        let out = held.outgoing(vec![made.clone(), ack(1)], 0);
        assert_eq!(ack_counts(&out), vec![0, 1]);
        assert_eq!(out[0], made);
    }

    #[test]
    fn acks_go_on_their_own_once_held_long_enough() {
        let mut held = HeldReceiptAcks::default();
        assert!(held.outgoing(vec![ack(1)], 0).is_empty());
        assert!(held.outgoing(vec![], RECEIPT_ACK_HOLD_MS - 1).is_empty(), "not yet");
        assert_eq!(ack_counts(&held.outgoing(vec![], RECEIPT_ACK_HOLD_MS)), vec![1], "due");
        assert!(held.outgoing(vec![ack(1)], RECEIPT_ACK_HOLD_MS + 1).is_empty(), "a new hold starts");
        assert_eq!(
            ack_counts(&held.outgoing(vec![ack(1)], 2 * RECEIPT_ACK_HOLD_MS + 1)),
            vec![2],
            "the oldest decides"
        );
    }

    #[test]
    fn a_full_frame_of_acks_goes_at_once_and_none_is_larger() {
        let mut held = HeldReceiptAcks::default();
        assert!(held.outgoing(vec![ack(MAX_IDS_PER_FRAME - 1)], 0).is_empty());
        assert_eq!(
            ack_counts(&held.outgoing(vec![ack(MAX_IDS_PER_FRAME + 3)], 1)),
            vec![MAX_IDS_PER_FRAME, MAX_IDS_PER_FRAME, 2]
        );
        assert_eq!(held.due_at(), None);
    }

    #[test]
    fn cleared_acks_are_gone_and_empty_acks_are_not_held() {
        let mut held = HeldReceiptAcks::default();
        assert!(held.outgoing(vec![ack(3)], 0).is_empty());
        held.clear();
        assert_eq!(held.due_at(), None);
        assert!(held.take().is_empty());
        assert_eq!(held.outgoing(vec![ack(0)], 0), vec![ack_of(vec![])], "an empty ack is nobody's to hold");
    }
}
