//! The MongoDB backend for accounts, sessions, sign-in codes, friendships and keys — the
//! production store of a multi-node deployment (the mailbox lives in Redis).
//!
//! Collections: `users` (unique `phone`), `sessions`, `refresh_tokens` (`_id` = token
//! hash), `sign_in_codes` (`_id` = phone/challenge, one per sign-in attempt), `friend_requests` (unique `(from, to)`),
//! `friend_keys` (unique `(owner, friend)`; a friendship is both directions' documents —
//! the name is from crypto v1, when each side held a key for the friendship),
//! `blocks` (unique `(blocker, blocked)`), `device_sets` (`_id` = user: identity key,
//! version and devices) and `rate_events` with a TTL index. Ids are stored as strings,
//! hashes as lower-case hex.
//!
//! Multi-document changes — a friend request (its facts read and the request written),
//! accepting one, deleting an account — run in one transaction where SQLite uses one, on a
//! replica set (the compose file runs a one-node set). On a standalone server, which has no
//! transactions, they run as ordered steps instead, so that a crash between two leaves a
//! state the next request repairs (e.g. accept writes both sides before deleting the
//! request); start-up says so in the log.

mod accounts;
mod devices;
mod push;
mod social;

use async_trait::async_trait;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{ClientSession, Collection, Database, IndexModel};

use super::{HealthCheck, StoreError, StoreResult};

impl From<mongodb::error::Error> for StoreError {
    fn from(e: mongodb::error::Error) -> Self {
        StoreError(format!("mongodb: {e}"))
    }
}

/// Whether an error is a unique-index violation.
pub(crate) fn is_duplicate(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    matches!(&*e.kind, ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == 11000)
}

/// Whether the server that answered `hello` has multi-document transactions: a replica-set
/// member or a mongos router (a standalone server has none).
pub fn has_transactions(hello: &Document) -> bool {
    hello.get_str("setName").is_ok() || hello.get_str("msg") == Ok("isdbgrid")
}

/// A MongoDB database holding one deployment.
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    /// Whether the deployment has multi-document transactions (a replica set or mongos).
    transactions: bool,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl MongoStore {
    /// Connects to `uri` and uses database `name`, creating the indexes it relies on.
    pub async fn connect(uri: &str, name: &str) -> StoreResult<Self> {
        let client = mongodb::Client::with_uri_str(uri).await?;
        let db = client.database(name);
        let hello = db.run_command(doc! { "hello": 1 }).await?;
        let transactions = has_transactions(&hello);
        if !transactions {
            tracing::warn!(
                "MongoDB is a standalone server: friend requests and account deletion run as ordered steps, \
                 not transactions; run it as a (one-node) replica set"
            );
        }
        let store = Self { db, transactions };
        store.create_indexes().await?;
        store.drop_v1_keys().await?;
        Ok(store)
    }

    pub(crate) fn coll(&self, name: &str) -> Collection<Document> {
        self.db.collection::<Document>(name)
    }

    /// A session for a multi-document change, with a transaction open when the deployment
    /// has them. Dropping it before [`Self::commit`] aborts the transaction.
    pub(crate) async fn begin(&self) -> StoreResult<ClientSession> {
        let mut session = self.db.client().start_session().await?;
        if self.transactions {
            session.start_transaction().await?;
        }
        Ok(session)
    }

    /// Commits what [`Self::begin`] opened.
    pub(crate) async fn commit(&self, session: &mut ClientSession) -> StoreResult<()> {
        if self.transactions {
            session.commit_transaction().await?;
        }
        Ok(())
    }

    async fn create_indexes(&self) -> StoreResult<()> {
        let unique = |keys: Document| {
            IndexModel::builder().keys(keys).options(IndexOptions::builder().unique(true).build()).build()
        };
        let plain = |keys: Document| IndexModel::builder().keys(keys).build();
        self.coll("users").create_index(unique(doc! { "phone": 1 })).await?;
        self.coll("sessions").create_index(plain(doc! { "user_id": 1 })).await?;
        self.coll("refresh_tokens").create_index(plain(doc! { "session_id": 1 })).await?;
        self.coll("friend_requests").create_index(unique(doc! { "from": 1, "to": 1 })).await?;
        self.coll("friend_requests").create_index(plain(doc! { "to": 1 })).await?;
        self.coll("friend_keys").create_index(unique(doc! { "owner": 1, "friend": 1 })).await?;
        self.coll("friend_keys").create_index(plain(doc! { "friend": 1 })).await?;
        self.coll("blocks").create_index(unique(doc! { "blocker": 1, "blocked": 1 })).await?;
        Ok(())
    }

    /// Crypto v2 upgrade: friendships and requests no longer carry per-friendship keys.
    /// Idempotent; a no-op once done.
    async fn drop_v1_keys(&self) -> StoreResult<()> {
        let with_key = doc! { "public_key": { "$exists": true } };
        self.coll("friend_keys")
            .update_many(with_key, doc! { "$unset": { "public_key": "", "updated_at": "" } })
            .await?;
        let with_key = doc! { "from_key": { "$exists": true } };
        self.coll("friend_requests").update_many(with_key, doc! { "$unset": { "from_key": "" } }).await?;
        Ok(())
    }

    /// Drops every collection (test isolation only).
    pub async fn drop_all(&self) -> StoreResult<()> {
        self.db.drop().await?;
        Ok(())
    }
}

pub(crate) fn hash_hex(bytes: &[u8; 32]) -> String {
    hex(bytes)
}

#[async_trait]
impl HealthCheck for MongoStore {
    async fn ping(&self) -> StoreResult<()> {
        self.db.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }
}
