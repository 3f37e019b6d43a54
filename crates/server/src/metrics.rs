//! Prometheus metrics: live connections, messages stored, relayed and acked, mailbox depth,
//! errors by code, and latency histograms. Counters are plain atomics bumped on the hot
//! path (no locks, no allocation); the text format is rendered on scrape (`api::metrics`
//! serves it).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use hush_shared::ErrorCode;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A latency histogram with fixed buckets.
#[derive(Default)]
pub struct Histogram {
    /// Per bucket (not cumulative); the last slot counts what exceeds every bound.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS.iter().position(|bound| secs <= *bound).unwrap_or(BUCKETS.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

/// One counter per [`ErrorCode`], indexed by `code as usize`.
struct PerCode([AtomicU64; ErrorCode::ALL.len()]);

impl Default for PerCode {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// Where an error was answered.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    /// An HTTP response.
    Http,
    /// A WebSocket `error` frame or a refused WebSocket authentication.
    WebSocket,
}

/// Every metric of one server process.
#[derive(Default)]
pub struct Metrics {
    /// Authenticated WebSocket connections open now.
    pub connections: AtomicI64,
    /// Messages newly stored in a mailbox (resends of a stored message not counted).
    pub messages_stored: AtomicU64,
    /// Message frames sent to recipients (a redelivery after reconnect counts again).
    pub messages_relayed: AtomicU64,
    /// Messages acknowledged by their recipient and deleted.
    pub messages_acked: AtomicU64,
    http_errors: PerCode,
    ws_errors: PerCode,
    /// Time to answer HTTP requests.
    pub http_latency: Histogram,
    /// Time from a `send` frame to its `stored` answer (envelope check, friendship check,
    /// durable write).
    pub store_latency: Histogram,
}

impl Metrics {
    /// Counts one error answered with `code`.
    pub fn error(&self, code: ErrorCode, via: Via) {
        let counters = match via {
            Via::Http => &self.http_errors,
            Via::WebSocket => &self.ws_errors,
        };
        counters.0[code as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition; `mailbox_depth` is read from the store by the caller.
    pub fn render(&self, mailbox_depth: Option<u64>) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let mut one = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        one(
            "hush_websocket_connections",
            "gauge",
            "Authenticated WebSocket connections open now.",
            self.connections.load(Ordering::Relaxed).to_string(),
        );
        one("hush_messages_stored_total", "counter", "Messages stored in a mailbox.", load(&self.messages_stored));
        one(
            "hush_messages_relayed_total",
            "counter",
            "Message frames sent to recipients.",
            load(&self.messages_relayed),
        );
        one("hush_messages_acked_total", "counter", "Messages acknowledged and deleted.", load(&self.messages_acked));
        if let Some(depth) = mailbox_depth {
            one("hush_mailbox_messages", "gauge", "Messages waiting in mailboxes.", depth.to_string());
        }
        let _ = writeln!(out, "# HELP hush_errors_total Errors answered, by stable code and channel.");
        let _ = writeln!(out, "# TYPE hush_errors_total counter");
        for (via, counters) in [("http", &self.http_errors), ("websocket", &self.ws_errors)] {
            for code in ErrorCode::ALL {
                let n = counters.0[code as usize].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(out, "hush_errors_total{{code=\"{}\",via=\"{via}\"}} {n}", code.as_str());
                }
            }
        }
        self.http_latency.render(&mut out, "hush_http_request_duration_seconds", "Time to answer HTTP requests.");
        self.store_latency.render(
            &mut out,
            "hush_message_store_duration_seconds",
            "Time from a send frame to its stored answer.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_everything() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out, "t", "test");
        assert!(out.contains("t_bucket{le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"10\"} 2\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("t_count 3\n"), "{out}");
        assert!(out.contains("t_sum 60.0033\n"), "{out}");
    }

    #[test]
    fn errors_are_labelled_by_code_and_channel() {
        let m = Metrics::default();
        m.error(ErrorCode::RateLimited, Via::Http);
        m.error(ErrorCode::RateLimited, Via::Http);
        m.error(ErrorCode::InvalidEnvelope, Via::WebSocket);
        let out = m.render(Some(7));
        assert!(out.contains("hush_errors_total{code=\"rate_limited\",via=\"http\"} 2\n"), "{out}");
        assert!(out.contains("hush_errors_total{code=\"invalid_envelope\",via=\"websocket\"} 1\n"), "{out}");
        assert!(out.contains("hush_mailbox_messages 7\n"), "{out}");
        assert!(!out.contains("code=\"internal\""), "codes never seen are left out: {out}");
    }
}
