//! The properties the fuzz targets check, one function per decoder that takes network
//! bytes. Each must never panic on any input; where a decoder accepts something, it must
//! accept it back after re-encoding (so the server and clients agree on what it means).
//! Run with `cargo fuzz run <name>` (see `scripts/fuzz.sh`); inputs that once failed live
//! in `fuzz/regressions/<name>/` and are replayed on every run.

use std::sync::LazyLock;

use hush_crypto::{
    Bundle, ConversationKeys, IdentityKeyPair, KeyPair, LocalDevice, PrekeyPart, PublicKey, ResponderPrekeys, Session,
    Signature, padding, peek_key_ids, peek_prekey,
};
use hush_shared::api::account::UpdateMeRequest;
use hush_shared::api::auth::{SendCodeRequest, VerifyCodeRequest};
use hush_shared::api::devices::{RegisterDevice, UploadPrekeys};
use hush_shared::api::friends::CreateFriendRequest;
use hush_shared::validate;
use hush_shared::ws::ClientFrame;
use serde::de::DeserializeOwned;

/// A WebSocket text frame from a client: JSON into [`ClientFrame`], and back.
pub fn client_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(frame) = serde_json::from_str::<ClientFrame>(text) else { return };
    let again = serde_json::to_string(&frame).expect("a parsed frame serialises");
    let reparsed: ClientFrame = serde_json::from_str(&again).expect("a serialised frame parses");
    assert_eq!(reparsed, frame);
}

struct Pair {
    alice: ConversationKeys,
    bob: ConversationKeys,
}

static PAIR: LazyLock<Pair> = LazyLock::new(|| {
    let a = KeyPair::from_secret_bytes(&[0x11; 32]).expect("valid scalar");
    let b = KeyPair::from_secret_bytes(&[0x22; 32]).expect("valid scalar");
    let (ida, idb) = ([0xaa; 16], [0xbb; 16]);
    Pair {
        alice: ConversationKeys::derive(&ida, &a, &idb, b.public()),
        bob: ConversationKeys::derive(&idb, &b, &ida, a.public()),
    }
});

/// An envelope as a recipient's client receives it (the server relays it unopened).
/// Arbitrary bytes must be refused without a panic; a sealed plaintext must open to itself.
pub fn envelope(data: &[u8]) {
    let pair = &*PAIR;
    let message_id = [0x5a; 16];
    let _ = peek_key_ids(data);
    let _ = padding::unpad(data);
    assert!(pair.bob.open(&message_id, data).is_err(), "bytes not sealed with the key never open");
    if let Ok(sealed) = pair.alice.seal_with_nonce(&message_id, data, [7; 12]) {
        assert_eq!(pair.bob.open(&message_id, &sealed).expect("a sealed envelope opens"), data);
        let mut tampered = sealed;
        let at = data.first().map_or(0, |b| *b as usize) % tampered.len();
        tampered[at] ^= 0x01;
        assert!(pair.bob.open(&message_id, &tampered).is_err(), "a flipped bit at {at} is refused");
    }
}

struct Sessions {
    alice: Session,
    bob: Session,
}

static SESSIONS: LazyLock<Sessions> = LazyLock::new(|| {
    let key = |byte: u8| KeyPair::from_secret_bytes(&[byte; 32]).expect("valid scalar");
    let identity = |byte: u8| IdentityKeyPair::from_secret_bytes(&[byte; 32]).expect("valid scalar");
    let a = LocalDevice::new([0xaa; 16], [0xa1; 16], identity(0x31), key(0x32));
    let b = LocalDevice::new([0xbb; 16], [0xb1; 16], identity(0x41), key(0x42));
    let (spk, opk) = (key(0x43), key(0x44));
    let bundle = Bundle {
        user_id: b.user_id,
        device_id: b.device_id,
        identity: b.identity.public().clone(),
        device_key: b.device_key.public().clone(),
        certificate: b.certificate,
        signed_prekey_id: 1,
        signed_prekey: spk.public().clone(),
        signed_prekey_signature: b.sign_prekey(1, spk.public()),
        one_time_prekey: Some((2, opk.public().clone())),
    };
    let mut alice = Session::initiate_with(&a, &bundle, key(0x33), key(0x34)).expect("a valid bundle");
    let first = alice.seal(&[0; 16], b"hi").expect("seals");
    let prekey = peek_prekey(&first).expect("parses").expect("a prekey message");
    let keys = ResponderPrekeys { signed_prekey: &spk, one_time_prekey: Some(&opk) };
    let mut bob = Session::respond(&b, &a.user_id, &a.device_id, &prekey, keys).expect("a valid handshake");
    bob.open(&[0; 16], &first, 0).expect("opens");
    Sessions { alice, bob }
});

