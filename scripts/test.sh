#!/usr/bin/env bash
# The whole test suite: installs what it needs, runs the Rust tests (GPU kernels
# on lavapipe included), checks the library builds for wasm32, builds the page and
# drives it in headless Chromium (WebGPU on SwiftShader, and without WebGPU).
# Screenshots and browser metrics land in test-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# Vulkan loaders look for a runtime dir; give them a private one.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/unmask-xdg}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

echo "== format and lint (rustfmt.toml; clippy, warnings are errors)"
cargo fmt --all --check
# The kernels' op files are modules the build script declares, which cargo fmt does
# not follow: checked by name.
rustfmt --check --edition 2021 src/gpu/ops/*.rs
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p unmask-web --target wasm32-unknown-unknown -- -D warnings

echo "== cargo test (workspace)"
cargo test --workspace

echo "== wasm32 build of the engine library"
cargo build -p unmask --target wasm32-unknown-unknown

echo "== web page build"
bash scripts/build-web.sh

echo "== browser tests (headless Chromium)"
(cd tests/browser && npm ci --no-audit --no-fund && npm test)
