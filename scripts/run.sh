#!/usr/bin/env bash
# Builds the web app and hush-server and runs Hush on the embedded default: SQLite in ./data, sign-in codes printed in
# the log by the console SMS provider. Prints the URL to open. Extra arguments go to
# hush-server (see `scripts/run.sh --help`); HUSH_* environment variables work too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need_rust
if [ -z "${HUSH_WEB_DIR:-}" ]; then
    bash scripts/build-web.sh
    export HUSH_WEB_DIR="$(cargo_target_dir)/web"
fi
echo "==> building hush-server (release; the first build takes a few minutes)" >&2
cargo build --release --locked -p hush-server >&2
exec "$(cargo_target_dir)/release/hush-server" "$@"
