#!/usr/bin/env python3
"""Independent implementation of Hush crypto v2 (docs/CRYPTO.md) with Python's
`cryptography` package, used to produce and to check the known-answer vectors in
crypto_v2.json (§11 of the specification).

It was written from docs/CRYPTO.md alone — not from the Rust crate — so that the Rust
implementation (crates/crypto/tests/known_answers_v2.rs) and this script, agreeing byte
for byte, show that the specification is precise enough to interoperate. It implements:
P-256 keys and their SEC1 encoding, the device certificate and the signed-prekey signature
(§3, RFC 6979 deterministic ECDSA, raw r||s), the initiator's bundle checks (§4), the
X3DH handshake on both sides (§5), the Double Ratchet with skipped message keys, MAX_SKIP
and duplicate refusal (§6; every receive runs on a deep copy of the party's state that is
committed only on success, so a refused message leaves the state exactly as it was), the
v2 envelope with its prekey part and the Padmé padding (§7) and safety numbers v2 (§10).

Each conversation in crypto_v2.json holds the inputs of its two parties (alice, the
initiator, and bob, the responder), a list of steps (send / receive / replay) and the
outputs. This script executes every step: it encrypts every send and compares the
envelope, opens every receive and compares the plaintext, re-delivers every replay and
checks that it is refused and that the receiving party's state did not change. It also
checks that both parties derive the same SK and AD, that every signature verifies, and
that a tampered copy of every delivered envelope is refused without changing any state.

    python3 tests/vectors/crypto_v2.py            # check crypto_v2.json, exit 1 on any mismatch
    python3 tests/vectors/crypto_v2.py --write    # (re)generate the outputs from the inputs
                                                  # (creates the inputs if the file is absent)
"""
import copy
import hashlib
import hmac
import json
import sys
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = Path(__file__).parent
VECTORS = HERE / "crypto_v2.json"

# P-256 group order.
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

CERT_LABEL = b"hush/v2/device-certificate"
SPK_LABEL = b"hush/v2/signed-prekey"
X3DH_INFO = b"hush/v2/x3dh"
ROOT_INFO = b"hush/v2/root"
MESSAGE_KEY_INFO = b"hush/v2/message-key"

VERSION = 0x02
KIND_PREKEY = 0x01
KIND_MESSAGE = 0x02
PUBLIC_LEN = 65
SIGNATURE_LEN = 64
PREKEY_PART_LEN = 65 + 65 + 64 + 65 + 4 + 4  # 267
HEADER_LEN = 65 + 4 + 4  # 73
TAG_LEN = 16
MIN_PADDED = 64
MAX_CONTENT = 32768
AD_LEN = 324

MAX_SKIP = 1000
MAX_STORED_SKIPPED = 2000
MAX_PREVIOUS_SESSIONS = 4


