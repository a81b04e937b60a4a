#!/usr/bin/env bash
# Run after the background training (scripts/train.sh) has finished or been stopped:
# exports the latest checkpoint (f32/q8/q4 → RUN/export/, q8 + tokenizer.json → WWW)
# and prints the held-out loss. Safe to run twice.
# Usage: scripts/finish_training.sh [run-dir [www-dir]]   (default runs/diff www/model;
#        the autoregressive twin: scripts/finish_training.sh runs/ar www/model-ar)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:-runs/diff}"
WWW="${2:-www/model}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/train}"
BIN="$CARGO_TARGET_DIR/release/unmask-train"
if pgrep -f "unmask-train train --data data/corpus --run $RUN" >/dev/null; then
  echo "training into $RUN is still running; the export uses its last checkpoint" >&2
fi
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_TOP_PAD_=536870912
"$BIN" export --run "$RUN" --tokenizer data/corpus/tokenizer.json --www "$WWW"
"$BIN" heldout --run "$RUN" --data data/corpus | tee "$RUN/heldout_final.txt"
tail -n 3 "$RUN/log.csv"
