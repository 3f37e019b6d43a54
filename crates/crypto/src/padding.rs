//! Length hiding. A plaintext of `n` bytes becomes `u32_be(n) || plaintext || zeros`, its
//! total length rounded up with Padmé (Nikitin et al., PETS 2019) after a 64-byte floor:
//! every message under 60 bytes looks the same, and longer ones leak only O(log log n) bits
//! of their length at ≤ 12 % overhead.

use crate::error::CryptoError;

/// Largest plaintext accepted by [`pad`] (32 KiB).
pub const MAX_PLAINTEXT_LEN: usize = 32 * 1024;
/// Smallest padded length.
pub const MIN_PADDED_LEN: usize = 64;
const LEN_PREFIX: usize = 4;

/// The padded length for a plaintext of `len` bytes.
pub const fn padded_len(len: usize) -> usize {
    let l = len + LEN_PREFIX;
    padme(if l < MIN_PADDED_LEN { MIN_PADDED_LEN } else { l })
}

const fn padme(l: usize) -> usize {
    // l ≥ 64 here, so e ≥ 6 and s ≥ 3.
    let e = usize::BITS - 1 - l.leading_zeros(); // floor(log2 l)
    let s = u32::BITS - e.leading_zeros(); // floor(log2 e) + 1
    let last_bits = e - s;
    let mask = (1usize << last_bits) - 1;
    (l + mask) & !mask
}

/// Pads a plaintext.
pub fn pad(plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(CryptoError::TooLarge);
    }
    let total = padded_len(plaintext.len());
    let mut out = Vec::with_capacity(total + crate::aead::TAG_LEN);
    out.extend_from_slice(&(plaintext.len() as u32).to_be_bytes());
    out.extend_from_slice(plaintext);
    out.resize(total, 0);
    Ok(out)
}

/// Removes the padding; rejects a length prefix past the end or non-zero padding bytes.
pub fn unpad(padded: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let prefix: [u8; LEN_PREFIX] =
        padded.get(..LEN_PREFIX).and_then(|p| p.try_into().ok()).ok_or(CryptoError::Undecryptable)?;
    let len = u32::from_be_bytes(prefix) as usize;
    let body = &padded[LEN_PREFIX..];
    if len > body.len() || len > MAX_PLAINTEXT_LEN || body[len..].iter().any(|&b| b != 0) {
        return Err(CryptoError::Undecryptable);
    }
    Ok(body[..len].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_sizes() {
        assert_eq!(padded_len(0), 64);
        assert_eq!(padded_len(60), 64);
        assert_eq!(padded_len(61), 72);
        assert_eq!(padded_len(300), 304);
        assert_eq!(padded_len(1000), 1024);
        for n in 0..=MAX_PLAINTEXT_LEN {
            let p = padded_len(n);
            assert!(p >= n + 4);
            assert!(p <= ((n + 4).max(64) * 112) / 100 + 1, "overhead too large at {n}");
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        for n in [0, 1, 59, 60, 61, 255, 4096] {
            let msg = vec![0xAB; n];
            assert_eq!(unpad(&pad(&msg).unwrap()).unwrap(), msg);
        }
        assert_eq!(pad(&vec![0; MAX_PLAINTEXT_LEN + 1]).unwrap_err(), CryptoError::TooLarge);
        let mut p = pad(b"hi").unwrap();
        p[10] = 1;
        assert!(unpad(&p).is_err());
        assert!(unpad(&[0, 0, 1, 0]).is_err());
        assert!(unpad(&[0, 0]).is_err());
    }
}
