//! Linking a browser (`docs/CRYPTO.md` §13) from both ends, over the server's relay
//! (`/api/v1/links`). The new browser is the [`Requester`]: it opens a link, shows its code,
//! and on each [`Requester::poll`] takes its next step — its key once the approver has
//! committed, then, once the approver's key is there and matches the commitment, the
//! comparison code to show, and finally the account identity, which it keeps for
//! registering as a device. A device of the account is the [`Approver`]: it joins by the
//! typed code with a commitment, sends its key once the requester's is there, shows the
//! comparison code, and only after the person confirms that both screens match sends the
//! identity ([`Approver::confirm`]). Polling is the caller's (about once a second).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_crypto::{IdentityKeyPair, KeyPair, LinkChannel, PublicKey, link_commitment, link_comparison_code};
use hush_shared::UserId;
use hush_shared::api::links::{HistoryChunk, JoinLink, Link, LinkStep};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::{self, ApiError, Http};
use crate::device::{self, DeviceError};
use crate::history::{self, HistoryRecord};
use crate::store::ClientStore;

/// Where a link stands, for the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for the other side.
    Waiting,
    /// Both keys are exchanged: show this 6-digit code; the person compares it with the
    /// other screen.
    Compare(String),
    /// The new browser is receiving the recent history (chunks so far, of all).
    Receiving {
        /// Chunks received.
        done: u32,
        /// Chunks in all.
        total: u32,
    },
    /// The requester holds the account identity (registering comes next); for the
    /// approver, the identity is sent.
    Done,
}

/// Why linking stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The server refused or could not be reached (an expired or cancelled link is
    /// `link_not_found`).
    #[error("{}", .0.message)]
    Api(ApiError),
    /// What the other side sent does not fit: a key not committed to, a payload that does
    /// not open. Someone may be in the middle: the link is cancelled.
    #[error("the other side's answer does not check out; start linking again")]
    Tampered,
    /// Keeping the identity failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
}

impl From<ApiError> for LinkError {
    fn from(e: ApiError) -> Self {
        LinkError::Api(e)
    }
}

/// The sealed payload (`docs/CRYPTO.md` §13), fields in their fixed order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    v: u32,
    identity_secret: String,
}

fn key_of(text: Option<&String>) -> Result<Option<PublicKey>, LinkError> {
    text.map(|t| PublicKey::from_wire(t).map_err(|_| LinkError::Tampered)).transpose()
}

/// Chunks of history the new browser fetches per poll (so the screen can show progress).
const CHUNKS_PER_POLL: u32 = 8;

/// The new browser's side of a link.
pub struct Requester {
    link: Link,
    ephemeral: KeyPair,
    /// History chunks opened so far.
    history: Vec<Vec<u8>>,
}

impl Requester {
    /// Opens a link (replacing any this sign-in opened before).
    pub async fn open(http: &(impl Http + ?Sized)) -> Result<Self, LinkError> {
        Ok(Self { link: api::open_link(http).await?, ephemeral: KeyPair::generate(), history: Vec::new() })
    }

    /// The code to show (8 digits).
    pub fn code(&self) -> &str {
        self.link.code.as_deref().unwrap_or_default()
    }

    /// The link id.
    pub fn id(&self) -> Uuid {
        self.link.link_id
    }

    /// Unix seconds after which the link is gone.
    pub fn expires_at(&self) -> i64 {
        self.link.expires_at
    }

