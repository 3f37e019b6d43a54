//! The per-connection frame rate limit: a token bucket refilled at
//! `HUSH_WS_FRAMES_PER_SEC`, bursts of twice that, counting refusals so the connection can
//! be closed (1008) when a client keeps going.

use std::time::Instant;

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