class Refused(Exception):
    """A message, bundle or key refused; `reason` is what a client would report."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------
# §1 primitives


def u32(v):
    return v.to_bytes(4, "big")


def scalar(hex_secret):
    d = int(hex_secret, 16)
    if len(hex_secret) != 64 or not 1 <= d < N:
        raise ValueError(f"bad secret scalar {hex_secret}")
    return d


def private_key(d):
    return ec.derive_private_key(d, ec.SECP256R1())


def public_of(d):
    return private_key(d).public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def load_public(b):
    """Validation on receipt: 65 bytes, 0x04 prefix, a point on the curve."""
    if len(b) != PUBLIC_LEN or b[0] != 0x04:
        raise Refused("undecryptable", "public key not an uncompressed SEC1 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(b))
    except ValueError as e:
        raise Refused("undecryptable", f"public key not on P-256: {e}")


def dh(d, public):
    return private_key(d).exchange(ec.ECDH(), load_public(public))


def sign(d, message):
    der = private_key(d).sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(public, signature, message):
    if len(signature) != SIGNATURE_LEN:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < N and 0 < s < N):
        return False
    try:
        load_public(public).verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, Refused):
        return False


def hkdf(salt, ikm, info, length):
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


def hmac256(key, message):
    return hmac.new(key, message, hashlib.sha256).digest()


# ---------------------------------------------------------------------------------------
# §3 certificates


def certificate_message(user_id, device_id, dk_pub):
    return CERT_LABEL + user_id + device_id + dk_pub


def spk_message(user_id, device_id, spk_id, spk_pub):
    return SPK_LABEL + user_id + device_id + u32(spk_id) + spk_pub


# ---------------------------------------------------------------------------------------
# §6 key derivations


def kdf_rk(rk, dh_out):
    out = hkdf(rk, dh_out, ROOT_INFO, 64)
    return out[:32], out[32:]


def kdf_ck(ck):
    return hmac256(ck, b"\x02"), hmac256(ck, b"\x01")


def aead_inputs(mk):
    out = hkdf(bytes(32), mk, MESSAGE_KEY_INFO, 44)
    return out[:32], out[32:]


# ---------------------------------------------------------------------------------------
# §7 padding (Padmé, as in v1)


def padme(length):
    e = length.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


def pad(content):
    if len(content) > MAX_CONTENT:
        raise ValueError("content longer than 32,768 bytes")
    total = padme(max(len(content) + 4, MIN_PADDED))
    return (u32(len(content)) + content).ljust(total, b"\0")


def unpad(padded):
    if len(padded) < 4:
        raise Refused("undecryptable", "padded content shorter than its length field")
    length = int.from_bytes(padded[:4], "big")
    if length > MAX_CONTENT or 4 + length > len(padded):
        raise Refused("undecryptable", "content length does not fit")
    if any(padded[4 + length:]):
        raise Refused("undecryptable", "non-zero padding")
    return padded[4:4 + length]


MAX_ENVELOPE = {
    KIND_PREKEY: 2 + PREKEY_PART_LEN + HEADER_LEN + TAG_LEN + padme(MAX_CONTENT + 4),
    KIND_MESSAGE: 2 + HEADER_LEN + TAG_LEN + padme(MAX_CONTENT + 4),
}
assert MAX_ENVELOPE[KIND_PREKEY] == 35174  # the figure stated in §7


# ---------------------------------------------------------------------------------------
# §10 safety numbers


def fingerprint(aik_pub, user_id):
    h = (2).to_bytes(2, "big") + aik_pub + user_id
    for _ in range(5200):
        h = hashlib.sha512(h + aik_pub).digest()
    return h


def digits(h):
    return "".join("%05d" % (int.from_bytes(h[5 * i:5 * i + 5], "big") % 100000) for i in range(6))


def safety_number(aik_a, user_a, aik_b, user_b):
    fa, fb = fingerprint(aik_a, user_a), fingerprint(aik_b, user_b)
    (d1, f1), (d2, f2) = sorted([(digits(fa), fa), (digits(fb), fb)], key=lambda t: t[0])
    return d1 + d2, bytes([2]) + f1[:32] + f2[:32]


# ---------------------------------------------------------------------------------------
# Session and party state (plain data only, so that copy.deepcopy snapshots it exactly)


@dataclass
class Session:
    peer_user: bytes
    peer_device: bytes
    role: str  # "initiator" | "responder"
    ad: bytes
    base_key: bytes  # EK_I public
    rk: bytes
    dhs: tuple  # (secret scalar, public)
    dhr: Optional[bytes]
    cks: Optional[bytes]
    ckr: Optional[bytes]
    ns: int = 0
    nr: int = 0
    pn: int = 0
    skipped: OrderedDict = field(default_factory=OrderedDict)  # (dh, n) -> mk, oldest first
    prekey_part: Optional[bytes] = None  # initiator: sent until a message from the responder opened


@dataclass
class Party:
    name: str
    user_id: bytes
    device_id: bytes
    aik: int
    aik_pub: bytes
    dk: int
    dk_pub: bytes
    certificate: bytes
    ratchet_secrets: list
    next_ratchet: int = 0
    ephemeral: Optional[int] = None
    spks: dict = field(default_factory=dict)  # id -> (secret, public, signature)
    opks: dict = field(default_factory=dict)  # id -> (secret, public)
    identities: dict = field(default_factory=dict)  # user_id -> AIK_pub on record
    sessions: dict = field(default_factory=dict)  # (user, device) -> [current, *previous]
    # Not state of a real client: set after a refusal that (in a literal reading of §6) ran a
    # DH ratchet step, so the vectors must not depend on which ratchet secret comes next.
    no_more_ratchets: bool = False

    def fresh_ratchet(self):
        if self.no_more_ratchets:
            raise RuntimeError(f"{self.name}: vectors would depend on whether a refused message consumed a ratchet secret")
        if self.next_ratchet >= len(self.ratchet_secrets):
            raise RuntimeError(f"{self.name}: ratchet_secrets exhausted")
        d = self.ratchet_secrets[self.next_ratchet]
        self.next_ratchet += 1
        return (d, public_of(d))

    def commit(self, other):
        self.__dict__.update(other.__dict__)


def make_party(name, inp):
    user_id = uuid.UUID(inp["user_id"]).bytes
    device_id = uuid.UUID(inp["device_id"]).bytes
    aik, dk = scalar(inp["identity_secret"]), scalar(inp["device_secret"])
    aik_pub, dk_pub = public_of(aik), public_of(dk)
    p = Party(
        name=name, user_id=user_id, device_id=device_id, aik=aik, aik_pub=aik_pub, dk=dk, dk_pub=dk_pub,
        certificate=sign(aik, certificate_message(user_id, device_id, dk_pub)),
        ratchet_secrets=[scalar(s) for s in inp["ratchet_secrets"]],
    )
    if "ephemeral_secret" in inp:
        p.ephemeral = scalar(inp["ephemeral_secret"])
    if "signed_prekey" in inp:
        spk_id, spk = inp["signed_prekey"]["id"], scalar(inp["signed_prekey"]["secret"])
        assert 1 <= spk_id < 2 ** 32
        spk_pub = public_of(spk)
        p.spks[spk_id] = (spk, spk_pub, sign(aik, spk_message(user_id, device_id, spk_id, spk_pub)))
    if inp.get("one_time_prekey") is not None:
        opk_id, opk = inp["one_time_prekey"]["id"], scalar(inp["one_time_prekey"]["secret"])
        assert 1 <= opk_id < 2 ** 32
        p.opks[opk_id] = (opk, public_of(opk))
    return p


def ad_bytes(aik_i, user_i, device_i, dk_i, aik_r, user_r, device_r, dk_r):
    ad = aik_i + user_i + device_i + dk_i + aik_r + user_r + device_r + dk_r
    assert len(ad) == AD_LEN
    return ad


def x3dh_sk(dh1, dh2, dh3, dh4, ad):
    return hkdf(bytes(32), b"\xff" * 32 + dh1 + dh2 + dh3 + dh4, X3DH_INFO + ad, 32)


# ---------------------------------------------------------------------------------------
# §4 + §5 initiator


def start_session(party, bundle):
    """Checks the bundle (§4), runs X3DH (§5) and initialises the initiator's ratchet (§6)."""
    on_record = party.identities.get(bundle["user_id"])
    if on_record is not None and on_record != bundle["aik"]:
        raise Refused("identity-changed")
    for k in ("aik", "dk", "spk"):
        load_public(bundle[k])
    if bundle["opk"] is not None:
        load_public(bundle["opk"][1])
    if not verify(bundle["aik"], bundle["certificate"],
                  certificate_message(bundle["user_id"], bundle["device_id"], bundle["dk"])):
        raise Refused("bad-bundle", "certificate")
    if not verify(bundle["aik"], bundle["spk_signature"],
                  spk_message(bundle["user_id"], bundle["device_id"], bundle["spk_id"], bundle["spk"])):
        raise Refused("bad-bundle", "signed prekey signature")
    party.identities[bundle["user_id"]] = bundle["aik"]

    ek = party.ephemeral
    ek_pub = public_of(ek)
    dh1 = dh(party.dk, bundle["spk"])
    dh2 = dh(ek, bundle["dk"])
    dh3 = dh(ek, bundle["spk"])
    dh4 = dh(ek, bundle["opk"][1]) if bundle["opk"] is not None else b""
    ad = ad_bytes(party.aik_pub, party.user_id, party.device_id, party.dk_pub,
                  bundle["aik"], bundle["user_id"], bundle["device_id"], bundle["dk"])
    sk = x3dh_sk(dh1, dh2, dh3, dh4, ad)

    dhs = party.fresh_ratchet()
    rk, cks = kdf_rk(sk, dh(dhs[0], bundle["spk"]))
    opk_id = bundle["opk"][0] if bundle["opk"] is not None else 0
    prekey_part = party.aik_pub + party.dk_pub + party.certificate + ek_pub + u32(bundle["spk_id"]) + u32(opk_id)
    assert len(prekey_part) == PREKEY_PART_LEN
    session = Session(peer_user=bundle["user_id"], peer_device=bundle["device_id"], role="initiator", ad=ad,
                      base_key=ek_pub, rk=rk, dhs=dhs, dhr=bundle["spk"], cks=cks, ckr=None,
                      prekey_part=prekey_part)
    install_session(party, session)
    return sk, ad


