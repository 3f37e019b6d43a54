//! Known-answer vectors of crypto v1 (`tests/vectors/crypto_v1.json`, also printed in
//! `docs/CRYPTO_V1.md`). The outputs were produced by an independent Python implementation of
//! the spec (`tests/vectors/crypto_v1.py`); this test recomputes them with the Rust crate.

use hush_crypto::{ConversationKeys, KeyPair, Party, PublicKey, SafetyNumber, message_key};
use serde_json::Value;

fn hex(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("missing {key}"))).unwrap()
}

fn uuid_bytes(v: &Value, key: &str) -> [u8; 16] {
    let text = v[key].as_str().unwrap().replace('-', "");
    hex::decode(text).unwrap().try_into().unwrap()
}

#[test]
fn vectors_match_the_independent_implementation() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/crypto_v1.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vectors = data["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 2);
    for vector in vectors {
        let (input, out) = (&vector["input"], &vector["output"]);
        let alice = KeyPair::from_secret_bytes(&hex(input, "alice_secret")).unwrap();
        let bob = KeyPair::from_secret_bytes(&hex(input, "bob_secret")).unwrap();
        let (a_id, b_id) = (uuid_bytes(input, "alice_id"), uuid_bytes(input, "bob_id"));
        let msg_id = uuid_bytes(input, "message_id");
        let nonce: [u8; 12] = hex(input, "nonce").try_into().unwrap();
        let plaintext = input["plaintext"].as_str().unwrap().as_bytes();

        assert_eq!(alice.public().to_sec1().to_vec(), hex(out, "alice_public"));
        assert_eq!(bob.public().to_sec1().to_vec(), hex(out, "bob_public"));
        assert_eq!(alice.public().key_id().0.to_vec(), hex(out, "alice_key_id"));
        assert_eq!(bob.public().key_id().0.to_vec(), hex(out, "bob_key_id"));

        let z = alice.diffie_hellman(bob.public());
        assert_eq!(z.to_vec(), hex(out, "shared_secret"));
        let a = Party { user_id: &a_id, public_key: alice.public() };
        let b = Party { user_id: &b_id, public_key: bob.public() };
        assert_eq!(message_key(&z, a, b).to_vec(), hex(out, "key_alice_to_bob"));
        assert_eq!(message_key(&z, b, a).to_vec(), hex(out, "key_bob_to_alice"));

        let alice_side = ConversationKeys::derive(&a_id, &alice, &b_id, bob.public());
        let envelope = alice_side.seal_with_nonce(&msg_id, plaintext, nonce).unwrap();
        assert_eq!(hex::encode(&envelope), out["envelope"].as_str().unwrap(), "{}", vector["name"]);
        let bob_side =
            ConversationKeys::derive(&b_id, &bob, &a_id, &PublicKey::from_sec1(&hex(out, "alice_public")).unwrap());
        assert_eq!(bob_side.open(&msg_id, &envelope).unwrap(), plaintext);

        let sn = SafetyNumber::compute(a, b);
        assert_eq!(sn.digits(), out["safety_number"].as_str().unwrap());
        assert_eq!(sn.qr_payload().to_vec(), hex(out, "safety_qr"));
    }
}

#[test]
fn docs_crypto_md_prints_the_first_vector() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let doc = std::fs::read_to_string(format!("{root}/docs/CRYPTO_V1.md")).unwrap();
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}/tests/vectors/crypto_v1.json")).unwrap())
            .unwrap();
    let out = &data["vectors"][0]["output"];
    for (field, value) in out.as_object().unwrap() {
        let value = value.as_str().unwrap();
        let shown = if field == "safety_number" {
            value.as_bytes().chunks(5).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
        } else {
            value.to_owned()
        };
        assert!(doc.contains(&shown), "docs/CRYPTO_V1.md does not show {field} = {shown}");
    }
}
