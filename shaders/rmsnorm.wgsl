// Fused RMSNorm: y = x / sqrt(mean(x²) + eps) * weight, one workgroup per row.

// Bindings: generated from `gpu::ops::rmsnorm::DEF` (names, types, order).

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if (loop_done(lid.x)) {
        return;
    }
    let row = wid.x * dims.d;
    var s = 0.0;
    for (var i = lid.x; i < dims.d; i += WG) {
        let v = x[row + i];
        s += v * v;
    }
    let inv = inverseSqrt(wg_sum(lid.x, s) / f32(dims.d) + dims.eps);
    for (var i = lid.x; i < dims.d; i += WG) {
        y[row + i] = x[row + i] * inv * weight[i];
    }
}