    /// Reads the link and takes the next step. At [`Progress::Done`] this browser holds
    /// the account identity (as `me`'s own device, not yet registered).
    pub async fn poll(
        &mut self,
        http: &(impl Http + ?Sized),
        store: &impl ClientStore,
        me: UserId,
    ) -> Result<Progress, LinkError> {
        let mut link = api::link(http, self.link.link_id).await?;
        if link.commitment.is_some() && link.requester_key.is_none() {
            let step = LinkStep {
                commitment: None,
                requester_key: Some(self.ephemeral.public().to_wire()),
                approver_key: None,
                sealed: None,
            };
            link = api::link_step(http, link.link_id, &step).await?;
        }
        let id = *link.link_id.as_bytes();
        let Some(approver) = key_of(link.approver_key.as_ref())? else { return Ok(Progress::Waiting) };
        let committed = URL_SAFE_NO_PAD.encode(link_commitment(&id, &approver));
        if link.commitment.as_deref() != Some(committed.as_str()) {
            let _ = api::cancel_link(http, link.link_id).await;
            return Err(LinkError::Tampered);
        }
        let code = link_comparison_code(&id, &approver, self.ephemeral.public());
        let Some(sealed) = &link.sealed else { return Ok(Progress::Compare(code)) };
        let channel = LinkChannel::derive(&id, &self.ephemeral, &approver, (&approver, self.ephemeral.public()));
        let payload = URL_SAFE_NO_PAD.decode(sealed).ok().and_then(|bytes| channel.open(&bytes).ok());
        let payload: Option<Payload> = payload.and_then(|p| serde_json::from_slice(&p).ok());
        let secret = payload.filter(|p| p.v == 1).map(|p| p.identity_secret);
        let secret = secret.filter(|s| {
            let bytes = URL_SAFE_NO_PAD.decode(s).unwrap_or_default();
            IdentityKeyPair::from_secret_bytes(&bytes).is_ok()
        });
        let Some(secret) = secret else {
            let _ = api::cancel_link(http, link.link_id).await;
            return Err(LinkError::Tampered);
        };
        let total = link.history_count.unwrap_or(0);
        let fetched = self.history.len() as u32;
        for index in fetched..total.min(fetched + CHUNKS_PER_POLL) {
            let chunk = api::history(http, link.link_id, index).await?;
            let opened = URL_SAFE_NO_PAD.decode(&chunk.chunk).ok().filter(|_| chunk.count == total);
            let Some(records) = opened.and_then(|bytes| channel.open_history(index, total, &bytes).ok()) else {
                let _ = api::cancel_link(http, link.link_id).await;
                return Err(LinkError::Tampered);
            };
            self.history.push(records);
        }
        if (self.history.len() as u32) < total {
            self.link = link;
            return Ok(Progress::Receiving { done: self.history.len() as u32, total });
        }
        self.keep_history(store).await?;
        device::adopt_identity(store, me, &secret, link.link_id).await?;
        self.link = link;
        Ok(Progress::Done)
    }

    /// Stores the received history (records already here are left as they are).
    async fn keep_history(&mut self, store: &impl ClientStore) -> Result<(), LinkError> {
        for chunk in std::mem::take(&mut self.history) {
            let records: Vec<HistoryRecord> = serde_json::from_slice(&chunk).map_err(|_| LinkError::Tampered)?;
            for record in records {
                if store.message(record.id).await.map_err(DeviceError::from)?.is_none() {
                    store.put_message(&history::message(record)).await.map_err(DeviceError::from)?;
                }
            }
        }
        Ok(())
    }

    /// Gives the link up.
    pub async fn cancel(&self, http: &(impl Http + ?Sized)) -> Result<(), LinkError> {
        Ok(api::cancel_link(http, self.link.link_id).await?)
    }
}

/// A device's side of a link.
pub struct Approver {
    link: Link,
    ephemeral: KeyPair,
}

impl Approver {
    /// Joins the link shown with `code` and commits to a fresh key.
    pub async fn join(http: &(impl Http + ?Sized), code: &str) -> Result<Self, LinkError> {
        let ephemeral = KeyPair::generate();
        let link = api::join_link(http, &JoinLink { code: code.to_owned() }).await?;
        let commitment = URL_SAFE_NO_PAD.encode(link_commitment(link.link_id.as_bytes(), ephemeral.public()));
        let step = LinkStep { commitment: Some(commitment), requester_key: None, approver_key: None, sealed: None };
        let link = api::link_step(http, link.link_id, &step).await?;
        Ok(Self { link, ephemeral })
    }

