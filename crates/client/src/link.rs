//! The connection's life, sans-I/O, shared by every runner (the browser's actor, the native
//! client): offline → connecting → authenticating (the socket opened, `auth` sent) →
//! catching up (a `hello` naming this device; the mailbox drains) → online (`caught_up`).
//! Any close goes back to offline with a reconnect time: 1 s, doubling to 15 s, and back to
//! 1 s after the next `hello`. A `hello` that does not name this device means the server
//! does not take this browser for the account's device: the runner sets it up again.

use hush_shared::DeviceId;
use hush_shared::ws::ClientFrame;

/// First reconnect delay after a close.
pub const FIRST_RECONNECT_MS: i64 = 1_000;
/// Longest reconnect delay.
pub const MAX_RECONNECT_MS: i64 = 15_000;

/// Where the connection stands (what the banner shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// No connection; a reconnect is scheduled.
    Offline,
    /// Opening the socket or waiting for `hello`.
    Connecting,
    /// Connected, receiving what arrived while away.
    CatchingUp,
    /// Up to date.
    Online,
}

/// What a `hello` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloOutcome {
    /// It names this device: the engine may start (`on_connected`).
    Ready,
    /// It names no device, or another: set this browser up again before reconnecting.
    NotThisDevice,
}

/// The connection's state machine.
#[derive(Debug, Clone)]
pub struct Link {
    state: LinkState,
    backoff_ms: i64,
    reconnect_at: Option<i64>,
}

impl Default for Link {
    fn default() -> Self {
        Self { state: LinkState::Offline, backoff_ms: FIRST_RECONNECT_MS, reconnect_at: None }
    }
}

impl Link {
    /// Where the connection stands.
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// A socket is being opened.
    pub fn connecting(&mut self) {
        self.state = LinkState::Connecting;
        self.reconnect_at = None;
    }

    /// The socket opened: the first frame to send (the token never goes in the URL).
    pub fn opened(&mut self, access_token: String) -> ClientFrame {
        ClientFrame::Auth { token: access_token }
    }

    /// `hello` arrived, naming `device` (as the server sees this session), while this
    /// browser is `mine`.
    pub fn hello(&mut self, device: Option<DeviceId>, mine: Option<DeviceId>) -> HelloOutcome {
        if device.is_some() && device == mine {
            self.state = LinkState::CatchingUp;
            self.backoff_ms = FIRST_RECONNECT_MS;
            HelloOutcome::Ready
        } else {
            HelloOutcome::NotThisDevice
        }
    }

    /// The drain after connecting is done.
    pub fn caught_up(&mut self) {
        if self.state == LinkState::CatchingUp {
            self.state = LinkState::Online;
        }
    }

    /// The socket closed (or could not open): reconnect later.
    pub fn closed(&mut self, now_ms: i64) {
        self.state = LinkState::Offline;
        self.reconnect_at = Some(now_ms + self.backoff_ms);
        self.backoff_ms = (self.backoff_ms * 2).min(MAX_RECONNECT_MS);
    }

    /// Stays offline without reconnecting (signed out, or this browser is not a device).
    pub fn stop(&mut self) {
        self.state = LinkState::Offline;
        self.reconnect_at = None;
    }

    /// Whether it is time to reconnect (once per scheduled reconnect).
    pub fn reconnect_due(&mut self, now_ms: i64) -> bool {
        if self.reconnect_at.is_some_and(|at| at <= now_ms) {
            self.reconnect_at = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_a_hello_resets_it() {
        let mut link = Link::default();
        let me = Some(DeviceId::new());
        let mut delays = vec![];
        for _ in 0..6 {
            link.connecting();
            link.closed(0);
            assert!(!link.reconnect_due(-1));
            delays.push((0..).step_by(500).find(|t| link.clone().reconnect_due(*t)).unwrap());
            assert!(link.reconnect_due(60_000) && !link.reconnect_due(60_000), "due once");
        }
        assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 15_000, 15_000]);
        link.connecting();
        assert_eq!(link.opened("t".into()), ClientFrame::Auth { token: "t".into() });
        assert_eq!(link.hello(None, me), HelloOutcome::NotThisDevice);
        assert_eq!(link.hello(Some(DeviceId::new()), me), HelloOutcome::NotThisDevice);
        assert_eq!(link.state(), LinkState::Connecting);
        assert_eq!(link.hello(me, me), HelloOutcome::Ready);
        assert_eq!(link.state(), LinkState::CatchingUp);
        link.caught_up();
        assert_eq!(link.state(), LinkState::Online);
        link.closed(100);
        assert!(link.reconnect_due(1_100), "back to the first delay after a hello");
        link.stop();
        assert!(!link.reconnect_due(i64::MAX));
    }
}
