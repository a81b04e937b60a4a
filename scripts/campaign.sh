#!/usr/bin/env bash
# The training campaign: one training segment on one core, in the background of a work
# session. Each segment starts from the newest one before it (runs/v2/seg-N), or,
# on a machine without runs/, from the checkpoint committed at the end of the last
# session (checkpoints/campaign.safetensors) or the shipped model (www/model/poem.safetensors),
# and fits its warm-up + cosine to MINUTES of wall clock, checkpointing every 100
# steps. What a segment trains on, and why, is in docs/campaign.md.
# Usage: scripts/campaign.sh [minutes]   (default 95; finishing an unfinished segment,
# minutes refits the rest of its schedule to them; env: LR, EXTRA_TRAIN_ARGS, and
# FROM=runs/v2/seg-K (or a model file) to branch a new segment from an earlier one
# than the newest, MIX to replace the data mix flags below)
# Afterwards: scripts/finish_training.sh runs/v2/seg-N /tmp/candidate, then evaluate.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:-95}"
# (An unfinished segment resumes at its own peak unless LR says otherwise.)
LR_ENV="${LR:-}"
LR="${LR:-5e-4}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/train}"
BIN="$CARGO_TARGET_DIR/release/unmask-train"
bash scripts/data.sh

mkdir -p runs/v2
# Segment folders only (not their .log files), highest number first.
last=$(find runs/v2 -maxdepth 1 -type d -name 'seg-*' | sed 's/.*seg-//' | grep -E '^[0-9]+$' | sort -n | tail -1 || true)
# A newest segment ended before its schedule (the session stopped) is finished first:
# resumed with its optimiser and cosine, without refitting to MINUTES.
unfinished() {
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if m["step"] < m["total_steps"] else 1)' "$1"
}
RESUME=()
# (FROM branches a new segment even then.)
if [ -z "${FROM:-}" ] && [ -n "$last" ] && [ -f "runs/v2/seg-$last/ckpt.json" ] && unfinished "runs/v2/seg-$last/ckpt.json"; then
  from="runs/v2/seg-$last"
  next=$last
  # A minutes argument refits the rest of its cosine to that many minutes from now
  # (a session too short for the rest of the schedule); without one, no refit.
  if [ -n "${1:-}" ]; then RESUME=(--resume); else RESUME=(--resume --extra-steps 0); fi
  # Its schedule's peak: the cosine is recomputed from --lr, so another peak would
  # jump the learning rate mid-segment.
  LR="${LR_ENV:-$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["args"]["lr"])' "runs/v2/seg-$last/ckpt.json")}"
  # The data mix the segment started with, unless MIX says otherwise.
  MIX="${MIX:-$(python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["args"]
flags = ["--anthology-boost %s --couplet-share %s --poem-share %s" % (a["anthology_boost"], a["couplet_share"], a["poem_share"])]
for k in ("couplet_boost", "canon_boost", "couplet_canon_boost"):
    if a.get(k) is not None:
        flags.append("--%s %s" % (k.replace("_", "-"), a[k]))
if a.get("canon_sources"):
    flags.append("--canon-sources " + ",".join(a["canon_sources"]))
for k in ("canon_file", "famous_boost", "couplet_famous_boost"):
    if a.get(k) is not None:
        flags.append("--%s %s" % (k.replace("_", "-"), a[k]))
print(" ".join(flags))' "runs/v2/seg-$last/ckpt.json")}"
elif [ -n "$last" ] && [ -f "runs/v2/seg-$last/ckpt.safetensors" ]; then
  from="${FROM:-runs/v2/seg-$last}"
  next=$((last + 1))
