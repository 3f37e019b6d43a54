//! Properties of crypto v2 sessions (`docs/CRYPTO.md` §6–§7, §14): delivery in any order
//! opens every message exactly once; duplicates, replays and flipped bits are refused and
//! leave the state unchanged; forward secrecy; post-compromise recovery; the bounds on
//! skipped keys.

use hush_crypto::{
    Bundle, CryptoError, IdentityKeyPair, KeyPair, LocalDevice, MAX_SKIP, ResponderPrekeys, SKIPPED_KEY_LIFETIME_SECS,
    Session, peek_prekey,
};
use proptest::prelude::*;

const NOW: i64 = 1_780_000_000;

struct Device {
    local: LocalDevice,
    spk: KeyPair,
    opk: KeyPair,
}

fn device(user: u8) -> Device {
    let local = LocalDevice::new([user; 16], [user + 100; 16], IdentityKeyPair::generate(), KeyPair::generate());
    Device { local, spk: KeyPair::generate(), opk: KeyPair::generate() }
}

fn bundle(d: &Device) -> Bundle {
    Bundle {
        user_id: d.local.user_id,
        device_id: d.local.device_id,
        identity: d.local.identity.public().clone(),
        device_key: d.local.device_key.public().clone(),
        certificate: d.local.certificate,
        signed_prekey_id: 7,
        signed_prekey: d.spk.public().clone(),
        signed_prekey_signature: d.local.sign_prekey(7, d.spk.public()),
        one_time_prekey: Some((42, d.opk.public().clone())),
    }
}

fn id(n: u32) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[12..].copy_from_slice(&n.to_be_bytes());
    id
}

/// Bob's session from Alice's prekey message.
fn respond(alice: &Device, bob: &Device, envelope: &[u8]) -> Session {
    let prekey = peek_prekey(envelope).unwrap().expect("a prekey message");
    Session::respond(
        &bob.local,
        &alice.local.user_id,
        &alice.local.device_id,
        &prekey,
        ResponderPrekeys { signed_prekey: &bob.spk, one_time_prekey: Some(&bob.opk) },
    )
    .unwrap()
}

/// Alice and Bob with a session each; Alice's first message (id 0) already opened by Bob.
fn established() -> (Session, Session) {
    let (a, b) = (device(1), device(2));
    let mut alice = Session::initiate(&a.local, &bundle(&b)).unwrap();
    let first = alice.seal(&id(0), b"hello").unwrap();
    let mut bob = respond(&a, &b, &first);
    assert_eq!(bob.open(&id(0), &first, NOW).unwrap(), b"hello");
    (alice, bob)
}

fn assert_refused_unchanged(session: &mut Session, message_id: &[u8; 16], envelope: &[u8]) -> CryptoError {
    let before = session.to_bytes();
    let err = session.open(message_id, envelope, NOW).expect_err("must be refused");
    assert_eq!(*session.to_bytes(), *before, "a refused message changed the state");
    err
}

#[derive(Debug, Clone)]
enum Op {
    /// Alice (true) or Bob (false) sends.
    Send(bool),
    /// The other side opens one of the messages in flight to it (index modulo the count).
    Deliver(bool, usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            any::<bool>().prop_map(Op::Send),
            (any::<bool>(), any::<usize>()).prop_map(|(a, i)| Op::Deliver(a, i))
        ],
        1..80,
    )
}