    /// The link id.
    pub fn id(&self) -> Uuid {
        self.link.link_id
    }

    /// Reads the link and takes the next step: once the requester's key is there, sends
    /// this side's and returns the comparison code.
    pub async fn poll(&mut self, http: &(impl Http + ?Sized)) -> Result<Progress, LinkError> {
        let mut link = api::link(http, self.link.link_id).await?;
        let Some(requester) = key_of(link.requester_key.as_ref())? else { return Ok(Progress::Waiting) };
        if link.approver_key.is_none() {
            let step = LinkStep {
                commitment: None,
                requester_key: None,
                approver_key: Some(self.ephemeral.public().to_wire()),
                sealed: None,
            };
            link = api::link_step(http, link.link_id, &step).await?;
        }
        let code = link_comparison_code(link.link_id.as_bytes(), self.ephemeral.public(), &requester);
        let done = link.sealed.is_some();
        self.link = link;
        Ok(if done { Progress::Done } else { Progress::Compare(code) })
    }

    /// The person confirmed that both screens show the same code: sends the recent history
    /// (`history`: chunks of records, see [`crate::history`]; `sent(done, total)` after each)
    /// and then the account identity, each sealed for the requester's key alone.
    pub async fn confirm(
        &mut self,
        http: &(impl Http + ?Sized),
        identity: &IdentityKeyPair,
        history: &[Vec<u8>],
        mut sent: impl FnMut(u32, u32),
    ) -> Result<(), LinkError> {
        let Some(requester) = key_of(self.link.requester_key.as_ref())? else {
            return Err(LinkError::Api(api::unreachable("the new browser's key has not arrived yet")));
        };
        let id = *self.link.link_id.as_bytes();
        let channel = LinkChannel::derive(&id, &self.ephemeral, &requester, (self.ephemeral.public(), &requester));
        let total = history.len() as u32;
        for (index, records) in (0..total).zip(history) {
            let sealed = channel.seal_history(index, total, records).map_err(|_| LinkError::Tampered)?;
            let chunk = HistoryChunk { count: total, chunk: URL_SAFE_NO_PAD.encode(sealed) };
            self.link = api::put_history(http, self.link.link_id, index, &chunk).await?;
            sent(index + 1, total);
        }
        let payload = Payload { v: 1, identity_secret: URL_SAFE_NO_PAD.encode(&identity.secret_bytes()[..]) };
        let payload = zeroize::Zeroizing::new(serde_json::to_vec(&payload).unwrap_or_default());
        let sealed = channel.seal(&payload).map_err(|_| LinkError::Tampered)?;
        let step = LinkStep {
            commitment: None,
            requester_key: None,
            approver_key: None,
            sealed: Some(URL_SAFE_NO_PAD.encode(sealed)),
        };
        self.link = api::link_step(http, self.link.link_id, &step).await?;
        Ok(())
    }

    /// Gives the link up (the codes did not match, or the person changed their mind).
    pub async fn cancel(&self, http: &(impl Http + ?Sized)) -> Result<(), LinkError> {
        Ok(api::cancel_link(http, self.link.link_id).await?)
    }
}

/// The recent history this device holds, as chunks ready for [`Approver::confirm`]: every
/// friend's conversation, bounded as [`crate::history::records`] says.
pub async fn recent_history(
    store: &impl ClientStore,
    http: &(impl Http + ?Sized),
    now_ms: i64,
) -> Result<Vec<Vec<u8>>, LinkError> {
    let mut messages = Vec::new();
    for friend in api::friends(http).await?.friends {
        messages.extend(store.conversation(friend.user_id).await.map_err(DeviceError::from)?);
    }
    Ok(history::chunks(&history::records(messages, now_ms)))
}
