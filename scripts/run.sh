#!/usr/bin/env bash
# Builds the web app and hush-server with the web app inside it (one file is a whole Hush),
# then runs Hush on the embedded default: SQLite in ./data, sign-in codes printed in the
# log by the console SMS provider. Prints the URL to open. Extra arguments go to
# hush-server (see `scripts/run.sh --help`); HUSH_* environment variables work too
# (HUSH_WEB_DIR serves a web app from a directory instead, for development).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need_rust
bash scripts/build-web.sh
echo "==> building hush-server with the web app inside (release; the first build takes a few minutes)" >&2
HUSH_EMBED_WEB_DIR="$(cargo_target_dir)/web" cargo build --release --locked -p hush-server --features embed-web >&2
exec "$(cargo_target_dir)/release/hush-server" "$@"
