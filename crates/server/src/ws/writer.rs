//! The writer half of a WebSocket connection: one task owns the sink and drains a small
//! bounded queue, writing everything already queued before one flush, and ends the
//! connection with a proper close handshake.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{Sink, SinkExt};
use hush_shared::ws::ServerFrame;
use tokio::sync::mpsc;

/// Outgoing messages queued for the writer task (boxed, like the hub's frames, so the
/// channel's first block costs an idle connection 256 bytes rather than ~1.3 KB).
pub const WRITE_QUEUE: usize = 64;

/// A server frame as a WebSocket text message.
pub fn text(frame: &ServerFrame) -> Message {
    Message::Text(Utf8Bytes::from(serde_json::to_string(frame).unwrap_or_default()))
}

/// A close message with a code and reason.
pub fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))
}

/// Writes queued messages until the queue closes or a close message goes out.
pub async fn write_loop<S: Sink<Message> + Unpin>(mut sink: S, mut rx: mpsc::Receiver<Box<Message>>) {
    while let Some(message) = rx.recv().await {
        let message = *message;
        if let Message::Close(_) = message {
            return finish(sink, message).await;
        }
        if sink.feed(message).await.is_err() {
            return let_echo_out(sink).await;
        }
        // Coalesce: write everything already queued, then flush once.
        while let Ok(more) = rx.try_recv() {
            let more = *more;
            if let Message::Close(_) = more {
                return finish(sink, more).await;
            }
            if sink.feed(more).await.is_err() {
                return let_echo_out(sink).await;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

/// A write failed — most often because the client's close frame arrived while frames for
/// it were still queued. The socket holds the echo of that close frame (RFC 6455 requires
/// one): a flush lets it out, which returning at once would not.
async fn let_echo_out<S: Sink<Message> + Unpin>(mut sink: S) {
    let _ = sink.flush().await;
}

/// Sends our close frame. If the client closed first, the socket has queued the echo of
/// its close frame (RFC 6455 requires one): flushing first lets that out, which writing
/// our own close frame into a socket the peer closed would not.
async fn finish<S: Sink<Message> + Unpin>(mut sink: S, close: Message) {
    if sink.flush().await.is_ok() && sink.feed(close).await.is_ok() {
        let _ = sink.close().await;
    }
}
