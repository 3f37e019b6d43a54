//! # hush-client — the client engine
//!
//! Everything a Hush client does besides drawing pixels, shared by the browser app and
//! native tools. The [`Engine`] is *sans-I/O*: it consumes server frames and user actions
//! and produces client frames and UI events; storage and the socket are the caller's.
//!
//! - [`model`]: chat messages and their status state machine (never moves backwards).
//! - [`store`]: the [`ClientStore`] trait (`?Send`, so IndexedDB can implement it) and
//!   [`MemoryStore`], the in-memory reference store.
//! - [`keys`]: one key pair per friendship, conversation keys, key changes.
//! - [`engine`]: outbox, retries with backoff, dedup by message id, acks and receipts
//!   (read receipts kept until a `pong` confirms them, in `reads`).
//! - [`native`]: a tokio-tungstenite runner for tests, benchmarks and tools.

pub mod engine;
pub mod keys;
pub mod model;
#[cfg(feature = "native")]
pub mod native;
mod reads;
pub mod store;

pub use engine::{Engine, Event};
pub use model::{Body, ChatMessage, Direction, Status};
pub use store::{ClientStore, MemoryStore, StoreError};