else
  # A machine without runs/: the newest good checkpoint committed at the end of a
  # session (scripts/keep_checkpoint.sh), else the shipped model.
  from=www/model/poem.safetensors
  if [ -f checkpoints/campaign.safetensors ]; then from=checkpoints/campaign.safetensors; fi
  from="${FROM:-$from}"
  # Numbered after the lineage's last campaign segment, so that names stay unique.
  next=$(python3 -c '
import json, re
runs = json.load(open("docs/charts/lineage.json"))["runs"]
nums = [int(m.group(1)) for r in runs for m in [re.fullmatch(r"campaign segment (\d+)", r["name"])] if m]
print(max(nums, default=0) + 1)')
fi
RUN="runs/v2/seg-$next"
if [ ${#RESUME[@]} -eq 0 ] && [ -e "$RUN" ]; then
  echo "$RUN exists already (a segment without a checkpoint?): move it away first" >&2
  exit 1
fi
if [ ${#RESUME[@]} -gt 0 ]; then
  echo "segment $next: finishing its schedule from its checkpoint${1:+ (refit to $1 min)}"
  INIT=()
  LOGMODE=-a
else
  echo "segment $next from $from, $MINUTES min → $RUN"
  INIT=(--init-from "$from")
  LOGMODE=
fi
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_TOP_PAD_=536870912
# One core: the other one is the session's.
export RAYON_NUM_THREADS=1
# 64-position windows (whole 律诗 with punctuation); per step either a couplet batch
# (--couplet-share: one of two lines masked, previous and next equally) or a 64-window batch whose
# samples are whole poems with every character masked at rate t (--poem-share), SFT-style
# line responses (50% of the rest: one line, or a run of lines), or plain LLaDA.
# Segments 1-3 used 40% couplets, 20% poems and anthologies 6x; segment 4 leaned to
# whole poems (35%) with anthologies 3x, and its 七律 became copies of anthology poems
# (distinct-2 0.36); segments 5-6 did not weight the anthologies up: the lowest
# held-out loss, but couplet recall fell a little each segment (98.0/96.6 and
# 97.5/95.9 against the shipped 99.2/96.8). Since regulated verse keeps whole poems
# in shape at decoding time, segment 7 (from segment 5) goes back to recall: 40%
# couplets, 25% whole poems, anthologies 3x (docs/campaign.md).
# Segments 7-8 recited more with each step; segment 9 branches from the shipped model
# with MIX="--anthology-boost 1 --couplet-share 0.5 --poem-share 0.2": recall from the
# couplet batches, without weighting the anthologies' whole poems up. It kept the
# held-out loss but lost recall (96.8/94.8): the famous couplets need the weight.
# Segment 10 branches from segment 8 (the best reversal) with the weight where it
# helps only: MIX="--anthology-boost 1 --couplet-boost 3 --couplet-share 0.4
# --poem-share 0.25" — anthologies 3x in couplet batches, 1x in whole-poem ones.
# It kept recall with the best held-out loss, but its free poems loop more; segment
# 11 continues it with more whole poems (none of them weighted up): MIX="--anthology-boost 1
# --couplet-boost 3 --couplet-share 0.35 --poem-share 0.35" FROM=runs/v2/seg-10.
# The broader famous-couplet set (eval/famous-*.jsonl: the canon and quoted couplets)
# showed that the lineage knows none of the canon (0% both ways), so segment 12
# weights it up in every batch: MIX="--anthology-boost 1 --couplet-boost 3
# --canon-boost 6 --couplet-share 0.35 --poem-share 0.3" (canon ~34% of the whole-poem
# and line samples, ~20% of the couplets).
# Segment 13 branches from the shipped model with the canon weighted up in couplet
# batches only, and couplet windows that end a sentence (the canon's couplets sit at
# any line parity in its prose): FROM=www/model/poem.safetensors MIX="--anthology-boost 1
# --couplet-boost 3 --couplet-canon-boost 20 --couplet-share 0.5 --poem-share 0.2"
# (couplet batches: ~45% canon, ~41% anthologies).
# Segment 14 continues segment 13 (the shipped model) with the canon weighted up
# further in couplet batches, and more of them, since segment 13 learnt the canon's
# style but none of its lines: FROM=www/model/poem.safetensors MIX="--anthology-boost 1
# --couplet-boost 3 --couplet-canon-boost 40 --couplet-share 0.55 --poem-share 0.2".
# It lost 27 previous lines of the first set for 1.6 points of the canon's characters;
# segment 15 goes back to segment 13's mix, from segment 13 (926 steps): 3 / 8 lines
# fewer of the first set, 0.9 / 0.5 points more of the canon's characters. Perhaps each
# segment's warm-up to 5e-4 shakes what the one before memorised: segment 16 continues
# segment 13 with segment 13's mix at a lower peak: LR=2e-4 FROM=www/model/poem.safetensors.
# It kept the first set (the lineage's best) and segment 17 continues it the same way.
# In 600 steps of that mix an anthology couplet is drawn ~3.5 times, a canon couplet
# ~0.4 times (sentence ends in texts.jsonl): segment 18 gives the canon's share of the
# couplet batches to 诗经 and the 蒙学 primers alone (~1.6 draws each in 600 steps),
# the anthologies' share unchanged: LR=2e-4 MIX="--anthology-boost 1 --couplet-boost 3 --couplet-canon-boost
# 50 --canon-sources shijing,mengxue-verse --couplet-share 0.5 --poem-share 0.2".
# Segment 29 (issue: Model v3) draws the famous texts of the canon file
# (`unmask-train canon`: collections, search rank, quotation) by length × fame score:
# MIX="--anthology-boost 1 --couplet-boost 5 --couplet-canon-boost 100 --canon-sources
# shijing,mengxue-verse --canon-file data/corpus/canon.jsonl --famous-boost 15
# --couplet-famous-boost 150 --couplet-share 0.5 --poem-share 0.2".
if [ ! -f data/corpus/canon.jsonl ]; then
  "$BIN" canon --dist data/package/dist --data data/corpus --couplets eval/couplets.jsonl --out eval
fi
"$BIN" train --data data/corpus --run "$RUN" "${INIT[@]}" "${RESUME[@]}" --shifted \
  --minutes "$MINUTES" --per-sequence --lr "$LR" --seq 64 --batch 64 \
  ${MIX:---anthology-boost 3 --couplet-share 0.4 --poem-share 0.25} --line-mask 0.5 \
  --eval-every 250 --ckpt-every 100 ${EXTRA_TRAIN_ARGS:-} 2>&1 | tee $LOGMODE "$RUN.log" > /dev/null
