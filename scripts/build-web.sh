#!/usr/bin/env bash
# Builds the web app into $HUSH_WEB_OUT (default: <target dir>/web): the WASM optimised for
# size, wasm-bindgen's JS, the stylesheet, the icons and the web app manifest, all under
# content-hashed names in assets/; index.html that loads them with subresource-integrity
# hashes; and sw.js, the service worker keeping this build's files for offline start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_wasm_tools

target_dir=$(cargo_target_dir)
out=${HUSH_WEB_OUT:-$target_dir/web}
echo "==> building the web app (wasm32, size-optimised)" >&2
# HUSH_WEB_FEATURES: extra features (the browser suite's `test-exports` copy).
cargo build --locked -p hush-web --target wasm32-unknown-unknown --profile wasm-release \
    ${HUSH_WEB_FEATURES:+--features "$HUSH_WEB_FEATURES"} >&2
stage=$(mktemp -d)
wasm-bindgen --target web --no-typescript --out-dir "$stage" --out-name hush \
    "$target_dir/wasm32-unknown-unknown/wasm-release/hush-web.wasm"
echo "==> wasm-opt -Oz (Binaryen from npm, pinned in crates/web/tools)" >&2
(cd crates/web/tools && npm ci --no-audit --no-fund --silent)
crates/web/tools/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$stage/hush_bg.opt.wasm" "$stage/hush_bg.wasm"
mv "$stage/hush_bg.opt.wasm" "$stage/hush_bg.wasm"
echo "==> the names the WASM and its JavaScript know each other by, shortened" >&2
node crates/web/tools/shorten-names.mjs "$stage/hush_bg.wasm" "$stage/hush.js"
echo "==> terser: wasm-bindgen's JavaScript minified (an ES module: its export names kept)" >&2
crates/web/tools/node_modules/.bin/terser "$stage/hush.js" --module --compress --mangle -o "$stage/hush.min.js"
mv "$stage/hush.min.js" "$stage/hush.js"
cp crates/web/static/style.css "$stage/style.css"

declare -A icon
hash() { sha256sum "$1" | cut -c1-16; }
sri() { echo "sha384-$(openssl dgst -sha384 -binary "$1" | openssl base64 -A)"; }
rm -rf "$out" && mkdir -p "$out/assets"
wasm="hush-$(hash "$stage/hush_bg.wasm").wasm"
cp "$stage/hush_bg.wasm" "$out/assets/$wasm"
js="hush-$(hash "$stage/hush.js").js"
cp "$stage/hush.js" "$out/assets/$js"
css="style-$(hash "$stage/style.css").css"
cp "$stage/style.css" "$out/assets/$css"
for size in 192 512 maskable-512; do
    png="crates/web/static/icons/icon-$size.png"
    icon[$size]="icon-$size-$(hash "$png").png"
    cp "$png" "$out/assets/${icon[$size]}"
done
cat > "$stage/manifest.webmanifest" <<JSON
{
  "name": "Hush",
  "short_name": "Hush",
  "description": "End-to-end-encrypted chat",
  "id": "/",
  "start_url": "/",
  "scope": "/",
  "display": "standalone",
  "background_color": "#f4f5f7",
  "theme_color": "#2f6fed",
  "icons": [
    { "src": "/assets/${icon[192]}", "sizes": "192x192", "type": "image/png" },
    { "src": "/assets/${icon[512]}", "sizes": "512x512", "type": "image/png" },
    { "src": "/assets/${icon[maskable-512]}", "sizes": "512x512", "type": "image/png", "purpose": "maskable" }
  ]
}
JSON
manifest="manifest-$(hash "$stage/manifest.webmanifest").webmanifest"
cp "$stage/manifest.webmanifest" "$out/assets/$manifest"
printf "import init from './%s';\ninit({ module_or_path: new URL('./%s', import.meta.url) });\n" "$js" "$wasm" > "$stage/boot.js"
boot="boot-$(hash "$stage/boot.js").js"
cp "$stage/boot.js" "$out/assets/$boot"
cat > "$out/index.html" <<HTML
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="theme-color" content="#2f6fed">
<meta name="description" content="Hush: end-to-end-encrypted chat">
<title>Hush</title>
<link rel="manifest" href="/assets/$manifest">
<link rel="icon" href="/assets/${icon[192]}" type="image/png">
<link rel="apple-touch-icon" href="/assets/${icon[192]}">
<link rel="stylesheet" href="/assets/$css" integrity="$(sri "$out/assets/$css")">
<link rel="modulepreload" href="/assets/$js" integrity="$(sri "$out/assets/$js")">
<script type="module" src="/assets/$boot" integrity="$(sri "$out/assets/$boot")"></script>
</head>
<body><noscript>Hush needs JavaScript and WebAssembly.</noscript></body>
</html>
HTML
# The service worker: a fixed name (browsers look for updates there), this build's files.
shell="\"/index.html\""
for file in "$css" "$js" "$wasm" "$boot" "$manifest" "${icon[192]}" "${icon[512]}" "${icon[maskable-512]}"; do
    shell="$shell, \"/assets/$file\""
done
build_line="const BUILD = { version: '$(hash "$out/index.html")', shell: [$shell] };"
grep -q "^const BUILD = " crates/web/static/sw.js
sed "s|^const BUILD = .*|$build_line|" crates/web/static/sw.js > "$out/sw.js"
rm -rf "$stage"
size=$(cat "$out/assets/$wasm" "$out/assets/$js" "$out/assets/$boot" | gzip -9 | wc -c)
echo "==> web app in $out ($((size / 1024)) KiB gzipped WASM + JS: $size bytes)" >&2
# HUSH_WEB_MAX_BYTES: the size budget the test command holds the app to.
if [ -n "${HUSH_WEB_MAX_BYTES:-}" ] && ! [[ "$HUSH_WEB_MAX_BYTES" =~ ^[0-9]+$ ]]; then
    echo "HUSH_WEB_MAX_BYTES must be a number of bytes, not \"$HUSH_WEB_MAX_BYTES\"" >&2
    exit 1
fi
if [ -n "${HUSH_WEB_MAX_BYTES:-}" ] && [ "$size" -gt "$HUSH_WEB_MAX_BYTES" ]; then
    echo "the web app is $size bytes gzipped (WASM + JS), over its budget of $HUSH_WEB_MAX_BYTES (BENCHMARKS.md, \"Web bundle\")" >&2
    exit 1
fi
