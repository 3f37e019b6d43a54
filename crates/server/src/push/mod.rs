//! Web Push, sent by `hush-server` itself (`service::notify` decides who gets a push):
//! [`sender`] queues and posts pushes, [`ece`] encrypts the payload for one browser subscription (RFC 8291),
//! [`vapid`] signs the server's identity for the push service (RFC 8292), and [`endpoint`]
//! keeps pushes to public `https` addresses.

pub mod ece;
pub mod endpoint;
pub mod sender;
pub mod vapid;
