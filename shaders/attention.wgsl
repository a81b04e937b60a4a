// Attention, one invocation per (query, head): a two-pass softmax over the keys in
// registers — the largest score, then the exp-weighted sum of the values — with no
// workgroup memory and no barriers, so short sequences pay for their work only.
// Reads q, k and v from one (T, 3D) buffer, as the fused Q/K/V product writes them
// (as pairs: the head width is even). Bidirectional unless dims.causal.

// Bindings: generated from `gpu::ops::attention::DEF` (names, types, order).

const MAX_HALF: u32 = 128u; // head width ≤ 256 (ModelConfig::validate)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let h = gid.y;
    if (state.done != 0u || i >= dims.t) {
        return;
    }
    let half = dims.head_dim / 2u;
    let stride = 3u * dims.d / 2u; // pairs per row of qkv
    let head = h * half;
    var q: array<vec2<f32>, MAX_HALF>;
    for (var e = 0u; e < half; e++) {
        q[e] = qkv[i * stride + head + e];
    }
    var n_keys = dims.t;
    if (dims.causal != 0u) {
        n_keys = i + 1u;
    }
    let scale = inverseSqrt(f32(dims.head_dim));
    let ko = dims.d / 2u + head;
    let vo = dims.d + head;
    var m = -3.4e38;
    for (var j = 0u; j < n_keys; j++) {
        var s = 0.0;
        for (var e = 0u; e < half; e++) {
            s += dot(q[e], qkv[j * stride + ko + e]);
        }
        m = max(m, s * scale);
    }
    var acc: array<vec2<f32>, MAX_HALF>;
    var sum = 0.0;
    for (var j = 0u; j < n_keys; j++) {
        var s = 0.0;
        for (var e = 0u; e < half; e++) {
            s += dot(q[e], qkv[j * stride + ko + e]);
        }
        let p = exp(s * scale - m);
        sum += p;
        for (var e = 0u; e < half; e++) {
            acc[e] += p * qkv[j * stride + vo + e];
        }
    }
    let inv = 1.0 / sum;
    let o = (i * dims.d) / 2u + head;
    for (var e = 0u; e < half; e++) {
        out[o + e] = acc[e] * inv;
    }
}
