//! The rules of Hush, between the HTTP handlers and the stores: sign-in, tokens, friends,
//! devices and prekeys, linking a new browser.
//! Handlers parse and render; services decide.

pub mod delivery;
pub mod devices;
pub mod friends;
pub mod links;
pub mod secret;
pub mod signin;
pub mod tokens;
