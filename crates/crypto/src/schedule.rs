//! The key schedule: from one ECDH shared secret to one AES-256-GCM key per direction.
//!
//! ```text
//! Z         = ECDH(my_secret, their_public).x                      (32 bytes)
//! PRK       = HKDF-Extract(salt = "hush/v1/key-schedule", IKM = Z)
//! K(S → R)  = HKDF-Expand(PRK, info = "hush/v1/message-key" || id_S || id_R || pub_S || pub_R, 32)
//! ```
//! `id_*` are the 16 UUID bytes of the user ids, `pub_*` the 65 SEC1 bytes of the public
//! keys for this friendship. Binding both identities and both keys means a key can never be
//! reused for another pair or another direction, and a swapped key yields different keys.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::aead::KEY_LEN;
use crate::envelope;
use crate::error::CryptoError;
use crate::keys::{KeyId, KeyPair, PublicKey};
use crate::{MessageIdBytes, UserIdBytes};

/// HKDF salt of the v1 key schedule.
pub const SCHEDULE_SALT: &[u8] = b"hush/v1/key-schedule";
/// HKDF info prefix of a v1 message key.
pub const MESSAGE_KEY_INFO: &[u8] = b"hush/v1/message-key";

/// One side of a conversation: a user id and that user's public key for the friendship.
#[derive(Clone, Copy, Debug)]
pub struct Party<'a> {
    /// The 16 UUID bytes of the user id.
    pub user_id: &'a UserIdBytes,
    /// The user's public key for this friendship.
    pub public_key: &'a PublicKey,
}

/// The message key for the direction `sender → recipient`, from the ECDH shared secret.
pub fn message_key(shared_secret: &[u8; 32], sender: Party<'_>, recipient: Party<'_>) -> Zeroizing<[u8; KEY_LEN]> {
    let hkdf = Hkdf::<Sha256>::new(Some(SCHEDULE_SALT), shared_secret);
    let mut info = Vec::with_capacity(MESSAGE_KEY_INFO.len() + 16 * 2 + 65 * 2);
    info.extend_from_slice(MESSAGE_KEY_INFO);
    info.extend_from_slice(sender.user_id);
    info.extend_from_slice(recipient.user_id);
    info.extend_from_slice(&sender.public_key.to_sec1());
    info.extend_from_slice(&recipient.public_key.to_sec1());
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so expand cannot fail.
    if hkdf.expand(&info, &mut key[..]).is_err() {
        unreachable!("HKDF-SHA256 can always expand 32 bytes");
    }
    key
}

/// Both directions' keys of one conversation, seen from one side.
pub struct ConversationKeys {
    pub(crate) me: UserIdBytes,
    pub(crate) them: UserIdBytes,
    pub(crate) my_key_id: KeyId,
    pub(crate) their_key_id: KeyId,
    pub(crate) send_key: Zeroizing<[u8; KEY_LEN]>,
    pub(crate) receive_key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for ConversationKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationKeys")
            .field("my_key_id", &self.my_key_id.to_hex())
            .field("their_key_id", &self.their_key_id.to_hex())
            .finish_non_exhaustive()
    }
}

impl ConversationKeys {
    /// Runs ECDH and the key schedule for the conversation between me and them.
    pub fn derive(my_id: &UserIdBytes, my_pair: &KeyPair, their_id: &UserIdBytes, their_public: &PublicKey) -> Self {
        let shared = my_pair.diffie_hellman(their_public);
        let me = Party { user_id: my_id, public_key: my_pair.public() };
        let them = Party { user_id: their_id, public_key: their_public };
        Self {
            me: *my_id,
            them: *their_id,
            my_key_id: my_pair.public().key_id(),
            their_key_id: their_public.key_id(),
            send_key: message_key(&shared, me, them),
            receive_key: message_key(&shared, them, me),
        }
    }

    /// My key id (the recipient key id of envelopes sent to me).
    pub fn my_key_id(&self) -> KeyId {
        self.my_key_id
    }

    /// Their key id.
    pub fn their_key_id(&self) -> KeyId {
        self.their_key_id
    }

    /// Seals a message to them with a fresh random nonce.
    pub fn seal(&self, message_id: &MessageIdBytes, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; crate::aead::NONCE_LEN];
        rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut nonce).map_err(|_| CryptoError::Rng)?;
        self.seal_with_nonce(message_id, plaintext, nonce)
    }

    /// Seals with a caller-chosen nonce. Only for known-answer vectors: reusing a nonce
    /// under one key destroys confidentiality, so applications must call [`Self::seal`].
    pub fn seal_with_nonce(
        &self,
        message_id: &MessageIdBytes,
        plaintext: &[u8],
        nonce: [u8; crate::aead::NONCE_LEN],
    ) -> Result<Vec<u8>, CryptoError> {
        envelope::seal(
            &self.send_key,
            envelope::Route {
                message_id,
                sender: &self.me,
                recipient: &self.them,
                sender_key_id: self.my_key_id,
                recipient_key_id: self.their_key_id,
            },
            plaintext,
            nonce,
        )
    }

    /// Opens a message they sent me.
    pub fn open(&self, message_id: &MessageIdBytes, envelope: &[u8]) -> Result<Vec<u8>, CryptoError> {
        envelope::open(
            &self.receive_key,
            envelope::Route {
                message_id,
                sender: &self.them,
                recipient: &self.me,
                sender_key_id: self.their_key_id,
                recipient_key_id: self.my_key_id,
            },
            envelope,
        )
    }
}
