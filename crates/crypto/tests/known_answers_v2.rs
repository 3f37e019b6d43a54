//! Known-answer conversations of crypto v2 (`tests/vectors/crypto_v2.json`, format in
//! `docs/CRYPTO.md` §11). The outputs were produced by an independent Python
//! implementation written from the document alone (`tests/vectors/crypto_v2.py`); this
//! test replays every conversation with the Rust crate — the handshake, each envelope
//! byte for byte, every out-of-order delivery and every refused replay.

use std::collections::VecDeque;

use hush_crypto::{
    Bundle, IdentityKeyPair, KeyPair, LocalDevice, Party, ResponderPrekeys, SafetyNumber, Session, peek_prekey,
};
use serde_json::Value;

const NOW: i64 = 1_780_000_000;

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap_or_else(|| panic!("expected hex, got {v}"))).unwrap()
}

fn uuid_of(v: &Value) -> [u8; 16] {
    hex::decode(v.as_str().unwrap().replace('-', "")).unwrap().try_into().unwrap()
}

struct Party_ {
    local: LocalDevice,
    ratchet_secrets: VecDeque<KeyPair>,
}

fn party(v: &Value) -> Party_ {
    let local = LocalDevice::new(
        uuid_of(&v["user_id"]),
        uuid_of(&v["device_id"]),
        IdentityKeyPair::from_secret_bytes(&hex_of(&v["identity_secret"])).unwrap(),
        KeyPair::from_secret_bytes(&hex_of(&v["device_secret"])).unwrap(),
    );
    let ratchet_secrets = v["ratchet_secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| KeyPair::from_secret_bytes(&hex_of(s)).unwrap())
        .collect();
    Party_ { local, ratchet_secrets }
}

fn next_key(queue: &mut VecDeque<KeyPair>) -> KeyPair {
    queue.pop_front().expect("the vector provides enough ratchet secrets")
}

#[test]
fn conversations_match_the_independent_implementation() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/crypto_v2.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let conversations = data["conversations"].as_array().unwrap();
    assert!(conversations.len() >= 3, "at least three conversations");
    let mut checked = 0;
    for conv in conversations {
        let name = conv["name"].as_str().unwrap();
        let out = &conv["outputs"];
        let mut alice = party(&conv["alice"]);
        let mut bob = party(&conv["bob"]);

        // Long-term keys and their signatures.
        for (p, o) in [(&alice, &out["alice_public"]), (&bob, &out["bob_public"])] {
            assert_eq!(p.local.identity.public().to_sec1().to_vec(), hex_of(&o["identity"]), "{name}: identity");
            assert_eq!(p.local.device_key.public().to_sec1().to_vec(), hex_of(&o["device"]), "{name}: device key");
            assert_eq!(p.local.certificate.0.to_vec(), hex_of(&o["certificate"]), "{name}: certificate");
        }
        let spk_in = &conv["bob"]["signed_prekey"];
        let spk_id = spk_in["id"].as_u64().unwrap() as u32;
        let spk = KeyPair::from_secret_bytes(&hex_of(&spk_in["secret"])).unwrap();
        let opk = conv["bob"]["one_time_prekey"]
            .as_object()
            .map(|o| (o["id"].as_u64().unwrap() as u32, KeyPair::from_secret_bytes(&hex_of(&o["secret"])).unwrap()));
        let bob_out = &out["bob_public"];
        assert_eq!(spk.public().to_sec1().to_vec(), hex_of(&bob_out["signed_prekey"]), "{name}: spk");
        let spk_signature = bob.local.sign_prekey(spk_id, spk.public());
        assert_eq!(spk_signature.0.to_vec(), hex_of(&bob_out["signed_prekey_signature"]), "{name}: spk signature");
        match &opk {
            Some((_, k)) => assert_eq!(k.public().to_sec1().to_vec(), hex_of(&bob_out["one_time_prekey"])),
            None => assert!(bob_out["one_time_prekey"].is_null()),
        }
        let bundle = Bundle {
            user_id: bob.local.user_id,
            device_id: bob.local.device_id,
            identity: bob.local.identity.public().clone(),
            device_key: bob.local.device_key.public().clone(),
            certificate: bob.local.certificate,
            signed_prekey_id: spk_id,
            signed_prekey: spk.public().clone(),
            signed_prekey_signature: spk_signature,
            one_time_prekey: opk.as_ref().map(|(id, k)| (*id, k.public().clone())),
        };

        let ephemeral = KeyPair::from_secret_bytes(&hex_of(&conv["alice"]["ephemeral_secret"])).unwrap();
        let mut alice_session: Option<Session> = None;
        let mut bob_session: Option<Session> = None;
        let mut ephemeral = Some(ephemeral);
        let steps = conv["steps"].as_array().unwrap();
        let mut envelopes: Vec<Option<Vec<u8>>> = vec![None; steps.len()];
        let (mut sends, mut receives, mut replays) = (0, 0, 0);
        for (i, step) in steps.iter().enumerate() {
            match step["op"].as_str().unwrap() {
                "send" => {
                    let message_id = uuid_of(&step["message_id"]);
                    let plaintext = hex_of(&step["plaintext"]);
                    let envelope = if step["from"] == "alice" {
                        if alice_session.is_none() {
                            let first = next_key(&mut alice.ratchet_secrets);
                            let ek = ephemeral.take().expect("one handshake per conversation");
                            let session = Session::initiate_with(&alice.local, &bundle, ek, first).unwrap();
                            assert_eq!(session.associated_data().to_vec(), hex_of(&out["ad"]), "{name}: AD");
                            alice_session = Some(session);
                        }
                        alice_session.as_mut().unwrap().seal(&message_id, &plaintext).unwrap()
                    } else {
                        bob_session.as_mut().expect("bob sends after receiving").seal(&message_id, &plaintext).unwrap()
                    };
                    assert_eq!(hex::encode(&envelope), step["envelope"].as_str().unwrap(), "{name}: step {i} envelope");
                    envelopes[i] = Some(envelope);
                    sends += 1;
                }
                op @ ("receive" | "replay") => {
                    let from = step["send"].as_u64().unwrap() as usize;
                    let envelope = envelopes[from].clone().expect("receive refers to an earlier send");
                    let message_id = uuid_of(&steps[from]["message_id"]);
                    let to_bob = step["to"] == "bob";
                    if to_bob && bob_session.is_none() {
                        let prekey = peek_prekey(&envelope).unwrap().expect("bob's first message is a prekey message");
                        assert_eq!(prekey.one_time_prekey_id, opk.as_ref().map(|(id, _)| *id));
                        let keys =
                            ResponderPrekeys { signed_prekey: &spk, one_time_prekey: opk.as_ref().map(|(_, k)| k) };
                        let session =
                            Session::respond(&bob.local, &alice.local.user_id, &alice.local.device_id, &prekey, keys)
                                .unwrap();
                        assert_eq!(session.associated_data().to_vec(), hex_of(&out["ad"]), "{name}: bob's AD");
                        bob_session = Some(session);
                    }
                    let (session, queue) = if to_bob {
                        (bob_session.as_mut().unwrap(), &mut bob.ratchet_secrets)
                    } else {
                        (alice_session.as_mut().unwrap(), &mut alice.ratchet_secrets)
                    };
                    let before = session.to_bytes();
                    let opened = session.open_with(&message_id, &envelope, NOW, &mut || next_key(queue));
                    if op == "receive" {
                        let opened = opened.unwrap_or_else(|e| panic!("{name}: step {i}: {e}"));
                        assert_eq!(opened, hex_of(&step["plaintext"]), "{name}: step {i} plaintext");
                        receives += 1;
                    } else {
                        assert!(opened.is_err(), "{name}: step {i}: a replay opened");
                        assert_eq!(*session.to_bytes(), *before, "{name}: step {i}: a replay changed the state");
                        replays += 1;
                    }
                }
                other => panic!("unknown op {other}"),
            }
        }
        assert!(sends >= 20 && receives == sends && replays >= 1, "{name}: {sends} sends, {receives} receives");
        let safety = SafetyNumber::for_identities(
            Party { user_id: &alice.local.user_id, public_key: alice.local.identity.public() },
            Party { user_id: &bob.local.user_id, public_key: bob.local.identity.public() },
        );
        assert_eq!(safety.digits(), out["safety_number"].as_str().unwrap().replace(' ', ""), "{name}: safety number");
        assert_eq!(hex::encode(safety.qr_payload()), out["safety_qr"].as_str().unwrap(), "{name}: safety QR");
        checked += steps.len();
    }
    eprintln!("crypto v2 vectors: {} conversations, {checked} steps reproduced", conversations.len());
}
