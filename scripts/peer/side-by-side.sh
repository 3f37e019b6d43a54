#!/usr/bin/env bash
# Hush and ejabberd side by side on the same workload: one chat message in flight per pair
# (`trickle`; the next message goes once the last arrived), or IN_FLIGHT of them (the
# batched row: 32), counting only each server's own CPU. Runs alternate between the two
# servers; each prints one JSON line.
#
# Usage: scripts/peer/side-by-side.sh [PAIRS] [SECONDS] [RUNS] [IN_FLIGHT]
# Needs: `apt-get install -y ejabberd`, and release builds of hush-server and hush-bench
# (`cargo build --release -p hush-server -p hush-bench`; CARGO_TARGET_DIR is honoured).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
pairs=${1:-50}; seconds=${2:-5}; runs=${3:-3}; in_flight=${4:-1}
command -v ejabberdctl >/dev/null || { echo "ejabberd is not installed: apt-get install -y ejabberd" >&2; exit 1; }
for run in $(seq 1 "$runs"); do
  pid=$("$here/run-ejabberd.sh" start $((pairs * 2)))
  printf 'ejabberd run %s: ' "$run"
  "$target/release/hush-bench" xmpp-trickle --pid "$pid" --pairs "$pairs" --in-flight "$in_flight" --seconds "$seconds" 2>/dev/null | tail -n 1
  "$here/run-ejabberd.sh" stop >/dev/null 2>&1 || true
  sleep 2
  printf 'hush (SQLite) run %s: ' "$run"
  "$target/release/hush-bench" --server-bin "$target/release/hush-server" trickle --pairs "$pairs" --in-flight "$in_flight" --seconds "$seconds" 2>/dev/null | tail -n 1
done