struct Flight {
    id: [u8; 16],
    plaintext: Vec<u8>,
    envelope: Vec<u8>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any interleaving of sends and deliveries in any order opens every message once,
    /// with its own plaintext; delivering an opened one again is refused, state unchanged.
    #[test]
    fn any_delivery_order_opens_each_message_exactly_once(script in ops(), tail_order in any::<u64>()) {
        let (mut alice, mut bob) = established();
        let mut to_bob: Vec<Flight> = vec![];
        let mut to_alice: Vec<Flight> = vec![];
        let mut opened: Vec<(bool, Flight)> = vec![];
        let mut next = 1u32;
        let deliver = |to_alice_side: bool, flights: &mut Vec<Flight>, i: usize, alice: &mut Session, bob: &mut Session, opened: &mut Vec<(bool, Flight)>| {
            let f = flights.remove(i % flights.len());
            let session = if to_alice_side { alice } else { bob };
            assert_eq!(session.open(&f.id, &f.envelope, NOW).unwrap(), f.plaintext);
            opened.push((to_alice_side, f));
        };
        for op in script {
            match op {
                Op::Send(from_alice) => {
                    let plaintext = format!("message {next} from {}", if from_alice { "alice" } else { "bob" }).into_bytes();
                    let (session, queue) = if from_alice { (&mut alice, &mut to_bob) } else { (&mut bob, &mut to_alice) };
                    let envelope = session.seal(&id(next), &plaintext).unwrap();
                    queue.push(Flight { id: id(next), plaintext, envelope });
                    next += 1;
                }
                Op::Deliver(to_alice_side, i) => {
                    let queue = if to_alice_side { &mut to_alice } else { &mut to_bob };
                    if !queue.is_empty() {
                        deliver(to_alice_side, queue, i, &mut alice, &mut bob, &mut opened);
                    }
                }
            }
        }
        let mut seed = tail_order;
        while !to_bob.is_empty() || !to_alice.is_empty() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let side = (seed >> 33) % 2 == 0 && !to_alice.is_empty() || to_bob.is_empty();
            let queue = if side { &mut to_alice } else { &mut to_bob };
            deliver(side, queue, (seed >> 40) as usize, &mut alice, &mut bob, &mut opened);
        }
        for (to_alice_side, f) in &opened {
            let session = if *to_alice_side { &mut alice } else { &mut bob };
            assert_refused_unchanged(session, &f.id, &f.envelope);
        }
    }

    /// Any flipped bit in an envelope (or a changed message id) is refused and changes
    /// nothing; the genuine envelope still opens afterwards.
    #[test]
    fn flipped_bits_are_refused(bit in any::<usize>(), burst in 1usize..4, reply_first in any::<bool>()) {
        let (mut alice, mut bob) = established();
        if reply_first {
            let reply = bob.seal(&id(1), b"reply").unwrap();
            alice.open(&id(1), &reply, NOW).unwrap();
        }
        let mut last = vec![];
        for n in 0..burst {
            last = alice.seal(&id(10 + n as u32), b"the secret plans").unwrap();
        }
        let message_id = id(10 + burst as u32 - 1);
        let mut forged = last.clone();
        let bit = bit % (forged.len() * 8);
        forged[bit / 8] ^= 1 << (bit % 8);
        assert_refused_unchanged(&mut bob, &message_id, &forged);
        assert_refused_unchanged(&mut bob, &id(999), &last);
        prop_assert_eq!(bob.open(&message_id, &last, NOW).unwrap(), b"the secret plans".to_vec());
    }

    /// Forward secrecy over random conversations: a copy of Bob's state opens none of the
    /// messages he already opened.
    #[test]
    fn snapshot_cannot_open_earlier_messages(rounds in prop::collection::vec(1usize..5, 1..6)) {
        let (mut alice, mut bob) = established();
        let mut opened_by_bob = vec![];
        let mut next = 1;
        for (r, burst) in rounds.iter().enumerate() {
            for _ in 0..*burst {
                let envelope = alice.seal(&id(next), b"to bob").unwrap();
                bob.open(&id(next), &envelope, NOW).unwrap();
                opened_by_bob.push((id(next), envelope));
                next += 1;
            }
            if r % 2 == 0 {
                let reply = bob.seal(&id(next), b"to alice").unwrap();
                alice.open(&id(next), &reply, NOW).unwrap();
                next += 1;
            }
        }
        let snapshot = bob.to_bytes();
        for (message_id, envelope) in &opened_by_bob {
            let mut stolen = Session::from_bytes(&snapshot).unwrap();
            prop_assert!(stolen.open(message_id, envelope, NOW).is_err());
        }
    }
}

