#!/usr/bin/env bash
# Instructions `hush-server` runs per relayed message, counted by valgrind (callgrind's `Ir`,
# user space only) during a `hush-bench` scenario: a count that does not drift with the
# machine's speed, unlike CPU seconds on a shared VM. The server runs under callgrind
# (about 30x slower, so it batches more than it would natively: compare builds with the
# same scenario, not against the native figures). Counting starts once 500 messages were
# relayed (sign-in and warm-up left out), runs for WINDOW seconds, and is divided by the
# messages the server's /metrics counted in that window. Prints one line.
#
# Usage: scripts/bench/instructions.sh SERVER_BIN [BENCH ARGS...]
#   e.g. scripts/bench/instructions.sh target/release/hush-server saturate --pairs 8
#        REDIS_URL=redis://127.0.0.1:6390 scripts/bench/instructions.sh target/release/hush-server trickle --pairs 50
#        scripts/bench/instructions.sh target/release/hush-server trickle --pairs 2   (one message at a time:
#          with two pairs nothing batches under valgrind, so runs agree within ~0.3 %)
# Needs: `apt-get install -y valgrind curl iproute2`, a release build of hush-bench
# (CARGO_TARGET_DIR is honoured); with REDIS_URL, a running redis-server there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
window=${WINDOW:-20}
server=$(realpath "$1"); shift
command -v callgrind_control >/dev/null || { echo "valgrind is not installed: apt-get install -y valgrind" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$bench" 2>/dev/null; pkill -KILL -f "callgrind-out-file=$work" 2>/dev/null; rm -rf "$work"' EXIT

printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/out.%%p %s\n' "$work" "$server" > "$work/server"
chmod +x "$work/server"
redis=()
[ -n "${REDIS_URL:-}" ] && redis=(--redis-url "$REDIS_URL")
"$target/release/hush-bench" --server-bin "$work/server" "${redis[@]}" "$@" --seconds $((window + 120)) \
  > "$work/bench.log" 2>&1 &
bench=$!

pid=
for _ in $(seq 1 60); do
  pid=$(pgrep -f "callgrind-out-file=$work" | head -n 1 || true)
  [ -n "$pid" ] && break
  sleep 1
done
[ -n "$pid" ] || { echo "the server did not start under valgrind" >&2; exit 1; }
port=
for _ in $(seq 1 120); do
  port=$(ss -ltnp 2>/dev/null | grep "pid=$pid," | grep -o '127\.0\.0\.1:[0-9]*' | head -n 1 || true)
  [ -n "$port" ] && break
  sleep 1
done
[ -n "$port" ] || { echo "the server is not listening" >&2; exit 1; }
relayed() { curl -s "http://$port/metrics" | awk '/^hush_messages_relayed_total/ {print $2}'; }
for _ in $(seq 1 300); do
  count=$(relayed || true)
  [ -n "$count" ] && [ "$count" -gt 500 ] && break
  sleep 1
done

callgrind_control --zero "$pid" >/dev/null 2>&1
before=$(relayed)
sleep "$window"
callgrind_control --dump "$pid" >/dev/null 2>&1
after=$(relayed)
dump=$(ls -t "$work"/out."$pid"* | head -n 1)
instructions=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
messages=$((after - before))
[ "$messages" -gt 0 ] || { echo "no message relayed while counting" >&2; exit 1; }
echo "{\"server\":\"$server\",\"scenario\":\"$*\",\"relayed\":$messages,\"instructions\":$instructions,\"instructions_per_message\":$((instructions / messages))}"
