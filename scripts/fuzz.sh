#!/usr/bin/env bash
# Runs every cargo-fuzz target of Hush (fuzz/fuzz_targets) for RUNS executions each
# (default 100000; the figures in docs/TESTING.md come from RUNS=2000000), starting from
# the committed seeds and replaying every committed regression input first. Exits non-zero
# on the first crash; libFuzzer prints the input and cargo-fuzz the command to reproduce it.
#
# Runs on the stable toolchain: cargo-fuzz needs nightly-only flags, which
# RUSTC_BOOTSTRAP=1 unlocks for this build only. No address sanitizer (`-s none`): the
# decoders are safe Rust, so the fuzzer looks for panics, overflows and broken round trips.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

RUNS="${RUNS:-${1:-100000}}"
need_rust
command -v c++ >/dev/null || apt_install g++
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz (a minute)" >&2
    cargo install cargo-fuzz --locked || cargo install cargo-fuzz
fi

export RUSTC_BOOTSTRAP=1
# Instrumented builds share nothing with the product's target directory.
export CARGO_TARGET_DIR="${HUSH_FUZZ_TARGET_DIR:-$(cargo_target_dir)/fuzz}"
cd fuzz
cargo fuzz build -s none --release
work="$CARGO_TARGET_DIR/corpus"
for target in $(cargo fuzz list); do
    mkdir -p "$work/$target" "regressions/$target"
    if compgen -G "regressions/$target/*" >/dev/null; then
        cargo fuzz run -s none --release "$target" regressions/"$target"/* -- -runs=0 2>/dev/null \
            || { echo "regression input of $target fails again" >&2; exit 1; }
    fi
    log="$work/$target.log"
    if ! cargo fuzz run -s none --release "$target" "$work/$target" "seeds/$target" -- \
        -runs="$RUNS" -max_len=4096 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "FAILED: fuzz target $target (log: $log)" >&2
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz $target: $execs executions, no crash, corpus $(ls "$work/$target" | wc -l) inputs" >&2
done
