//! Devices: the local device's long-term keys, and a peer device's bundle as the server
//! hands it out (`docs/CRYPTO.md` §2–§4).

use crate::error::CryptoError;
use crate::identity::{IdentityKeyPair, Signature, verify_device_certificate, verify_signed_prekey};
use crate::keys::{KeyPair, PublicKey};
use crate::{DeviceIdBytes, UserIdBytes};

/// This device: who it is and its long-term keys. The account identity is shared by every
/// device of the person; the device key and its certificate are this device's own.
#[derive(Clone, Debug)]
pub struct LocalDevice {
    /// The person.
    pub user_id: UserIdBytes,
    /// This device.
    pub device_id: DeviceIdBytes,
    /// The account identity key pair (`AIK`).
    pub identity: IdentityKeyPair,
    /// The device key pair (`DK`).
    pub device_key: KeyPair,
    /// `AIK`'s certificate of `DK`.
    pub certificate: Signature,
}

impl LocalDevice {
    /// A device with the given keys; signs its certificate.
    pub fn new(user_id: UserIdBytes, device_id: DeviceIdBytes, identity: IdentityKeyPair, device_key: KeyPair) -> Self {
        let certificate = identity.certify_device(&user_id, &device_id, device_key.public());
        Self { user_id, device_id, identity, device_key, certificate }
    }

    /// Signs signed prekey `id` of this device.
    pub fn sign_prekey(&self, id: u32, prekey: &PublicKey) -> Signature {
        self.identity.sign_prekey(&self.user_id, &self.device_id, id, prekey)
    }
}

/// One device of a person as the server hands it out, before it is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The person.
    pub user_id: UserIdBytes,
    /// The device.
    pub device_id: DeviceIdBytes,
    /// The person's account identity key.
    pub identity: PublicKey,
    /// The device key.
    pub device_key: PublicKey,
    /// The device certificate.
    pub certificate: Signature,
    /// Id of the signed prekey.
    pub signed_prekey_id: u32,
    /// The signed prekey.
    pub signed_prekey: PublicKey,
    /// Its signature.
    pub signed_prekey_signature: Signature,
    /// A one-time prekey, if the device had one left.
    pub one_time_prekey: Option<(u32, PublicKey)>,
}

impl Bundle {
    /// Checks the certificate and the prekey signature under the bundle's identity. (That
    /// the identity is the one on record for the person is the caller's check.)
    pub fn verify(&self) -> Result<(), CryptoError> {
        verify_device_certificate(&self.identity, &self.user_id, &self.device_id, &self.device_key, &self.certificate)?;
        verify_signed_prekey(
            &self.identity,
            &self.user_id,
            &self.device_id,
            self.signed_prekey_id,
            &self.signed_prekey,
            &self.signed_prekey_signature,
        )?;
        if self.signed_prekey_id == 0 || self.one_time_prekey.as_ref().is_some_and(|(id, _)| *id == 0) {
            return Err(CryptoError::InvalidPrekeyId);
        }
        Ok(())
    }
}
