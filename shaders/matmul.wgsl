// Fused dequantize-matmul: y (T, N) = x (T, K) · Wᵀ, W (N, K) in the bound weight
// format; with `accumulate` the result is added to y (the residual stream).
// Each invocation owns one output column n for TT consecutive rows, so a weight
// block is dequantized once and used TT times. With `masked_only` (the output head
// inside the unmasking loop) rows whose token is not [MASK] are skipped: the
// sampler never reads their logits.

struct MatParams {
    k: u32,
    n: u32,
    accumulate: u32,
    masked_only: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<uniform> mp: MatParams;
@group(0) @binding(2) var<storage, read> state: State;
@group(0) @binding(3) var<storage, read> x: array<f32>;        // (T, K)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // (T, N)
@group(0) @binding(5) var<storage, read> tokens: array<u32>;   // (T)

const TT: u32 = 4u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    let t0 = gid.y * TT;
    if (state.done != 0u || n >= mp.n || t0 >= dims.t) {
        return;
    }
    let rows = min(TT, dims.t - t0);
    var need = array<bool, 4>(true, true, true, true);
    var any = false;
    for (var r = 0u; r < rows; r++) {
        need[r] = mp.masked_only == 0u || tokens[t0 + r] == dims.mask_id;
        any = any || need[r];
    }
    if (!any) {
        return;
    }
    var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    let nb = mp.k / 32u;
    for (var b = 0u; b < nb; b++) {
        let wb = load_block(n, b, mp.k);
        for (var r = 0u; r < rows; r++) {
            if (!need[r]) {
                continue;
            }
            let xo = (t0 + r) * mp.k + b * 32u;
            var s = 0.0;
            for (var i = 0u; i < 32u; i++) {
                s += wb[i] * x[xo + i];
            }
            acc[r] += s;
        }
    }
    for (var r = 0u; r < rows; r++) {
        if (!need[r]) {
            continue;
        }
        let o = (t0 + r) * mp.n + n;
        if (mp.accumulate != 0u) {
            y[o] = y[o] + acc[r];
        } else {
            y[o] = acc[r];
        }
    }
}
