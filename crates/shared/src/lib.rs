//! # hush-shared — the Hush wire protocol
//!
//! Everything the server and the clients must agree on, and nothing else: no I/O, so it
//! compiles to `wasm32-unknown-unknown` for the browser app.
//!
//! - [`error`]: the stable [`ErrorCode`] enum and the JSON error body every 4xx/5xx carries.
//! - [`ids`]: typed ids (users, friend requests) so a user id is never passed as a request id.
//! - [`limits`]: every size and rate limit in one place, shared by validation and docs.
//! - [`validate`]: phone numbers (normalised to E.164), display names, public-key shape.
//! - [`api`]: request/response bodies of the REST API v1, one module per endpoint family.
//! - [`ws`]: the WebSocket frames of the real-time protocol.

pub mod api;
pub mod error;
pub mod ids;
pub mod limits;
pub mod validate;
pub mod ws;
mod ws_read;
mod ws_read_client;

pub use error::{ErrorBody, ErrorCode};
pub use ids::{DeviceId, FriendRequestId, UserId};
