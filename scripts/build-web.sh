#!/usr/bin/env bash
# Builds the web page into www/pkg (wasm + JS glue) and writes www/model/manifest.json
# (the model version that keys the browser's cache).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build -p unmask-web --target wasm32-unknown-unknown --release
wasm-bindgen --target web --no-typescript --out-dir www/pkg \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/unmask_web.wasm"
for f in www/model/poem.safetensors www/model/tokenizer.json; do
  [ -f "$f" ] || { echo "missing $f (train with scripts/train.sh)" >&2; exit 1; }
done
version=$(cat www/model/poem.safetensors www/model/tokenizer.json | sha256sum | cut -c1-16)
printf '{"version":"%s","model":"poem.safetensors","tokenizer":"tokenizer.json","model_bytes":%d}\n' \
  "$version" "$(stat -c %s www/model/poem.safetensors)" > www/model/manifest.json
echo "built www/pkg ($(stat -c %s www/pkg/unmask_web_bg.wasm) bytes of wasm), model version $version"
