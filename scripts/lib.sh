# Shared helpers of scripts/run.sh and scripts/test.sh: detect and install what is missing
# on a fresh Debian machine (run as root, or with sudo available).

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "need root to run: $*" >&2; return 1; fi
}

apt_updated=
apt_install() {
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need_rust() {
    if ! command -v cargo >/dev/null; then
        echo "cargo not found: install the Rust toolchain (https://rustup.rs) first" >&2
        exit 1
    fi
    # A C compiler and make: SQLite and jemalloc are built from source.
    { command -v cc && command -v make; } >/dev/null || apt_install build-essential
}

cargo_target_dir() {
    cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}

# need_python_module MODULE PIP_NAME DEBIAN_PACKAGE
need_python_module() {
    command -v python3 >/dev/null || apt_install python3
    python3 -c "import $1" 2>/dev/null && return 0
    echo "==> installing the Python package $2" >&2
    python3 -m pip install --quiet "$2" 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages "$2" 2>/dev/null \
        || apt_install "$3"
    python3 -c "import $1"
}

# need_python_version MODULE PIP_NAME MAJOR: upgrades MODULE with pip if older than MAJOR.
need_python_version() {
    python3 -c "import $1, sys; sys.exit(int($1.__version__.split('.')[0]) < $3)" 2>/dev/null && return 0
    echo "==> upgrading the Python package $2 (need version $3 or later)" >&2
    python3 -m pip install --quiet --upgrade "$2>=$3" 2>/dev/null \
        || python3 -m pip install --quiet --upgrade --break-system-packages "$2>=$3"
}

need_redis() {
    command -v redis-server >/dev/null && return 0
    echo "==> installing redis-server (the Redis suites start their own)" >&2
    apt_install redis-server
    # Debian starts a system instance; the tests use their own on free ports.
}

# The wasm32 target, wasm-bindgen-cli at the exact version in Cargo.lock, and npm (for the
# pinned Binaryen whose wasm-opt shrinks the app; Debian's binaryen 108 breaks it).
need_wasm_tools() {
    rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown \
        || rustup target add wasm32-unknown-unknown
    local want
    want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
    if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
        echo "==> installing wasm-bindgen-cli $want (matches Cargo.lock; a few minutes)" >&2
        cargo install wasm-bindgen-cli --version "$want" --locked \
            || cargo install wasm-bindgen-cli --version "$want"
    fi
    command -v npm >/dev/null || apt_install nodejs npm
}

need_caddy() {
    command -v caddy >/dev/null || apt_install caddy
}

need_browser_tools() {
    command -v chromium >/dev/null || apt_install chromium
    command -v chromedriver >/dev/null || apt_install chromium-driver
    command -v npm >/dev/null || apt_install nodejs npm
}
