#!/usr/bin/env python3
"""Export an Unmask model file (www/model/poem.safetensors) to an ONNX graph.

The graph computes the same forward pass as `CpuModel::forward` in src/cpu.rs:

    input  tokens int64 [1, T]   (T <= max_seq_len)
    output logits float32 [1, T, V]

Every weight matrix keeps its int8 codes and f16 block scales: it becomes an ONNX
Runtime `com.microsoft.MatMulNBits` node (bits=8, block_size=32). The token embedding
table is dequantized to f32 and read with Gather. Only the Q8 storage form is
supported; a model with dense or Q4 matrices is refused with a message.

Usage:
    target/onnx-venv/bin/python scripts/onnx/export.py \
        --model www/model/poem.safetensors --out target/onnx/poem-q8.onnx \
        [--check /tmp/onnxref]
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors import safe_open

BLOCK = 32  # weights per quantization block (src/format.rs BLOCK)
MS = "com.microsoft"


class Model:
    """The tensors and config of one model file."""

    def __init__(self, path):
        self.f = safe_open(path, framework="np")
        meta = self.f.metadata() or {}
        if meta.get("format") != "unmask":
            sys.exit(f"{path}: no unmask header metadata (is it an unmask model?)")
        if meta.get("format_version") != "1":
            sys.exit(f"{path}: unsupported format_version {meta.get('format_version')!r}")
        self.cfg = json.loads(meta["config"])
        self.names = set(self.f.keys())

    def vector(self, name):
        return self.f.get_tensor(name).astype(np.float32)

    def q8(self, name):
        """(codes int8 [rows, cols], scales f16 [rows, cols/32]) of a Q8 matrix."""
        if name + ".q8" not in self.names:
            form = "Q4" if name + ".q4" in self.names else "dense" if name in self.names else "missing"
            sys.exit(f"matrix `{name}` is stored as {form}; this exporter handles only Q8")
        codes = self.f.get_tensor(name + ".q8")
        scales = self.f.get_tensor(name + ".scale")
        rows, cols = codes.shape
        assert codes.dtype == np.int8 and scales.dtype == np.float16, name
        assert cols % BLOCK == 0 and scales.shape == (rows, cols // BLOCK), name
        return codes, scales


class Graph:
    """A tiny helper that collects nodes and initializers with unique names."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, hint, array):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, hint=None, outputs=1, domain=None, **attrs):
        outs = [self.name(hint or op_type) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, domain=domain, **attrs))
        return outs[0] if outputs == 1 else outs


