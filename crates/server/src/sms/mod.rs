//! SMS providers that deliver sign-in codes: [`console`] (development: the code appears in
//! the server log) and [`twilio`] (Twilio's REST Messages API).

pub mod console;
pub mod twilio;

use async_trait::async_trait;

/// Why a text could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider answered with an error (e.g. Twilio's `code` and `message`).
    #[error("provider refused: {0}")]
    Refused(String),
    /// The provider could not be reached or answered nonsense.
    #[error("provider unreachable: {0}")]
    Transport(String),
}

/// Delivers one text message.
#[async_trait]
pub trait SmsProvider: Send + Sync {
    /// Sends `body` to the E.164 number `to`.
    async fn send(&self, to: &str, body: &str) -> Result<(), SmsError>;
}

/// The text of a sign-in SMS.
pub fn sign_in_text(code: &str) -> String {
    format!("Your Hush code is {code}. It expires in 10 minutes. Never share it.")
}
