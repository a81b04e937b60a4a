#!/usr/bin/env bash
# The whole ONNX Runtime comparison in one command: installs the pinned Python and
# npm packages (target/onnx-venv, scripts/onnx/web/node_modules), dumps the CPU
# reference's logits, exports the shipped model twice (int8 MatMulNBits; dense f32),
# checks both against the reference, then times Unmask against ONNX Runtime natively
# (compare.py) and in headless Chromium (web/compare.mjs), each interleaved in one run.
# Results: docs/charts/data/onnx-native.json and onnx-web.json (docs/benchmarks.md).
# Needs the release CLI (cargo build --release -p unmask-cli), the page built
# (scripts/build-web.sh) and the browser tests' packages (tests/browser: npm ci).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/onnx/setup.sh
(cd scripts/onnx/web && npm ci --no-audit --no-fund --silent)
PY=target/onnx-venv/bin/python
REF=target/onnx/reference
target/release/unmask bench --no-gpu --reps 1 --no-reference --dump "$REF" --model www/model/poem.safetensors > /dev/null
$PY scripts/onnx/export.py --model www/model/poem.safetensors --out target/onnx/poem-q8.onnx --check "$REF"
$PY scripts/onnx/export.py --model www/model/poem.safetensors --out target/onnx/poem-q8-acc4.onnx --accuracy-level 4 --check "$REF" \
  || echo "(the accuracy-level-4 graph quantizes activations to 8 bits: its logits are further from the reference)"
$PY scripts/onnx/export.py --model www/model/poem.safetensors --out target/onnx/poem-f32.onnx --dense --check "$REF"
# Refuses to start on a busy machine (a trainer running); BUSY=1 times anyway, marked.
$PY scripts/onnx/compare.py --ref "$REF" --onnx q8=target/onnx/poem-q8.onnx --onnx q8-acc4=target/onnx/poem-q8-acc4.onnx \
  --onnx f32=target/onnx/poem-f32.onnx ${BUSY:+--busy} \
  --rounds "${ROUNDS:-7}" --reps 10 --json-out docs/charts/data/onnx-native.json
node scripts/onnx/web/compare.mjs --reps "${REPS:-10}" --json-out docs/charts/data/onnx-web.json
