//! The sending half of a WebSocket connection, written by the connection's own task: frames
//! are queued into the socket's write buffer as they are made (which writes itself out once
//! it holds 4 KiB, `ws::WRITE_BUFFER`) and flushed once per event the connection handles,
//! so what one event produces leaves in one write unless it is larger. An event that
//! produced nothing (most acks) flushes nothing: a pong the WebSocket library queued on
//! reading a ping goes out with its next read.
//! (A writer task of its own cost a queue, a box and a task wake-up per frame — three per
//! message relayed; BENCHMARKS.md, "One task per connection".) A client that does not read
//! stalls its own connection only, for at most `WRITE_STALL`; the connection then ends.

use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::future::poll_fn;
use futures_util::{FutureExt, Sink, SinkExt};
use hush_shared::ws::{ServerFrame, close};

use super::message_frame::per_message_text;

/// How long a write may wait for a client that does not read.
const WRITE_STALL: Duration = Duration::from_secs(10);

/// A server frame as a WebSocket text message.
pub fn text(frame: &ServerFrame) -> Message {
    let text = per_message_text(frame).unwrap_or_else(|| serde_json::to_string(frame).unwrap_or_default());
    Message::Text(Utf8Bytes::from(text))
}

/// A close message with a code and reason.
pub fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))
}

/// Why writing ended: the close code and reason the connection ends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteFailure(pub u16, pub &'static str);

/// A write waited [`WRITE_STALL`] for a client that does not read.
const STALLED: WriteFailure = WriteFailure(close::LAGGING, "not reading");
/// A write to the socket failed (most often: the client closed it). 1006 is never sent —
/// RFC 6455 reserves it for closes without a frame — as [`Writer::close`] sends no close
/// frame after a failed write.
const WRITE_FAILED: WriteFailure = WriteFailure(1006, "write failed");

/// The socket's sink, and why writing to it ended, once it has.
pub struct Writer<S> {
    sink: S,
    ended: Option<WriteFailure>,
    /// Something was queued since the last flush.
    queued: bool,
}

impl<S: Sink<Message> + Unpin> Writer<S> {
    pub fn new(sink: S) -> Self {
        Self { sink, ended: None, queued: false }
    }

    /// Queues `message` in the socket's write buffer; [`Self::flush`] sends what is left.
    pub async fn queue(&mut self, message: Message) -> Result<(), WriteFailure> {
        self.queued = true;
        self.stall_bounded(|sink, cx| sink.poll_ready_unpin(cx)).await?;
        self.sink.start_send_unpin(message).map_err(|_| self.end(WRITE_FAILED))
    }

    /// Writes out everything queued (nothing to do when nothing was).
    pub async fn flush(&mut self) -> Result<(), WriteFailure> {
        if !self.queued {
            return Ok(());
        }
        self.stall_bounded(|sink, cx| sink.poll_flush_unpin(cx)).await?;
        self.queued = false;
        Ok(())
    }

    /// Runs a sink step, at once when it can (the usual case: no timer set up), else for at
    /// most [`WRITE_STALL`]. Once a step failed or stalled, every later one fails at once.
    async fn stall_bounded(
        &mut self,
        mut step: impl FnMut(&mut S, &mut Context<'_>) -> Poll<Result<(), S::Error>>,
    ) -> Result<(), WriteFailure> {
        if let Some(ended) = self.ended {
            return Err(ended);
        }
        let sink = &mut self.sink;
        let done = match poll_fn(|cx| step(sink, cx)).now_or_never() {
            Some(done) => done,
            None => match tokio::time::timeout(WRITE_STALL, poll_fn(|cx| step(sink, cx))).await {
                Ok(done) => done,
                Err(_) => return Err(self.end(STALLED)),
            },
        };
        done.map_err(|_| self.end(WRITE_FAILED))
    }

    fn end(&mut self, why: WriteFailure) -> WriteFailure {
        self.ended = Some(why);
        why
    }

    /// Ends the connection with `close`: writes what is queued, then the close frame.
    /// After a stall nothing more is tried (the client does not read). After a failed
    /// write — most often because the client's close frame arrived while answers were
    /// queued — only what is queued is flushed: that lets out the echo of the client's
    /// close frame the socket holds (RFC 6455 requires one). A flush that fails on a
    /// frame queued after that close empties the sink's slot, so a second one reaches the
    /// socket and lets the echo out.
    pub async fn close(mut self, close: Message) {
        if self.ended == Some(STALLED) {
            return;
        }
        let _ = tokio::time::timeout(WRITE_STALL, async {
            let flushed = self.sink.flush().await.is_ok();
            if !flushed {
                let _ = self.sink.flush().await;
            }
            if flushed && self.ended.is_none() && self.sink.feed(close).await.is_ok() {
                let _ = self.sink.close().await;
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;

    use super::*;

    /// A sink that keeps what it is sent and counts its flushes.
    #[derive(Default)]
    struct Counting {
        sent: Vec<Message>,
        flushes: usize,
    }

    impl Sink<Message> for Counting {
        type Error = ();
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), ()> {
            self.sent.push(item);
            Ok(())
        }
        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn flushes_only_after_something_was_queued() {
        let mut writer = Writer::new(Counting::default());
        writer.flush().await.unwrap();
        assert_eq!(writer.sink.flushes, 0, "nothing queued, nothing flushed");
        writer.queue(Message::Ping(Default::default())).await.unwrap();
        writer.queue(Message::Ping(Default::default())).await.unwrap();
        writer.flush().await.unwrap();
        writer.flush().await.unwrap();
        assert_eq!((writer.sink.sent.len(), writer.sink.flushes), (2, 1), "one flush for what was queued");
    }
}
