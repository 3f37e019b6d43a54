//! Property tests of the v1 envelope: everything sealed opens on the other side, and any
//! change to the envelope bytes or to any field the AAD binds is rejected.

use hush_crypto::{ConversationKeys, CryptoError, KeyPair, Party, SafetyNumber, padding};
use proptest::prelude::*;

struct Pair {
    alice: ConversationKeys,
    bob: ConversationKeys,
    ids: ([u8; 16], [u8; 16]),
    keys: (KeyPair, KeyPair),
}

fn pair() -> Pair {
    let (a_id, b_id) = ([0xA1; 16], [0xB2; 16]);
    let (a, b) = (KeyPair::generate(), KeyPair::generate());
    Pair {
        alice: ConversationKeys::derive(&a_id, &a, &b_id, b.public()),
        bob: ConversationKeys::derive(&b_id, &b, &a_id, a.public()),
        ids: (a_id, b_id),
        keys: (a, b),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(msg in proptest::collection::vec(any::<u8>(), 0..2048), id in any::<[u8; 16]>()) {
        let p = pair();
        let env = p.alice.seal(&id, &msg).unwrap();
        prop_assert_eq!(env.len(), hush_crypto::ENVELOPE_OVERHEAD + padding::padded_len(msg.len()));
        prop_assert_eq!(p.bob.open(&id, &env).unwrap(), msg.clone());
        // The reverse direction uses the other key.
        let back = p.bob.seal(&id, &msg).unwrap();
        prop_assert_eq!(p.alice.open(&id, &back).unwrap(), msg);
        // A sender cannot open its own message with its receive key.
        prop_assert!(p.alice.open(&id, &env).is_err());
    }

    #[test]
    fn any_flipped_bit_is_rejected(msg in proptest::collection::vec(any::<u8>(), 0..200), bit in any::<prop::sample::Index>()) {
        let p = pair();
        let id = [7u8; 16];
        let mut env = p.alice.seal(&id, &msg).unwrap();
        let i = bit.index(env.len() * 8);
        env[i / 8] ^= 1 << (i % 8);
        prop_assert!(p.bob.open(&id, &env).is_err());
    }

    #[test]
    fn truncation_and_extension_are_rejected(cut in 1usize..200, extra in proptest::collection::vec(any::<u8>(), 1..32)) {
        let p = pair();
        let id = [9u8; 16];
        let env = p.alice.seal(&id, b"hello").unwrap();
        let cut = cut.min(env.len());
        prop_assert!(p.bob.open(&id, &env[..env.len() - cut]).is_err());
        let mut longer = env.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(p.bob.open(&id, &longer).is_err());
    }

    #[test]
    fn every_aad_field_is_bound(other in any::<[u8; 16]>()) {
        let p = pair();
        let id = [3u8; 16];
        prop_assume!(other != id && other != p.ids.0 && other != p.ids.1);
        let env = p.alice.seal(&id, b"meet at noon").unwrap();
        // Another message id.
        prop_assert_eq!(p.bob.open(&other, &env), Err(CryptoError::Undecryptable));
        // Another claimed sender: Bob derives keys as if `other` had sent it.
        let wrong_sender = ConversationKeys::derive(&p.ids.1, &p.keys.1, &other, p.keys.0.public());
        prop_assert!(wrong_sender.open(&id, &env).is_err());
        // Another recipient id, same key material.
        let wrong_recipient = ConversationKeys::derive(&other, &p.keys.1, &p.ids.0, p.keys.0.public());
        prop_assert!(wrong_recipient.open(&id, &env).is_err());
    }
}

#[test]
fn version_and_key_ids_are_checked_before_decrypting() {
    let p = pair();
    let id = [1u8; 16];
    let mut env = p.alice.seal(&id, b"x").unwrap();
    assert_eq!(hush_crypto::peek_key_ids(&env).unwrap().0, 1);
    env[0] = 2;
    assert_eq!(p.bob.open(&id, &env), Err(CryptoError::UnsupportedVersion(2)));
    let env = p.alice.seal(&id, b"x").unwrap();
    // Bob rotated his key: the envelope names the old one.
    let rotated = ConversationKeys::derive(&p.ids.1, &KeyPair::generate(), &p.ids.0, p.keys.0.public());
    assert_eq!(rotated.open(&id, &env), Err(CryptoError::KeyMismatch));
    assert_eq!(p.bob.open(&id, &[]), Err(CryptoError::Undecryptable));
}

#[test]
fn nonces_are_fresh() {
    let p = pair();
    let id = [5u8; 16];
    let a = p.alice.seal(&id, b"same").unwrap();
    let b = p.alice.seal(&id, b"same").unwrap();
    assert_ne!(a[17..29], b[17..29]);
    assert_ne!(a, b);
}

#[test]
fn safety_numbers_agree_and_change_with_keys() {
    let p = pair();
    let (a, b) = (p.keys.0.public(), p.keys.1.public());
    let from_alice =
        SafetyNumber::compute(Party { user_id: &p.ids.0, public_key: a }, Party { user_id: &p.ids.1, public_key: b });
    let from_bob =
        SafetyNumber::compute(Party { user_id: &p.ids.1, public_key: b }, Party { user_id: &p.ids.0, public_key: a });
    assert_eq!(from_alice, from_bob);
    assert_eq!(from_alice.digits().len(), 60);
    assert!(from_alice.digits().bytes().all(|c| c.is_ascii_digit()));
    assert_eq!(from_alice.grouped().split(' ').count(), 12);
    assert!(from_bob.matches_qr(from_alice.qr_payload()));
    let mallory = KeyPair::generate();
    let swapped = SafetyNumber::compute(
        Party { user_id: &p.ids.0, public_key: a },
        Party { user_id: &p.ids.1, public_key: mallory.public() },
    );
    assert_ne!(swapped.digits(), from_alice.digits());
    assert!(!swapped.matches_qr(from_alice.qr_payload()));
}
