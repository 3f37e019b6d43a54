//! Screens, one module each, and the shell around the signed-in ones.

pub mod avatar;
pub mod chat;
pub mod chats;
pub mod device;
pub mod devices;
pub mod friends;
pub mod icons;
pub mod notifications;
pub mod panes;
pub mod safety;
pub mod settings;
pub mod shell;
pub mod signin;
pub mod update;
