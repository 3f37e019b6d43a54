//! Storage traits, one per aggregate, and the records they return.
//!
//! The server holds each as `Arc<dyn …>` in [`Stores`], so the backend is chosen by
//! configuration. Rules that must hold atomically (no duplicate friend requests, blocks
//! remove friendships, a code is consumed once) live *inside* the backend's transaction and
//! come back as outcome enums; the service layer turns outcomes into API errors.
//!
//! Backends: [`sqlite`] (embedded, the default) and [`redis`] (mailbox, rate limits).

pub mod mongo;
pub mod redis;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use hush_shared::ws::{MessageId, ReceiptId, ReceiptKind};
use hush_shared::{DeviceId, FriendRequestId, UserId};
use uuid::Uuid;

/// A storage failure the caller cannot fix (I/O, corruption, a bug). Answered as 500/503
/// and logged; never shown to clients in detail.
#[derive(Debug, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A session id: one per sign-in, carried as `sid` in access tokens.
pub type SessionId = Uuid;

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Stable id.
    pub id: UserId,
    /// E.164 phone number (unique).
    pub phone: String,
    /// Display name, once chosen.
    pub display_name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Accounts.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Returns the account for this phone number, creating it if new (`true` = created).
    async fn find_or_create(&self, phone: &str, now: i64) -> StoreResult<(UserRecord, bool)>;
    /// Looks an account up by id.
    async fn get(&self, id: UserId) -> StoreResult<Option<UserRecord>>;
    /// Looks an account up by exact E.164 number.
    async fn find_by_phone(&self, phone: &str) -> StoreResult<Option<UserRecord>>;
    /// Sets the display name; `None` if the account does not exist.
    async fn set_display_name(&self, id: UserId, name: &str) -> StoreResult<Option<UserRecord>>;
    /// Deletes the account and everything tied to it (sessions, requests, friendships,
    /// keys, blocks in both directions, its sign-in code). `false` if it did not exist.
    async fn delete(&self, id: UserId) -> StoreResult<bool>;
}

/// What a refresh-token rotation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current: it is now replaced by the new one.
    Rotated { session: SessionId, user: UserId },
    /// The token had already been rotated: someone replayed it, so the whole session was
    /// revoked (the owner's live connections on it are to be closed).
    ReuseDetected { session: SessionId, user: UserId },
    /// Unknown, expired, or its session is revoked.
    Invalid,
}

/// Rotated refresh tokens kept per session, newest first, so that replaying one of them is
/// recognised as reuse (and revokes the session); older ones are deleted on rotation, so a
/// session holds at most this many plus its current token. A replay of a deleted one is
/// refused as unknown.
pub const ROTATED_TOKENS_KEPT: i64 = 8;

/// Sign-in sessions and their refresh tokens (stored as SHA-256 hashes).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Starts a session with its first refresh token.
    async fn create(
        &self,
        session: SessionId,
        user: UserId,
        refresh_hash: [u8; 32],
        now: i64,
        refresh_expires_at: i64,
    ) -> StoreResult<()>;
    /// The session's user if it exists and is not revoked.
    async fn active_user(&self, session: SessionId) -> StoreResult<Option<UserId>>;
    /// Replaces a current refresh token by a new one (see [`RotateOutcome`]).
    async fn rotate(
        &self,
        old_hash: [u8; 32],
        new_hash: [u8; 32],
        now: i64,
        new_expires_at: i64,
    ) -> StoreResult<RotateOutcome>;
    /// Revokes a session: its access and refresh tokens stop working at once.
    async fn revoke(&self, session: SessionId, now: i64) -> StoreResult<()>;
}

/// What checking a sign-in code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Correct: the code is consumed.
    Accepted,
    /// Wrong; this many tries remain.
    Wrong { remaining: u32 },
    /// Wrong for the last allowed time: the code is burned.
    Burned,
    /// No live code (never sent, expired, used or burned).
    Missing,
}