/// An envelope v2 as a recipient's client receives it, and stored session bytes. Arbitrary
/// bytes must be refused without a panic and without changing the session; a sealed
/// content must open to itself; a prekey part that parses must re-encode to itself.
pub fn envelope_v2(data: &[u8]) {
    let message_id = [0x5a; 16];
    if let Ok(Some(prekey)) = peek_prekey(data) {
        assert_eq!(PrekeyPart::from_bytes(&prekey.to_bytes()).expect("own encoding parses"), prekey);
    }
    if let Ok(session) = Session::from_bytes(data) {
        assert_eq!(&session.to_bytes()[..], data, "only the canonical encoding of a session is accepted");
    }
    let mut bob = SESSIONS.bob.clone();
    let before = bob.to_bytes();
    assert!(bob.open(&message_id, data, 0).is_err(), "bytes not sealed in the session never open");
    assert_eq!(bob.to_bytes(), before, "a refused envelope changes nothing");
    let mut alice = SESSIONS.alice.clone();
    if let Ok(sealed) = alice.seal(&message_id, data) {
        let mut tampered = sealed.clone();
        let at = data.first().map_or(0, |b| *b as usize) % tampered.len();
        tampered[at] ^= 0x01;
        assert!(bob.open(&message_id, &tampered, 0).is_err(), "a flipped bit at {at} is refused");
        assert_eq!(bob.open(&message_id, &sealed, 0).expect("a sealed envelope opens"), data);
        assert!(bob.open(&message_id, &sealed, 0).is_err(), "a replay is refused");
    }
}

/// A public key from a friend request: SEC1 bytes and the base64url wire form.
pub fn public_key(data: &[u8]) {
    if let Ok(key) = PublicKey::from_sec1(data) {
        assert_eq!(key.to_sec1().as_slice(), data, "only the canonical uncompressed encoding is accepted");
        assert_eq!(PublicKey::from_wire(&key.to_wire()).expect("own wire form parses"), key);
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(key) = PublicKey::from_wire(text) {
        assert_eq!(key.to_wire(), text, "only the canonical wire form is accepted");
    }
    check_public_key(text);
}

fn parse<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str(text).ok()
}

/// HTTP request bodies and the validation the server applies to their fields.
pub fn request_body(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check_phone(text);
    check_display_name(text);
    let _ = validate::public_key_shape(text);
    if let Some(r) = parse::<SendCodeRequest>(text) {
        check_phone(&r.phone);
    }
    if let Some(r) = parse::<VerifyCodeRequest>(text) {
        check_phone(&r.phone);
    }
    if let Some(r) = parse::<UpdateMeRequest>(text) {
        check_display_name(&r.display_name);
    }
    if let Some(r) = parse::<CreateFriendRequest>(text) {
        assert_eq!(parse::<CreateFriendRequest>(&serde_json::to_string(&r).expect("serialises")), Some(r));
    }
    if let Some(r) = parse::<RegisterDevice>(text) {
        for key in [&r.identity_key, &r.device_key, &r.signed_prekey.public_key] {
            check_public_key(key);
        }
        for signature in [&r.certificate, &r.signed_prekey.signature] {
            if let Ok(s) = Signature::from_wire(signature) {
                assert_eq!(&s.to_wire(), signature, "only the canonical signature encoding is accepted");
            }
        }
        if let Some(name) = &r.name {
            check_device_name(name);
        }
        r.one_time_prekeys.iter().for_each(|p| check_public_key(&p.public_key));
    }
    if let Some(r) = parse::<UploadPrekeys>(text) {
        r.one_time_prekeys.iter().for_each(|p| check_public_key(&p.public_key));
    }
    check_device_name(text);
}

fn check_public_key(input: &str) {
    if PublicKey::from_wire(input).is_ok() {
        assert!(validate::public_key_shape(input).is_ok(), "a valid key passes the server's shape check");
    }
}

fn check_device_name(input: &str) {
    if let Ok(name) = validate::device_name(input) {
        assert_eq!(validate::device_name(&name).as_deref(), Ok(name.as_str()), "validating is idempotent");
    }
}

fn check_phone(input: &str) {
    if let Ok(e164) = validate::normalize_phone(input) {
        assert_eq!(validate::normalize_phone(&e164).as_deref(), Ok(e164.as_str()), "normalising is idempotent");
        assert!(validate::phone_shape(&e164).is_ok(), "a normalised number passes the client's shape check");
    }
    if let Ok(shape) = validate::phone_shape(input) {
        assert_eq!(validate::phone_shape(&shape).as_deref(), Ok(shape.as_str()));
    }
}

fn check_display_name(input: &str) {
    if let Ok(name) = validate::display_name(input) {
        assert_eq!(validate::display_name(&name).as_deref(), Ok(name.as_str()), "validating is idempotent");
    }
}
