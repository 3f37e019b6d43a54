//! The per-connection frame rate limit: a token bucket refilled at
//! `HUSH_WS_FRAMES_PER_SEC`, bursts of twice that, counting refusals so the connection can
//! be closed (1008) when a client keeps going; and per-friend buckets for what one
//! connection pushes to one friend (`typing`), so no friend can flood another's connection.

use std::collections::HashMap;
use std::time::Instant;

use hush_shared::UserId;

/// Friends one connection keeps a bucket for; past this the buckets start over (a client
/// naming ever new ids gains nothing: frames to non-friends are refused anyway).
const MAX_PEERS: usize = 256;

/// A token bucket per friend.
pub struct PerPeer {
    per_sec: f64,
    buckets: HashMap<UserId, RateLimit>,
}

impl PerPeer {
    /// Buckets of `per_sec` frames per second (bursts of twice that) per friend.
    pub fn new(per_sec: f64) -> Self {
        Self { per_sec, buckets: HashMap::new() }
    }

    /// Whether one more frame to `peer` fits its bucket.
    pub fn allow(&mut self, peer: UserId) -> bool {
        if self.buckets.len() >= MAX_PEERS && !self.buckets.contains_key(&peer) {
            self.buckets.clear();
        }
        let per_sec = self.per_sec;
        self.buckets.entry(peer).or_insert_with(|| RateLimit::new(per_sec)).allow()
    }
}

/// Token bucket for incoming frames.
pub struct RateLimit {
    tokens: f64,
    per_sec: f64,
    last: Instant,
    /// Frames refused so far.
    pub violations: u32,
}

impl RateLimit {
    /// A full bucket for `per_sec` frames per second.
    pub fn new(per_sec: f64) -> Self {
        Self { tokens: per_sec * 2.0, per_sec, last: Instant::now(), violations: 0 }
    }

    /// Takes a token if there is one; otherwise counts a violation.
    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.per_sec).min(self.per_sec * 2.0);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.violations += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_friend_has_a_bucket_of_its_own() {
        let (bob, carol) = (UserId::new(), UserId::new());
        let mut typing = PerPeer::new(2.0);
        let to_bob = (0..100).filter(|_| typing.allow(bob)).count();
        assert_eq!(to_bob, 4, "a burst of twice the rate");
        assert!(typing.allow(carol), "Carol's bucket is full still");
    }
}