/// Sign-in codes, one per sign-in attempt ([`CodeSlot`]), stored as keyed hashes.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a new code in its slot (replacing one there) and deletes expired codes.
    async fn put(&self, slot: &CodeSlot, code_hash: [u8; 32], now: i64, expires_at: i64) -> StoreResult<()>;
    /// Compares a guess with the slot's code in constant time and counts the attempt,
    /// atomically.
    async fn check(&self, slot: &CodeSlot, guess_hash: [u8; 32], now: i64, max_attempts: u32)
    -> StoreResult<CodeCheck>;
}

/// Where a sign-in code waits: the number and the sign-in attempt it was sent for, named by
/// a challenge only the requester was given. Codes asked for by different people for one
/// number wait apart, so nobody can replace or burn someone else's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSlot {
    /// The number, E.164.
    pub phone: String,
    /// The attempt's challenge (base64url).
    pub challenge: String,
}

impl CodeSlot {
    /// The slot's key in a store: `phone/challenge`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.phone, self.challenge)
    }
}

/// One rate-limit rule: at most `limit` hits of `key` within `window_secs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateRule {
    /// Bucket name, e.g. `sms:+15551234567`.
    pub key: String,
    /// Hits allowed per window.
    pub limit: u32,
    /// Sliding window length.
    pub window_secs: i64,
}

/// Sliding-window rate limits.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// If every rule has room, records one hit per distinct key and returns `Ok(())`;
    /// otherwise records nothing and returns the seconds until all would have room.
    async fn hit(&self, rules: &[RateRule], now: i64) -> StoreResult<Result<(), u64>>;
}

/// A pending friend request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRequestRecord {
    /// Request id.
    pub id: FriendRequestId,
    /// Who asked.
    pub from: UserId,
    /// Whom.
    pub to: UserId,
    /// Unix seconds.
    pub created_at: i64,
}

/// A request joined with the *other* person's display name and phone number, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRequestView {
    /// The request.
    pub request: FriendRequestRecord,
    /// Display name of the other side (requester for incoming, recipient for outgoing).
    pub other_display_name: Option<String>,
    /// Phone number of the other side.
    pub other_phone: String,
}

/// One friendship as seen by one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRecord {
    /// The friend.
    pub user_id: UserId,
    /// Their display name.
    pub display_name: Option<String>,
    /// Unix seconds.
    pub since: i64,
}

/// Why a friend request could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestRefusal {
    /// No such user.
    UnknownUser,
    /// Already friends.
    AlreadyFriends,
    /// A request from me to them is pending.
    AlreadySent,
    /// A request from them to me is pending.
    IncomingExists,
    /// One blocked the other.
    Blocked,
}

/// What lies between a requester and the person they ask, as a store reads it inside the
/// step that creates the request (so nothing changes between reading and writing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// The person asked has an account.
    pub recipient_exists: bool,
    /// The requester blocked the person asked.
    pub requester_blocked: bool,
    /// The person asked blocked the requester.
    pub blocked_by_recipient: bool,
    /// They are friends already.
    pub friends: bool,
    /// A request from the requester to them is pending.
    pub sent: bool,
    /// A request from them to the requester is pending.
    pub incoming: bool,
}

/// Decides from the facts whether a request may be created. The rule is written once, above
/// the stores (`service::friends::request_rule`); each store only reads the facts and writes
/// the request when the rule allows it.
pub type RequestRule = fn(&RequestFacts) -> Result<RequestDelivery, RequestRefusal>;

/// Whether the person asked hears of a request the rule allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestDelivery {
    /// Listed for them and announced.
    Shown,
    /// Kept from them: they blocked the requester. The requester sees it pending as usual
    /// (so a block is not revealed); it is deleted when the block is lifted.
    Withheld,
}

/// What a `send` needs about two friends, read together: the devices of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRoute {
    /// The recipient's devices.
    pub recipient: Vec<DeviceId>,
    /// The sender's devices (the sending one included).
    pub sender: Vec<DeviceId>,
}

/// Which side acts on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestSide {
    /// The recipient (decline).
    Recipient,
    /// The requester (cancel).
    Requester,
}

