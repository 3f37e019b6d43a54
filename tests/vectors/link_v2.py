#!/usr/bin/env python3
"""Independent implementation of linking a browser (docs/CRYPTO.md §13, with the primitives
of §1 and the key encodings of §2) with Python's `cryptography` package, used to produce and
to check the known-answer vectors in link_v2.json.

It was written from docs/CRYPTO.md §13 alone — not from the Rust crate — so that the Rust
implementation and this script, agreeing byte for byte, show that the section is precise
enough to interoperate. For every case it computes, from the link id L, the two ephemeral
secrets (approver A's EA, requester B's EB) and the account identity secret:

    EA_pub, EB_pub   SEC1 uncompressed points (65 bytes)
    C                SHA-256("hush/v2/link-commit" || L || EA_pub)
    code             u32_be(HKDF(salt = L, IKM = EA_pub || EB_pub, info = "hush/v2/link-code", 4))
                     mod 1,000,000, as 6 decimal digits with leading zeros
    Z                ECDH x-coordinate, computed on both sides and compared
    key || nonce     HKDF(salt = L, IKM = Z, info = "hush/v2/link-key" || EA_pub || EB_pub, 44)
    aad              "hush/v2/link" || L
    payload          {"v":1,"identity_secret":"<base64url, no padding, of the 32-byte scalar>"}
    sealed           AES-256-GCM(key, nonce, aad, payload) = ciphertext || tag

and, as B would, it checks the commitment (step 4), opens `sealed` back to the payload and
recovers the identity secret from it (step 6). It also checks that the commitment check
refuses a different EA_pub (and the right EA_pub under a different link id), and that
flipping any single bit of `sealed` (or changing the AAD) makes opening fail.

    python3 tests/vectors/link_v2.py            # check link_v2.json, exit 1 on any mismatch
    python3 tests/vectors/link_v2.py --write    # (re)generate link_v2.json: the inputs are kept
                                                # from the file, or made here if it is absent
"""
import base64
import hashlib
import json
import sys
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = Path(__file__).parent
VECTORS = HERE / "link_v2.json"

# P-256 group order.
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

COMMIT_LABEL = b"hush/v2/link-commit"
CODE_INFO = b"hush/v2/link-code"
KEY_INFO = b"hush/v2/link-key"
AAD_LABEL = b"hush/v2/link"

PUBLIC_LEN = 65
KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16

INPUT_FIELDS = ("name", "link_id", "approver_ephemeral_secret", "requester_ephemeral_secret", "identity_secret")

DESCRIPTION = (
    "Known-answer vectors of linking a browser in Hush crypto v2 (docs/CRYPTO.md, section 13): "
    "the commitment C, the 6-digit comparison code, the ECDH secret Z, key||nonce from HKDF-SHA256, "
    "the AAD, the exact compact JSON payload and the AES-256-GCM sealed payload, for a link id L "
    "(the UUID's 16 bytes) and fixed ephemeral secrets of the approver (EA) and the requester (EB). "
    "All byte strings are hex; public keys are 65-byte SEC1 uncompressed points; code is a string "
    "of exactly 6 digits. The case named 'leading-zero-code' has a code starting with 0, the case "
    "named 'code-high-bit' one whose 4 HKDF bytes have the top bit set (a u32, not an i32). "
    "Generated and checked by tests/vectors/link_v2.py, an independent implementation with Python "
    "cryptography written from the specification alone."
)


class Refused(Exception):
    """What makes B stop the link."""


# ---------------------------------------------------------------------------------------
# §1 primitives, §2 encodings


def scalar(hex_secret):
    if len(hex_secret) != 64 or hex_secret != hex_secret.lower():
        raise ValueError(f"bad secret scalar {hex_secret}")
    d = int(hex_secret, 16)
    if not 1 <= d < N:
        raise ValueError(f"secret scalar out of range {hex_secret}")
    return d


def private_key(d):
    return ec.derive_private_key(d, ec.SECP256R1())


