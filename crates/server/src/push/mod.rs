//! Web Push, sent by `hush-server` itself: [`ece`] encrypts a payload for one browser
//! subscription (RFC 8291), [`vapid`] signs the server's identity for the push service
//! (RFC 8292).

pub mod ece;
pub mod vapid;
