#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine (as root):
# Mesa's lavapipe (a Vulkan GPU on the CPU, for the GPU tests), Chromium (browser
# tests), the Rust wasm target and the matching wasm-bindgen CLI. Safe to run again: it skips what is already there.
set -euo pipefail

need_apt=()
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers libvulkan1)
if [ "${UNMASK_BROWSER_TESTS:-1}" = 1 ]; then
  dpkg -s chromium >/dev/null 2>&1 || need_apt+=(chromium)
  # A CJK font, so the test screenshots show the poems.
  dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || need_apt+=(fonts-wqy-zenhei)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
for c in rustfmt clippy; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done

# The wasm-bindgen CLI must match the wasm-bindgen crate exactly (crates/web/Cargo.toml).
WBG=0.2.130
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WBG"; then
  cargo install wasm-bindgen-cli --version "$WBG"
fi
