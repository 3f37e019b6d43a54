//! Counts the WebSockets this process serves, so shutdown can wait for them. axum's
//! graceful shutdown tracks HTTP connections only; an upgraded socket lives in its own
//! task, and a process that exits while those tasks are writing their 1001 close frames
//! cuts the sockets without one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The open sockets of this process.
#[derive(Default)]
pub struct OpenSockets {
    count: AtomicUsize,
    none_left: Notify,
}

/// Held by a socket's task while it runs; dropping it counts the socket closed.
pub struct SocketGuard(Arc<OpenSockets>);

impl OpenSockets {
    /// Counts one more open socket until the guard drops.
    pub fn enter(self: &Arc<Self>) -> SocketGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        SocketGuard(self.clone())
    }

    /// How many are open.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Resolves once no socket is open.
    pub async fn all_closed(&self) {
        loop {
            let notified = self.none_left.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.none_left.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_when_the_last_socket_closes() {
        let sockets = Arc::new(OpenSockets::default());
        sockets.all_closed().await;
        let (a, b) = (sockets.enter(), sockets.enter());
        let waiter = tokio::spawn({
            let sockets = sockets.clone();
            async move { sockets.all_closed().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter).await.unwrap().unwrap();
        assert_eq!(sockets.count(), 0);
    }
}
