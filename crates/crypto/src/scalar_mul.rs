//! Faster P-256 multiplications for the two kinds that, with ECDH, make up a handshake —
//! in the browser's WASM build each of `p256`'s generic multiplications costs ~350 µs:
//!
//! - [`mul_generator`], `k·G` for a **secret** `k` (key generation): a comb over a table of
//!   `j·16^i·G` (64 rows of 15 points, computed once per process), so a multiplication is
//!   64 additions instead of 256 doublings and 64 additions. It is constant-time: every row
//!   is read whole and the entry chosen with `subtle`, and the additions are `p256`'s
//!   complete formulas, so neither timing nor memory access depends on `k`.
//! - [`lincomb_x_vartime`], `u1·G + u2·Q` for **public** `u1`, `u2`, `Q` (ECDSA
//!   verification): one interleaved (Shamir) double-and-add over width-w NAFs instead of
//!   two separate constant-time multiplications, doubling in Jacobian coordinates
//!   (`point_ops`). Everything verification handles is public — the key, the signature,
//!   the digest — so it may branch on the scalars.
//!
//! Both are checked against `p256`'s own multiplication (the tests below, with edge-case
//! scalars), and verification against Wycheproof's vectors (`tests/wycheproof.rs`).

use std::sync::OnceLock;

use p256::elliptic_curve::subtle::{ConditionallySelectable as _, ConstantTimeEq as _};
use p256::{AffinePoint, FieldElement, ProjectivePoint, Scalar};
use zeroize::Zeroizing;

use crate::point_ops::{Homogeneous, JACOBIAN_IDENTITY, add, curve_b, double, to_homogeneous, to_jacobian};

/// Nibbles in a scalar: the comb's rows.
const COMB_ROWS: usize = 64;
/// Nonzero nibble values: the entries of a comb row.
const COMB_ENTRIES: usize = 15;
/// NAF width for the generator (its table is built once): 32 odd multiples.
const G_WIDTH: u32 = 7;
/// NAF width for the verifying key (its table is built per verification): 8 odd multiples.
const Q_WIDTH: u32 = 5;
/// Digits of a width-w NAF of a scalar below 2^256.
const NAF_DIGITS: usize = 257;

type CombRow = [ProjectivePoint; COMB_ENTRIES];

/// Row `i` holds `j·16^i·G` for `j` in 1..=15.
fn generator_comb() -> &'static [CombRow] {
    static TABLE: OnceLock<Vec<CombRow>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows = Vec::with_capacity(COMB_ROWS);
        let mut base = ProjectivePoint::GENERATOR;
        for _ in 0..COMB_ROWS {
            let mut row = [base; COMB_ENTRIES];
            for j in 1..COMB_ENTRIES {
                row[j] = row[j - 1] + base;
            }
            // 16·base, the next row's base: one more addition, no doublings.
            base = row[COMB_ENTRIES - 1] + base;
            rows.push(row);
        }
        rows
    })
}

/// `k·G` in constant time (see the module documentation).
pub(crate) fn mul_generator(k: &Scalar) -> ProjectivePoint {
    let mut bytes = Zeroizing::new([0u8; 32]);
    bytes.copy_from_slice(&k.to_bytes());
    let mut acc = ProjectivePoint::IDENTITY;
    for (i, row) in generator_comb().iter().enumerate() {
        // Nibble i, counting from the least significant; `bytes` is big-endian.
        let byte = bytes[31 - i / 2];
        let nibble = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
        let mut chosen = ProjectivePoint::IDENTITY;
        for (j, entry) in row.iter().enumerate() {
            chosen.conditional_assign(entry, nibble.ct_eq(&(j as u8 + 1)));
        }
        acc += chosen;
    }
    acc
}

