// Fused RMSNorm: y = x / sqrt(mean(x²) + eps) * weight, one workgroup per row.

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> state: State;
@group(0) @binding(2) var<storage, read> x: array<f32>;          // (T, D)
@group(0) @binding(3) var<storage, read> weight: array<f32>;     // (D)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;    // (T, D)

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