/// Forward secrecy at every step: after each opened message the snapshot opens none of the
/// messages opened so far, including the one just opened.
#[test]
fn snapshot_after_each_message_opens_nothing_earlier() {
    let (mut alice, mut bob) = established();
    let mut history = vec![];
    for n in 1..40u32 {
        let (sender, receiver) = if n % 7 < 4 { (&mut alice, &mut bob) } else { (&mut bob, &mut alice) };
        let envelope = sender.seal(&id(n), b"x").unwrap();
        receiver.open(&id(n), &envelope, NOW).unwrap();
        history.push((n % 7 < 4, id(n), envelope));
        for (to_bob, message_id, envelope) in &history {
            let snapshot = if *to_bob { bob.to_bytes() } else { alice.to_bytes() };
            let mut stolen = Session::from_bytes(&snapshot).unwrap();
            assert!(stolen.open(message_id, envelope, NOW).is_err(), "message {n}: an opened message opened again");
        }
    }
}

/// Post-compromise recovery: a thief with a copy of Bob's state who sees every later
/// message loses the conversation once Bob has made a ratchet key after the theft (on
/// receiving one of Alice's new keys) and Alice has answered it.
#[test]
fn stolen_state_heals_after_one_round_trip() {
    let (mut alice, mut bob) = established();
    let mut thief = Session::from_bytes(&bob.to_bytes()).unwrap();

    // Bob's next key was made before the theft, so the thief follows Alice's answer to it.
    let reply = bob.seal(&id(1), b"bob's stolen key").unwrap();
    alice.open(&id(1), &reply, NOW).unwrap();
    let answer = alice.seal(&id(2), b"still readable").unwrap();
    assert_eq!(bob.open(&id(2), &answer, NOW).unwrap(), b"still readable");
    assert_eq!(thief.open(&id(2), &answer, NOW).unwrap(), b"still readable");

    // Opening it made Bob a key the thief never saw; once Alice answers that, it is over.
    let fresh = bob.seal(&id(3), b"bob's fresh key").unwrap();
    alice.open(&id(3), &fresh, NOW).unwrap();
    for n in 4..10 {
        let after = alice.seal(&id(n), b"healed").unwrap();
        assert_eq!(bob.open(&id(n), &after, NOW).unwrap(), b"healed");
        assert!(thief.open(&id(n), &after, NOW).is_err(), "message {n} opened with the stolen state");
    }
}

#[test]
fn repeated_prekey_messages_share_one_session_in_any_order() {
    let (a, b) = (device(1), device(2));
    let mut alice = Session::initiate(&a.local, &bundle(&b)).unwrap();
    let sent: Vec<Vec<u8>> = (0..3).map(|n| alice.seal(&id(n), format!("m{n}").as_bytes()).unwrap()).collect();
    assert!(sent.iter().all(|e| e[1] == hush_crypto::KIND_PREKEY));
    let mut bob = respond(&a, &b, &sent[2]);
    for n in [2u32, 0, 1] {
        assert_eq!(bob.open(&id(n), &sent[n as usize], NOW).unwrap(), format!("m{n}").as_bytes());
    }
    let reply = bob.seal(&id(9), b"hi").unwrap();
    alice.open(&id(9), &reply, NOW).unwrap();
    assert!(!alice.awaiting_reply());
    assert_eq!(alice.seal(&id(10), b"now plain").unwrap()[1], hush_crypto::KIND_MESSAGE);
    // A prekey message from another handshake is not this session's.
    let mut other = Session::initiate(&a.local, &bundle(&b)).unwrap();
    let stranger = other.seal(&id(11), b"x").unwrap();
    assert_eq!(bob.open(&id(11), &stranger, NOW).unwrap_err(), CryptoError::WrongSession);
}

