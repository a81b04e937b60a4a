// Attention for short sequences: one workgroup per (query, head) keeps the whole
// score row in workgroup memory (T ≤ 256). Bidirectional unless dims.causal.
// Reads q, k and v from one (T, 3D) buffer, as the fused Q/K/V product writes them.

// Bindings: generated from `gpu::kernels::ATTENTION` (names, types, order).

var<workgroup> scores: array<f32, 256>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if (loop_done(lid.x)) {
        return;
    }
    let i = wid.x;
    let h = wid.y;
    let hd = dims.head_dim;
    let stride = 3u * dims.d;
    let qo = i * stride + h * hd;
    var n_keys = dims.t;
    if (dims.causal != 0u) {
        n_keys = i + 1u;
    }
    let scale = inverseSqrt(f32(hd));
    var m = -3.4e38;
    for (var j = lid.x; j < n_keys; j += WG) {
        let ko = j * stride + dims.d + h * hd;
        var s = 0.0;
        for (var e = 0u; e < hd; e++) {
            s += qkv[qo + e] * qkv[ko + e];
        }
        s *= scale;
        scores[j] = s;
        m = max(m, s);
    }
    let mx = wg_max(lid.x, m);
    var sum = 0.0;
    for (var j = lid.x; j < n_keys; j += WG) {
        let e = exp(scores[j] - mx);
        scores[j] = e;
        sum += e;
    }
    let inv = 1.0 / wg_sum(lid.x, sum);
    let vo = 2u * dims.d + h * hd;
    for (var e = lid.x; e < hd; e += WG) {
        var acc = 0.0;
        for (var j = 0u; j < n_keys; j++) {
            acc += scores[j] * qkv[j * stride + vo + e];
        }
        out[i * dims.d + h * hd + e] = acc * inv;
    }
}