/// `P, 3P, 5P, …, (2^(w−1) − 1)·P`.
fn odd_multiples<const N: usize>(p: &Homogeneous, b: &FieldElement) -> [Homogeneous; N] {
    let twice = add(p, p, b);
    let mut table = [*p; N];
    for j in 1..N {
        table[j] = add(&table[j - 1], &twice, b);
    }
    table
}

fn generator_odd_multiples() -> &'static [Homogeneous; 1 << (G_WIDTH - 2)] {
    static TABLE: OnceLock<[Homogeneous; 1 << (G_WIDTH - 2)]> = OnceLock::new();
    TABLE.get_or_init(|| odd_multiples(&Homogeneous::from_affine(&AffinePoint::GENERATOR), &curve_b()))
}

/// The width-`w` NAF of `k`, least significant digit first: each digit is zero or odd with
/// absolute value below 2^(w−1), and any `w` consecutive digits hold at most one nonzero.
fn wnaf(k: &Scalar, w: u32) -> [i8; NAF_DIGITS] {
    let bytes = k.to_bytes();
    // Little-endian 64-bit limbs, with a fifth for the carry a negative digit can cause.
    let mut limbs = [0u64; 5];
    for (i, limb) in limbs.iter_mut().take(4).enumerate() {
        *limb = bytes[24 - 8 * i..32 - 8 * i].iter().fold(0, |acc, b| (acc << 8) | u64::from(*b));
    }
    let window = 1i64 << w;
    let mut digits = [0i8; NAF_DIGITS];
    for digit in digits.iter_mut() {
        if limbs == [0; 5] {
            break;
        }
        if limbs[0] & 1 == 1 {
            let mut d = (limbs[0] & (window as u64 - 1)) as i64;
            if d >= window / 2 {
                d -= window;
            }
            *digit = d as i8;
            if d > 0 {
                sub_small(&mut limbs, d as u64);
            } else {
                add_small(&mut limbs, d.unsigned_abs());
            }
        }
        shift_right_one(&mut limbs);
    }
    digits
}

fn sub_small(limbs: &mut [u64; 5], value: u64) {
    let mut borrow = value;
    for limb in limbs.iter_mut() {
        let (next, underflow) = limb.overflowing_sub(borrow);
        *limb = next;
        borrow = u64::from(underflow);
    }
}

fn add_small(limbs: &mut [u64; 5], value: u64) {
    let mut carry = value;
    for limb in limbs.iter_mut() {
        let (next, overflow) = limb.overflowing_add(carry);
        *limb = next;
        carry = u64::from(overflow);
    }
}

fn shift_right_one(limbs: &mut [u64; 5]) {
    for i in 0..5 {
        let high = if i < 4 { limbs[i + 1] << 63 } else { 0 };
        limbs[i] = (limbs[i] >> 1) | high;
    }
}

fn add_digit(acc: &mut Homogeneous, digit: i8, odd_multiples: &[Homogeneous], b: &FieldElement) {
    let entry = &odd_multiples[usize::from(digit.unsigned_abs() / 2)];
    if digit > 0 {
        *acc = add(acc, entry, b);
    } else if digit < 0 {
        *acc = add(acc, &entry.neg(), b);
    }
}

