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


def label(backend, kernel):
    """The table's name for an `unmask bench` backend (cpu, cpu-<kernel>, cpu-ref)."""
    if backend == "cpu":
        return f"unmask fast CPU ({kernel})"
    if backend == "cpu-ref":
        return "unmask CPU reference"
    return f"unmask fast CPU ({backend.removeprefix('cpu-')})"


def quiet(limit):
    """The 1-minute load average, and whether it is under `limit` (another job on the
    machine slows the contestants unequally: the ratios are not to be trusted)."""
    load = os.getloadavg()[0]
    return load, load < limit


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="folder of reference dumps (unmask bench --dump)")
    ap.add_argument("--onnx", action="append", required=True, metavar="NAME=FILE", help="an ONNX graph to time")
    ap.add_argument("--unmask", default="target/release/unmask")
    ap.add_argument("--model", default="www/model/poem.safetensors")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10, help="timed forwards per contestant and case in a round")
    ap.add_argument("--json-out", metavar="FILE")
    ap.add_argument("--max-load", type=float, default=0.7,
                    help="refuse to start when the 1-minute load average is at or above this")
    ap.add_argument("--busy", action="store_true",
                    help="run on a busy machine anyway; the results are marked busy")
    args = ap.parse_args()
    load, ok = quiet(args.max_load)
    if not ok and not args.busy:
        sys.exit(f"load average {load:.2f} ≥ {args.max_load}: another job is running (a trainer?). "
                 "Stop it, or pass --busy to time anyway with the results marked busy.")
    loads = [load]

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
            rounds.setdefault((positions, label(backend, kernel)), []).append(ms)
        loads.append(os.getloadavg()[0])
        print(f"round {r + 1} of {args.rounds} done (load {loads[-1]:.2f})", file=sys.stderr)
    busy = max(loads) >= args.max_load + 1.0  # one contestant runs at a time: ~1 is its own

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
    # ORT's fastest graph at each length: what Unmask is held to.
    fastest = {}
    for t in lengths:
        ort_ms = {c: float(np.median(rounds[(t, c)])) for c in contestants if c.startswith("onnxruntime")}
        best = min(ort_ms, key=ort_ms.get)
        fastest[str(t)] = {"graph": best, "median_ms": ort_ms[best],
                           "unmask_ratio": float(np.median(rounds[(t, fast)])) / ort_ms[best]}
        print(f"T={t}: ORT's fastest graph is {best} ({ort_ms[best]:.2f} ms); "
              f"Unmask takes {fastest[str(t)]['unmask_ratio']:.2f}× its time")
    print(f"load average: {min(loads):.2f}–{max(loads):.2f}" + (" — BUSY: not a quiet machine" if busy else ""))
    summary = {"bench": "unmask vs onnxruntime, native CPU, interleaved", "ort_version": ort.__version__,
               "rounds": args.rounds, "reps": args.reps, "load_average": loads, "busy": busy or not ok,
               "fastest_ort": fastest, "results": results}
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(summary, fh, indent=1)
            fh.write("\n")


if __name__ == "__main__":
    main()
