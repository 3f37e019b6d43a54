//! The rules of Hush, between the HTTP handlers and the stores: sign-in, tokens, friends.
//! Handlers parse and render; services decide.

pub mod delivery;
pub mod friends;
pub mod secret;
pub mod signin;
pub mod tokens;