/// The affine X coordinate of `u1·G + u2·Q`, big-endian (`None` for the identity), in
/// variable time — public inputs only (see the module documentation).
pub(crate) fn lincomb_x_vartime(u1: &Scalar, q: &AffinePoint, u2: &Scalar) -> Option<[u8; 32]> {
    let b = curve_b();
    let g_table = generator_odd_multiples();
    let q_table: [Homogeneous; 1 << (Q_WIDTH - 2)] = odd_multiples(&Homogeneous::from_affine(q), &b);
    let (g_digits, q_digits) = (wnaf(u1, G_WIDTH), wnaf(u2, Q_WIDTH));
    let top = (0..NAF_DIGITS).rev().find(|&i| g_digits[i] != 0 || q_digits[i] != 0)?;
    let mut acc = JACOBIAN_IDENTITY;
    for i in (0..=top).rev() {
        acc = double(&acc);
        if g_digits[i] != 0 || q_digits[i] != 0 {
            let mut sum = to_homogeneous(&acc);
            add_digit(&mut sum, g_digits[i], g_table, &b);
            add_digit(&mut sum, q_digits[i], &q_table, &b);
            acc = to_jacobian(&sum);
        }
    }
    acc.affine_x()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::Field as _;
    use p256::elliptic_curve::PrimeField as _;
    use rand_core::OsRng;

    fn edge_scalars() -> Vec<Scalar> {
        let minus_one = -Scalar::ONE;
        let mut top_nibbles = [0u8; 32];
        top_nibbles[0] = 0xf0;
        let mut alternating = [0u8; 32];
        alternating.iter_mut().enumerate().for_each(|(i, b)| *b = if i % 2 == 0 { 0xff } else { 0x00 });
        let mut scalars = vec![Scalar::ZERO, Scalar::ONE, Scalar::from(2u64), Scalar::from(15u64), Scalar::from(16u64)];
        scalars.extend([minus_one, minus_one - Scalar::ONE, Scalar::from(u64::MAX)]);
        for bytes in [top_nibbles, alternating, [0xff; 32]] {
            scalars.extend(Option::<Scalar>::from(Scalar::from_repr(bytes.into())));
        }
        scalars.extend((0..48).map(|_| Scalar::random(&mut OsRng)));
        scalars
    }

    #[test]
    fn the_comb_agrees_with_p256() {
        for k in edge_scalars() {
            assert_eq!(mul_generator(&k), ProjectivePoint::GENERATOR * k, "k = {k:?}");
        }
    }

    #[test]
    fn naf_digits_rebuild_the_scalar_and_keep_their_shape() {
        for k in edge_scalars() {
            for w in [Q_WIDTH, G_WIDTH] {
                let digits = wnaf(&k, w);
                let mut rebuilt = Scalar::ZERO;
                for d in digits.iter().rev() {
                    rebuilt = rebuilt.double();
                    let magnitude = Scalar::from(u64::from(d.unsigned_abs()));
                    rebuilt += if *d < 0 { -magnitude } else { magnitude };
                }
                assert_eq!(rebuilt, k);
                for (i, d) in digits.iter().enumerate().filter(|(_, d)| **d != 0) {
                    assert!(d % 2 != 0 && d.unsigned_abs() < 1 << (w - 1), "digit {d}");
                    let next = &digits[i + 1..(i + w as usize).min(NAF_DIGITS)];
                    assert!(next.iter().all(|n| *n == 0), "two nonzero digits within {w}");
                }
            }
        }
    }

    #[test]
    fn the_linear_combination_agrees_with_p256() {
        use p256::elliptic_curve::group::Group as _;
        use p256::elliptic_curve::point::AffineCoordinates as _;
        let scalars = edge_scalars();
        let points = [
            ProjectivePoint::GENERATOR,
            ProjectivePoint::GENERATOR * Scalar::random(&mut OsRng),
            -ProjectivePoint::GENERATOR,
            ProjectivePoint::IDENTITY,
        ];
        let x_of = |p: ProjectivePoint| (!bool::from(p.is_identity())).then(|| p.to_affine().x().into());
        for (n, u1) in scalars.iter().enumerate() {
            let u2 = scalars[(n * 7 + 3) % scalars.len()];
            for q in &points {
                let expected = x_of(ProjectivePoint::GENERATOR * u1 + *q * u2);
                assert_eq!(lincomb_x_vartime(u1, &q.to_affine(), &u2), expected, "u1 = {u1:?}, u2 = {u2:?}");
            }
            // A sum that is the identity: u1·G + (−u1)·G.
            let cancelling = lincomb_x_vartime(u1, &AffinePoint::GENERATOR, &-*u1);
            assert_eq!(cancelling, None, "u1 = {u1:?}");
        }
    }
}