#[test]
fn the_wrong_sender_or_a_forged_bundle_is_refused() {
    let (a, b) = (device(1), device(2));
    let mut forged = bundle(&b);
    forged.signed_prekey = KeyPair::generate().public().clone();
    assert_eq!(Session::initiate(&a.local, &forged).unwrap_err(), CryptoError::BadSignature);
    let mut alice = Session::initiate(&a.local, &bundle(&b)).unwrap();
    let first = alice.seal(&id(0), b"x").unwrap();
    let prekey = peek_prekey(&first).unwrap().unwrap();
    // The server claims the message came from another device of Alice: the certificate
    // does not bind it.
    let keys = ResponderPrekeys { signed_prekey: &b.spk, one_time_prekey: Some(&b.opk) };
    let refused = Session::respond(&b.local, &a.local.user_id, &[0xEE; 16], &prekey, keys);
    assert_eq!(refused.unwrap_err(), CryptoError::BadSignature);
    // Without the one-time prekey the message names, no session.
    let keys = ResponderPrekeys { signed_prekey: &b.spk, one_time_prekey: None };
    let refused = Session::respond(&b.local, &a.local.user_id, &a.local.device_id, &prekey, keys);
    assert_eq!(refused.unwrap_err(), CryptoError::UnknownPrekey);
    // With the wrong signed prekey, the session opens nothing.
    let wrong = KeyPair::generate();
    let keys = ResponderPrekeys { signed_prekey: &wrong, one_time_prekey: Some(&b.opk) };
    let mut bob = Session::respond(&b.local, &a.local.user_id, &a.local.device_id, &prekey, keys).unwrap();
    assert_eq!(bob.open(&id(0), &first, NOW).unwrap_err(), CryptoError::Undecryptable);
}

#[test]
fn too_far_ahead_is_refused_and_changes_nothing() {
    let (mut alice, mut bob) = established();
    let mut last = vec![];
    for n in 0..=MAX_SKIP + 1 {
        last = alice.seal(&id(n + 1), b"x").unwrap();
    }
    assert_eq!(assert_refused_unchanged(&mut bob, &id(MAX_SKIP + 2), &last), CryptoError::TooFarAhead);
}

#[test]
fn skipped_keys_are_bounded_and_expire() {
    let (mut alice, mut bob) = established();
    let sent: Vec<Vec<u8>> = (1..=2_600u32).map(|n| alice.seal(&id(n), b"x").unwrap()).collect();
    // Opening 1,000 then 2,000 then 2,600 stores 999 + 999 + 599 skipped keys: over the
    // bound of 2,000, so the oldest (messages 1..=597) are dropped.
    for n in [1_000usize, 2_000, 2_600] {
        bob.open(&id(n as u32), &sent[n - 1], NOW).unwrap();
    }
    assert!(bob.open(&id(1), &sent[0], NOW).is_err(), "the oldest skipped key was dropped");
    assert!(bob.open(&id(597), &sent[596], NOW).is_err());
    assert_eq!(bob.open(&id(598), &sent[597], NOW).unwrap(), b"x");
    // After the lifetime, the rest go too.
    let later = NOW + SKIPPED_KEY_LIFETIME_SECS + 1;
    let reply = bob.seal(&id(9_000), b"tick").unwrap();
    alice.open(&id(9_000), &reply, later).unwrap();
    let next = alice.seal(&id(9_001), b"y").unwrap();
    bob.open(&id(9_001), &next, later).unwrap();
    assert!(bob.open(&id(1_500), &sent[1_499], later).is_err(), "an expired skipped key still opened");
}

#[test]
fn sessions_survive_serialisation_mid_conversation() {
    let (mut alice, mut bob) = established();
    let early = alice.seal(&id(1), b"late one").unwrap();
    let skip = alice.seal(&id(2), b"x").unwrap();
    bob.open(&id(2), &skip, NOW).unwrap();
    let mut bob = Session::from_bytes(&bob.to_bytes()).unwrap();
    let mut alice = Session::from_bytes(&alice.to_bytes()).unwrap();
    assert_eq!(bob.open(&id(1), &early, NOW).unwrap(), b"late one");
    let reply = bob.seal(&id(3), b"r").unwrap();
    assert_eq!(alice.open(&id(3), &reply, NOW).unwrap(), b"r");
    let bytes = bob.to_bytes();
    for cut in [0, 1, 10, bytes.len() - 1] {
        assert_eq!(Session::from_bytes(&bytes[..cut]).unwrap_err(), CryptoError::InvalidSessionState);
    }
    let mut extended = bytes.to_vec();
    extended.push(0);
    assert!(Session::from_bytes(&extended).is_err());
}
