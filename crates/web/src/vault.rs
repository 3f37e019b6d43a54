//! Encryption at rest: every value the app writes to IndexedDB is sealed with AES-256-GCM
//! under one WebCrypto key per account database, made non-extractable, so no script —
//! the app's own included — can read the key's bytes, and the database holds only
//! ciphertext. The key itself is stored in the database as a `CryptoKey` object (the
//! browser keeps its material in the profile). Each value's AAD names its object store and
//! key, so sealed values cannot be swapped between records.
//!
//! Stored form: `Uint8Array(nonce (12) || ciphertext || tag (16))`. Anything else — such as
//! a plain value planted in the database — is refused; the one-time upgrade of values
//! written before the vault (`idb`) reads those itself.

use hush_client::store::StoreError;
use js_sys::{Array, Uint8Array};
use rexie::{Rexie, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, AesKeyGenParams, CryptoKey, SubtleCrypto};

/// The object store holding the key.
pub const VAULT: &str = "vault";
const KEY_NAME: &str = "key";
/// Set once the values written before the vault have been sealed.
const UPGRADED: &str = "upgraded";
const NONCE_LEN: usize = 12;
const AAD_PREFIX: &str = "hush-idb/v1/";

fn err(e: impl std::fmt::Debug) -> StoreError {
    StoreError(format!("{e:?}"))
}

fn subtle() -> Result<SubtleCrypto, StoreError> {
    let window = web_sys::window().ok_or_else(|| StoreError("no window".into()))?;
    Ok(window.crypto().map_err(err)?.subtle())
}

/// The key of one account database.
pub struct Vault {
    key: CryptoKey,
}

impl Vault {
    /// Loads the database's key, making one (non-extractable) on first use.
    pub async fn open(db: &Rexie) -> Result<Self, StoreError> {
        let tx = db.transaction(&[VAULT], TransactionMode::ReadOnly).map_err(err)?;
        let stored = tx.store(VAULT).map_err(err)?.get(JsValue::from_str(KEY_NAME)).await.map_err(err)?;
        if let Some(key) = stored.and_then(|v| v.dyn_into::<CryptoKey>().ok()) {
            return Ok(Self { key });
        }
        let usages = Array::of2(&JsValue::from_str("encrypt"), &JsValue::from_str("decrypt"));
        let params = AesKeyGenParams::new("AES-GCM", 256);
        let promise = subtle()?.generate_key_with_object(&params, false, &usages).map_err(err)?;
        let key: CryptoKey = JsFuture::from(promise).await.map_err(err)?.dyn_into().map_err(err)?;
        let tx = db.transaction(&[VAULT], TransactionMode::ReadWrite).map_err(err)?;
        tx.store(VAULT).map_err(err)?.put(&key, Some(&JsValue::from_str(KEY_NAME))).await.map_err(err)?;
        tx.done().await.map_err(err)?;
        Ok(Self { key })
    }

    /// Whether the one-time upgrade of values written before the vault is done.
    pub async fn upgraded(&self, db: &Rexie) -> Result<bool, StoreError> {
        let tx = db.transaction(&[VAULT], TransactionMode::ReadOnly).map_err(err)?;
        Ok(tx
            .store(VAULT)
            .map_err(err)?
            .get(JsValue::from_str(UPGRADED))
            .await
            .map_err(err)?
            .is_some_and(|v| !v.is_undefined()))
    }

    /// Records that the upgrade is done: from now on only sealed values are read.
    pub async fn mark_upgraded(&self, db: &Rexie) -> Result<(), StoreError> {
        let tx = db.transaction(&[VAULT], TransactionMode::ReadWrite).map_err(err)?;
        tx.store(VAULT).map_err(err)?.put(&JsValue::TRUE, Some(&JsValue::from_str(UPGRADED))).await.map_err(err)?;
        tx.done().await.map(|_| ()).map_err(err)
    }

    fn params(store: &str, key: &str, nonce: &[u8]) -> AesGcmParams {
        let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(nonce));
        params.set_additional_data(&Uint8Array::from(format!("{AAD_PREFIX}{store}/{key}").as_bytes()));
        params
    }

    /// Seals `plaintext` for record `key` of object store `store`.
    pub async fn seal(&self, store: &str, key: &str, plaintext: &[u8]) -> Result<JsValue, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(err)?;
        let params = Self::params(store, key, &nonce);
        let promise = subtle()?.encrypt_with_object_and_u8_array(&params, &self.key, plaintext).map_err(err)?;
        let sealed = Uint8Array::new(&JsFuture::from(promise).await.map_err(err)?);
        let out = Uint8Array::new_with_length((NONCE_LEN as u32) + sealed.length());
        out.subarray(0, NONCE_LEN as u32).copy_from(&nonce);
        out.set(&sealed, NONCE_LEN as u32);
        Ok(out.into())
    }

    /// Opens a stored value of record `key` of `store`.
    pub async fn open_value(&self, store: &str, key: &str, value: JsValue) -> Result<Vec<u8>, StoreError> {
        let bytes = value.dyn_into::<Uint8Array>().map_err(|_| StoreError("not a sealed value".into()))?.to_vec();
        if bytes.len() < NONCE_LEN {
            return Err(StoreError("sealed value too short".into()));
        }
        let params = Self::params(store, key, &bytes[..NONCE_LEN]);
        let promise =
            subtle()?.decrypt_with_object_and_u8_array(&params, &self.key, &bytes[NONCE_LEN..]).map_err(err)?;
        let opened = JsFuture::from(promise).await.map_err(|_| StoreError("a stored value does not open".into()))?;
        Ok(Uint8Array::new(&opened).to_vec())
    }
}
