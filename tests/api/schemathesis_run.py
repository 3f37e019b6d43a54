#!/usr/bin/env python3
"""API fuzzing with Schemathesis against the running server's own OpenAPI document.

Starts `hush-server` (path given as the first argument) on a free loopback port with a fresh
data directory and the console SMS provider, signs one person in (reading the code from the
log) and another, befriends them, then runs Schemathesis over every operation of
`/api/v1/openapi.json` with the first person's token: generated valid and invalid inputs,
bounded per operation. Passes only with 0 server errors (5xx) and 0 responses that break
the documented schema. Logout and account deletion run without the token (with it they
would end the session the rest of the run needs); the Rust suites cover them signed in.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

MAX_EXAMPLES = os.environ.get("HUSH_SCHEMATHESIS_EXAMPLES", "100")


def start_server(binary, data_dir):
    env = dict(os.environ, RUST_LOG="info", HUSH_LOG_FORMAT="text", NO_COLOR="1")
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1:0", "--data-dir", data_dir, "--sms-provider", "console"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []

    def pump(stream):
        for line in stream:
            lines.append(line)

    threading.Thread(target=pump, args=(proc.stderr,), daemon=True).start()
    url_line = proc.stdout.readline()
    threading.Thread(target=pump, args=(proc.stdout,), daemon=True).start()
    match = re.search(r"(http://127\.0\.0\.1:\d+)", url_line)
    if not match:
        proc.kill()
        sys.exit(f"hush-server did not print its URL: {url_line!r}")
    return proc, match.group(1), lines


def call(base, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def sign_in(base, lines, phone):
    challenge = call(base, "POST", "/api/v1/auth/code", {"phone": phone})["challenge"]
    deadline = time.time() + 10
    while time.time() < deadline:
        for line in reversed(lines):
            found = re.search(re.escape(f"SMS to {phone}: Your Hush code is ") + r"(\d{6})", line)
            if found:
                reply = call(base, "POST", "/api/v1/auth/verify", {"phone": phone, "challenge": challenge, "code": found.group(1)})
                return reply["access_token"], reply["user"]["user_id"]
        time.sleep(0.05)
    sys.exit(f"no sign-in code for {phone} in the server log")


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="hush-schemathesis-") as data_dir:
        proc, base, lines = start_server(binary, data_dir)
        try:
            token, _ = sign_in(base, lines, "+16502530001")
            _, other_id = sign_in(base, lines, "+16502530002")
            call(base, "POST", "/api/v1/friends/requests", {"user_id": other_id}, token)
            common = [
                "st", "run", f"{base}/api/v1/openapi.json", "--url", base,
                "--checks", "not_a_server_error,response_schema_conformance",
                "--max-examples", MAX_EXAMPLES, "--seed", "7", "--workers", "1",
                "--phases", "examples,coverage,fuzzing", "--no-color",
                "--suppress-health-check", "all", "--request-timeout", "10",
            ]
            signed_in = subprocess.run(
                common + ["-H", f"Authorization: Bearer {token}",
                          "--exclude-operation-id", "logout", "--exclude-operation-id", "delete_me"],
                check=False,
            )
            # Every operation again with a token that is not valid, the two above included.
            signed_out = subprocess.run(
                common + ["-H", "Authorization: Bearer not-a-token"],
                check=False,
            )
            alive = proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        panics = [l for l in lines if "panicked" in l]
        if panics:
            sys.exit("hush-server panicked:\n" + "".join(panics))
        if not alive:
            sys.exit("hush-server exited during the run")
        if signed_in.returncode or signed_out.returncode:
            sys.exit("schemathesis found failures (see above)")
        print("schemathesis: 0 server errors, 0 schema violations", file=sys.stderr)


if __name__ == "__main__":
    main()
