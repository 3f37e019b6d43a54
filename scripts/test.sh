#!/usr/bin/env bash
# Runs every test suite of Hush, installing what the suites need first. Exits non-zero if
# any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need_rust
need_python_module cryptography cryptography python3-cryptography
# Crypto v2's vectors sign with RFC 6979 deterministic ECDSA, new in cryptography 43.
need_python_version cryptography cryptography 43
need_python_module yaml pyyaml python3-yaml
need_python_module schemathesis schemathesis schemathesis
need_python_module websockets websockets python3-websockets
# The push-service stand-in decrypts Web Push payloads with it (RFC 8291).
need_python_module http_ece http-ece python3-http-ece
# The independent protocol client uses websockets' synchronous client, new in 11.
need_python_version websockets websockets 11
need_redis
need_wasm_tools
need_browser_tools
need_caddy

echo "==> cargo test --workspace" >&2
if [ -n "${MONGODB_URI:-}" ]; then
    cargo test --workspace --locked -- --include-ignored
else
    cargo test --workspace --locked
    echo "SKIPPED: MongoDB conformance suite (store_conformance::mongodb_backend) — MONGODB_URI is not set;" \
         "no MongoDB server can be installed on this machine, so the MongoDB backend is compiled and linted but not run." >&2
fi

echo "==> fuzz targets (cargo fuzz, 100000 executions each; regressions replayed first)" >&2
bash scripts/fuzz.sh

echo "==> crypto known-answer vectors, independent Python implementations (v1 and v2)" >&2
python3 tests/vectors/crypto_v1.py
python3 tests/vectors/crypto_v2.py
python3 tests/vectors/link_v2.py

echo "==> deploy files (Dockerfile, docker-compose.yml, Caddyfile, systemd unit) against hush-server --help" >&2
python3 tests/deploy/check_deploy.py "$(cargo_target_dir)/debug/hush-server"

echo "==> a client written from docs/PROTOCOL.md and docs/CRYPTO.md alone, against the real server" >&2
python3 tests/protocol/independent_client.py --server "$(cargo_target_dir)/debug/hush-server"

echo "==> API fuzzing: schemathesis against /api/v1/openapi.json (0 server errors, 0 schema violations)" >&2
python3 tests/api/schemathesis_run.py "$(cargo_target_dir)/debug/hush-server"

echo "==> browser-side logic in headless Chromium (wasm-bindgen-test: IndexedDB store, outbox)" >&2
CHROMEDRIVER="$(command -v chromedriver)" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test --locked -p hush-web --target wasm32-unknown-unknown

echo "==> browser end-to-end suite (Playwright driving Chromium; screenshots in tests/e2e/screenshots)" >&2
# A copy with the crypto exported for the interop test (the `test-exports` feature), then
# the app as people get it, which every other spec loads — held to its size budget of
# 400 KB gzipped, WASM + JS.
HUSH_WEB_FEATURES=test-exports HUSH_WEB_OUT="$(cargo_target_dir)/web-test-exports" bash scripts/build-web.sh
HUSH_WEB_MAX_BYTES=400000 bash scripts/build-web.sh
(cd tests/e2e && npm ci --no-audit --no-fund --silent)
HUSH_SERVER_BIN="$(cargo_target_dir)/debug/hush-server" HUSH_WEB_DIR="$(cargo_target_dir)/web" \
    HUSH_WEB_TEST_EXPORTS_DIR="$(cargo_target_dir)/web-test-exports" \
    node --test --test-concurrency=1 tests/e2e/specs/

echo "==> hush-server with the web app built in (--features embed-web): served with no HUSH_WEB_DIR" >&2
HUSH_EMBED_WEB_DIR="$(cargo_target_dir)/web" cargo test --locked -p hush-server --features embed-web --test web

echo "==> all suites passed" >&2
