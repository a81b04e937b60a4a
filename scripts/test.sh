#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs the Rust tests (GPU
# kernels on lavapipe included) and checks the library builds for wasm32.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# lavapipe prints nothing useful without a display; keep its runtime dir quiet.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/unmask-xdg}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

echo "== cargo test (workspace)"
cargo test --workspace

echo "== wasm32 build of the library"
cargo build -p unmask --target wasm32-unknown-unknown