/// Friend requests, friendships and blocks.
#[async_trait]
pub trait SocialStore: Send + Sync {
    /// Reads the [`RequestFacts`] between the two people and creates the request if `rule`
    /// allows it, in one step (a concurrent identical request is refused as
    /// [`RequestRefusal::AlreadySent`]).
    async fn create_request(
        &self,
        request: FriendRequestRecord,
        rule: RequestRule,
    ) -> StoreResult<Result<RequestDelivery, RequestRefusal>>;
    /// `(incoming, outgoing)` pending requests of a user, oldest first; incoming ones from
    /// people the user blocked are left out (see [`RequestDelivery::Withheld`]).
    async fn list_requests(&self, user: UserId) -> StoreResult<(Vec<FriendRequestView>, Vec<FriendRequestView>)>;
    /// Accepts a request addressed to `accepter`: creates the friendship and removes the
    /// request. `None` if no such request is addressed to them (or it is withheld from them).
    async fn accept_request(
        &self,
        id: FriendRequestId,
        accepter: UserId,
        now: i64,
    ) -> StoreResult<Option<FriendRequestRecord>>;
    /// Deletes a request if `user` is on the given side of it; returns it.
    async fn delete_request(
        &self,
        id: FriendRequestId,
        user: UserId,
        side: RequestSide,
    ) -> StoreResult<Option<FriendRequestRecord>>;
    /// All friends of a user.
    async fn list_friends(&self, user: UserId) -> StoreResult<Vec<FriendRecord>>;
    /// The friendship between `user` and `friend`, as `user` sees it.
    async fn friend(&self, user: UserId, friend: UserId) -> StoreResult<Option<FriendRecord>>;
    /// Ends a friendship; `false` if there was none.
    async fn unfriend(&self, user: UserId, friend: UserId) -> StoreResult<bool>;
    /// Blocks `blocked` (also ends the friendship and drops pending requests both ways).
    /// `false` if that user does not exist.
    async fn block(&self, blocker: UserId, blocked: UserId, now: i64) -> StoreResult<bool>;
    /// Lifts a block, deleting the requests withheld meanwhile; `false` if there was none.
    async fn unblock(&self, blocker: UserId, blocked: UserId) -> StoreResult<bool>;
    /// Ids of all friends of a user (for presence fan-out).
    async fn friend_ids(&self, user: UserId) -> StoreResult<Vec<UserId>>;
    /// Whether the two are friends (a friendship implies neither blocked the other).
    async fn are_friends(&self, a: UserId, b: UserId) -> StoreResult<bool>;
    /// On every message sent: `None` unless `from` and `to` are friends, else both their
    /// device lists, read in one step.
    async fn send_route(&self, from: UserId, to: UserId) -> StoreResult<Option<SendRoute>>;
}

/// One message in a mailbox, as an ack or retry names it: message ids are chosen by their
/// senders, so two senders' messages may share one, and only the sender tells them apart.
/// `seq` is where it was read from ([`StoredMessage::seq`]), and the rest must be what was
/// read there: a store may find the copy by `seq` alone (Redis acks do; the embedded store
/// checks the rest too). Connections name only copies they were handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageRef {
    /// Who sent it.
    pub sender: UserId,
    /// Its id.
    pub id: MessageId,
    /// Its position in the mailbox, as read.
    pub seq: i64,
}

/// One receipt in a mailbox, as an ack names it: its id and where it was read from
/// ([`StoredReceipt::seq`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptRef {
    /// The receipt's id.
    pub id: ReceiptId,
    /// Its position in the mailbox's receipt queue, as read.
    pub seq: i64,
}

/// One device's mailbox: messages for that device and receipts for it. A person has one
/// per registered device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mailbox {
    /// The person.
    pub user: UserId,
    /// Their device.
    pub device: DeviceId,
}

