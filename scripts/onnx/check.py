#!/usr/bin/env python3
"""Compare an exported ONNX model's logits with the Rust CPU reference's.

The reference logits come from
    target/release/unmask bench --no-gpu --reps 1 --no-reference --dump DIR \
        --model www/model/poem.safetensors
which writes DIR/*.json, each {"case", "tokens", "logits": [[V floats] x T]}.

Prints, per case, the largest absolute logit difference and how many rows pick the
same argmax; the last line is a JSON summary. Exits 1 if any difference is above
--tol or any argmax disagrees.

Usage:
    target/onnx-venv/bin/python scripts/onnx/check.py --onnx target/onnx/poem-q8.onnx --ref /tmp/onnxref
"""

import argparse
import glob
import json
import os
import sys

import numpy as np
import onnxruntime as ort


def load_cases(ref_dir):
    """The dumped cases in DIR, sorted by file name."""
    paths = sorted(glob.glob(os.path.join(ref_dir, "*.json")))
    if not paths:
        sys.exit(f"no *.json reference dumps in {ref_dir}")
    cases = []
    for p in paths:
        with open(p) as fh:
            d = json.load(fh)
        cases.append((os.path.basename(p)[:-5], d))
    return cases


def session(onnx_path, threads=1):
    """A single-threaded, sequential CPU session with all graph optimizations on."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])


def run(onnx_path, ref_dir, tol=1e-3):
    sess = session(onnx_path)
    results, ok = [], True
    for name, d in load_cases(ref_dir):
        tokens = np.array([d["tokens"]], dtype=np.int64)
        want = np.array(d["logits"], dtype=np.float32)
        got = sess.run(["logits"], {"tokens": tokens})[0][0]
        diff = float(np.max(np.abs(got - want)))
        same = int(np.sum(got.argmax(-1) == want.argmax(-1)))
        rows = len(want)
        good = diff <= tol and same == rows
        ok &= good
        print(f"{name:8s} T={rows:3d}  max|diff|={diff:.3e}  argmax agrees {same}/{rows}  "
              f"{'ok' if good else 'FAIL'}")
        results.append({"case": name, "T": rows, "max_abs_diff": diff, "argmax_agree": same, "rows": rows})
    print(json.dumps({"check": "ok" if ok else "fail", "tol": tol, "cases": results}))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", default="target/onnx/poem-q8.onnx")
    ap.add_argument("--ref", required=True, help="folder of reference dumps (*.json)")
    ap.add_argument("--tol", type=float, default=1e-3, help="largest allowed |logit difference|")
    args = ap.parse_args()
    sys.exit(run(args.onnx, args.ref, args.tol))


if __name__ == "__main__":
    main()
