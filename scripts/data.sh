#!/usr/bin/env bash
# Fetches chinese-poetry@2.0.1 (pinned, sha512-verified) and builds data/corpus/
# (texts.jsonl, tokenizer.json, stats.txt) with the eval couplets. Used by train.sh
# and campaign.sh; safe to run again (skips what is there).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/train}"
BIN="$CARGO_TARGET_DIR/release/unmask-train"

PKG=chinese-poetry@2.0.1
SHA512=KtYARvV7CWNtax0na9+Jn6PlhGgSoid7PWyDzXI4KsCEm2odZcqEQyval5koaLygZnM/EQ3lfJ//25K8p3uHNg==
TARBALL=data/chinese-poetry-2.0.1.tgz

mkdir -p data
if [ ! -f "$TARBALL" ]; then
  (cd data && npm pack "$PKG" --silent >/dev/null)
fi
got=$(openssl dgst -sha512 -binary "$TARBALL" | base64 -w0)
if [ "$got" != "$SHA512" ]; then
  echo "integrity check failed for $TARBALL: sha512-$got" >&2
  exit 1
fi
echo "verified $TARBALL (sha512-$SHA512)"
if [ ! -d data/package/dist ]; then
  tar -xzf "$TARBALL" -C data
fi

cargo build --release -p unmask-train
if [ ! -f data/corpus/texts.jsonl ]; then
  "$BIN" corpus --dist data/package/dist --mix crates/train/mix.toml --out data/corpus --couplets eval/couplets.jsonl --poems eval/poems.jsonl
fi