def install_session(party, session):
    key = (session.peer_user, session.peer_device)
    party.sessions[key] = [session] + party.sessions.get(key, [])[:MAX_PREVIOUS_SESSIONS]


# ---------------------------------------------------------------------------------------
# §6 + §7 sending


def encrypt(party, peer_user, peer_device, message_id, content):
    session = party.sessions[(peer_user, peer_device)][0]
    if session.cks is None:
        raise RuntimeError(f"{party.name} has no sending chain yet")
    padded = pad(content)
    session.cks, mk = kdf_ck(session.cks)
    header = session.dhs[1] + u32(session.pn) + u32(session.ns)
    session.ns += 1
    if session.prekey_part is not None:
        prefix = bytes([VERSION, KIND_PREKEY]) + session.prekey_part + header
    else:
        prefix = bytes([VERSION, KIND_MESSAGE]) + header
    key, nonce = aead_inputs(mk)
    return prefix + AESGCM(key).encrypt(nonce, padded, session.ad + message_id + prefix)


# ---------------------------------------------------------------------------------------
# §5 + §6 + §7 receiving


def open_sealed(mk, sealed, aad):
    key, nonce = aead_inputs(mk)
    try:
        padded = AESGCM(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise Refused("undecryptable", "bad tag")
    return unpad(padded)


def skip_until(session, until):
    """"Store the skipped keys up to `until`" (§6)."""
    if session.ckr is not None and session.nr < until:
        if until - session.nr > MAX_SKIP:
            raise Refused("undecryptable", "too many skipped keys")
        while session.nr < until:
            session.ckr, mk = kdf_ck(session.ckr)
            session.skipped[(session.dhr, session.nr)] = mk
            session.nr += 1
            while len(session.skipped) > MAX_STORED_SKIPPED:
                session.skipped.popitem(last=False)


def ratchet_decrypt(party, session, dh_pub, pn, n, sealed, aad):
    """RatchetDecrypt (§6). Mutates party/session: callers run it on a copy."""
    load_public(dh_pub)
    if (dh_pub, n) in session.skipped:
        previous_chain = dh_pub != session.dhr
        mk = session.skipped.pop((dh_pub, n))
        return open_sealed(mk, sealed, aad), ("skipped-previous-chain" if previous_chain else "skipped")
    if session.dhr is not None and dh_pub == session.dhr and n < session.nr:
        raise Refused("duplicate")
    how = "in-order"
    if dh_pub != session.dhr:
        skip_until(session, pn)
        session.pn = session.ns
        session.ns = session.nr = 0
        session.dhr = dh_pub
        session.rk, session.ckr = kdf_rk(session.rk, dh(session.dhs[0], session.dhr))
        session.dhs = party.fresh_ratchet()
        session.rk, session.cks = kdf_rk(session.rk, dh(session.dhs[0], session.dhr))
        how = "dh-ratchet"
    if n > session.nr:
        how += "+skip"
    skip_until(session, n)
    session.ckr, mk = kdf_ck(session.ckr)
    session.nr += 1
    return open_sealed(mk, sealed, aad), how


def responder_handshake(party, sender_user, sender_device, aik_i, dk_i, ek_i, spk_id, opk_id):
    if spk_id not in party.spks:
        raise Refused("undecryptable", "unknown signed prekey")
    spk, spk_pub, _ = party.spks[spk_id]
    if opk_id != 0 and opk_id not in party.opks:
        raise Refused("undecryptable", "unknown or used one-time prekey")
    dh1 = dh(spk, dk_i)
    dh2 = dh(party.dk, ek_i)
    dh3 = dh(spk, ek_i)
    dh4 = dh(party.opks[opk_id][0], ek_i) if opk_id != 0 else b""
    ad = ad_bytes(aik_i, sender_user, sender_device, dk_i, party.aik_pub, party.user_id, party.device_id, party.dk_pub)
    sk = x3dh_sk(dh1, dh2, dh3, dh4, ad)
    if opk_id != 0:
        del party.opks[opk_id]  # on the working copy: gone for good only if the message opens
    session = Session(peer_user=sender_user, peer_device=sender_device, role="responder", ad=ad, base_key=ek_i,
                      rk=sk, dhs=(spk, spk_pub), dhr=None, cks=None, ckr=None)
    install_session(party, session)
    return session, sk, ad


def receive(party, sender_user, sender_device, message_id, envelope):
    """Opens one envelope; on success commits the new state and returns (plaintext, info).
    On any failure raises Refused and leaves `party` exactly as it was."""
    if len(envelope) < 1 or envelope[0] != VERSION:
        raise Refused("unsupported-version")
    if len(envelope) < 2 or envelope[1] not in (KIND_PREKEY, KIND_MESSAGE):
        raise Refused("undecryptable", "unknown kind")
    kind = envelope[1]
    fixed = 2 + (PREKEY_PART_LEN if kind == KIND_PREKEY else 0) + HEADER_LEN
    if not fixed + TAG_LEN + MIN_PADDED <= len(envelope) <= MAX_ENVELOPE[kind]:
        raise Refused("undecryptable", "bad length")
    header = envelope[fixed - HEADER_LEN:fixed]
    dh_pub, pn, n = header[:65], int.from_bytes(header[65:69], "big"), int.from_bytes(header[69:73], "big")
    sealed = envelope[fixed:]
    peer = (sender_user, sender_device)

    if kind == KIND_PREKEY:
        part = envelope[2:2 + PREKEY_PART_LEN]
        aik_i, dk_i, cert_i, ek_i = part[0:65], part[65:130], part[130:194], part[194:259]
        spk_id, opk_id = int.from_bytes(part[259:263], "big"), int.from_bytes(part[263:267], "big")
        for k in (aik_i, dk_i, ek_i):
            load_public(k)
        if not verify(aik_i, cert_i, certificate_message(sender_user, sender_device, dk_i)):
            raise Refused("undecryptable", "initiator certificate")
        work = copy.deepcopy(party)
        existing = [i for i, s in enumerate(work.sessions.get(peer, []))
                    if s.role == "responder" and s.base_key == ek_i]
        handshake = None
        if existing:
            index = existing[0]
        else:
            _, sk, ad = responder_handshake(work, sender_user, sender_device, aik_i, dk_i, ek_i, spk_id, opk_id)
            handshake = (sk, ad)
            index = 0
        candidates = [(work, index)]
    else:
        handshake = None
        count = len(party.sessions.get(peer, []))
        if count == 0:
            raise Refused("no-session")
        candidates = [(copy.deepcopy(party), i) for i in range(count)]

    refusal = None
    for work, index in candidates:
        session = work.sessions[peer][index]
        aad = session.ad + message_id + envelope[:fixed]
        try:
            plaintext, how = ratchet_decrypt(work, session, dh_pub, pn, n, sealed, aad)
        except Refused as e:
            if refusal is None or e.reason == "duplicate":
                refusal = e
            continue
        if session.role == "initiator":
            session.prekey_part = None  # opened a message from the responder: kind 0x02 from now on
        sessions = work.sessions[peer]
        sessions.insert(0, sessions.pop(index))  # §9: the session that opened becomes current
        if kind == KIND_PREKEY:
            work.identities[sender_user] = aik_i  # §9 (a changed identity would warn, not refuse)
        party.commit(work)
        return plaintext, how, handshake
    raise refusal


# ---------------------------------------------------------------------------------------
# Conversations


def public_outputs(alice, bob, bob_inp):
    spk_id = bob_inp["signed_prekey"]["id"]
    _, spk_pub, spk_sig = bob.spks[spk_id]
    opk = bob_inp.get("one_time_prekey")
    return (
        {"identity": alice.aik_pub.hex(), "device": alice.dk_pub.hex(), "certificate": alice.certificate.hex()},
        {
            "identity": bob.aik_pub.hex(),
            "device": bob.dk_pub.hex(),
            "certificate": bob.certificate.hex(),
            "signed_prekey": spk_pub.hex(),
            "signed_prekey_signature": spk_sig.hex(),
            "one_time_prekey": bob.opks[opk["id"]][1].hex() if opk is not None else None,
        },
    )


def bundle_from(bob_inp, bob_public):
    """Bob's bundle as the server would hand it out, built from bob's public outputs."""
    opk = bob_inp.get("one_time_prekey")
    return {
        "user_id": uuid.UUID(bob_inp["user_id"]).bytes,
        "device_id": uuid.UUID(bob_inp["device_id"]).bytes,
        "aik": bytes.fromhex(bob_public["identity"]),
        "dk": bytes.fromhex(bob_public["device"]),
        "certificate": bytes.fromhex(bob_public["certificate"]),
        "spk_id": bob_inp["signed_prekey"]["id"],
        "spk": bytes.fromhex(bob_public["signed_prekey"]),
        "spk_signature": bytes.fromhex(bob_public["signed_prekey_signature"]),
        "opk": (opk["id"], bytes.fromhex(bob_public["one_time_prekey"])) if opk is not None else None,
    }


def tampered(envelope):
    return envelope[:-1] + bytes([envelope[-1] ^ 0x01])


def validate_steps(steps):
    """Every send received exactly once by the other party, receives/replays refer to earlier
    sends, a replay only after its send was received, and a later receive by the same party."""
    received = {}
    for i, st in enumerate(steps):
        if st["op"] == "send":
            assert st["from"] in ("alice", "bob"), i
        elif st["op"] in ("receive", "replay"):
            j = st["send"]
            assert 0 <= j < i and steps[j]["op"] == "send", f"step {i}: bad send index"
            assert st["to"] != steps[j]["from"] and st["to"] in ("alice", "bob"), f"step {i}: wrong party"
            if st["op"] == "receive":
                assert j not in received, f"step {i}: send {j} received twice"
                received[j] = i
            else:
                assert j in received, f"step {i}: replay of a message not yet received"
                assert any(s["op"] == "receive" and s["to"] == st["to"] for s in steps[i + 1:]), \
                    f"step {i}: replay not followed by a normal receive"
        else:
            raise AssertionError(f"step {i}: unknown op {st['op']}")
    sends = [i for i, s in enumerate(steps) if s["op"] == "send"]
    missing = [i for i in sends if i not in received]
    assert not missing, f"sends never received: {missing}"
    assert steps[sends[0]]["from"] == "alice", "alice must send first"


def self_check_primitives():
    """RFC 6979 A.2.5 (P-256, SHA-256, "sample"): the signer really is deterministic per RFC 6979;
    Padmé sizes quoted in §7."""
    x = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
    expected = bytes.fromhex("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
                             "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8")
    assert sign(x, b"sample") == expected, "ECDSA signing is not RFC 6979"
    assert verify(public_of(x), expected, b"sample") and not verify(public_of(x), expected, b"samplf")
    assert [padme(max(n + 4, MIN_PADDED)) for n in (0, 60, 61, 1000, MAX_CONTENT)] == [64, 64, 72, 1024, 34816]
    assert unpad(pad(b"")) == b"" and unpad(pad(b"x" * 61)) == b"x" * 61
    for bad in (b"\0\0\0\x3d" + bytes(60), b"\0\0\0\x01a" + b"\x01" + bytes(58)):
        try:
            unpad(bad)
            raise AssertionError("bad padding accepted")
        except Refused:
            pass


def run_conversation(conv, stats):
    """Executes one conversation from its inputs; returns it with every output computed."""
    name, a_inp, b_inp = conv["name"], conv["alice"], conv["bob"]
    steps_in = conv["steps"]
    validate_steps(steps_in)
    alice, bob = make_party("alice", a_inp), make_party("bob", b_inp)
    parties = {"alice": alice, "bob": bob}
    alice_public, bob_public = public_outputs(alice, bob, b_inp)

    # Self-check: every signature verifies (and a wrong one does not).
    assert verify(alice.aik_pub, alice.certificate, certificate_message(alice.user_id, alice.device_id, alice.dk_pub))
    assert verify(bob.aik_pub, bob.certificate, certificate_message(bob.user_id, bob.device_id, bob.dk_pub))
    for spk_id, (_, spk_pub, sig) in bob.spks.items():
        assert verify(bob.aik_pub, sig, spk_message(bob.user_id, bob.device_id, spk_id, spk_pub))
        assert not verify(bob.aik_pub, sig, spk_message(bob.user_id, bob.device_id, spk_id ^ 1, spk_pub))
    assert not verify(alice.aik_pub, alice.certificate, certificate_message(bob.user_id, alice.device_id, alice.dk_pub))

    bundle = bundle_from(b_inp, bob_public)
    alice.identities[bundle["user_id"]] = bundle["aik"]  # bob's identity on record (friend list)

    out_steps, envelopes, plaintexts = [], {}, {}
    sk = ad = None
    bob_handshakes = []
    for i, st in enumerate(steps_in):
        if st["op"] == "send":
            sender = parties[st["from"]]
            other = parties["bob" if st["from"] == "alice" else "alice"]
            peer = (other.user_id, other.device_id)
            if st["from"] == "alice" and peer not in alice.sessions:
                sk, ad = start_session(alice, bundle)
            message_id = uuid.UUID(st["message_id"]).bytes
            plaintext = bytes.fromhex(st["plaintext"])
            env = encrypt(sender, other.user_id, other.device_id, message_id, plaintext)
            if i == next(k for k, s in enumerate(steps_in) if s["op"] == "send"):
                assert env[1] == KIND_PREKEY
            fixed = 2 + (PREKEY_PART_LEN if env[1] == KIND_PREKEY else 0) + HEADER_LEN
            assert len(env) == fixed + TAG_LEN + padme(max(len(plaintext) + 4, MIN_PADDED))
            envelopes[i], plaintexts[i] = env, plaintext
            stats["kind"][env[1]] += 1
            out_steps.append({"op": "send", "from": st["from"], "message_id": str(uuid.UUID(bytes=message_id)),
                              "plaintext": plaintext.hex(), "envelope": env.hex()})
        else:
            j = st["send"]
            receiver = parties[st["to"]]
            sender = parties[steps_in[j]["from"]]
            message_id = uuid.UUID(steps_in[j]["message_id"]).bytes
            env = envelopes[j]
            frame = (sender.user_id, sender.device_id, message_id)
            # Self-check: a tampered copy is refused and changes nothing (unless the tag check
            # could be the first thing to fail, it is still refused; state compared exactly).
            before = copy.deepcopy(receiver)
            try:
                receive(receiver, *frame, tampered(env))
                raise AssertionError(f"{name} step {i}: tampered envelope opened")
            except Refused:
                pass
            assert receiver == before, f"{name} step {i}: refused tampered envelope changed the state"
            if st["op"] == "receive":
                plaintext, how, handshake = receive(receiver, *frame, env)
                assert plaintext == plaintexts[j], f"{name} step {i}: wrong plaintext"
                stats["how"][how.split("+")[0]] = stats["how"].get(how.split("+")[0], 0) + 1
                if handshake is not None:
                    bob_handshakes.append(handshake)
                out_steps.append({"op": "receive", "to": st["to"], "send": j, "plaintext": plaintext.hex()})
            else:
                try:
                    receive(receiver, *frame, env)
                    raise AssertionError(f"{name} step {i}: replay was not refused")
                except Refused as e:
                    stats["replay"][e.reason] = stats["replay"].get(e.reason, 0) + 1
                    reason = e.reason
                assert receiver == before, f"{name} step {i}: refused replay changed the state"
                if reason != "duplicate":
                    receiver.no_more_ratchets = True
                out_steps.append({"op": "replay", "to": st["to"], "send": j})
        stats["steps"] += 1

    # Self-check: both sides derived the same SK and AD, exactly once.
    assert len(bob_handshakes) == 1 and bob_handshakes[0] == (sk, ad), f"{name}: SK/AD disagree"
    assert not bob.opks, f"{name}: one-time prekey not deleted"
    assert len(alice.sessions) == len(bob.sessions) == 1

    number, qr = safety_number(alice.aik_pub, alice.user_id, bob.aik_pub, bob.user_id)
    number_b, qr_b = safety_number(bob.aik_pub, bob.user_id, alice.aik_pub, alice.user_id)
    assert (number, qr) == (number_b, qr_b)
    stats["ratchet_secrets_used"][name] = (alice.next_ratchet, bob.next_ratchet)
    return {
        "name": name,
        "alice": a_inp,
        "bob": b_inp,
        "steps": out_steps,
        "outputs": {
            "alice_public": alice_public,
            "bob_public": bob_public,
            "ad": ad.hex(),
            "sk": sk.hex(),
            "safety_number": number,
            "safety_qr": qr.hex(),
        },
    }


# ---------------------------------------------------------------------------------------
# Inputs (used only when crypto_v2.json does not exist yet)

DESCRIPTION = (
    "Known-answer vectors of Hush crypto v2 (docs/CRYPTO.md, section 11): whole conversations "
    "between alice (initiator) and bob (responder) - X3DH handshake, Double Ratchet with "
    "out-of-order delivery, DH ratchet turns, replays, Padme padding and safety numbers. "
    "Generated and checked by tests/vectors/crypto_v2.py, an independent implementation with "
    "Python cryptography; checked byte for byte by crates/crypto/tests/known_answers_v2.rs."
)

# Tokens: "a3" = alice sends a3 (b.. = bob sends), "+a3" = the other party receives a3,
# "!a3" = a3 is delivered again (replay) and must be refused.
SCHEDULES = {
    "one-time-prekey": (
        "a0 a1 a2 +a0 +a2 !a0 b0 b1 b2 +b1 a3 a4 +a1 +a4 +b0 !b1 b3 b4 b5 +b4 +b2 +a3 "
        "a5 a6 a7 +a5 +a7 +b3 +b5 b6 b7 +b7 a8 a9 +a9 +a6 +a8 +b6 b8 b9 b10 b11 +b11 +b9 +b8 +b10 "
        "a10 a11 +a11 !a6 +a10"
    ),
    "no-one-time-prekey": (
        "a0 +a0 b0 b1 +b0 +b1 a1 a2 a3 a4 +a4 +a2 b2 b3 b4 +a1 +b3 a5 a6 +a6 +a3 !a6 +b2 +b4 "
        "b5 b6 b7 +a5 +b5 a7 a8 +a7 +a8 b8 b9 +b9 +b6 +b8 a9 a10 a11 +a10 +a9 +b7 b10 b11 +a11 "
        "+b10 !b10 +b11"
    ),
    "repeated-prekey-messages": (
        "a0 a1 a2 a3 a4 +a3 +a1 !a3 b0 b1 a5 +a0 +b1 a6 a7 +a7 +a4 +a2 +a5 +b0 !a7 b2 b3 b4 +a6 "
        "+b3 +b2 a8 a9 +a9 b5 b6 +b6 +a8 +b4 +b5 a10 a11 +a11 b7 b8 b9 b10 b11 +b8 +a10 +b11 +b7 "
        "+b9 +b10"
    ),
}

# Plaintext lengths that exercise the padding boundaries (others are ordinary content records).
LENGTHS = {
    "one-time-prekey": {"a1": 0, "b0": 60, "b1": 61, "a5": 1000, "b8": 124, "b9": 125},
    "no-one-time-prekey": {"a2": 0, "a4": 60, "b3": 61, "b6": 1000, "a9": 1020, "a10": 1021},
    "repeated-prekey-messages": {"a0": 61, "a2": 0, "b0": 60, "a9": 1000, "b9": 3000, "b4": 252},
}

SPK_IDS = {"one-time-prekey": 1, "no-one-time-prekey": 7, "repeated-prekey-messages": 3000000001}
OPK_IDS = {"one-time-prekey": 1001, "no-one-time-prekey": None, "repeated-prekey-messages": 4294967295}

PHRASES = {
    "a": [
        "Hello, Bob!",
        "Are we still on for Thursday?",
        "Gr\u00fc\u00dfe aus K\u00f6ln \U0001f44b \u2014 \u00e7a va ?",
        "The server relays this but can never read it.",
        "ok",
        "Every message has its own key; a stolen session heals after the next round trip.",
    ],
    "b": [
        "Hi Alice, good to hear from you.",
        "Yes. 7 pm at the usual place.",
        "\u00c7a va tr\u00e8s bien, merci ! \U0001f642",
        "Did you get the photos?",
        "\U0001f44d",
        "See you then.",
    ],
}


def kat_secret(conv, label):
    digest = hashlib.sha256(b"hush-kat-v2/" + conv.encode() + b"/" + label.encode()).digest()
    return "%064x" % (int.from_bytes(digest, "big") % (N - 1) + 1)


def kat_uuid7(conv, label, ms):
    r = int.from_bytes(hashlib.sha256(b"hush-kat-v2-uuid/" + conv.encode() + b"/" + label.encode()).digest()[:10], "big")
    rand_a, rand_b = r >> 68, r & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | ((rand_a & 0xFFF) << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def content_record(text, sent_at_ms):
    return json.dumps({"v": 1, "kind": "text", "text": text, "sent_at_ms": sent_at_ms},
                      separators=(",", ":"), ensure_ascii=False).encode()


def make_plaintext(conv, label, sent_at_ms):
    length = LENGTHS[conv].get(label)
    if length is None:
        phrases = PHRASES[label[0]]
        return content_record(phrases[int(label[1:]) % len(phrases)], sent_at_ms)
    if length == 0:
        return b""
    overhead = len(content_record("", sent_at_ms))
    filler = ("Padme pads to a few significant bits; %s. " % label) * (length // 20 + 1)
    record = content_record(filler[:length - overhead], sent_at_ms)
    assert len(record) == length
    return record


def make_inputs(ratchet_counts=None):
    conversations = []
    base_ms = 1764000000000
    for c, (name, schedule) in enumerate(SCHEDULES.items()):
        count_a, count_b = (ratchet_counts or {}).get(name, (24, 24))
        alice = {
            "user_id": kat_uuid7(name, "alice/user", base_ms - 86400000),
            "device_id": kat_uuid7(name, "alice/device", base_ms - 86000000),
            "identity_secret": kat_secret(name, "alice/identity"),
            "device_secret": kat_secret(name, "alice/device"),
            "ephemeral_secret": kat_secret(name, "alice/ephemeral"),
            "ratchet_secrets": [kat_secret(name, f"alice/ratchet/{k}") for k in range(count_a)],
        }
        bob = {
            "user_id": kat_uuid7(name, "bob/user", base_ms - 86300000),
            "device_id": kat_uuid7(name, "bob/device", base_ms - 86200000),
            "identity_secret": kat_secret(name, "bob/identity"),
            "device_secret": kat_secret(name, "bob/device"),
            "signed_prekey": {"id": SPK_IDS[name], "secret": kat_secret(name, "bob/signed-prekey")},
            "one_time_prekey": (
                {"id": OPK_IDS[name], "secret": kat_secret(name, "bob/one-time-prekey")}
                if OPK_IDS[name] is not None else None
            ),
            "ratchet_secrets": [kat_secret(name, f"bob/ratchet/{k}") for k in range(count_b)],
        }
        steps, send_index = [], {}
        for t, token in enumerate(schedule.split()):
            label = token.lstrip("+!")
            ms = base_ms + c * 10000000 + t * 1000
            if token[0] == "+":
                steps.append({"op": "receive", "to": "bob" if label[0] == "a" else "alice", "send": send_index[label]})
            elif token[0] == "!":
                steps.append({"op": "replay", "to": "bob" if label[0] == "a" else "alice", "send": send_index[label]})
            else:
                assert label not in send_index
                send_index[label] = len(steps)
                steps.append({"op": "send", "from": "alice" if label[0] == "a" else "bob",
                              "message_id": kat_uuid7(name, f"message/{label}", ms),
                              "plaintext": make_plaintext(name, label, ms).hex()})
        conversations.append({"name": name, "alice": alice, "bob": bob, "steps": steps})
    return conversations


def strip_outputs(conv):
    """The inputs of a stored conversation (what --write regenerates everything else from)."""
    steps = []
    for st in conv["steps"]:
        if st["op"] == "send":
            steps.append({k: st[k] for k in ("op", "from", "message_id", "plaintext")})
        else:
            steps.append({k: st[k] for k in ("op", "to", "send")})
    return {"name": conv["name"], "alice": conv["alice"], "bob": conv["bob"], "steps": steps}


# ---------------------------------------------------------------------------------------


def diff(path, expected, computed, out):
    if isinstance(expected, dict) and isinstance(computed, dict):
        for k in sorted(set(expected) | set(computed), key=str):
            if k not in expected:
                out.append(f"MISMATCH {path}.{k}: missing from the file (computed {json.dumps(computed[k])[:200]})")
            elif k not in computed:
                out.append(f"MISMATCH {path}.{k}: unexpected field in the file")
            else:
                diff(f"{path}.{k}", expected[k], computed[k], out)
    elif isinstance(expected, list) and isinstance(computed, list) and len(expected) == len(computed):
        for i, (e, c) in enumerate(zip(expected, computed)):
            diff(f"{path}[{i}]", e, c, out)
    elif expected != computed or type(expected) is not type(computed):
        out.append(f"MISMATCH {path}:\n  expected {json.dumps(expected)}\n  computed {json.dumps(computed)}")


def new_stats():
    return {"steps": 0, "kind": {KIND_PREKEY: 0, KIND_MESSAGE: 0}, "how": {}, "replay": {},
            "ratchet_secrets_used": {}}


def main():
    write = "--write" in sys.argv[1:]
    self_check_primitives()
    if write:
        if VECTORS.exists():
            inputs = [strip_outputs(c) for c in json.loads(VECTORS.read_text())["conversations"]]
        else:
            # First generation: find how many ratchet secrets each party needs, give two spare.
            trial = new_stats()
            for conv in make_inputs():
                run_conversation(conv, trial)
            inputs = make_inputs({n: (a + 2, b + 2) for n, (a, b) in trial["ratchet_secrets_used"].items()})
        stats = new_stats()
        conversations = [run_conversation(conv, stats) for conv in inputs]
        VECTORS.write_text(json.dumps({"description": DESCRIPTION, "conversations": conversations}, indent=2) + "\n")
        mismatches = 0
    else:
        data = json.loads(VECTORS.read_text())
        stats = new_stats()
        mismatches = []
        if not isinstance(data.get("description"), str):
            mismatches.append("MISMATCH description: missing")
        for k, stored in enumerate(data["conversations"]):
            computed = run_conversation(strip_outputs(stored), stats)
            diff(f"conversations[{k}]({stored['name']})", stored, computed, mismatches)
        for m in mismatches:
            print(m)
        if mismatches:
            print(f"crypto v2 vectors: {len(mismatches)} mismatches")
            sys.exit(1)
        mismatches = 0
        conversations = data["conversations"]
    if "-v" in sys.argv[1:]:
        print(f"  envelopes: {stats['kind'][KIND_PREKEY]} prekey messages, {stats['kind'][KIND_MESSAGE]} messages; "
              f"receives: {stats['how']}; replays refused: {stats['replay']}; "
              f"ratchet secrets used (alice, bob): {stats['ratchet_secrets_used']}")
    print(f"crypto v2 vectors: {len(conversations)} conversations, {stats['steps']} steps checked with "
          f"Python cryptography, {mismatches} mismatches" + (" (written)" if write else ""))


if __name__ == "__main__":
    main()
