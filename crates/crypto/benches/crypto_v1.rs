//! Native timings of the crypto v1 operations a message costs: a key pair, ECDH plus the
//! key schedule (once per friendship and key), and sealing and opening a 300-byte message.
//! `cargo bench -p hush-crypto`; the WASM and WebCrypto figures of the same operations come
//! from `tests/e2e/bench/crypto.mjs` (BENCHMARKS.md).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hush_crypto::{ConversationKeys, KeyPair};

const ALICE: [u8; 16] = [0xaa; 16];
const BOB: [u8; 16] = [0xbb; 16];

fn crypto_v1(c: &mut Criterion) {
    let alice = KeyPair::generate();
    let bob = KeyPair::generate();
    c.bench_function("key pair", |b| b.iter(KeyPair::generate));
    c.bench_function("ECDH + key schedule", |b| {
        b.iter(|| ConversationKeys::derive(black_box(&ALICE), &alice, &BOB, bob.public()))
    });
    let sender = ConversationKeys::derive(&ALICE, &alice, &BOB, bob.public());
    let recipient = ConversationKeys::derive(&BOB, &bob, &ALICE, alice.public());
    let message = vec![b'x'; 300];
    let id = [7u8; 16];
    c.bench_function("seal 300 bytes", |b| b.iter(|| sender.seal(&id, black_box(&message)).unwrap()));
    let envelope = sender.seal(&id, &message).unwrap();
    c.bench_function("open 300 bytes", |b| b.iter(|| recipient.open(&id, black_box(&envelope)).unwrap()));
}

criterion_group!(benches, crypto_v1);
criterion_main!(benches);
