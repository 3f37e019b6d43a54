//! A device's keys for tests: an account identity, a device key with its certificate, a
//! signed prekey and one-time prekeys, and the JSON bodies that register and top them up.

use hush_crypto::{IdentityKeyPair, KeyPair, LocalDevice};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct TestDevice {
    pub local: LocalDevice,
    pub signed_prekey: KeyPair,
    pub next_prekey_id: u32,
}

impl TestDevice {
    /// A new device of `user_id` under a fresh identity.
    pub fn new(user_id: &str) -> Self {
        Self::with_identity(user_id, IdentityKeyPair::generate())
    }

    /// A new device of `user_id` under `identity`.
    pub fn with_identity(user_id: &str, identity: IdentityKeyPair) -> Self {
        let user = Uuid::parse_str(user_id).unwrap();
        let local = LocalDevice::new(*user.as_bytes(), *Uuid::new_v4().as_bytes(), identity, KeyPair::generate());
        Self { local, signed_prekey: KeyPair::generate(), next_prekey_id: 1 }
    }

    pub fn device_id(&self) -> String {
        Uuid::from_bytes(self.local.device_id).to_string()
    }

    pub fn identity_key(&self) -> String {
        self.local.identity.public().to_wire()
    }

    /// A signed prekey body with `id`, signed by the identity.
    pub fn signed_prekey_body(&self, id: u32, key: &KeyPair) -> Value {
        json!({ "id": id, "public_key": key.public().to_wire(), "signature": self.local.sign_prekey(id, key.public()).to_wire() })
    }

    /// `count` fresh one-time prekeys with the next ids.
    pub fn one_time_prekeys(&mut self, count: u32) -> Vec<Value> {
        (0..count)
            .map(|_| {
                let id = self.next_prekey_id;
                self.next_prekey_id += 1;
                json!({ "id": id, "public_key": KeyPair::generate().public().to_wire() })
            })
            .collect()
    }

    /// The body of `POST /api/v1/devices`.
    pub fn registration(&mut self, prekeys: u32) -> Value {
        json!({
            "device_id": self.device_id(),
            "identity_key": self.identity_key(),
            "device_key": self.local.device_key.public().to_wire(),
            "certificate": self.local.certificate.to_wire(),
            "signed_prekey": self.signed_prekey_body(1, &self.signed_prekey),
            "one_time_prekeys": self.one_time_prekeys(prekeys),
            "name": "Test browser",
        })
    }
}