def matmul_q8(g, x, model, names, hint, accuracy_level):
    """y = x · Wᵀ for one or more Q8 matrices stacked by rows (same cols) into a
    single MatMulNBits node. MatMulNBits wants B as uint8 [N, K/32, 32] holding
    code + 128 (its default zero point for 8 bits is 2^(8-1) = 128, so it computes
    (stored - 128) * scale = code * scale), and scales [N, K/32] in A's dtype (f32;
    every f16 scale is exactly representable, so the values are unchanged)."""
    parts = [model.q8(n) for n in names]
    codes = np.concatenate([c for c, _ in parts])
    scales = np.concatenate([s for _, s in parts]).astype(np.float32)
    n, k = codes.shape
    if accuracy_level < 0:
        # --dense: the same weights dequantized to f32 (as the Rust CPU reference
        # holds them), multiplied with a plain MatMul by Wᵀ. For comparison only.
        w = (codes.astype(np.float32).reshape(n, -1, BLOCK) * scales[:, :, None]).reshape(n, k)
        return g.op("MatMul", [x, g.const(hint + "_wT", np.ascontiguousarray(w.T))], hint=hint)
    stored = (codes.astype(np.int16) + 128).astype(np.uint8).reshape(n, k // BLOCK, BLOCK)
    return g.op("MatMulNBits", [x, g.const(hint + "_q8", stored), g.const(hint + "_scale", scales)],
                hint=hint, domain=MS, K=k, N=n, bits=8, block_size=BLOCK, accuracy_level=accuracy_level)


def build(model, accuracy_level):
    c = model.cfg
    d, f, nh, t_max = c["d_model"], c["d_ff"], c["n_heads"], c["max_seq_len"]
    hd, eps, vocab = d // nh, float(c["norm_eps"]), c["vocab_size"]
    causal = bool(c["causal"])
    g = Graph()

    def rmsnorm(x, weight_name):
        # y = x / sqrt(mean(x^2) + eps) * weight (ORT's SimplifiedLayerNormalization).
        return g.op("SimplifiedLayerNormalization", [x, g.const("norm_w", model.vector(weight_name))],
                    hint="rmsnorm", axis=-1, epsilon=eps)

    # Embedding: a shifted model (causal or `shifted`) reads [MASK] then tokens[..T-1].
    codes, scales = model.q8("tok_embeddings")
    table = (codes.astype(np.float32).reshape(vocab, -1, BLOCK)
             * scales.astype(np.float32)[:, :, None]).reshape(vocab, d)
    ids = "tokens"
    if c["causal"] or c.get("shifted", False):
        head = g.const("mask_id", np.array([[c["mask_id"]]], dtype=np.int64))
        rest = g.op("Slice", ["tokens", g.const("zero", np.array([0], np.int64)),
                              g.const("minus1", np.array([-1], np.int64)), g.const("axis1", np.array([1], np.int64))])
        ids = g.op("Concat", [head, rest], axis=1)
    x = g.op("Gather", [g.const("embeddings", table), ids], hint="embed", axis=0)  # [1, T, D]

    # RoPE tables, rotate-half: pair (i, i + hd/2) turns by pos * theta^(-2i/hd).
    # Computed in f32 like the Rust reference.
    i = np.arange(hd // 2, dtype=np.float32)
    freq = np.power(np.float32(c["rope_theta"]), np.float32(-2.0) * i / np.float32(hd)).astype(np.float32)
    angle = np.arange(t_max, dtype=np.float32)[:, None] * freq[None, :]
    cos, sin = g.const("rope_cos", np.cos(angle)), g.const("rope_sin", np.sin(angle))
    pos0 = g.const("pos0", np.array([0], np.int64))  # positions start at 0

    for li in range(c["n_layers"]):
        p = f"layers.{li}"
        h = rmsnorm(x, f"{p}.attn_norm")
        qkv = matmul_q8(g, h, model, [f"{p}.attn.wq", f"{p}.attn.wk", f"{p}.attn.wv"], f"l{li}_qkv", accuracy_level)
        q, k, v = g.op("Split", [qkv, g.const("split", np.array([d, d, d], np.int64))], outputs=3, axis=-1)
        q, k = (g.op("RotaryEmbedding", [y, pos0, cos, sin], hint="rope", domain=MS, num_heads=nh, interleaved=0)
                for y in (q, k))
        # Softmax(q kᵀ / sqrt(hd)) v per head; unidirectional (causal mask) only for a causal model.
        a = g.op("MultiHeadAttention", [q, k, v], hint="attn", domain=MS, num_heads=nh,
                 scale=1.0 / float(np.sqrt(hd)), unidirectional=int(causal))
        x = g.op("Add", [x, matmul_q8(g, a, model, [f"{p}.attn.wo"], f"l{li}_wo", accuracy_level)])
        h = rmsnorm(x, f"{p}.mlp_norm")
        gu = matmul_q8(g, h, model, [f"{p}.mlp.w_gate", f"{p}.mlp.w_up"], f"l{li}_gate_up", accuracy_level)
        gate, up = g.op("Split", [gu, g.const("split", np.array([f, f], np.int64))], outputs=2, axis=-1)
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up], hint="swiglu")  # silu(g) * u
        x = g.op("Add", [x, matmul_q8(g, act, model, [f"{p}.mlp.w_down"], f"l{li}_down", accuracy_level)])

    h = rmsnorm(x, "norm")
    out = matmul_q8(g, h, model, ["output"], "output", accuracy_level)
    g.nodes.append(helper.make_node("Identity", [out], ["logits"]))

    graph = helper.make_graph(
        g.nodes, "unmask",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, "T"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "T", vocab])],
        g.inits)
    m = helper.make_model(graph, producer_name="unmask scripts/onnx/export.py",
                          opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    m.metadata_props.append(onnx.StringStringEntryProto(key="config", value=json.dumps(c)))
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="www/model/poem.safetensors")
    ap.add_argument("--out", default="target/onnx/poem-q8.onnx")
    ap.add_argument("--accuracy-level", type=int, default=0,
                    help="MatMulNBits accuracy_level: 0 = f32 compute (default, matches Rust); "
                         "4 = int8 activations (faster, approximate)")
    ap.add_argument("--dense", action="store_true",
                    help="for comparison: f32 dequantized weights with plain MatMul instead of MatMulNBits")
    ap.add_argument("--check", metavar="DIR", help="after export, compare against the logits dumped in DIR")
    args = ap.parse_args()

    m = build(Model(args.model), -1 if args.dense else args.accuracy_level)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    onnx.save(m, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB, {len(m.graph.node)} nodes)")
    if args.check:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import check
        sys.exit(check.run(args.out, args.check))


if __name__ == "__main__":
    main()