/// A message waiting in a device's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Position in the mailbox (increasing; gaps allowed).
    pub seq: i64,
    /// Client-chosen id.
    pub id: MessageId,
    /// Sender.
    pub from: UserId,
    /// The sender's device (the nil id for messages queued before crypto v2).
    pub from_device: DeviceId,
    /// The person it is addressed to (the mailbox's owner, or for a copy on the sender's
    /// other device, the friend it was written to).
    pub to: UserId,
    /// Envelope bytes.
    pub envelope: Vec<u8>,
    /// Unix seconds when first stored.
    pub stored_at: i64,
}

/// What storing a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Newly stored (or, for a resend, stored again for the devices that asked for it).
    Stored { at: i64 },
    /// This sender already sent this id (stored or delivered): nothing changed.
    Duplicate { at: i64 },
    /// A mailbox it is for holds its maximum: nothing was stored.
    MailboxFull,
}

/// A receipt waiting in a device's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    /// Position in the mailbox's receipt queue.
    pub seq: i64,
    /// Receipt id (the same in every mailbox the receipt went to).
    pub id: ReceiptId,
    /// What happened.
    pub kind: ReceiptKind,
    /// The message it is about.
    pub message_id: MessageId,
    /// The other person of the conversation.
    pub peer: UserId,
    /// With `resend`: the device of `peer` that asks for the message again.
    pub peer_device: Option<DeviceId>,
    /// Unix seconds.
    pub at: i64,
}

/// One envelope of a message, for one device's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeCopy {
    /// The mailbox (a device of the recipient, or another device of the sender).
    pub mailbox: Mailbox,
    /// The envelope bytes for that device.
    pub envelope: Vec<u8>,
}

/// One message to enqueue: one envelope per device it goes to, under one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The person it is addressed to.
    pub to: UserId,
    /// The sender's message id.
    pub id: MessageId,
    /// The envelopes, one per mailbox.
    pub copies: Vec<EnvelopeCopy>,
}

/// Where one copy of a stored message went: its mailbox, its `seq`, and the `seq` of the
/// copy stored in that mailbox just before it, when the store knows it. A connection that
/// has read that mailbox up to `prev` and found nothing after it can hand this copy out
/// without reading: nothing can be waiting between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// The message's position in the batch given to the store.
    pub message: usize,
    /// The mailbox.
    pub mailbox: Mailbox,
    /// The copy's position in it.
    pub seq: i64,
    /// The position of the copy stored in that mailbox just before, if known.
    pub prev: Option<Preceding>,
}

/// Where a `delivered` receipt an ack queued went: the mailbox, the receipt as a read
/// would find it there, and the receipt stored in that mailbox just before it. A
/// connection that read that mailbox's receipts up to `prev` and found nothing after can
/// hand this one out without reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedReceipt {
    /// The mailbox (a device of the message's sender).
    pub mailbox: Mailbox,
    /// The receipt.
    pub receipt: StoredReceipt,
    /// Where the receipt stored there just before it is.
    pub prev: Preceding,
}

/// The `seq` of the copy (or receipt) stored just before another in its mailbox: one
/// value, except for copies on Redis: either `seq` of one stream entry, since a copy's
/// `seq` there also says whether it is its addressee's only copy, which the next entry
/// cannot know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preceding {
    /// The lowest `seq` it may have.
    pub lowest: i64,
    /// The highest.
    pub highest: i64,
}

impl Preceding {
    /// The one at `seq`.
    pub fn exactly(seq: i64) -> Self {
        Self { lowest: seq, highest: seq }
    }

    /// Whether `seq` is where the one before is.
    pub fn holds(self, seq: i64) -> bool {
        (self.lowest..=self.highest).contains(&seq)
    }
}

/// Mailbox limits, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxPolicy {
    /// Messages one device's mailbox may hold.
    pub max_messages: u32,
    /// Seconds an undelivered message is kept before it expires.
    pub ttl_secs: i64,
}

/// Receipts one device's mailbox keeps; beyond, the oldest go. A receipt only changes a
/// tick, so a device away that long misses the oldest ticks, never a message. Redis trims as
/// it queues, SQLite at each sweep ([`MailboxStore::expire`]).
pub const RECEIPTS_KEPT_PER_MAILBOX: usize = 20_000;

