#!/usr/bin/env python3
"""Time one forward pass of the exported ONNX model in native ONNX Runtime (CPU,
one thread, sequential execution, all graph optimizations on) on the token
sequences of the reference dumps (DIR/*.json, see check.py).

For each case: a few warm-up runs, then --reps timed runs; prints a table of the
median (and min / max) milliseconds per forward, and as its LAST line a JSON object
{"bench": "onnxruntime", ..., "cases": [{"case", "T", "median_ms", ...}]} for other
scripts to parse. --json-out FILE writes the same object to FILE.

Usage:
    target/onnx-venv/bin/python scripts/onnx/bench.py --onnx target/onnx/poem-q8.onnx \
        --ref /tmp/onnxref --reps 30 [--json-out target/onnx/bench.json]
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import load_cases, session  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", default="target/onnx/poem-q8.onnx")
    ap.add_argument("--ref", required=True, help="folder of reference dumps (*.json); only their tokens are used")
    ap.add_argument("--reps", type=int, default=30, help="timed runs per case (the median is reported)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed runs per case first")
    ap.add_argument("--json-out", metavar="FILE", help="also write the JSON summary here")
    args = ap.parse_args()

    sess = session(args.onnx, threads=1)
    cases = []
    for name, d in load_cases(args.ref):
        feed = {"tokens": np.array([d["tokens"]], dtype=np.int64)}
        for _ in range(args.warmup):
            sess.run(["logits"], feed)
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            sess.run(["logits"], feed)
            times.append((time.perf_counter() - t0) * 1e3)
        cases.append({"case": name, "T": len(d["tokens"]), "reps": args.reps,
                      "median_ms": float(np.median(times)), "min_ms": min(times), "max_ms": max(times)})

    print(f"{'case':10s} {'T':>4s} {'median ms':>10s} {'min ms':>8s} {'max ms':>8s}")
    for c in cases:
        print(f"{c['case']:10s} {c['T']:4d} {c['median_ms']:10.3f} {c['min_ms']:8.3f} {c['max_ms']:8.3f}")
    summary = {"bench": "onnxruntime", "ort_version": ort.__version__, "onnx": args.onnx, "threads": 1,
               "cpu": platform.processor() or platform.machine(), "cases": cases}
    if args.json_out:
        os.makedirs(os.path.dirname(args.json_out) or ".", exist_ok=True)
        with open(args.json_out, "w") as fh:
            json.dump(summary, fh, indent=1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
