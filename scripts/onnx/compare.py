#!/usr/bin/env python3
"""Unmask's CPU paths against native ONNX Runtime on the same weights, in one run,
interleaved: each round times every ONNX graph given (in this process, one
thread) and then `unmask bench` (a subprocess: the fast CPU path and the CPU
reference, one thread), so a busy machine slows every contestant alike. Reports
the median over rounds of each round's median, per forward pass with every
position's logits, for the couplet (T=13) and the 七律 (T=64) of the reference dumps.

Usage:
    target/onnx-venv/bin/python scripts/onnx/compare.py --ref /tmp/onnxref \
        --onnx q8=target/onnx/poem-q8.onnx --onnx f32=target/onnx/poem-f32.onnx \
        [--rounds 5 --reps 10 --json-out docs/charts/data/onnx-native.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import load_cases, session  # noqa: E402


def time_ort(sess, tokens, reps):
    feed = {"tokens": np.array([tokens], dtype=np.int64)}
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        sess.run(["logits"], feed)
        out.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(out))


def time_unmask(binary, model, reps):
    """{(positions, backend): forward ms} from one `unmask bench` run."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.json")
        subprocess.run([binary, "bench", "--no-gpu", "--steps", "1", "--reps", str(reps), "--model", model,
                        "--json-out", path], check=True, stdout=subprocess.DEVNULL)
        with open(path) as fh:
            rep = json.load(fh)
    return rep["cpu_kernel"], {(r["positions"], r["backend"]): r["forward_ms"] for r in rep["results"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="folder of reference dumps (unmask bench --dump)")
    ap.add_argument("--onnx", action="append", required=True, metavar="NAME=FILE", help="an ONNX graph to time")
    ap.add_argument("--unmask", default="target/release/unmask")
    ap.add_argument("--model", default="www/model/poem.safetensors")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10, help="timed forwards per contestant and case in a round")
    ap.add_argument("--json-out", metavar="FILE")
    args = ap.parse_args()

    cases = [(name, d["tokens"]) for name, d in load_cases(args.ref)]
    graphs = [(spec.split("=", 1)[0], session(spec.split("=", 1)[1], threads=1)) for spec in args.onnx]
    for _, sess in graphs:  # warm-up
        for _, tokens in cases:
            for _ in range(3):
                sess.run(["logits"], {"tokens": np.array([tokens], dtype=np.int64)})
    rounds = {}
    kernel = None
    for r in range(args.rounds):
        for gname, sess in graphs:
            for cname, tokens in cases:
                rounds.setdefault((len(tokens), f"onnxruntime {gname}"), []).append(time_ort(sess, tokens, args.reps))
        kernel, got = time_unmask(args.unmask, args.model, args.reps)
        for (positions, backend), ms in got.items():
            label = {"cpu": f"unmask fast CPU ({kernel})", "cpu-ref": "unmask CPU reference"}[backend]
            rounds.setdefault((positions, label), []).append(ms)
        print(f"round {r + 1} of {args.rounds} done", file=sys.stderr)

    contestants = sorted({k[1] for k in rounds})
    lengths = sorted({k[0] for k in rounds})
    fast = f"unmask fast CPU ({kernel})"
    print(f"| per forward, ms (1 thread) | " + " | ".join(f"T={t}" for t in lengths) + " |")
    print("|---|" + "---|" * len(lengths))
    results = []
    for c in contestants:
        cells = []
        for t in lengths:
            ms = float(np.median(rounds[(t, c)]))
            ratio = ms / float(np.median(rounds[(t, fast)]))
            cells.append(f"{ms:.2f} ({ratio:.2f}×)")
            results.append({"contestant": c, "positions": t, "median_ms": ms, "rounds_ms": rounds[(t, c)]})
        print(f"| {c} | " + " | ".join(cells) + " |")
    print("(in brackets: time relative to Unmask's fast CPU path)")
    summary = {"bench": "unmask vs onnxruntime, native CPU, interleaved", "ort_version": ort.__version__,
               "rounds": args.rounds, "reps": args.reps, "results": results}
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(summary, fh, indent=1)
            fh.write("\n")


if __name__ == "__main__":
    main()
