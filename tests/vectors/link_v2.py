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

Recent history (the paragraph of §13 of that name): from each case's `history_records`, a list
of n chunks, each a list of message records, it computes

    hk               HKDF(salt = L, IKM = Z, info = "hush/v2/link-history" || EA_pub || EB_pub, 32)
    nonce_i          0x00*8 || u32_be(i)                                    i = 0 .. n-1
    aad_i            "hush/v2/link-history" || L || u32_be(i) || u32_be(n)
    records_i        the chunk as compact UTF-8 JSON (see records_bytes: non-ASCII as raw UTF-8)
    chunk_i          AES-256-GCM(hk, nonce_i, aad_i, records_i) = ciphertext || tag

and, as B would, opens every chunk and reads the records back. It checks that a chunk opened
with another index or another count (the missing, repeated, reordered or truncated chunk the
section speaks of), with the link's key instead of hk, under another link id, or with any single
bit flipped (in the chunk, its nonce or its AAD), does not open.

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
HISTORY_LABEL = b"hush/v2/link-history"  # both the HKDF info prefix of hk and the AAD prefix

HISTORY_KEY_LEN = 32
MAX_CHUNKS = 512
RECORD_KEYS = ("id", "peer", "out", "text", "at_ms", "status")  # the order §13 writes them in
STATUSES = ("sent", "delivered", "read")

PUBLIC_LEN = 65
KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16

INPUT_FIELDS = ("name", "link_id", "approver_ephemeral_secret", "requester_ephemeral_secret", "identity_secret",
                "history_records")

