//! Native timings of crypto v2 (`docs/CRYPTO.md`): a bundle's two signatures verified, the
//! handshake both sides run to start a
//! session (verify the bundle, X3DH, the first ratchet keys, the first message sealed and
//! opened), and a 300-byte message sealed and opened in an established session — along a
//! chain (no DH step) and with a DH ratchet step (the direction turns each message).
//! `cargo bench -p hush-crypto --bench crypto_v2`; the WASM figures of the same operations
//! come from `tests/e2e/bench/crypto.mjs` (BENCHMARKS.md).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hush_crypto::{Bundle, IdentityKeyPair, KeyPair, LocalDevice, ResponderPrekeys, Session, peek_prekey};

const NOW: i64 = 1_780_000_000;

struct Pair {
    alice: LocalDevice,
    bob: LocalDevice,
    spk: KeyPair,
    opk: KeyPair,
}

fn pair() -> Pair {
    let alice = LocalDevice::new([0xaa; 16], [0xa1; 16], IdentityKeyPair::generate(), KeyPair::generate());
    let bob = LocalDevice::new([0xbb; 16], [0xb1; 16], IdentityKeyPair::generate(), KeyPair::generate());
    Pair { alice, bob, spk: KeyPair::generate(), opk: KeyPair::generate() }
}

fn bundle(p: &Pair) -> Bundle {
    Bundle {
        user_id: p.bob.user_id,
        device_id: p.bob.device_id,
        identity: p.bob.identity.public().clone(),
        device_key: p.bob.device_key.public().clone(),
        certificate: p.bob.certificate,
        signed_prekey_id: 1,
        signed_prekey: p.spk.public().clone(),
        signed_prekey_signature: p.bob.sign_prekey(1, p.spk.public()),
        one_time_prekey: Some((2, p.opk.public().clone())),
    }
}

/// Both sides of a handshake: Alice verifies Bob's bundle and runs X3DH (sealing her first
/// message, which carries the prekey part), Bob verifies her certificate and runs his half;
/// with `first_message`, Bob also opens it (his first DH ratchet step).
fn handshake(p: &Pair, bundle: &Bundle, message: &[u8], first_message: bool) -> (Session, Session) {
    let mut alice = Session::initiate(&p.alice, bundle).unwrap();
    let first = alice.seal(&[1; 16], message).unwrap();
    let prekey = peek_prekey(&first).unwrap().unwrap();
    let keys = ResponderPrekeys { signed_prekey: &p.spk, one_time_prekey: Some(&p.opk) };
    let mut bob = Session::respond(&p.bob, &p.alice.user_id, &p.alice.device_id, &prekey, keys).unwrap();
    if first_message {
        bob.open(&[1; 16], &first, NOW).unwrap();
    }
    (alice, bob)
}

fn crypto_v2(c: &mut Criterion) {
    let p = pair();
    let bundle = bundle(&p);
    let message = vec![b'x'; 300];
    c.bench_function("v2 verify a device certificate (ECDSA P-256)", |b| b.iter(|| black_box(&bundle).verify()));
    c.bench_function("v2 handshake, both sides", |b| b.iter(|| handshake(&p, black_box(&bundle), &message, false)));
    c.bench_function("v2 handshake and the first message opened", |b| {
        b.iter(|| handshake(&p, black_box(&bundle), &message, true))
    });

    let (mut alice, mut bob) = handshake(&p, &bundle, &message, true);
    let reply = bob.seal(&[2; 16], &message).unwrap();
    alice.open(&[2; 16], &reply, NOW).unwrap();
    let mut n = 0u64;
    c.bench_function("v2 seal + open 300 bytes, same chain", |b| {
        b.iter(|| {
            n += 1;
            let id = n.to_be_bytes().repeat(2).try_into().unwrap();
            let envelope = alice.seal(&id, black_box(&message)).unwrap();
            bob.open(&id, &envelope, NOW).unwrap()
        })
    });
    let mut turn = false;
    c.bench_function("v2 seal + open 300 bytes, with a DH ratchet step", |b| {
        b.iter(|| {
            n += 1;
            turn = !turn;
            let id = n.to_be_bytes().repeat(2).try_into().unwrap();
            let (sender, receiver) = if turn { (&mut bob, &mut alice) } else { (&mut alice, &mut bob) };
            let envelope = sender.seal(&id, black_box(&message)).unwrap();
            receiver.open(&id, &envelope, NOW).unwrap()
        })
    });
}

criterion_group!(benches, crypto_v2);
criterion_main!(benches);
