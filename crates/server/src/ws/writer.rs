//! The sending half of a WebSocket connection, written by the connection's own task: frames
//! are queued into the socket's write buffer as they are made and flushed once per event
//! the connection handles, so everything one event produces leaves in one write. (A
//! writer task of its own cost a queue, a box and a task wake-up per frame — three per
//! message relayed; BENCHMARKS.md, "One task per connection".) A client that does not
//! read stalls its own connection only, and for at most [`WRITE_STALL`].

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::future::poll_fn;
use futures_util::{FutureExt, Sink, SinkExt};
use hush_shared::ws::{ServerFrame, close};

/// How long a write may wait for a client that does not read.
const WRITE_STALL: Duration = Duration::from_secs(10);

/// A server frame as a WebSocket text message.
pub fn text(frame: &ServerFrame) -> Message {
    Message::Text(Utf8Bytes::from(serde_json::to_string(frame).unwrap_or_default()))
}

/// A close message with a code and reason.
pub fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))
}

/// Why a write failed: the close code and reason the connection ends with.
pub type WriteFailure = (u16, &'static str);

/// The socket's sink, and whether a write to it failed.
pub struct Writer<S> {
    sink: S,
    failed: bool,
}

impl<S: Sink<Message> + Unpin> Writer<S> {
    pub fn new(sink: S) -> Self {
        Self { sink, failed: false }
    }

    /// Queues `message` in the socket's write buffer (which writes itself out once it holds
    /// a few KiB); [`Self::flush`] sends the rest.
    pub async fn queue(&mut self, message: Message) -> Result<(), WriteFailure> {
        self.stall_bounded(|sink, cx| sink.poll_ready_unpin(cx)).await?;
        self.sink.start_send_unpin(message).map_err(|_| self.fail())
    }

    /// Writes out everything queued.
    pub async fn flush(&mut self) -> Result<(), WriteFailure> {
        self.stall_bounded(|sink, cx| sink.poll_flush_unpin(cx)).await
    }

    /// Runs a sink step, at once when it can (the usual case: no timer set up), else for at
    /// most [`WRITE_STALL`].
    async fn stall_bounded(
        &mut self,
        mut step: impl FnMut(&mut S, &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>>,
    ) -> Result<(), WriteFailure> {
        if self.failed {
            return Err(WRITTEN_OFF);
        }
        let sink = &mut self.sink;
        let done = match poll_fn(|cx| step(sink, cx)).now_or_never() {
            Some(done) => done,
            None => match tokio::time::timeout(WRITE_STALL, poll_fn(|cx| step(sink, cx))).await {
                Ok(done) => done,
                Err(_) => return Err((close::LAGGING, "not reading")),
            },
        };
        done.map_err(|_| self.fail())
    }

    fn fail(&mut self) -> WriteFailure {
        self.failed = true;
        WRITTEN_OFF
    }

    /// Ends the connection with `close`. If the client closed first, the socket has queued
    /// the echo of its close frame (RFC 6455 requires one): flushing first lets that out,
    /// which writing our own close frame into a socket the peer closed would not. After a
    /// failed write (most often that same case: the client's close frame arrived while
    /// frames for it were queued) only the flush is tried.
    /// Gives up after [`WRITE_STALL`], like any write.
    pub async fn close(mut self, close: Message) {
        let _ = tokio::time::timeout(WRITE_STALL, async {
            let flushed = self.sink.flush().await.is_ok();
            if flushed && !self.failed && self.sink.feed(close).await.is_ok() {
                let _ = self.sink.close().await;
            }
        })
        .await;
    }
}

/// A write to the socket failed: the connection is over.
const WRITTEN_OFF: WriteFailure = (1006, "write failed");
