//! The X3DH-style handshake on P-256 (`docs/CRYPTO.md` §5): both sides reach the same
//! 32-byte session secret `SK` and the 324-byte associated data `AD` that binds both
//! accounts, both devices and both device keys.

use zeroize::Zeroizing;

use crate::keys::{PUBLIC_KEY_LEN, PublicKey};
use crate::ratchet::{Secret, hkdf_expand};
use crate::{DeviceIdBytes, UserIdBytes};

/// Bytes of the associated data.
pub const AD_LEN: usize = 2 * (2 * PUBLIC_KEY_LEN + 32);
const X3DH_INFO: &[u8] = b"hush/v2/x3dh";

/// One side of a session as the associated data lists it.
#[derive(Clone, Copy, Debug)]
pub struct SessionParty<'a> {
    /// The account identity key.
    pub identity: &'a PublicKey,
    /// The person.
    pub user_id: &'a UserIdBytes,
    /// The device.
    pub device_id: &'a DeviceIdBytes,
    /// The device key.
    pub device_key: &'a PublicKey,
}

/// `AD = AIK_I || user_I || device_I || DK_I || AIK_R || user_R || device_R || DK_R`.
pub fn associated_data(initiator: SessionParty<'_>, responder: SessionParty<'_>) -> [u8; AD_LEN] {
    let mut ad = [0u8; AD_LEN];
    let mut at = 0;
    for party in [initiator, responder] {
        for part in [&party.identity.to_sec1()[..], party.user_id, party.device_id, &party.device_key.to_sec1()[..]] {
            ad[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
    }
    ad
}

/// `SK = HKDF(0x00*32, 0xFF*32 || DH1 || DH2 || DH3 [|| DH4], "hush/v2/x3dh" || AD, 32)`.
pub(crate) fn session_secret(dh_outputs: &[&[u8; 32]], ad: &[u8; AD_LEN]) -> Secret {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * 5));
    ikm.extend_from_slice(&[0xFF; 32]);
    for dh in dh_outputs {
        ikm.extend_from_slice(&dh[..]);
    }
    let mut info = Vec::with_capacity(X3DH_INFO.len() + AD_LEN);
    info.extend_from_slice(X3DH_INFO);
    info.extend_from_slice(ad);
    let mut sk = Secret::default();
    hkdf_expand(&[0u8; 32], &ikm, &info, &mut sk[..]);
    sk
}
