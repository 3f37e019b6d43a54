//! Crypto timings inside the app's WASM module, for the browser benchmark
//! (`tests/e2e/bench/crypto.mjs`; each call times its own loop with `performance.now()`):
//! the operations a message costs under crypto v2 and, for comparison, under v1. Fixed or
//! fresh test keys; nothing is kept and the app never calls these. Only in the copy built
//! with the `test-exports` feature: the same code as the app people load, plus these.

use hush_crypto::{
    Bundle, ConversationKeys, CryptoError, IdentityKeyPair, KeyPair, LocalDevice, Party, ResponderPrekeys,
    SafetyNumber, Session, peek_prekey, verify_device_certificate,
};
use wasm_bindgen::prelude::*;

const NOW: i64 = 1_780_000_000;
const MESSAGE: [u8; 300] = [b'x'; 300];

fn fail(e: CryptoError) -> JsValue {
    JsValue::from_str(&e.to_string())
}

/// Two devices, Bob's prekeys, and Bob's bundle.
struct Devices {
    alice: LocalDevice,
    bob: LocalDevice,
    spk: KeyPair,
    opk: KeyPair,
    bundle: Bundle,
}

fn devices() -> Devices {
    let alice = LocalDevice::new([0xaa; 16], [0xa1; 16], IdentityKeyPair::generate(), KeyPair::generate());
    let bob = LocalDevice::new([0xbb; 16], [0xb1; 16], IdentityKeyPair::generate(), KeyPair::generate());
    let (spk, opk) = (KeyPair::generate(), KeyPair::generate());
    let bundle = Bundle {
        user_id: bob.user_id,
        device_id: bob.device_id,
        identity: bob.identity.public().clone(),
        device_key: bob.device_key.public().clone(),
        certificate: bob.certificate,
        signed_prekey_id: 1,
        signed_prekey: spk.public().clone(),
        signed_prekey_signature: bob.sign_prekey(1, spk.public()),
        one_time_prekey: Some((2, opk.public().clone())),
    };
    Devices { alice, bob, spk, opk, bundle }
}

/// Both sides of a handshake: Alice verifies Bob's bundle and runs X3DH, Bob verifies her
/// certificate and runs his half. With `first_message`, Alice also seals her first message
/// and Bob opens it (his first DH ratchet step).
fn handshake(d: &Devices, first_message: bool) -> Result<(Session, Session), JsValue> {
    let mut alice = Session::initiate(&d.alice, &d.bundle).map_err(fail)?;
    let first = alice.seal(&[1; 16], &MESSAGE).map_err(fail)?;
    let prekey = peek_prekey(&first).map_err(fail)?.ok_or_else(|| JsValue::from_str("not a prekey message"))?;
    let keys = ResponderPrekeys { signed_prekey: &d.spk, one_time_prekey: Some(&d.opk) };
    let mut bob = Session::respond(&d.bob, &d.alice.user_id, &d.alice.device_id, &prekey, keys).map_err(fail)?;
    if first_message {
        bob.open(&[1; 16], &first, NOW).map_err(fail)?;
    }
    Ok((alice, bob))
}

fn id(n: u32) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[12..].copy_from_slice(&n.to_be_bytes());
    id
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Times `body` run `iterations` times: microseconds per run (set-up excluded).
fn per_run(iterations: u32, mut body: impl FnMut(u32) -> Result<(), JsValue>) -> Result<f64, JsValue> {
    let started = now_ms();
    for n in 1..=iterations {
        body(n)?;
    }
    Ok((now_ms() - started) * 1000.0 / f64::from(iterations.max(1)))
}

/// Runs one operation `iterations` times and returns microseconds per operation, timing
/// only the operations (keys and sessions are set up before the clock starts): crypto v2
/// `handshake` (both sides), `handshake_first` (the same up to the first message opened),
/// `verify` (one ECDSA signature), `ratchet` (seal + open of 300 bytes along a chain) and
/// `ratchet_dh` (the same with a DH ratchet step: the direction turns each time), `safety`
/// (the safety number of two identities: 2 × 5200 SHA-512 iterations); crypto v1
/// `keypair`, `derive` (ECDH + key schedule), `seal` and `open` (300 bytes).
#[wasm_bindgen(js_name = hushCryptoBench)]
pub fn crypto_bench(op: &str, iterations: u32) -> Result<f64, JsValue> {
    match op {
        "handshake" | "handshake_first" | "verify" | "ratchet" | "ratchet_dh" | "safety" => v2(op, iterations),
        _ => v1(op, iterations),
    }
}

fn v2(op: &str, iterations: u32) -> Result<f64, JsValue> {
    let d = devices();
    match op {
        "handshake" | "handshake_first" => {
            return per_run(iterations, |_| {
                drop(std::hint::black_box(handshake(&d, op == "handshake_first")?));
                Ok(())
            });
        }
        "verify" => {
            let (identity, certificate) = (d.bob.identity.public(), d.bob.certificate);
            return per_run(iterations, |_| {
                verify_device_certificate(
                    identity,
                    &d.bob.user_id,
                    &d.bob.device_id,
                    d.bob.device_key.public(),
                    &certificate,
                )
                .map_err(fail)
            });
        }
        "safety" => {
            let alice = Party { user_id: &d.alice.user_id, public_key: d.alice.identity.public() };
            let bob = Party { user_id: &d.bob.user_id, public_key: d.bob.identity.public() };
            return per_run(iterations, |_| {
                drop(std::hint::black_box(SafetyNumber::for_identities(alice, bob)));
                Ok(())
            });
        }
        _ => {}
    }
    let (mut alice, mut bob) = handshake(&d, true)?;
    let reply = bob.seal(&id(0), &MESSAGE).map_err(fail)?;
    alice.open(&id(0), &reply, NOW).map_err(fail)?;
    per_run(iterations, |n| {
        let (sender, receiver) =
            if op == "ratchet_dh" && n % 2 == 1 { (&mut bob, &mut alice) } else { (&mut alice, &mut bob) };
        let envelope = sender.seal(&id(n), &MESSAGE).map_err(fail)?;
        drop(std::hint::black_box(receiver.open(&id(n), &envelope, NOW).map_err(fail)?));
        Ok(())
    })
}

fn v1(op: &str, iterations: u32) -> Result<f64, JsValue> {
    let alice = KeyPair::from_secret_bytes(&[0x11; 32]).map_err(fail)?;
    let bob = KeyPair::from_secret_bytes(&[0x22; 32]).map_err(fail)?;
    let (a, b, id) = ([0xaa; 16], [0xbb; 16], [7; 16]);
    let sender = ConversationKeys::derive(&a, &alice, &b, bob.public());
    let recipient = ConversationKeys::derive(&b, &bob, &a, alice.public());
    let envelope = sender.seal(&id, &MESSAGE).map_err(fail)?;
    per_run(iterations, |_| {
        match op {
            "keypair" => drop(std::hint::black_box(KeyPair::generate())),
            "derive" => drop(std::hint::black_box(ConversationKeys::derive(&a, &alice, &b, bob.public()))),
            "seal" => drop(std::hint::black_box(sender.seal(&id, &MESSAGE).map_err(fail)?)),
            "open" => drop(std::hint::black_box(recipient.open(&id, &envelope).map_err(fail)?)),
            other => return Err(JsValue::from_str(&format!("unknown operation {other}"))),
        }
        Ok(())
    })
}
