//! RFC 8291 message encryption for Web Push: the payload a push service carries to a
//! browser, readable only by that browser's subscription (its P-256 key `p256dh` and its
//! 16-byte `auth` secret), in the `aes128gcm` content coding of RFC 8188 as one record.
//! The push service (and whoever runs it) sees only ciphertext of a fixed size.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

/// The record size written in the header: one record holds any payload Hush sends.
pub const RECORD_SIZE: u32 = 4096;
/// Bytes the encoding adds: salt (16), record size (4), key id length (1), the sender's
/// public key (65), the padding delimiter (1) and the AEAD tag (16).
pub const OVERHEAD: usize = 16 + 4 + 1 + 65 + 1 + 16;

/// A subscription's keys, as the browser gave them.
#[derive(Clone, Debug)]
pub struct Receiver {
    /// `keys.p256dh`: the browser's P-256 public key.
    pub public: PublicKey,
    /// `keys.auth`: the browser's authentication secret.
    pub auth: [u8; 16],
}

/// Why a payload could not be encrypted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EceError {
    /// The payload does not fit in one record.
    #[error("a push payload of {0} bytes does not fit in one record")]
    TooLong(usize),
}

/// Encrypts `plaintext` for `to`, with a fresh sender key and salt.
pub fn encrypt(plaintext: &[u8], to: &Receiver) -> Result<Vec<u8>, EceError> {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    encrypt_with(plaintext, to, &SecretKey::random(&mut OsRng), salt)
}

/// Encrypts with the given sender key and salt (known-answer tests use RFC 8291's).
pub fn encrypt_with(plaintext: &[u8], to: &Receiver, sender: &SecretKey, salt: [u8; 16]) -> Result<Vec<u8>, EceError> {
    // A record holds the content, the delimiter and the tag.
    if plaintext.len() + 1 + 16 > RECORD_SIZE as usize {
        return Err(EceError::TooLong(plaintext.len()));
    }
    let sender_public = sender.public_key().to_encoded_point(false);
    let receiver_public = to.public.to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(sender.to_nonzero_scalar(), to.public.as_affine());

    // RFC 8291 §3.3: the auth secret and the key exchange give the input keying material.
    let mut key_info = Vec::with_capacity(14 + 65 + 65);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(receiver_public.as_bytes());
    key_info.extend_from_slice(sender_public.as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&to.auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .expect("32 bytes is a valid HKDF-SHA-256 length");

    // RFC 8188 §2.2 and §2.3: the content-encryption key and the nonce.
    let record = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut key = [0u8; 16];
    let mut nonce = [0u8; 12];
    record.expand(b"Content-Encoding: aes128gcm\0", &mut key).expect("16 bytes is a valid HKDF length");
    record.expand(b"Content-Encoding: nonce\0", &mut nonce).expect("12 bytes is a valid HKDF length");

    // One record, so the last: the content, then the delimiter 0x02.
    let mut padded = Vec::with_capacity(plaintext.len() + 1);
    padded.extend_from_slice(plaintext);
    padded.push(2);
    let sealed = Aes128Gcm::new(&key.into())
        .encrypt(&Nonce::from(nonce), Payload { msg: &padded, aad: b"" })
        .expect("AES-GCM encrypts any record of this size");

    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(sender_public.as_bytes());
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn b64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    /// RFC 8291 Appendix A, byte for byte.
    #[test]
    fn the_rfc_8291_example_encrypts_to_the_rfc_body() {
        let to = Receiver {
            public: PublicKey::from_sec1_bytes(&b64(
                "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            ))
            .unwrap(),
            auth: b64("BTBZMqHH6r4Tts7J_aSIgg").try_into().unwrap(),
        };
        let sender = SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        let salt = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt_with(b"When I grow up, I want to be a watermelon", &to, &sender, salt).unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn every_push_is_new_ciphertext_of_the_same_size_and_too_long_is_refused() {
        let browser = SecretKey::random(&mut OsRng);
        let to = Receiver { public: browser.public_key(), auth: [7; 16] };
        let (a, b) = (encrypt(b"same", &to).unwrap(), encrypt(b"same", &to).unwrap());
        assert_ne!(a, b, "fresh salt and sender key each time");
        assert_eq!(a.len(), b"same".len() + OVERHEAD);
        assert_eq!(encrypt(&[0; 4096], &to), Err(EceError::TooLong(4096)));
    }
}