/// How long a store may keep an ack it deferred before writing it (the bound docs/PROTOCOL.md
/// gives clients); [`MailboxStore::flush_settled`] keeps it well under that.
pub const MAX_DEFERRAL: std::time::Duration = std::time::Duration::from_secs(1);

/// How often the store's owner writes what a store deferred that waits on nothing any more
/// ([`MailboxStore::flush_settled`]), so that no one write grows large: at 1,000 messages a
/// second, a second's acks written at once held the embedded store for 2–3.5 ms, the tail of
/// the round trips waiting behind it (BENCHMARKS.md, "Acks written ten times a second"). It
/// is also how long the embedded store keeps a send in its journal alone (`pending_sends`).
pub const SETTLED_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The durable mailboxes, one per device: messages until that device acks them, receipts
/// until it acks them. The store knows each person's mailboxes ([`Self::open_mailbox`]), so a
/// receipt reaches every device of the person, in the same atomic step that causes it.
/// Receipts roll up per person: one `delivered` per message (the first of the recipient's
/// devices to ack it), one `read` (the first to read it). Every method is atomic.
#[async_trait]
pub trait MailboxStore: Send + Sync {
    /// Makes sure the device has a mailbox (idempotent): receipts for its person reach it
    /// from now on. Messages queued for the person before devices had mailboxes of their
    /// own move into it.
    async fn open_mailbox(&self, mailbox: Mailbox) -> StoreResult<()>;
    /// Deletes a device's mailbox: its messages (no receipt: the device is gone, the
    /// person's other devices still get theirs), its receipts and its place in the list.
    async fn close_mailbox(&self, mailbox: Mailbox) -> StoreResult<()>;
    /// Deletes what waits between two people in every mailbox of each: the messages one sent
    /// the other and the receipts about the other (a block, an unfriend, a deleted account).
    async fn purge_between(&self, a: UserId, b: UserId) -> StoreResult<()>;
    /// Records that the device was connected at `at` (if it has a mailbox).
    async fn mark_seen(&self, mailbox: Mailbox, at: i64) -> StoreResult<()>;
    /// When each of the person's devices was last connected, for those ever seen.
    async fn last_seen(&self, user: UserId) -> StoreResult<Vec<(DeviceId, i64)>>;
    /// Stores messages from one device, in order, answering for each: a message is stored
    /// in every mailbox it names unless `(from, id)` was seen before or one of those
    /// mailboxes is full. A message seen before is stored again only for mailboxes whose
    /// device asked for it with `retry`. One store call (one transaction on SQLite, shared
    /// with other connections' sends; one round trip on Redis) for the lot.
    async fn enqueue_many(
        &self,
        from: Mailbox,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
    ) -> StoreResult<Vec<Enqueued>>;
    /// [`Self::enqueue_many`], also saying where each copy went ([`Placed`]) when the store
    /// knows what came before it in its mailbox; a store that does not says nothing, and
    /// connections read their mailboxes instead.
    async fn enqueue_placed(
        &self,
        from: Mailbox,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
    ) -> StoreResult<(Vec<Enqueued>, Vec<Placed>)> {
        Ok((self.enqueue_many(from, messages, now, policy).await?, vec![]))
    }
    /// Up to `limit` messages of a mailbox with `seq > after`, oldest first.
    async fn fetch_messages(&self, mailbox: Mailbox, after: i64, limit: usize) -> StoreResult<Vec<StoredMessage>>;
    /// Deletes acked messages from the mailbox. For each that is the first of its
    /// recipient's copies to be acked, queues a `delivered` receipt in every mailbox of the
    /// sender. Returns the people who got receipts (sorted, distinct).
    async fn ack_messages(&self, mailbox: Mailbox, messages: &[MessageRef], now: i64) -> StoreResult<Vec<UserId>>;
    /// [`Self::ack_messages`], also saying where each `delivered` receipt it queued went
    /// ([`PlacedReceipt`]) when the store knows what came before it; a store that does not
    /// says nothing, and connections read their receipts instead.
    async fn ack_messages_placed(
        &self,
        mailbox: Mailbox,
        messages: &[MessageRef],
        now: i64,
    ) -> StoreResult<(Vec<UserId>, Vec<PlacedReceipt>)> {
        Ok((self.ack_messages(mailbox, messages, now).await?, vec![]))
    }
    /// Deletes messages the device could not open, remembers that this device wants each
    /// again (so a resend under the same id is stored for it alone) and queues a `resend`
    /// receipt in the sending device's mailbox. Returns the senders (sorted, distinct).
    async fn retry_messages(&self, mailbox: Mailbox, messages: &[MessageRef], now: i64) -> StoreResult<Vec<UserId>>;
    /// The device `reader` read these messages from `sender`. Each message `sender` sent
    /// to the reader's person and not yet marked read gets a `read` receipt in every
    /// mailbox of the sender and a `read_elsewhere` receipt in the reader's other mailboxes;
    /// ids of anything else are ignored. Returns the people who got receipts.
    async fn read_messages(
        &self,
        reader: Mailbox,
        sender: UserId,
        ids: &[MessageId],
        now: i64,
    ) -> StoreResult<Vec<UserId>>;
    /// Up to `limit` receipts of a mailbox with `seq > after`, oldest first.
    async fn fetch_receipts(&self, mailbox: Mailbox, after: i64, limit: usize) -> StoreResult<Vec<StoredReceipt>>;
    /// Deletes acked receipts of a mailbox. A store may defer this (until [`Self::flush`] at
    /// the latest): a receipt acked just before the process dies comes again, and applying
    /// a receipt twice changes nothing. A later read from before the ack never returns it.
    async fn ack_receipts(&self, mailbox: Mailbox, receipts: &[ReceiptRef]) -> StoreResult<()>;
    /// Expires copies stored before `now - ttl` (at most `limit` per call). A message none
    /// of whose recipient's devices acked it gets one `expired` receipt in every mailbox of
    /// the sender. Stores that do not trim receipts as they queue them trim them here to
    /// [`RECEIPTS_KEPT_PER_MAILBOX`]. Returns the senders to notify.
    async fn expire(&self, now: i64, ttl_secs: i64, limit: usize) -> StoreResult<Vec<UserId>>;
    /// Writes what the store deferred (the embedded store defers acks and the receipts
    /// they queue, and keeps sends journaled but not yet in its tables; see
    /// `store::sqlite`); called at shutdown. Nothing for stores that defer
    /// nothing.
    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Writes what the store deferred that waits on nothing any more (the embedded store:
    /// the sends kept pending — their records, and their copies not acked yet — and acks
    /// but those whose `delivered` receipt its sender has not acked yet, unless that
    /// waited too long), due or not; called every [`SETTLED_FLUSH_INTERVAL`]. Nothing for
    /// stores that defer nothing.
    async fn flush_settled(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Messages waiting in one mailbox (for metrics and tests).
    async fn depth(&self, mailbox: Mailbox) -> StoreResult<u64>;
    /// Messages waiting in every mailbox (for metrics).
    async fn total_depth(&self) -> StoreResult<u64>;
}

/// A signed prekey as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPrekeyRecord {
    /// The device's id for it.
    pub id: u32,
    /// Wire public key.
    pub public_key: String,
    /// Wire signature.
    pub signature: String,
    /// Unix seconds it was uploaded.
    pub uploaded_at: i64,
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device.
    pub id: DeviceId,
    /// The session that registered it (its browser's sign-in).
    pub session: SessionId,
    /// Wire device key.
    pub device_key: String,
    /// Wire certificate.
    pub certificate: String,
    /// Its name, if it gave one.
    pub name: Option<String>,
    /// The current signed prekey.
    pub signed_prekey: SignedPrekeyRecord,
    /// Unix seconds.
    pub created_at: i64,
}

/// An account's identity and devices as one versioned unit, so that the registration
/// rules (`service::devices`) decide once, above the stores, and the decision is applied
/// only if nothing changed in between.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceSet {
    /// The account identity key, once a device set one.
    pub identity: Option<String>,
    /// The devices, oldest first.
    pub devices: Vec<DeviceRecord>,
    /// Changes whenever the identity or the device list does (0: never written).
    pub version: u64,
}

