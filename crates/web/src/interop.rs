//! Crypto v1 for JavaScript: the exact WASM functions the app uses, exported so the
//! browser suite can check them against WebCrypto (ECDH P-256 + HKDF + AES-GCM per
//! docs/CRYPTO_V1.md). Secrets here are test keys passed in by the caller; the app never
//! exports its own.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_crypto::{ConversationKeys, KeyPair, PublicKey};
use wasm_bindgen::prelude::*;

fn uuid_bytes(text: &str) -> Result<[u8; 16], JsValue> {
    uuid::Uuid::parse_str(text).map(|u| *u.as_bytes()).map_err(|e| JsValue::from_str(&e.to_string()))
}

fn keys(my_secret: &str, my_id: &str, their_public: &str, their_id: &str) -> Result<ConversationKeys, JsValue> {
    let secret = URL_SAFE_NO_PAD.decode(my_secret).map_err(|_| JsValue::from_str("secret is not base64url"))?;
    let pair = KeyPair::from_secret_bytes(&secret).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let theirs = PublicKey::from_wire(their_public).map_err(|e| JsValue::from_str(&e.to_string()))?;
    Ok(ConversationKeys::derive(&uuid_bytes(my_id)?, &pair, &uuid_bytes(their_id)?, &theirs))
}

/// The public key (wire form) of a 32-byte secret given in base64url.
#[wasm_bindgen(js_name = hushPublicKey)]
pub fn public_key(my_secret: &str) -> Result<String, JsValue> {
    let secret = URL_SAFE_NO_PAD.decode(my_secret).map_err(|_| JsValue::from_str("secret is not base64url"))?;
    Ok(KeyPair::from_secret_bytes(&secret).map_err(|e| JsValue::from_str(&e.to_string()))?.public().to_wire())
}

/// Seals `plaintext` from me to them; returns the envelope in base64url.
#[wasm_bindgen(js_name = hushSealV1)]
pub fn seal(
    my_secret: &str,
    my_id: &str,
    their_public: &str,
    their_id: &str,
    message_id: &str,
    plaintext: &str,
) -> Result<String, JsValue> {
    let envelope = keys(my_secret, my_id, their_public, their_id)?
        .seal(&uuid_bytes(message_id)?, plaintext.as_bytes())
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(envelope))
}

/// Opens an envelope (base64url) they sent me.
#[wasm_bindgen(js_name = hushOpenV1)]
pub fn open(
    my_secret: &str,
    my_id: &str,
    their_public: &str,
    their_id: &str,
    message_id: &str,
    envelope: &str,
) -> Result<String, JsValue> {
    let bytes = URL_SAFE_NO_PAD.decode(envelope).map_err(|_| JsValue::from_str("envelope is not base64url"))?;
    let plaintext = keys(my_secret, my_id, their_public, their_id)?
        .open(&uuid_bytes(message_id)?, &bytes)
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
    String::from_utf8(plaintext).map_err(|_| JsValue::from_str("not UTF-8"))
}
