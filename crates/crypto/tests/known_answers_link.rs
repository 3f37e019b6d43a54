//! Known answers for linking a browser (`tests/vectors/link_v2.json`, `docs/CRYPTO.md`
//! §13), produced by an independent Python implementation written from the document alone
//! (`tests/vectors/link_v2.py`): the commitment, the comparison code, the channel both
//! sides derive, and the sealed payload, byte for byte.

use hush_crypto::{KeyPair, LinkChannel, link_commitment, link_comparison_code};
use serde_json::Value;

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap_or_else(|| panic!("expected hex, got {v}"))).unwrap()
}

#[test]
fn linking_matches_the_independent_implementation() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/link_v2.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let link: [u8; 16] =
            hex::decode(case["link_id"].as_str().unwrap().replace('-', "")).unwrap().try_into().unwrap();
        let approver = KeyPair::from_secret_bytes(&hex_of(&case["approver_ephemeral_secret"])).unwrap();
        let requester = KeyPair::from_secret_bytes(&hex_of(&case["requester_ephemeral_secret"])).unwrap();
        assert_eq!(approver.public().to_sec1().to_vec(), hex_of(&case["approver_ephemeral_public"]), "{name}");
        assert_eq!(requester.public().to_sec1().to_vec(), hex_of(&case["requester_ephemeral_public"]), "{name}");
        assert_eq!(link_commitment(&link, approver.public()).to_vec(), hex_of(&case["commitment"]), "{name}");
        let code = link_comparison_code(&link, approver.public(), requester.public());
        assert_eq!(code, case["code"].as_str().unwrap(), "{name}");
        assert_eq!(approver.diffie_hellman(requester.public()).to_vec(), hex_of(&case["shared_secret"]), "{name}");
        let roles = (approver.public(), requester.public());
        let sealing = LinkChannel::derive(&link, &approver, requester.public(), roles);
        let payload = hex_of(&case["payload"]);
        assert_eq!(sealing.seal(&payload).unwrap(), hex_of(&case["sealed"]), "{name}: sealed byte for byte");
        let opening = LinkChannel::derive(&link, &requester, approver.public(), roles);
        assert_eq!(opening.open(&hex_of(&case["sealed"])).unwrap(), payload, "{name}");
        let mut tampered = hex_of(&case["sealed"]);
        tampered[0] ^= 1;
        assert!(opening.open(&tampered).is_err(), "{name}: a flipped bit is refused");
        for chunk in case["history_chunks"].as_array().unwrap() {
            let (index, count) = (chunk["index"].as_u64().unwrap() as u32, chunk["count"].as_u64().unwrap() as u32);
            let records = hex_of(&chunk["records"]);
            let sealed = sealing.seal_history(index, count, &records).unwrap();
            assert_eq!(sealed, hex_of(&chunk["chunk"]), "{name}: history chunk {index} byte for byte");
            assert_eq!(opening.open_history(index, count, &sealed).unwrap(), records);
            assert!(opening.open_history(index, count + 1, &sealed).is_err(), "{name}: the count is bound");
            assert!(opening.open_history((index + 1) % count.max(2), count.max(2), &sealed).is_err(), "the index");
        }
    }
}