impl DeviceSet {
    /// The device registered under `session`, if the session is a device of the account.
    pub fn of_session(&self, session: SessionId) -> Option<&DeviceRecord> {
        self.devices.iter().find(|d| d.session == session)
    }
}

/// Account identities and devices, with each device's signed prekey.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// The account's identity and devices.
    async fn device_set(&self, user: UserId) -> StoreResult<DeviceSet>;
    /// Just the ids of the account's devices (checked on every send, so kept cheap).
    async fn device_ids(&self, user: UserId) -> StoreResult<Vec<DeviceId>>;
    /// If the set is still at `expected_version`: sets the identity, removes the devices
    /// `remove`, adds `add`, and bumps the version, atomically. `false` (nothing changed)
    /// if another change came first.
    async fn update_device_set(
        &self,
        user: UserId,
        expected_version: u64,
        identity: &str,
        remove: &[DeviceId],
        add: DeviceRecord,
    ) -> StoreResult<bool>;
    /// Replaces a device's signed prekey (bumping the set's version); `false` if no such
    /// device.
    async fn set_signed_prekey(&self, user: UserId, device: DeviceId, prekey: SignedPrekeyRecord) -> StoreResult<bool>;
    /// Removes a device (bumping the set's version); `false` if there was none.
    async fn remove_device(&self, user: UserId, device: DeviceId) -> StoreResult<bool>;
}

