//! The development provider: writes `SMS to <number>: <text>` as one log line, which is how
//! a person running Hush locally (and the test suites) read their sign-in code. This is the
//! only place a code is ever logged.

use std::sync::Arc;

use async_trait::async_trait;

use super::{SmsError, SmsProvider};

/// Where console lines go.
pub type LineSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Prints texts instead of sending them.
pub struct ConsoleSms {
    sink: LineSink,
}

impl ConsoleSms {
    /// Prints through the server log (target `hush::sms`).
    pub fn to_log() -> Self {
        Self::with_sink(Arc::new(|line: &str| tracing::info!(target: "hush::sms", "{line}")))
    }

    /// Sends each line to `sink` instead (in-process tests read codes this way).
    pub fn with_sink(sink: LineSink) -> Self {
        Self { sink }
    }
}

#[async_trait]
impl SmsProvider for ConsoleSms {
    async fn send(&self, to: &str, body: &str) -> Result<(), SmsError> {
        (self.sink)(&format!("SMS to {to}: {body}"));
        Ok(())
    }
}
