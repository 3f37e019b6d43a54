"""A push service stand-in for the tests (RFC 8030), on loopback: it records every push it is
sent and checks it the way a real push service and browser would, with implementations
independent of Hush's — the VAPID token (RFC 8292: ES256 JWT, `aud`, `exp`, `sub`, and
the key in `k`) with `cryptography`, and the payload (RFC 8291, `aes128gcm`) with
`http_ece` and the subscription's own private key. It answers 201 Created, or the status a
test sets (410 Gone: the subscription has expired)."""
import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Browser:
    """A browser's side of one subscription: its P-256 key pair and auth secret."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = __import__("os").urandom(16)

    def keys(self):
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return {"p256dh": b64u(point), "auth": b64u(self.auth)}

    def decrypt(self, body):
        return http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")


class PushService:
    def __init__(self):
        self.pushes = []
        self.status = 201
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with stand_in.lock:
                    stand_in.pushes.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                            "body": body, "at": time.time()})
                    status = stand_in.status
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count, timeout=5.0):
        """Waits until `count` pushes arrived in all; returns them."""
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if len(self.pushes) >= count:
                    return list(self.pushes)
            time.sleep(0.05)
        with self.lock:
            return list(self.pushes)

    def stop(self):
        self.server.shutdown()


def check_vapid(authorization, audience, server_key, now=None):
    """RFC 8292 §2–3: `vapid t=<JWT>, k=<key>`; the JWT is ES256 over the key in `k` (the
    server's published key), `aud` the push service's origin, `exp` within 24 hours, `sub`
    a contact URI. Returns the claims, or raises AssertionError saying what is wrong."""
    now = now or time.time()
    assert authorization.startswith("vapid "), f"scheme: {authorization[:20]}"
    params = dict(p.strip().split("=", 1) for p in authorization[len("vapid "):].split(","))
    assert params.get("k") == server_key, "k is not the server's published key"
    header_b64, claims_b64, signature_b64 = params["t"].split(".")
    header = json.loads(unb64u(header_b64))
    assert header.get("alg") == "ES256", f"alg {header}"
    claims = json.loads(unb64u(claims_b64))
    signature = unb64u(signature_b64)
    assert len(signature) == 64, f"signature of {len(signature)} bytes (JWS ES256 is r||s, 64)"
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(server_key))
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the JWT's signature does not verify under k")
    assert claims.get("aud") == audience, f"aud {claims.get('aud')} != {audience}"
    assert now < claims.get("exp", 0) <= now + 24 * 3600 + 60, f"exp {claims.get('exp')} not within 24 h"
    assert str(claims.get("sub", "")).startswith(("mailto:", "https:", "http:")), f"sub {claims.get('sub')}"
    return claims
