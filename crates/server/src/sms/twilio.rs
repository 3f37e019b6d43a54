//! Twilio's REST Messages API, called directly over HTTPS.
//!
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP basic auth
//! (`AccountSid:AuthToken`), form fields `To`, `Body` and `From` (a phone number) or
//! `MessagingServiceSid` (an `MG…` sid). Success is `201` with the message resource;
//! errors are JSON `{"code", "message", "more_info", "status"}`.
//!
//! We do not use the `twilio` crate: it hard-codes `https://api.twilio.com` (so it cannot
//! be pointed at a test double) and is built on hyper 0.14 with OpenSSL, a second HTTP
//! stack beside the one the server already has.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{SmsError, SmsProvider};

/// Twilio credentials and endpoint.
#[derive(Clone)]
pub struct TwilioConfig {
    /// Account SID (`AC…`).
    pub account_sid: String,
    /// Auth token.
    pub auth_token: String,
    /// Phone number (E.164) or Messaging Service SID (`MG…`).
    pub from: String,
    /// API base URL, normally `https://api.twilio.com`.
    pub api_base: String,
}

/// Sends texts through Twilio.
pub struct TwilioSms {
    config: TwilioConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct TwilioErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

impl TwilioSms {
    /// A provider with a 10-second request timeout.
    pub fn new(config: TwilioConfig) -> Result<Self, SmsError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SmsError::Transport(e.to_string()))?;
        Ok(Self { config, http })
    }
}

#[async_trait]
impl SmsProvider for TwilioSms {
    async fn send(&self, to: &str, body: &str) -> Result<(), SmsError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.api_base.trim_end_matches('/'),
            self.config.account_sid
        );
        let sender_field = if self.config.from.starts_with("MG") { "MessagingServiceSid" } else { "From" };
        let form = [("To", to), (sender_field, self.config.from.as_str()), ("Body", body)];
        let response = self
            .http
            .post(&url)
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| SmsError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let detail = match serde_json::from_str::<TwilioErrorBody>(&text) {
            Ok(err) => {
                format!("HTTP {status}, Twilio error {}: {}", err.code.unwrap_or(0), err.message.unwrap_or_default())
            }
            Err(_) => format!("HTTP {status}"),
        };
        Err(SmsError::Refused(detail))
    }
}
