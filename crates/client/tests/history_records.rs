//! The history records of `docs/CRYPTO.md` §13 written byte for byte as the independent
//! Python implementation writes them (`tests/vectors/link_v2.json`), and read back.

use hush_client::history::HistoryRecord;
use serde_json::Value;

#[test]
fn records_serialize_exactly_as_specified() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/link_v2.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut chunks = 0;
    for case in file["cases"].as_array().unwrap() {
        let inputs = case["history_records"].as_array().unwrap();
        let outputs = case["history_chunks"].as_array().unwrap();
        assert_eq!(inputs.len(), outputs.len());
        for (records, chunk) in inputs.iter().zip(outputs) {
            let records: Vec<HistoryRecord> = serde_json::from_value(records.clone()).unwrap();
            let expected = hex::decode(chunk["records"].as_str().unwrap()).unwrap();
            assert_eq!(serde_json::to_vec(&records).unwrap(), expected, "{}", String::from_utf8_lossy(&expected));
            let back: Vec<HistoryRecord> = serde_json::from_slice(&expected).unwrap();
            assert_eq!(back, records);
            chunks += 1;
        }
    }
    assert!(chunks >= 5);
}
