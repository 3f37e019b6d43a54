//! # hush-client — the client engine
//!
//! Everything a Hush client does besides drawing pixels, shared by the browser app and
//! native tools. The [`Engine`] is *sans-I/O* for the socket: it consumes server frames and
//! user actions and produces client frames and UI events; the caller owns the socket and
//! the clock. It makes the REST calls for keys itself through the [`api::Http`] trait.
//!
//! - [`model`]: chat messages and their status state machine (never moves backwards).
//! - [`content`]: the typed, versioned content record inside an envelope.
//! - [`store`]: storage split per record kind (messages, identities, prekeys, sessions),
//!   `?Send` traits so IndexedDB can implement them, and [`MemoryStore`].
//! - [`api`]: the REST calls for devices, prekeys and bundles.
//! - [`device`]: this device's keys — registering them, topping prekeys up, rotating.
//! - [`cipher`]: sessions with other devices — sealing for every device of a person,
//!   opening what they send, identities trusted on first use and changes reported.
//! - [`friends`]: the friend list joined with what this device knows of each friend.
//! - [`link`]: the connection's state machine (auth → hello → catching up → online,
//!   reconnect with backoff), shared by the browser's runner and the native one.
//! - [`engine`]: outbox, retries with backoff, dedup by message id, acks, receipts, resend
//!   requests, identity holds (read receipts kept until a `pong` confirms them, in `reads`).
//! - [`held_acks`]: receipt acks held a moment to go with the next frame written.
//! - [`native`]: a tokio-tungstenite + reqwest runner for tests, benchmarks and tools.
//! - `model_keys` (feature `test-support`): a model of the server's key directory for tests
//!   without a server.

pub mod api;
pub mod cipher;
pub mod content;
pub mod device;
pub mod engine;
pub mod friends;
pub mod held_acks;
pub mod history;
pub mod link;
pub mod linking;
pub mod model;
#[cfg(feature = "test-support")]
pub mod model_keys;
#[cfg(feature = "native")]
pub mod native;
pub mod order;
mod reads;
pub mod store;

pub use engine::{Engine, Event};
pub use model::{Body, ChatMessage, Direction, Status};
pub use store::{ClientStore, MemoryStore, StoreError};
