//! A connection's socket polled only when it may hold a frame. The connection's loop waits
//! on its socket, its hub flags and its frame queue at once, and each turn polls all three:
//! most turns start from a hub flag (a message for the recipient, a receipt for the sender)
//! and found the socket empty, yet each such poll went down through the WebSocket, its
//! split lock, the upgraded HTTP connection and tokio's readiness check (BENCHMARKS.md,
//! "Sockets polled when they may hold a frame, records written many at a time").
//! [`ReadGate`] gives the socket a waker of its own: the socket is polled again only after
//! it returned a frame (more may be buffered) or after that waker fired (the socket became
//! readable, or its lock free).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::Stream;
use futures_util::task::AtomicWaker;

/// A stream polled through a waker of its own (see the module header).
pub struct ReadGate<R> {
    inner: R,
    signal: Arc<Signal>,
    /// `signal` as a waker, made once: the stream keeps it between polls.
    waker: Waker,
}

/// Whether the stream may have something, and the task to tell when it may.
struct Signal {
    open: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.open.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<R> ReadGate<R> {
    /// `inner`, polled at its first poll.
    pub fn new(inner: R) -> Self {
        let signal = Arc::new(Signal { open: AtomicBool::new(true), task: AtomicWaker::new() });
        let waker = Waker::from(signal.clone());
        ReadGate { inner, signal, waker }
    }
}

impl<R: Stream + Unpin> Stream for ReadGate<R> {
    type Item = R::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R::Item>> {
        let this = &mut *self;
        // Registered before the flag is read: a wake between the two polls once more.
        this.signal.task.register(cx.waker());
        if !this.signal.open.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let polled = Pin::new(&mut this.inner).poll_next(&mut Context::from_waker(&this.waker));
        if polled.is_ready() {
            // The socket may hold more frames already read from the connection.
            this.signal.open.store(true, Ordering::Release);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use futures_util::task::noop_waker_ref;
    use std::sync::atomic::AtomicUsize;

    /// A stream that counts its polls and yields whatever is put into its queue, waking the
    /// waker it was last polled with when something is put.
    #[derive(Clone, Default)]
    struct Queue(Arc<std::sync::Mutex<(Vec<u32>, Option<Waker>)>>, Arc<AtomicUsize>);

    impl Queue {
        fn put(&self, item: u32) {
            let mut held = self.0.lock().unwrap();
            held.0.push(item);
            if let Some(waker) = held.1.take() {
                waker.wake();
            }
        }
        fn polls(&self) -> usize {
            self.1.load(Ordering::SeqCst)
        }
    }

    impl Stream for Queue {
        type Item = u32;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            let mut held = self.0.lock().unwrap();
            if held.0.is_empty() {
                held.1 = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(Some(held.0.remove(0)))
            }
        }
    }

    /// A waker that counts its wakes: the connection's task.
    #[derive(Default)]
    struct Task(AtomicUsize);
    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn polls_the_stream_only_after_a_frame_or_its_wake_and_wakes_the_task() {
        let queue = Queue::default();
        let mut gate = ReadGate::new(queue.clone());
        let task = Arc::new(Task::default());
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);

        assert!(gate.poll_next_unpin(&mut cx).is_pending());
        assert_eq!(queue.polls(), 1, "the first poll reaches the stream");
        for _ in 0..5 {
            assert!(gate.poll_next_unpin(&mut cx).is_pending());
        }
        assert_eq!(queue.polls(), 1, "nothing woke the stream: it is not polled again");

        queue.put(7);
        queue.put(8);
        assert_eq!(task.0.load(Ordering::SeqCst), 1, "the stream's wake reaches the task");
        assert_eq!(gate.poll_next_unpin(&mut cx), Poll::Ready(Some(7)));
        // Polled with a waker that wakes nobody (as `now_or_never` does): the frame still
        // comes, and the stream keeps the gate's waker.
        let mut idle = Context::from_waker(noop_waker_ref());
        assert_eq!(gate.poll_next_unpin(&mut idle), Poll::Ready(Some(8)));
        assert!(gate.poll_next_unpin(&mut idle).is_pending());
        assert!(gate.poll_next_unpin(&mut cx).is_pending());
        assert_eq!(queue.polls(), 4, "after a frame the stream is polled until it is empty, then not");

        queue.put(9);
        assert_eq!(task.0.load(Ordering::SeqCst), 2, "the task registered last is woken");
        assert_eq!(gate.poll_next_unpin(&mut cx), Poll::Ready(Some(9)));
    }
}