/// What adding one-time prekeys did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrekeysAdded {
    /// Stored; the device now has this many.
    Stored(u32),
    /// An id is already stored for the device: nothing was added.
    IdTaken(u32),
    /// The device would hold more than allowed: nothing was added.
    Full,
}

/// One-time prekeys: a pool per device from which each key is handed out exactly once,
/// atomically on every backend, even to concurrent fetches.
#[async_trait]
pub trait PrekeyStore: Send + Sync {
    /// Adds keys `(id, wire public key)` to a device's pool, all or nothing.
    async fn add_prekeys(
        &self,
        user: UserId,
        device: DeviceId,
        keys: &[(u32, String)],
        max_stored: u32,
    ) -> StoreResult<PrekeysAdded>;
    /// Keys left in a device's pool.
    async fn count_prekeys(&self, user: UserId, device: DeviceId) -> StoreResult<u32>;
    /// Removes and returns one key of a device's pool (the lowest id), if any.
    async fn take_prekey(&self, user: UserId, device: DeviceId) -> StoreResult<Option<(u32, String)>>;
    /// Empties a device's pool (the device was removed).
    async fn clear_prekeys(&self, user: UserId, device: DeviceId) -> StoreResult<()>;
}

/// An open link (`service::links`): who opened it, who joined it, and the steps so far.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkRecord {
    /// The link id.
    pub id: Uuid,
    /// The account.
    pub user: UserId,
    /// The sign-in of the browser that opened it (the requester).
    pub requester: SessionId,
    /// The code it shows.
    pub code: String,
    /// Unix seconds after which it is gone.
    pub expires_at: i64,
    /// The sign-in of the device that joined it (the approver), and that device's name.
    pub approver: Option<(SessionId, Option<String>)>,
    /// Step 2: the approver's commitment.
    pub commitment: Option<String>,
    /// Step 3: the requester's ephemeral key.
    pub requester_key: Option<String>,
    /// Step 4: the approver's ephemeral key.
    pub approver_key: Option<String>,
    /// Step 5: the sealed identity.
    pub sealed: Option<String>,
    /// Chunks of history announced, once the first is stored (before step 5).
    #[serde(default)]
    pub history_count: Option<u32>,
    /// Chunks of history stored so far.
    #[serde(default)]
    pub history_stored: u32,
}

