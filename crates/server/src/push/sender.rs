//! The push side of the server: its VAPID key, the queue of pushes to make, what it
//! remembers of each recipient (their subscriptions, and which device was pushed about
//! whom), and posting one push (`service::notify` decides who gets one: when a message is
//! stored, each of the recipient's devices with a subscription and no live connection gets
//! one push per sender, and no more from that sender until that device connects again —
//! one per chat while unread). The payload holds no message content — only the sender's
//! id, padded to a fixed size and encrypted for the browser (RFC 8291) — so the push
//! service learns only that something arrived. Pushes go through a bounded queue to one
//! worker task, off the sending path: a full queue drops a push (counted), never a message.
//! A push service's `404`/`410` (the subscription is gone) or `403` (made for another
//! server key) removes the subscription.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_shared::{DeviceId, UserId};
use p256::PublicKey;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::ece::{self, Receiver};
use super::endpoint::{self, PublicOnly};
use super::vapid::Vapid;
use crate::config::Config;
use crate::store::PushSubscriptionRecord;

/// Pushes waiting for the worker; beyond this they are dropped.
const QUEUE: usize = 1024;
/// Recipients remembered before the memory starts over (a device's entry is cleared when it
/// connects, a person's subscriptions when one of their devices connects or changes one).
const MAX_REMEMBERED: usize = 50_000;
/// Every payload is this long before encryption, whoever sent it.
pub const PAYLOAD_LEN: usize = 64;
/// How long a push service keeps an undelivered push (seconds).
const TTL_SECS: u32 = 24 * 3600;
/// How long one push may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A message for `to`, from `from`, was stored.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// The recipient.
    pub to: UserId,
    /// The sender.
    pub from: UserId,
}

/// Counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct PushCounts {
    /// Pushes a push service accepted.
    pub sent: AtomicU64,
    /// Pushes refused or not delivered to the push service.
    pub failed: AtomicU64,
    /// Pushes dropped because the queue was full.
    pub dropped: AtomicU64,
}

impl PushCounts {
    /// The Prometheus text exposition of the counts.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP hush_pushes_total Web Push notifications, by outcome.\n# TYPE hush_pushes_total counter\n",
        );
        for (outcome, count) in [("sent", &self.sent), ("failed", &self.failed), ("dropped", &self.dropped)] {
            out.push_str(&format!("hush_pushes_total{{outcome=\"{outcome}\"}} {}\n", count.load(Ordering::Relaxed)));
        }
        out
    }
}

/// The push side of the server: its VAPID key, the queue, and who was pushed already.
pub struct Pusher {
    vapid: Vapid,
    allow_private: bool,
    client: reqwest::Client,
    queue: mpsc::Sender<Job>,
    jobs: Mutex<Option<mpsc::Receiver<Job>>>,
    recipients: Mutex<HashMap<UserId, Recipient>>,
    /// Counts, for `/metrics`.
    pub counts: PushCounts,
}

/// A device's push subscription, as stored.
pub type Subscription = (DeviceId, PushSubscriptionRecord);

/// What the pusher remembers of one recipient.
#[derive(Default)]
struct Recipient {
    /// Their devices' subscriptions as last read (`None`: read them again).
    subscriptions: Option<Vec<Subscription>>,
    /// Per device, the senders it was pushed about since it last connected here, and when.
    pushed: HashMap<DeviceId, HashMap<UserId, i64>>,
}