def public_of(d):
    return private_key(d).public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def load_public(b):
    """Validation on receipt (§1): 65 bytes, 0x04 prefix, a point on the curve."""
    if len(b) != PUBLIC_LEN or b[0] != 0x04:
        raise Refused("public key not an uncompressed SEC1 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(b))
    except ValueError as e:
        raise Refused(f"public key not on P-256: {e}")


def ecdh(d, public):
    """DH(a, B): the x-coordinate (32 bytes) of a·B."""
    z = private_key(d).exchange(ec.ECDH(), load_public(public))
    assert len(z) == 32
    return z


def hkdf(salt, ikm, info, length):
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


def sha256(m):
    return hashlib.sha256(m).digest()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    if "=" in s or not all(c.isalnum() or c in "-_" for c in s) or len(s) % 4 == 1:
        raise Refused("not base64url without padding")
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if b64url(raw) != s:
        raise Refused("non-canonical base64url")
    return raw


def link_bytes(link_id):
    u = uuid.UUID(link_id)
    if str(u) != link_id:
        raise ValueError(f"link id not a lowercase hyphenated UUID: {link_id}")
    return u.bytes  # RFC 9562 byte order: the hex digits of the hyphenated form, in order


# ---------------------------------------------------------------------------------------
# §13 linking a browser


def commitment(L, ea_pub):
    return sha256(COMMIT_LABEL + L + ea_pub)


def check_commitment(L, ea_pub, c):
    """Step 4, on B: SHA-256("hush/v2/link-commit" || L || EA_pub) = C, else stop the link."""
    load_public(ea_pub)
    if commitment(L, ea_pub) != c:
        raise Refused("commitment does not match EA_pub")


def code_of(L, ea_pub, eb_pub):
    okm = hkdf(L, ea_pub + eb_pub, CODE_INFO, 4)
    return "%06d" % (int.from_bytes(okm, "big") % 1_000_000), okm


def key_nonce(L, z, ea_pub, eb_pub):
    okm = hkdf(L, z, KEY_INFO + ea_pub + eb_pub, KEY_LEN + NONCE_LEN)
    return okm[:KEY_LEN], okm[KEY_LEN:]


def aad_of(L):
    return AAD_LABEL + L


def payload_of(identity_secret_bytes):
    # Compact JSON, keys in the order of §13; every character is ASCII.
    return b'{"v":1,"identity_secret":"' + b64url(identity_secret_bytes).encode("ascii") + b'"}'


def seal(key, nonce, aad, payload):
    return AESGCM(key).encrypt(nonce, payload, aad)


def open_sealed(key, nonce, aad, sealed):
    try:
        return AESGCM(key).decrypt(nonce, bytes(sealed), aad)
    except InvalidTag:
        raise Refused("sealed payload does not open")


def read_payload(payload):
    """Step 6, on B: the identity secret from the opened payload."""
    obj = json.loads(payload.decode("utf-8"))
    if list(obj) != ["v", "identity_secret"] or obj["v"] != 1:
        raise Refused("unexpected payload")
    secret = b64url_decode(obj["identity_secret"])
    if len(secret) != 32 or not 1 <= int.from_bytes(secret, "big") < N:
        raise Refused("identity secret not a P-256 scalar")
    # The payload must be exactly the compact form.
    if json.dumps(obj, separators=(",", ":")).encode() != payload:
        raise Refused("payload not compact JSON")
    return secret


def self_check_primitives():
    """RFC 5869 A.1 (HKDF-SHA256) and the base64url round trip."""
    okm = hkdf(bytes.fromhex("000102030405060708090a0b0c"), bytes([0x0B] * 22),
               bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865"), "HKDF is not RFC 5869"
    assert b64url(bytes(range(32))) == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    assert b64url_decode(b64url(b"\xfb\xff\xbf" * 11)) == b"\xfb\xff\xbf" * 11


def run_case(case, stats):
    """All outputs of one case from its inputs, plus the checks that are not outputs."""
    L = link_bytes(case["link_id"])
    a = scalar(case["approver_ephemeral_secret"])
    b = scalar(case["requester_ephemeral_secret"])
    identity = scalar(case["identity_secret"]).to_bytes(32, "big")

    ea_pub, eb_pub = public_of(a), public_of(b)
    # Step 2 (A): C. Step 4 (B): the check.
    c = commitment(L, ea_pub)
    check_commitment(L, ea_pub, c)
    # A different EA_pub (another key, B's own key, or EA_pub under another link) is refused.
    other = public_of(a % (N - 1) + 1)
    other_link = bytes([L[0] ^ 0x01]) + L[1:]
    for bad_ea, bad_c in ((other, c), (eb_pub, c), (ea_pub, commitment(other_link, ea_pub))):
        try:
            check_commitment(L, bad_ea, bad_c)
            raise AssertionError(f"{case['name']}: commitment check accepted a different EA_pub")
        except Refused:
            stats["commit_refused"] += 1

    # Step 5: the comparison code, the same on both sides (both hash EA_pub || EB_pub).
    code, code_okm = code_of(L, ea_pub, eb_pub)
    assert len(code) == 6 and code.isdigit()
    stats["leading_zero"] += code[0] == "0"
    stats["high_bit"] += code_okm[0] >= 0x80

    # Z on both sides.
    z = ecdh(a, eb_pub)
    assert z == ecdh(b, ea_pub), "ECDH disagrees"
    key, nonce = key_nonce(L, z, ea_pub, eb_pub)
    aad = aad_of(L)
    payload = payload_of(identity)
    sealed = seal(key, nonce, aad, payload)
    assert len(sealed) == len(payload) + TAG_LEN

    # Step 6 (B): open, recover the identity.
    opened = open_sealed(key, nonce, aad, sealed)
    assert opened == payload, "sealed does not open to the payload"
    assert read_payload(opened) == identity, "the payload does not carry the identity secret"
    # Any flipped bit is refused.
    for i in range(len(sealed) * 8):
        t = bytearray(sealed)
        t[i // 8] ^= 1 << (i % 8)
        try:
            open_sealed(key, nonce, aad, t)
            raise AssertionError(f"{case['name']}: sealed with bit {i} flipped opened")
        except Refused:
            stats["flips_refused"] += 1
    # So is the right ciphertext under another link's AAD.
    try:
        open_sealed(key, nonce, aad_of(other_link), sealed)
        raise AssertionError(f"{case['name']}: sealed opened under another link id")
    except Refused:
        pass

    out = {k: case[k] for k in INPUT_FIELDS}
    out.update({
        "approver_ephemeral_public": ea_pub.hex(),
        "requester_ephemeral_public": eb_pub.hex(),
        "commitment": c.hex(),
        "code": code,
        "shared_secret": z.hex(),
        "key": key.hex(),
        "nonce": nonce.hex(),
        "aad": aad.hex(),
        "payload": payload.hex(),
        "sealed": sealed.hex(),
    })
    return out


def open_stored(stored):
    """B's side on the stored bytes: the stored sealed opens to the stored payload."""
    key, nonce = bytes.fromhex(stored["key"]), bytes.fromhex(stored["nonce"])
    opened = open_sealed(key, nonce, bytes.fromhex(stored["aad"]), bytes.fromhex(stored["sealed"]))
    if opened != bytes.fromhex(stored["payload"]):
        raise Refused("stored sealed does not open to the stored payload")
    check_commitment(link_bytes(stored["link_id"]), bytes.fromhex(stored["approver_ephemeral_public"]),
                     bytes.fromhex(stored["commitment"]))


# ---------------------------------------------------------------------------------------
# Fixed inputs


def kat_secret(name, label):
    digest = sha256(b"hush-kat-link-v2/" + name.encode() + b"/" + label.encode())
    return "%064x" % (int.from_bytes(digest, "big") % (N - 1) + 1)


def kat_uuid(name, ms):
    """A UUIDv7-shaped link id, its random bits from SHA-256 of the case name."""
    r = int.from_bytes(sha256(b"hush-kat-link-v2-uuid/" + name.encode())[:10], "big")
    rand_a, rand_b = r >> 68, r & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | ((rand_a & 0xFFF) << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def case_inputs(name, ms):
    return {
        "name": name,
        "link_id": kat_uuid(name, ms),
        "approver_ephemeral_secret": kat_secret(name, "approver/ephemeral"),
        "requester_ephemeral_secret": kat_secret(name, "requester/ephemeral"),
        "identity_secret": kat_secret(name, "identity"),
    }


def code_okm(inp):
    L = link_bytes(inp["link_id"])
    return code_of(L, public_of(scalar(inp["approver_ephemeral_secret"])),
                   public_of(scalar(inp["requester_ephemeral_secret"])))


def search(prefix, ms, accept):
    """The first case prefix, prefix-1, prefix-2, … whose code satisfies accept(code, okm)."""
    for k in range(1000):
        inp = case_inputs(prefix if k == 0 else f"{prefix}-{k}", ms)
        if accept(*code_okm(inp)):
            inp["name"] = prefix
            return inp
    raise AssertionError(f"no inputs found for {prefix}")


def make_inputs():
    base_ms = 1764000000000
    cases = [case_inputs(name, base_ms + i * 60000) for i, name in enumerate(("first", "second", "third"))]
    cases.append(search("leading-zero-code", base_ms + 3 * 60000, lambda code, okm: code[0] == "0"))
    cases.append(search("code-high-bit", base_ms + 4 * 60000, lambda code, okm: okm[0] >= 0x80))
    return cases


# ---------------------------------------------------------------------------------------


def diff(path, expected, computed, out):
    if isinstance(expected, dict) and isinstance(computed, dict):
        for k in sorted(set(expected) | set(computed), key=str):
            if k not in expected:
                out.append(f"MISMATCH {path}.{k}: missing from the file (computed {json.dumps(computed[k])})")
            elif k not in computed:
                out.append(f"MISMATCH {path}.{k}: unexpected field in the file")
            else:
                diff(f"{path}.{k}", expected[k], computed[k], out)
    elif expected != computed or type(expected) is not type(computed):
        out.append(f"MISMATCH {path}:\n  expected {json.dumps(expected)}\n  computed {json.dumps(computed)}")


def new_stats():
    return {"commit_refused": 0, "flips_refused": 0, "leading_zero": 0, "high_bit": 0}


def main():
    write = "--write" in sys.argv[1:]
    self_check_primitives()
    stats = new_stats()
    mismatches = []
    if write:
        if VECTORS.exists():
            inputs = [{k: c[k] for k in INPUT_FIELDS} for c in json.loads(VECTORS.read_text())["cases"]]
        else:
            inputs = make_inputs()
        cases = [run_case(c, stats) for c in inputs]
        VECTORS.write_text(json.dumps({"description": DESCRIPTION, "cases": cases}, indent=2) + "\n")
    else:
        data = json.loads(VECTORS.read_text())
        if not isinstance(data.get("description"), str):
            mismatches.append("MISMATCH description: missing")
        cases = data.get("cases")
        if not isinstance(cases, list) or len(cases) < 3:
            mismatches.append("MISMATCH cases: fewer than 3 cases")
            cases = cases if isinstance(cases, list) else []
        for k, stored in enumerate(cases):
            where = f"cases[{k}]({stored.get('name')})"
            try:
                computed = run_case({f: stored[f] for f in INPUT_FIELDS}, stats)
                diff(where, stored, computed, mismatches)
                open_stored(stored)
            except (KeyError, ValueError, Refused, AssertionError) as e:
                mismatches.append(f"MISMATCH {where}: {type(e).__name__}: {e}")
    if not stats["leading_zero"]:
        mismatches.append("MISMATCH coverage: no case has a code with a leading zero")
    if not stats["high_bit"]:
        mismatches.append("MISMATCH coverage: no case has the top bit of the code's u32 set")
    for m in mismatches:
        print(m)
    if mismatches:
        print(f"link_v2: {len(mismatches)} mismatches")
        sys.exit(1)
    if "-v" in sys.argv[1:]:
        print(f"  codes: {[c['code'] for c in cases]}; commitment checks refused: {stats['commit_refused']}; "
              f"bit flips refused: {stats['flips_refused']}")
    print(f"link_v2: {len(cases)} cases OK" + (" (written)" if write else ""))


if __name__ == "__main__":
    main()