DESCRIPTION = (
    "Known-answer vectors of linking a browser in Hush crypto v2 (docs/CRYPTO.md, section 13): "
    "the commitment C, the 6-digit comparison code, the ECDH secret Z, key||nonce from HKDF-SHA256, "
    "the AAD, the exact compact JSON payload and the AES-256-GCM sealed payload, for a link id L "
    "(the UUID's 16 bytes) and fixed ephemeral secrets of the approver (EA) and the requester (EB). "
    "All byte strings are hex; public keys are 65-byte SEC1 uncompressed points; code is a string "
    "of exactly 6 digits. The case named 'leading-zero-code' has a code starting with 0, the case "
    "named 'code-high-bit' one whose 4 HKDF bytes have the top bit set (a u32, not an i32). "
    "Recent history: the input history_records is the list of the n chunks (in order, i = 0 .. n-1), each a "
    "list of message records {id, peer, out, text, at_ms, status}, oldest first across all chunks; the outputs "
    "are history_key (hk, 32 bytes) and history_chunks, one {index: i, count: n, nonce: nonce_i, aad: aad_i, "
    "records: the exact plaintext bytes records_i, chunk: chunk_i = ciphertext||tag} per chunk. records_i is "
    "the chunk serialized by Python json.dumps(chunk, separators=(',', ':'), ensure_ascii=False) and encoded as "
    "UTF-8, each record's keys in the order id, peer, out, text, at_ms, status: no whitespace; every "
    "non-ASCII character is its raw UTF-8 bytes, never a \\u escape (characters outside the BMP as 4 UTF-8 "
    "bytes, not a surrogate pair); the only escapes are \\\" and \\\\ and, for control characters, "
    "\\n and \\t (the texts hold no other control character); '/' is not escaped; ids and peers are "
    "lowercase hyphenated UUIDs; out is true/false; at_ms is a JSON integer. (This file itself is written "
    "ASCII-only, so the texts appear in it with \\u escapes; a JSON decoder gives the text, and the records "
    "hex gives the exact bytes.) "
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


# ---------------------------------------------------------------------------------------
# §13 recent history


def history_key(L, z, ea_pub, eb_pub):
    return hkdf(L, z, HISTORY_LABEL + ea_pub + eb_pub, HISTORY_KEY_LEN)


def u32_be(x):
    if not 0 <= x < 2**32:
        raise ValueError(f"not a u32: {x}")
    return x.to_bytes(4, "big")


def history_nonce(i):
    return bytes(8) + u32_be(i)


def history_aad(L, i, n):
    return HISTORY_LABEL + L + u32_be(i) + u32_be(n)


def is_uuid(s):
    try:
        return isinstance(s, str) and str(uuid.UUID(s)) == s
    except ValueError:
        return False


def check_record(r):
    """One message record of §13: the six fields, with their types and values."""
    if not isinstance(r, dict) or tuple(r) != RECORD_KEYS:
        raise Refused(f"record not exactly the keys {RECORD_KEYS}: {r!r}")
    if not is_uuid(r["id"]) or not is_uuid(r["peer"]):
        raise Refused(f"record id or peer not a lowercase hyphenated UUID: {r!r}")
    if type(r["out"]) is not bool or not isinstance(r["text"], str):
        raise Refused(f"record out not a boolean or text not a string: {r!r}")
    if type(r["at_ms"]) is not int or not 0 <= r["at_ms"] < 2**53:
        raise Refused(f"record at_ms not a non-negative integer: {r!r}")
    if r["status"] not in STATUSES or (not r["out"] and r["status"] != "read"):
        raise Refused(f"record status not sent/delivered/read (read when incoming): {r!r}")


def records_bytes(records):
    """records_i: a compact UTF-8 JSON array of records, each with its keys in the order of §13.

    json.dumps(separators=(",", ":"), ensure_ascii=False): no whitespace; non-ASCII characters as
    their raw UTF-8 bytes (not \\u escapes); escapes only for '"', '\\' and control characters.
    """
    ordered = []
    for r in records:
        if not isinstance(r, dict) or set(r) != set(RECORD_KEYS):
            raise ValueError(f"record not exactly the keys {RECORD_KEYS}: {r!r}")
        r = {k: r[k] for k in RECORD_KEYS}
        check_record(r)
        ordered.append(r)
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Refused(f"duplicate keys in a record: {keys}")
    return dict(pairs)


def read_records(plaintext):
    """On B: the records of an opened chunk, checked to be exactly the compact form."""
    try:
        records = json.loads(plaintext.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Refused(f"chunk is not UTF-8 JSON: {e}")
    if not isinstance(records, list):
        raise Refused("chunk is not a JSON array")
    for r in records:
        check_record(r)
    if records_bytes(records) != plaintext:
        raise Refused("chunk is not compact JSON in the expected form")
    return records


def open_chunk(hk, i, n, L, chunk):
    return open_sealed(hk, history_nonce(i), history_aad(L, i, n), chunk)


def expect_refused(what, f, stats):
    try:
        f()
    except Refused:
        stats["history_refused"] += 1
        return
    raise AssertionError(f"{what} opened")


def run_history(name, L, z, ea_pub, eb_pub, link_key, history, stats):
    """hk and the sealed chunks of one case; B's opening; the refusals."""
    if not isinstance(history, list) or not 1 <= len(history) <= MAX_CHUNKS:
        raise ValueError(f"{name}: history_records must be 1 to {MAX_CHUNKS} chunks")
    n = len(history)
    hk = history_key(L, z, ea_pub, eb_pub)
    assert hk != link_key, "hk equals the link key"
    other_link = bytes([L[0] ^ 0x01]) + L[1:]
    chunks = []
    for i, records in enumerate(history):
        if not isinstance(records, list):
            raise ValueError(f"{name}: chunk {i} is not a list of records")
        nonce, aad, plain = history_nonce(i), history_aad(L, i, n), records_bytes(records)
        sealed = seal(hk, nonce, aad, plain)
        assert len(sealed) == len(plain) + TAG_LEN
        chunks.append({"index": i, "count": n, "nonce": nonce.hex(), "aad": aad.hex(),
                       "records": plain.hex(), "chunk": sealed.hex()})
        stats["history_chunks"] += 1
        stats["history_records"] += len(records)
        text = plain.decode("utf-8")
        stats["non_ascii"] += any(ord(c) > 0x7F for c in text)
        stats["quote"] += '\\"' in text
        stats["backslash"] += '\\\\' in text

        # B opens it back to the records.
        opened = open_chunk(hk, i, n, L, sealed)
        assert opened == plain, f"{name}: chunk {i} does not open to its records"
        assert read_records(opened) == [{k: r[k] for k in RECORD_KEYS} for r in records]

        where = f"{name}: chunk {i} of {n}"
        # Another index (every other position, and the first one past the end), another count.
        for j in range(n + 1):
            if j != i:
                expect_refused(f"{where} as index {j}", lambda: open_chunk(hk, j, n, L, sealed), stats)
        for m in sorted({0, 1, max(n - 1, 1), n + 1, i + 1, MAX_CHUNKS} - {n}):
            expect_refused(f"{where} with count {m}", lambda: open_chunk(hk, i, m, L, sealed), stats)
        # The index is bound by the nonce and by the AAD, each on its own.
        j = i + 1
        expect_refused(f"{where} with nonce_{j}",
                       lambda: open_sealed(hk, history_nonce(j), aad, sealed), stats)
        expect_refused(f"{where} with aad_{j}",
                       lambda: open_sealed(hk, nonce, history_aad(L, j, n), sealed), stats)
        # The wrong key, the wrong link, the payload's AAD.
        expect_refused(f"{where} under the link key", lambda: open_sealed(link_key, nonce, aad, sealed), stats)
        expect_refused(f"{where} under another link id",
                       lambda: open_chunk(hk, i, n, other_link, sealed), stats)
        expect_refused(f"{where} with the payload AAD", lambda: open_sealed(hk, nonce, aad_of(L), sealed), stats)
        # Any single flipped bit: of the chunk, of the nonce, of the AAD.
        for what, blob in (("chunk", sealed), ("nonce", nonce), ("aad", aad)):
            for b in range(len(blob) * 8):
                t = bytearray(blob)
                t[b // 8] ^= 1 << (b % 8)
                args = {"chunk": sealed, "nonce": nonce, "aad": aad}
                args[what] = bytes(t)
                expect_refused(f"{where} with bit {b} of its {what} flipped",
                               lambda: open_sealed(hk, args["nonce"], args["aad"], args["chunk"]), stats)
    # Oldest first across the whole history.
    times = [r["at_ms"] for records in history for r in records]
    if times != sorted(times):
        raise ValueError(f"{name}: history records not oldest first")
    stats["max_chunks"] = max(stats["max_chunks"], n)
    stats["min_chunks"] = min(stats["min_chunks"], n)
    return hk, chunks


def open_stored_history(stored):
    """B's side on the stored bytes: every stored chunk opens, under its stored nonce and AAD and
    under the ones computed from its index and count, to the stored records, which read back as the
    input records."""
    L = link_bytes(stored["link_id"])
    hk = bytes.fromhex(stored["history_key"])
    chunks = stored["history_chunks"]
    n = len(chunks)
    if n != len(stored["history_records"]):
        raise Refused("history_chunks and history_records differ in length")
    got = []
    for i, c in enumerate(chunks):
        if c["index"] != i or c["count"] != n:
            raise Refused(f"history chunk {i}: index/count {c['index']}/{c['count']}")
        if bytes.fromhex(c["nonce"]) != history_nonce(i) or bytes.fromhex(c["aad"]) != history_aad(L, i, n):
            raise Refused(f"history chunk {i}: stored nonce or AAD")
        plain = open_sealed(hk, bytes.fromhex(c["nonce"]), bytes.fromhex(c["aad"]), bytes.fromhex(c["chunk"]))
        if plain != bytes.fromhex(c["records"]):
            raise Refused(f"history chunk {i}: stored chunk does not open to the stored records")
        got.append(read_records(plain))
    if got != [[{k: r[k] for k in RECORD_KEYS} for r in records] for records in stored["history_records"]]:
        raise Refused("stored history chunks do not read back as history_records")


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

    hk, chunks = run_history(case["name"], L, z, ea_pub, eb_pub, key, case["history_records"], stats)

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
        "history_key": hk.hex(),
        "history_chunks": chunks,
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
    open_stored_history(stored)


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


def kat_uuid7(label, ms):
    """A UUIDv7 with the given milliseconds, its random bits from SHA-256 of label."""
    r = int.from_bytes(sha256(b"hush-kat-link-v2-history-uuid/" + label.encode())[:10], "big")
    value = (ms << 80) | (0x7 << 76) | (((r >> 68) & 0xFFF) << 64) | (0b10 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


# Message texts for the history: ASCII, non-ASCII (Latin, CJK, outside the BMP, combining marks),
# '"', '\\', '/', a newline and a tab, so the JSON escaping of records_i is pinned down.
HISTORY_TEXTS = (
    "Hello, Bob!",
    "héllo ✓",
    'She said "see you at 9" and left',
    "C:\\Users\\bob\\notes.txt",
    'both: a quote " and a backslash \\ together, then \\"',
    "line one\nline two",
    "tab\tseparated",
    "party 🎉 tonight? 👍🏽",
    "日本語のテキスト",
    "cafe\u0301 (combining accent) vs café — ¿mañana?",
    "path a/b and </script>",
    "x" * 40 + " a longer message, so that a chunk spans several AES blocks: "
    + "The quick brown fox jumps over the lazy dog. " * 4,
    "Жду ответа, €5",
    "ok",
)

# Chunk sizes (records per chunk) of the history of each case.
HISTORY_SHAPES = {
    "first": (4, 3, 5),
    "second": (6,),
    "third": (2, 3),
    "leading-zero-code": (1,),
    "code-high-bit": (3, 1, 2, 4),
}

DAY_MS = 86_400_000


def history_inputs(name, link_id):
    """Deterministic records for a case: written in the 30 days before the link (the link id is a
    UUIDv7, its first 48 bits the link's time), oldest first, split into chunks of HISTORY_SHAPES."""
    link_ms = uuid.UUID(link_id).int >> 80
    shape = HISTORY_SHAPES.get(name, (2,))
    total = sum(shape)
    peers = [kat_uuid7(f"{name}/peer/{p}", link_ms - 400 * DAY_MS + p * 1_000) for p in range(3)]
    offset = int.from_bytes(sha256(b"hush-kat-link-v2-history/" + name.encode()), "big")
    records = []
    at_ms = link_ms - 29 * DAY_MS
    for k in range(total):
        h = sha256(f"hush-kat-link-v2-history/{name}/{k}".encode())
        at_ms += 1 + int.from_bytes(h[:4], "big") % (DAY_MS // 2)
        out = bool(h[4] & 1)
        records.append({
            "id": kat_uuid7(f"{name}/message/{k}", at_ms),
            "peer": peers[h[5] % len(peers)],
            "out": out,
            "text": HISTORY_TEXTS[(offset + k) % len(HISTORY_TEXTS)],
            "at_ms": at_ms,
            "status": STATUSES[h[6] % len(STATUSES)] if out else "read",
        })
    assert at_ms < link_ms
    chunks, start = [], 0
    for size in shape:
        chunks.append(records[start:start + size])
        start += size
    return chunks


def case_inputs(name, ms):
    link_id = kat_uuid(name, ms)
    return {
        "name": name,
        "link_id": link_id,
        "approver_ephemeral_secret": kat_secret(name, "approver/ephemeral"),
        "requester_ephemeral_secret": kat_secret(name, "requester/ephemeral"),
        "identity_secret": kat_secret(name, "identity"),
        "history_records": history_inputs(name, link_id),
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
            inp["history_records"] = history_inputs(prefix, inp["link_id"])
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
    return {"commit_refused": 0, "flips_refused": 0, "leading_zero": 0, "high_bit": 0,
            "history_chunks": 0, "history_records": 0, "history_refused": 0, "non_ascii": 0,
            "quote": 0, "backslash": 0, "max_chunks": 0, "min_chunks": MAX_CHUNKS + 1}


def main():
    write = "--write" in sys.argv[1:]
    self_check_primitives()
    stats = new_stats()
    mismatches = []
    if write:
        if VECTORS.exists():
            inputs = [{k: c[k] if k in c else history_inputs(c["name"], c["link_id"]) for k in INPUT_FIELDS}
                      for c in json.loads(VECTORS.read_text())["cases"]]
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
    if stats["min_chunks"] != 1:
        mismatches.append("MISMATCH coverage: no case has a history of exactly 1 chunk")
    if stats["max_chunks"] < 3:
        mismatches.append("MISMATCH coverage: no case has a history of 3 or more chunks")
    for what in ("non_ascii", "quote", "backslash"):
        if not stats[what]:
            mismatches.append(f"MISMATCH coverage: no history record has a text with {what.replace('_', '-')}")
    for m in mismatches:
        print(m)
    if mismatches:
        print(f"link_v2: {len(mismatches)} mismatches")
        sys.exit(1)
    if "-v" in sys.argv[1:]:
        print(f"  codes: {[c['code'] for c in cases]}; commitment checks refused: {stats['commit_refused']}; "
              f"bit flips refused: {stats['flips_refused']}; history openings refused: "
              f"{stats['history_refused']}")
    print(f"link_v2: {len(cases)} cases OK, {stats['history_chunks']} history chunks "
          f"({stats['history_records']} records) OK" + (" (written)" if write else ""))


if __name__ == "__main__":
    main()
