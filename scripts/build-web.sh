#!/usr/bin/env bash
# Builds the web page into www/pkg (wasm + JS glue) and writes manifest.json (the model
# version that keys the browser's cache) in www/model and www/model-ar (the
# autoregressive twin of the compare view, which shares the main tokenizer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build -p unmask-web --target wasm32-unknown-unknown --release
wasm-bindgen --target web --no-typescript --out-dir www/pkg \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/unmask_web.wasm"
for f in www/model/poem.safetensors www/model/tokenizer.json www/model-ar/poem.safetensors; do
  [ -f "$f" ] || { echo "missing $f (train with scripts/train.sh)" >&2; exit 1; }
done
# The compare view's chart reads each model's eval report.
for f in www/model/eval.json www/model-ar/eval.json; do
  [ -f "$f" ] || { echo "missing $f (unmask eval --pairs eval/couplets.jsonl --json-out $f, see README)" >&2; exit 1; }
done
# The autoregressive twin (compare view) shares the main model's tokenizer.
cp www/model/tokenizer.json www/model-ar/tokenizer.json
# The metre checker's data (scripts/prosody.sh) is versioned on its own: it can change
# without the model.
[ -f www/model/prosody.json ] || { echo "missing www/model/prosody.json (scripts/prosody.sh)" >&2; exit 1; }
for dir in www/model www/model-ar; do
  version=$(cat "$dir/poem.safetensors" "$dir/tokenizer.json" | sha256sum | cut -c1-16)
  prosody=
  if [ -f "$dir/prosody.json" ]; then
    prosody=$(printf ',"prosody":"prosody.json","prosody_version":"%s"' "$(sha256sum "$dir/prosody.json" | cut -c1-16)")
  fi
  printf '{"version":"%s","model":"poem.safetensors","tokenizer":"tokenizer.json","model_bytes":%d%s}\n' \
    "$version" "$(stat -c %s "$dir/poem.safetensors")" "$prosody" > "$dir/manifest.json"
done
echo "built www/pkg ($(stat -c %s www/pkg/unmask_web_bg.wasm) bytes of wasm), models $(cat www/model/manifest.json www/model-ar/manifest.json | grep -o '"version":"[^"]*"' | tr '\n' ' ')"
