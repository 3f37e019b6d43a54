#!/usr/bin/env python3
"""Independent implementation of Hush crypto v1 (docs/CRYPTO_V1.md) with Python's
`cryptography` package. It recomputes every known-answer vector in crypto_v1.json from
its inputs and fails if any output differs — so the Rust crate and this script, written
separately from the same spec, must agree byte for byte.

    python3 tests/vectors/crypto_v1.py            # check
    python3 tests/vectors/crypto_v1.py --write    # (re)generate outputs from inputs
"""
import hashlib
import json
import sys
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = Path(__file__).parent
SALT = b"hush/v1/key-schedule"
INFO = b"hush/v1/message-key"


def public_sec1(secret_hex):
    key = ec.derive_private_key(int(secret_hex, 16), ec.SECP256R1())
    return key, key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def message_key(z, s_id, r_id, s_pub, r_pub):
    return HKDF(hashes.SHA256(), 32, SALT, INFO + s_id + r_id + s_pub + r_pub).derive(z)


def padme(l):
    e = l.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (l + mask) & ~mask


def pad(pt):
    total = padme(max(len(pt) + 4, 64))
    return (len(pt).to_bytes(4, "big") + pt).ljust(total, b"\0")


def fingerprint(pub, uid):
    h = (0).to_bytes(2, "big") + pub + uid
    for _ in range(5200):
        h = hashlib.sha512(h + pub).digest()
    return h


def digits(fp):
    return "".join("%05d" % (int.from_bytes(fp[i:i + 5], "big") % 100000) for i in range(0, 30, 5))


def compute(inp):
    a_priv, a_pub = public_sec1(inp["alice_secret"])
    b_priv, b_pub = public_sec1(inp["bob_secret"])
    a_id, b_id = uuid.UUID(inp["alice_id"]).bytes, uuid.UUID(inp["bob_id"]).bytes
    msg_id = uuid.UUID(inp["message_id"]).bytes
    z = a_priv.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b_pub))
    assert z == b_priv.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), a_pub))
    k_ab = message_key(z, a_id, b_id, a_pub, b_pub)
    k_ba = message_key(z, b_id, a_id, b_pub, a_pub)
    a_kid, b_kid = hashlib.sha256(a_pub).digest()[:8], hashlib.sha256(b_pub).digest()[:8]
    header = bytes([1]) + a_kid + b_kid
    aad = header + msg_id + a_id + b_id
    nonce = bytes.fromhex(inp["nonce"])
    sealed = AESGCM(k_ab).encrypt(nonce, pad(inp["plaintext"].encode()), aad)
    fa, fb = fingerprint(a_pub, a_id), fingerprint(b_pub, b_id)
    (d1, f1), (d2, f2) = sorted([(digits(fa), fa), (digits(fb), fb)])
    return {
        "alice_public": a_pub.hex(),
        "bob_public": b_pub.hex(),
        "alice_key_id": a_kid.hex(),
        "bob_key_id": b_kid.hex(),
        "shared_secret": z.hex(),
        "key_alice_to_bob": k_ab.hex(),
        "key_bob_to_alice": k_ba.hex(),
        "aad": aad.hex(),
        "envelope": (header + nonce + sealed).hex(),
        "safety_number": d1 + d2,
        "safety_qr": (bytes([1]) + f1[:32] + f2[:32]).hex(),
    }


def main():
    path = HERE / "crypto_v1.json"
    data = json.loads(path.read_text())
    for vec in data["vectors"]:
        got = compute(vec["input"])
        if "--write" in sys.argv:
            vec["output"] = got
        elif got != vec["output"]:
            for k in got:
                if got[k] != vec["output"].get(k):
                    print(f"MISMATCH {vec['name']}.{k}:\n  expected {vec['output'].get(k)}\n  computed {got[k]}")
            sys.exit(1)
    if "--write" in sys.argv:
        path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"crypto v1 vectors: {len(data['vectors'])} checked with Python cryptography, 0 mismatches")


if __name__ == "__main__":
    main()
