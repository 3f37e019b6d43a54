//! The real-time endpoint `GET /api/v1/ws`: the upgrade (origin check, size limits) and
//! [`connection`] (one task per socket, reading through its [`read_gate`], writing through
//! its [`writer`], with a [`rate`] limit and a [`cursor`] per mailbox queue). Connections
//! register with `crate::hub`, through which the services reach them.

pub mod connection;
pub mod cursor;
pub mod message_frame;
pub mod rate;
pub mod read_gate;
pub mod writer;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hush_shared::ErrorCode;
use hush_shared::ws::MAX_FRAME_BYTES;

use crate::error::AppError;
use crate::state::AppState;

/// Initial read buffer of a connection. Client frames are small (a `send` is ~600 bytes);
/// a larger frame grows the buffer as needed, up to the 64 KiB cap. 1 KiB instead of 4 KiB
/// took idle RSS per connection from 16.0 to ~13 KB (BENCHMARKS.md).
const READ_BUFFER: usize = 1024;

/// Outgoing frames collect up to this many bytes before a write to the socket; the
/// [`writer`] flushes after every event anyway, so this adds no delay. With 0 every frame
/// was its own `sendto` (27 % of server CPU under `saturate`, BENCHMARKS.md). 4 KiB relays
/// as fast as 16 KiB did, and the buffer keeps its capacity after a burst, so smaller is
/// lighter for connections that have been busy.
const WRITE_BUFFER: usize = 4 * 1024;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

/// Upgrades to a WebSocket. Browsers always send `Origin`; it must be this deployment's
/// public origin. Clients without `Origin` (native apps) are allowed; all authenticate
/// with their first frame.
async fn upgrade(State(state): State<AppState>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if let Some(origin) = headers.get(header::ORIGIN)
        && origin.to_str().ok().map(|o| o.trim_end_matches('/')) != Some(state.config.public_origin().as_str())
    {
        return AppError::new(ErrorCode::OriginNotAllowed, "this origin may not open a Hush connection")
            .into_response();
    }
    // Small buffers: an idle connection should cost kilobytes, not tungstenite's default
    // 128 KiB read buffer.
    ws.read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_FRAME_BYTES * 4)
        .on_upgrade(move |socket| connection::run(state, socket))
}
