// Attention for short sequences: one workgroup per (query, head) keeps the whole
// score row in workgroup memory (T ≤ 256). Bidirectional unless dims.causal.

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> state: State;
@group(0) @binding(2) var<storage, read> q: array<f32>;            // (T, D)
@group(0) @binding(3) var<storage, read> k: array<f32>;            // (T, D)
@group(0) @binding(4) var<storage, read> v: array<f32>;            // (T, D)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;    // (T, D)

var<workgroup> scores: array<f32, 256>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if (loop_done(lid.x)) {
        return;
    }
    let i = wid.x;
    let h = wid.y;
    let hd = dims.head_dim;
    let qo = i * dims.d + h * hd;
    var n_keys = dims.t;
    if (dims.causal != 0u) {
        n_keys = i + 1u;
    }
    let scale = inverseSqrt(f32(hd));
    var m = -3.4e38;
    for (var j = lid.x; j < n_keys; j += WG) {
        let ko = j * dims.d + h * hd;
        var s = 0.0;
        for (var e = 0u; e < hd; e++) {
            s += q[qo + e] * k[ko + e];
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
    for (var e = lid.x; e < hd; e += WG) {
        var acc = 0.0;
        for (var j = 0u; j < n_keys; j++) {
            acc += scores[j] * v[j * dims.d + h * hd + e];
        }
        out[qo + e] = acc * inv;
    }
}
