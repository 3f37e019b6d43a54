//! Key management: one P-256 key pair per friendship, generated on this device; the public
//! half goes into the friend request or the accept. Conversation keys are derived from my
//! pair and the friend's current public key, and re-derived when either changes. A message
//! that cannot be opened is reported, never answered by making new keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_crypto::{ConversationKeys, KeyPair, Party, PublicKey, SafetyNumber};
use hush_shared::UserId;

use crate::store::{ClientStore, FriendRecord, KeyRecord, StoreError};

/// Why conversation keys are unavailable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// I have no key pair for this person.
    #[error("no key pair for this friendship on this device")]
    NoOwnKey,
    /// I do not know this friend's key.
    #[error("this person is not a friend on this device")]
    NotAFriend,
    /// A stored key is corrupt.
    #[error("stored key is invalid")]
    Invalid,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes and stores a fresh key pair for a friendship with `peer`; returns its public
/// key in wire form (for a friend request, an accept or a rotation).
pub async fn new_key_for(store: &impl ClientStore, peer: UserId) -> Result<String, StoreError> {
    let pair = KeyPair::generate();
    let record =
        KeyRecord { peer, secret: URL_SAFE_NO_PAD.encode(&pair.secret_bytes()[..]), public: pair.public().to_wire() };
    store.put_key(&record).await?;
    Ok(record.public)
}

fn pair_from(record: &KeyRecord) -> Result<KeyPair, KeyError> {
    let secret = URL_SAFE_NO_PAD.decode(&record.secret).map_err(|_| KeyError::Invalid)?;
    KeyPair::from_secret_bytes(&secret).map_err(|_| KeyError::Invalid)
}

/// My key pair and the friend's record for a friendship.
pub async fn load(store: &impl ClientStore, peer: UserId) -> Result<(KeyPair, FriendRecord), KeyError> {
    let mine = store.key(peer).await?.ok_or(KeyError::NoOwnKey)?;
    let friend = store.friend(peer).await?.ok_or(KeyError::NotAFriend)?;
    Ok((pair_from(&mine)?, friend))
}

/// Derives the conversation keys between me and `peer`.
pub async fn conversation(
    store: &impl ClientStore,
    me: UserId,
    peer: UserId,
) -> Result<(ConversationKeys, String), KeyError> {
    let (pair, friend) = load(store, peer).await?;
    let theirs = PublicKey::from_wire(&friend.their_key).map_err(|_| KeyError::Invalid)?;
    Ok((ConversationKeys::derive(me.as_bytes(), &pair, peer.as_bytes(), &theirs), friend.their_key))
}

/// The safety number of my friendship with `peer`.
pub async fn safety_number(store: &impl ClientStore, me: UserId, peer: UserId) -> Result<SafetyNumber, KeyError> {
    let (pair, friend) = load(store, peer).await?;
    let theirs = PublicKey::from_wire(&friend.their_key).map_err(|_| KeyError::Invalid)?;
    Ok(SafetyNumber::compute(
        Party { user_id: me.as_bytes(), public_key: pair.public() },
        Party { user_id: peer.as_bytes(), public_key: &theirs },
    ))
}
