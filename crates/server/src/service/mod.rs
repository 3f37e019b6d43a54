//! The rules of Hush, between the HTTP handlers and the stores: sign-in, friends,
//! devices and prekeys, linking a new browser.
//! Handlers parse and render; services decide.

pub mod account;
pub mod delivery;
pub mod devices;
pub mod friends;
pub mod handoff;
pub mod links;
pub mod notify;
pub mod push;
pub mod signin;