/// The plaintext of a push: `{"from":"<id>"}` padded with spaces to [`PAYLOAD_LEN`].
pub fn payload(from: UserId) -> Vec<u8> {
    let mut text = format!(r#"{{"from":"{from}"}}"#).into_bytes();
    text.resize(PAYLOAD_LEN, b' ');
    text
}

impl Pusher {
    /// The pusher for this configuration, its VAPID key derived from `secret`.
    pub fn new(config: &Config, secret: &[u8]) -> Self {
        let subject = config.push_subject.clone().unwrap_or_else(|| config.public_origin());
        let mut client = reqwest::Client::builder().timeout(TIMEOUT).redirect(reqwest::redirect::Policy::none());
        if !config.push_allow_private {
            client = client.dns_resolver(std::sync::Arc::new(PublicOnly));
        }
        let (queue, jobs) = mpsc::channel(QUEUE);
        Self {
            vapid: Vapid::from_secret(secret, subject),
            allow_private: config.push_allow_private,
            client: client.build().expect("an HTTP client with rustls builds"),
            queue,
            jobs: Mutex::new(Some(jobs)),
            recipients: Mutex::new(HashMap::new()),
            counts: PushCounts::default(),
        }
    }

    /// The server's VAPID public key (`applicationServerKey`).
    pub fn public_key(&self) -> &str {
        self.vapid.public_key()
    }

    /// Whether pushes may go to `http` and non-public addresses (tests only).
    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// A message for `to` from `from` was stored: queue a push (never waits).
    pub fn message_stored(&self, to: UserId, from: UserId) {
        if self.queue.try_send(Job { to, from }).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A device of `user` connected (`None`: a browser that is not a device yet): the next
    /// message from anyone pushes that device again, and the person's subscriptions are read
    /// again (they may have changed through another node).
    pub fn connected(&self, user: UserId, device: Option<DeviceId>) {
        let Ok(mut recipients) = self.recipients.lock() else { return };
        if let Some(recipient) = recipients.get_mut(&user) {
            recipient.subscriptions = None;
            if let Some(device) = device {
                recipient.pushed.remove(&device);
            }
        }
    }

    /// A subscription of `user` was set or removed, or a device removed: read them again.
    pub fn subscriptions_changed(&self, user: UserId) {
        if let Ok(mut recipients) = self.recipients.lock()
            && let Some(recipient) = recipients.get_mut(&user)
        {
            recipient.subscriptions = None;
        }
    }

    /// `user`'s subscriptions as last read, if remembered.
    pub fn remembered_subscriptions(&self, user: UserId) -> Option<Vec<Subscription>> {
        self.recipients.lock().ok()?.get(&user)?.subscriptions.clone()
    }

    /// Remembers `user`'s subscriptions as just read.
    pub fn remember_subscriptions(&self, user: UserId, subscriptions: Vec<Subscription>) {
        self.with_recipient(user, |recipient| recipient.subscriptions = Some(subscriptions));
    }

    /// When `device` of `job.to` was last pushed about `job.from`, if it was since it last
    /// connected to this node.
    pub fn pushed_at(&self, job: Job, device: DeviceId) -> Option<i64> {
        self.recipients.lock().ok()?.get(&job.to)?.pushed.get(&device)?.get(&job.from).copied()
    }

    /// Records that `device` of `job.to` was pushed about `job.from` at `at` (seconds).
    pub fn record_push(&self, job: Job, device: DeviceId, at: i64) {
        self.with_recipient(job.to, |recipient| recipient.pushed.entry(device).or_default().insert(job.from, at));
    }

    fn with_recipient<T>(&self, user: UserId, f: impl FnOnce(&mut Recipient) -> T) -> Option<T> {
        let mut recipients = self.recipients.lock().ok()?;
        if recipients.len() >= MAX_REMEMBERED && !recipients.contains_key(&user) {
            recipients.clear();
        }
        Some(f(recipients.entry(user).or_default()))
    }

    /// The worker's end of the queue (once).
    pub fn take_jobs(&self) -> Option<mpsc::Receiver<Job>> {
        self.jobs.lock().ok()?.take()
    }
}

/// Why a push did not go through.
pub enum Refused {
    /// The subscription no longer exists (or was made for another key): remove it.
    Gone,
    /// Anything else: try again with the next message.
    Other(String),
}

impl Pusher {
    /// Posts the push for `job` to `device`'s `subscription` at `now` (seconds).
    pub async fn post(
        &self,
        job: Job,
        device: DeviceId,
        subscription: &PushSubscriptionRecord,
        now: i64,
    ) -> Result<(), Refused> {
        let url = endpoint::check(&subscription.endpoint, self.allow_private).map_err(|_| Refused::Gone)?;
        let receiver = receiver_of(subscription).ok_or(Refused::Gone)?;
        let body = ece::encrypt(&payload(job.from), &receiver).map_err(|e| Refused::Other(e.to_string()))?;
        let audience = url.origin().ascii_serialization();
        // One topic per device and sender: a push service holding an undelivered push
        // replaces it with the next (RFC 8030 §5.4). Hashed, so the service learns no id.
        let topic = Sha256::digest(format!("{device}/{}", job.from));
        let response = self
            .client
            .post(url)
            .header("TTL", TTL_SECS.to_string())
            .header("Urgency", "high")
            .header("Topic", &URL_SAFE_NO_PAD.encode(topic)[..32])
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", self.vapid.authorization(&audience, now))
            .body(body)
            .send()
            .await
            .map_err(|e| Refused::Other(e.to_string()))?;
        match response.status() {
            status if status.is_success() => Ok(()),
            StatusCode::NOT_FOUND | StatusCode::GONE | StatusCode::FORBIDDEN => Err(Refused::Gone),
            status => Err(Refused::Other(format!("the push service answered {status}"))),
        }
    }
}

/// The subscription's keys, if they are valid (checked when stored; stored ones could
/// predate a stricter check).
pub fn receiver_of(subscription: &PushSubscriptionRecord) -> Option<Receiver> {
    let public = PublicKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(&subscription.p256dh).ok()?).ok()?;
    let auth = URL_SAFE_NO_PAD.decode(&subscription.auth).ok()?.try_into().ok()?;
    Some(Receiver { public, auth })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_has_the_same_length_and_names_only_the_sender() {
        let (a, b) = (UserId::new(), UserId::new());
        assert_eq!(payload(a).len(), PAYLOAD_LEN);
        assert_eq!(payload(a).len(), payload(b).len());
        let parsed: serde_json::Value = serde_json::from_slice(&payload(a)).unwrap();
        assert_eq!(parsed, serde_json::json!({ "from": a.to_string() }));
    }
}
