#!/usr/bin/env bash
# Memorisation curve (issue: Model v3): the shipped model trained on N new couplets of
# the canon only (couplet batches, one of the two lines masked, previous and next
# equally), checkpointed every 25 steps; each checkpoint's q8 export is asked for the
# same couplets both ways. Exposures = step × 240 / N (240 couplets a batch).
# The couplets: the first pinned 5- or 7-character sentence of canon texts in a hash
# order, none of whose lines is in any eval set (eval/*.jsonl), so no eval set is
# trained on. Needs data/corpus (scripts/data.sh), data/corpus/canon.jsonl
# (`unmask-train canon`) and target/release/unmask (cargo build --release -p unmask-cli).
# Usage: scripts/memorisation.sh [lr [steps [n]]]   (default 2e-4 200 1000); one core.
set -euo pipefail
cd "$(dirname "$0")/.."
LR="${1:-2e-4}"; STEPS="${2:-200}"; N="${3:-1000}"
OUT="runs/exp/memo-lr$LR"
BIN=target/train/release/unmask-train
mkdir -p "$OUT/data" "$OUT/ckpts"
python3 - "$N" "$OUT" <<'PY'
import collections, hashlib, json, re, sys, glob
n, out = int(sys.argv[1]), sys.argv[2]
texts = [json.loads(l) for l in open("data/corpus/texts.jsonl")]
vocab = {k for k in json.load(open("data/corpus/tokenizer.json"))["model"]["vocab"] if len(k) == 1}
excl = {p[k] for f in glob.glob("eval/*.jsonl") for l in open(f) for p in [json.loads(l)] if "first" in p for k in ("first", "second")}
lines = lambda t: re.findall(r"[^，。？！；：]+[，。？！；：]", t)
nxt, prv = collections.defaultdict(set), collections.defaultdict(set)
for t in texts:
    ls = [l[:-1] for l in lines(t["text"])]
    for i, l in enumerate(ls):
        nxt[l].add(ls[i + 1] if i + 1 < len(ls) else ""); prv[l].add(ls[i - 1] if i else "")
canon = sorted((json.loads(l) for l in open("data/corpus/canon.jsonl")), key=lambda c: hashlib.sha1(str(c["index"]).encode()).hexdigest())
pairs, seen = [], set()
for c in canon:
    ls = lines(texts[c["index"]]["text"])
    for j in range(1, len(ls)):
        a, b = ls[j - 1], ls[j]
        if not a.endswith("，") or b[-1] not in "。？！；":
            continue
        a, b = a[:-1], b[:-1]
        if len(a) != len(b) or len(a) not in (5, 7) or {a, b} & (excl | seen) or not set(a + b) <= vocab:
            continue
        if len(nxt[a]) != 1 or len(prv[b]) != 1:
            continue
        pairs.append({"first": a, "second": b, "source": texts[c["index"]]["source"]}); seen |= {a, b}
        break
    if len(pairs) >= n:
        break
with open(out + "/pairs.jsonl", "w") as f:
    f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
with open(out + "/data/texts.jsonl", "w") as f:
    for p in pairs:
        f.write(json.dumps({"source": "memo", "title": "", "author": "", "weight": 1.0, "heldout": False,
                            "anthology": False, "text": p["first"] + "，" + p["second"] + "。"}, ensure_ascii=False) + "\n")
    for t in [t for t in texts if t["heldout"]][:64]:  # the trainer's held-out probe needs some
        f.write(json.dumps(t, ensure_ascii=False) + "\n")
print(len(pairs), "couplets →", out + "/pairs.jsonl")
PY
cp data/corpus/tokenizer.json "$OUT/data/"
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_TOP_PAD_=536870912 RAYON_NUM_THREADS=1
RUN="$OUT/run"; rm -rf "$RUN"
"$BIN" train --data "$OUT/data" --run "$RUN" --init-from www/model/poem.safetensors --shifted --steps "$STEPS" \
  --per-sequence --lr "$LR" --seq 64 --batch 64 --couplet-share 1.0 --poem-share 0 --line-mask 0.5 \
  --eval-every 100000 --ckpt-every 25 > "$OUT/train.log" 2>&1 &
pid=$!
keep() {  # copies the run's checkpoint once per step
  local s; s=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['step'])" "$RUN/ckpt.json" 2>/dev/null) || return 0
  [ -d "$OUT/ckpts/step-$s" ] && return 0
  sleep 3; mkdir -p "$OUT/ckpts/step-$s"; cp "$RUN/ckpt.json" "$RUN/ckpt.safetensors" "$OUT/ckpts/step-$s/"
}
while kill -0 $pid 2>/dev/null; do keep; sleep 2; done
wait $pid; keep
: > "$OUT/curve.txt"
for d in $(ls -d "$OUT"/ckpts/step-* | sort -t- -k3 -n); do
  s=${d##*-}; w=$(mktemp -d)
  "$BIN" export --run "$d" --tokenizer data/corpus/tokenizer.json --www "$w" > /dev/null
  r=$(target/release/unmask eval --pairs "$OUT/pairs.jsonl" --backend cpu --model "$d/export/poem-q8.safetensors" 2>&1 \
    | grep -E "^(forward|reversal) +[0-9.]+%" | sed -E 's/ +/ /g; s/, [0-9.]+ forward passes.*//' | tr '\n' ';')
  python3 -c "import sys; print('step %s (%.0f exposures): %s' % (sys.argv[1], int(sys.argv[1]) * 240 / int(sys.argv[2]), sys.argv[3]))" "$s" "$N" "$r" | tee -a "$OUT/curve.txt"
  rm -rf "$w" "$d/export"
done