/// A device's Web Push subscription, its keys as the browser gave them (base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscriptionRecord {
    /// The push service's URL for the browser.
    pub endpoint: String,
    /// The browser's P-256 public key.
    pub p256dh: String,
    /// The browser's authentication secret.
    pub auth: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Web Push subscriptions, at most one per device, gone with the device.
#[async_trait]
pub trait PushStore: Send + Sync {
    /// Sets (or replaces) the device's subscription; `false` if there is no such device.
    async fn put_push_subscription(
        &self,
        user: UserId,
        device: DeviceId,
        subscription: PushSubscriptionRecord,
    ) -> StoreResult<bool>;
    /// The subscriptions of the account's devices.
    async fn push_subscriptions(&self, user: UserId) -> StoreResult<Vec<(DeviceId, PushSubscriptionRecord)>>;
    /// Removes the device's subscription, if it has one — with `endpoint`, only if it is
    /// still that one (a push service's "gone" must not remove a newer subscription).
    async fn remove_push_subscription(
        &self,
        user: UserId,
        device: DeviceId,
        endpoint: Option<String>,
    ) -> StoreResult<()>;
}

/// Open links, shared by every server node. Records expire by themselves after
/// `expires_at`; readers also check it.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Stores a new link, replacing any other link opened by the same sign-in.
    async fn create_link(&self, link: &LinkRecord) -> StoreResult<()>;
    /// A link by id.
    async fn link(&self, id: Uuid) -> StoreResult<Option<LinkRecord>>;
    /// The account's link with this code.
    async fn link_by_code(&self, user: UserId, code: &str) -> StoreResult<Option<LinkRecord>>;
    /// Replaces `current` with `next` if the stored link is still exactly `current`; `false`
    /// (nothing changed) if another step came first.
    async fn update_link(&self, current: &LinkRecord, next: &LinkRecord) -> StoreResult<bool>;
    /// Removes a link and its history.
    async fn delete_link(&self, link: &LinkRecord) -> StoreResult<()>;
    /// Stores history chunk `index` of a link.
    async fn put_history_chunk(&self, link: Uuid, index: u32, chunk: &str) -> StoreResult<()>;
    /// History chunk `index` of a link, if stored.
    async fn history_chunk(&self, link: Uuid, index: u32) -> StoreResult<Option<String>>;
}

/// Every store the server uses, chosen at start-up.
#[derive(Clone)]
pub struct Stores {
    /// Accounts.
    pub accounts: Arc<dyn AccountStore>,
    /// Sessions and refresh tokens.
    pub sessions: Arc<dyn SessionStore>,
    /// Sign-in codes.
    pub codes: Arc<dyn CodeStore>,
    /// Rate-limit buckets.
    pub limits: Arc<dyn RateLimitStore>,
    /// Friendships, requests and blocks.
    pub social: Arc<dyn SocialStore>,
    /// Messages and receipts.
    pub mailbox: Arc<dyn MailboxStore>,
    /// Account identities and devices.
    pub devices: Arc<dyn DeviceStore>,
    /// One-time prekeys.
    pub prekeys: Arc<dyn PrekeyStore>,
    /// Open links between a new browser and a device.
    pub links: Arc<dyn LinkStore>,
    /// Web Push subscriptions (with the devices).
    pub push: Arc<dyn PushStore>,
    /// Health probe for `/readyz`.
    pub health: Arc<dyn HealthCheck>,
}

/// Whether the backend can serve requests right now.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// `Ok` when a trivial query succeeds.
    async fn ping(&self) -> StoreResult<()>;
}

/// Healthy when every part is.
pub struct AllHealthy(pub Vec<Arc<dyn HealthCheck>>);

#[async_trait]
impl HealthCheck for AllHealthy {
    async fn ping(&self) -> StoreResult<()> {
        for part in &self.0 {
            part.ping().await?;
        }
        Ok(())
    }
}
