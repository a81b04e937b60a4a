#!/usr/bin/env bash
# Keeps a campaign segment's newest checkpoint in the repository, so that a fresh
# machine (runs/ gone) resumes from it: exports RUN's checkpoint (f32/q8/q4 →
# RUN/export/) and copies the q8 file to checkpoints/campaign.safetensors, with a note
# of where it came from (checkpoints/campaign.json). Run it at the end of a session,
# for a segment measured better than the shipped model on the shipping rule's
# measures (docs/campaign.md), shipped or not; each session replaces the file.
# Usage: scripts/keep_checkpoint.sh runs/v2/seg-N "what it measured"
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:?usage: scripts/keep_checkpoint.sh runs/v2/seg-N \"measures\"}"
NOTE="${2:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/train}"
BIN="$CARGO_TARGET_DIR/release/unmask-train"
[ -f "$RUN/ckpt.json" ] || { echo "$RUN has no checkpoint" >&2; exit 1; }
mkdir -p checkpoints
# Export into a scratch www folder: the shipped model stays as it is.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$BIN" export --run "$RUN" --tokenizer data/corpus/tokenizer.json --www "$scratch" >/dev/null
cp "$RUN/export/poem-q8.safetensors" checkpoints/campaign.safetensors
python3 - "$RUN" "$NOTE" <<'PY'
import json, sys
run, note = sys.argv[1], sys.argv[2]
m = json.load(open(run + "/ckpt.json"))
json.dump({"segment": run.rsplit("/", 1)[-1], "step": m["step"], "total_steps": m["total_steps"],
           "args": m["args"], "measured": note}, open("checkpoints/campaign.json", "w"),
          ensure_ascii=False, indent=1)
PY
ls -la checkpoints/
