//! P-256 point arithmetic for the multiplications of `ecdh_mul` and `scalar_mul`, on
//! `p256`'s field: complete addition on homogeneous coordinates (Renes–Costello–Batina 2015,
//! Algorithm 4 — right for every pair of points, equal ones and the identity included) and
//! doubling on Jacobian coordinates ("dbl-2001-b" for `a = −3`, 3M + 5S, about half the cost
//! of the complete doubling `p256` uses). On a curve of prime order the Jacobian doubling has
//! no exceptional case: no point has order 2, and the identity `(1:1:0)` doubles to itself.
//! The conversions between the two cost three multiplications each way; the identity is
//! selected, not computed, when converting to Jacobian coordinates. Everything here is
//! constant-time.

use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::elliptic_curve::subtle::{Choice, ConditionallySelectable};
use p256::{AffinePoint, FieldElement};

/// The curve's `b`, big-endian (SEC 2, §2.4.2).
const CURVE_B_BYTES: [u8; 32] = [
    0x5a, 0xc6, 0x35, 0xd8, 0xaa, 0x3a, 0x93, 0xe7, 0xb3, 0xeb, 0xbd, 0x55, 0x76, 0x98, 0x86, 0xbc, 0x65, 0x1d, 0x06,
    0xb0, 0xcc, 0x53, 0xb0, 0xf6, 0x3b, 0xce, 0x3c, 0x3e, 0x27, 0xd2, 0x60, 0x4b,
];

/// A point as `(X/Z, Y/Z)`; the identity is `(0:1:0)`.
#[derive(Clone, Copy)]
pub(crate) struct Homogeneous {
    x: FieldElement,
    y: FieldElement,
    z: FieldElement,
}

/// A point as `(X/Z², Y/Z³)`; the identity is `(1:1:0)`.
#[derive(Clone, Copy)]
pub(crate) struct Jacobian {
    x: FieldElement,
    y: FieldElement,
    z: FieldElement,
}

/// Constant-time selection, coordinate by coordinate, for both representations.
macro_rules! select_coordinates {
    ($($point:ty),*) => {$(
        impl ConditionallySelectable for $point {
            fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
                Self {
                    x: FieldElement::conditional_select(&a.x, &b.x, choice),
                    y: FieldElement::conditional_select(&a.y, &b.y, choice),
                    z: FieldElement::conditional_select(&a.z, &b.z, choice),
                }
            }
        }
    )*};
}
select_coordinates!(Homogeneous, Jacobian);

pub(crate) const HOMOGENEOUS_IDENTITY: Homogeneous =
    Homogeneous { x: FieldElement::ZERO, y: FieldElement::ONE, z: FieldElement::ZERO };
pub(crate) const JACOBIAN_IDENTITY: Jacobian =
    Jacobian { x: FieldElement::ONE, y: FieldElement::ONE, z: FieldElement::ZERO };

/// Complete addition for `a = −3` (Renes–Costello–Batina 2015, Algorithm 4): right for
/// every pair of points, equal ones and the identity included.
pub(crate) fn add(p: &Homogeneous, q: &Homogeneous, b: &FieldElement) -> Homogeneous {
    let xx = p.x * q.x;
    let yy = p.y * q.y;
    let zz = p.z * q.z;
    let xy_pairs = ((p.x + p.y) * (q.x + q.y)) - (xx + yy);
    let yz_pairs = ((p.y + p.z) * (q.y + q.z)) - (yy + zz);
    let xz_pairs = ((p.x + p.z) * (q.x + q.z)) - (xx + zz);
    let bzz_part = xz_pairs - (*b * zz);
    let bzz3_part = bzz_part.double() + bzz_part;
    let yy_m_bzz3 = yy - bzz3_part;
    let yy_p_bzz3 = yy + bzz3_part;
    let zz3 = zz.double() + zz;
    let bxz_part = (*b * xz_pairs) - (zz3 + xx);
    let bxz3_part = bxz_part.double() + bxz_part;
    let xx3_m_zz3 = xx.double() + xx - zz3;
    Homogeneous {
        x: (yy_p_bzz3 * xy_pairs) - (yz_pairs * bxz3_part),
        y: (yy_p_bzz3 * yy_m_bzz3) + (xx3_m_zz3 * bxz3_part),
        z: (yy_m_bzz3 * yz_pairs) + (xy_pairs * xx3_m_zz3),
    }
}

/// Doubling in Jacobian coordinates for `a = −3` ("dbl-2001-b", Bernstein–Lange EFD).
pub(crate) fn double(p: &Jacobian) -> Jacobian {
    let delta = p.z.square();
    let gamma = p.y.square();
    let beta = p.x * gamma;
    let alpha = {
        let t = (p.x - delta) * (p.x + delta);
        t.double() + t
    };
    let beta4 = beta.double().double();
    let x = alpha.square() - beta4.double();
    let z = (p.y + p.z).square() - gamma - delta;
    let gamma_sq8 = gamma.square().double().double().double();
    let y = alpha * (beta4 - x) - gamma_sq8;
    Jacobian { x, y, z }
}

/// The same point in homogeneous coordinates: `(X·Z, Y, Z³)`.
pub(crate) fn to_homogeneous(p: &Jacobian) -> Homogeneous {
    let zz = p.z.square();
    Homogeneous { x: p.x * p.z, y: p.y, z: zz * p.z }
}

/// The same point in Jacobian coordinates: `(X·Z, Y·Z², Z)`, or the identity.
pub(crate) fn to_jacobian(p: &Homogeneous) -> Jacobian {
    let zz = p.z.square();
    let point = Jacobian { x: p.x * p.z, y: p.y * zz, z: p.z };
    Jacobian::conditional_select(&point, &JACOBIAN_IDENTITY, p.z.is_zero())
}

/// The curve's `b` as a field element.
pub(crate) fn curve_b() -> FieldElement {
    FieldElement::from_bytes(&CURVE_B_BYTES.into()).unwrap()
}

impl Homogeneous {
    /// `point` (the identity too).
    pub(crate) fn from_affine(point: &AffinePoint) -> Self {
        let encoded = point.to_encoded_point(false);
        let (Some(x), Some(y)) = (encoded.x(), encoded.y()) else { return HOMOGENEOUS_IDENTITY };
        // Coordinates of a point on the curve are below the modulus.
        Self { x: FieldElement::from_bytes(x).unwrap(), y: FieldElement::from_bytes(y).unwrap(), z: FieldElement::ONE }
    }

    /// The point's negative.
    pub(crate) fn neg(&self) -> Self {
        Self { x: self.x, y: -self.y, z: self.z }
    }
}

impl Jacobian {
    /// The affine X coordinate, big-endian; `None` for the identity.
    pub(crate) fn affine_x(&self) -> Option<[u8; 32]> {
        let z_inv = Option::<FieldElement>::from(self.z.square().invert())?;
        Some((self.x * z_inv).to_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::subtle::ConstantTimeEq as _;

    #[test]
    fn jacobian_doubling_keeps_the_identity_and_agrees_with_addition() {
        let b = curve_b();
        let doubled = double(&JACOBIAN_IDENTITY);
        assert!(bool::from(doubled.z.is_zero()), "the identity doubles to itself");
        let g = Homogeneous::from_affine(&AffinePoint::GENERATOR);
        let by_doubling = to_homogeneous(&double(&to_jacobian(&g)));
        let by_addition = add(&g, &g, &b);
        // Equal as points: X1·Z2 = X2·Z1 and Y1·Z2 = Y2·Z1.
        assert!(bool::from((by_doubling.x * by_addition.z).ct_eq(&(by_addition.x * by_doubling.z))));
        assert!(bool::from((by_doubling.y * by_addition.z).ct_eq(&(by_addition.y * by_doubling.z))));
        assert!(bool::from(to_jacobian(&HOMOGENEOUS_IDENTITY).z.is_zero()));
    }
}
