// Fused dequantize-matmul: y (T, N) = x (T, K) · Wᵀ, W (N, K) in the bound weight
// format; with `accumulate` the result is added to y (the residual stream).
// Each invocation owns one output column n for four consecutive rows: every group
// of four weights is dequantized once into a vec4 and used four times. Rows past
// T are clamped to T−1 (valid memory, results dropped) so the loop has no
// branches. With `masked_only` (the output head inside the unmasking loop) rows
// whose token is not [MASK] are not written: the sampler never reads them.

struct MatParams {
    k: u32,
    n: u32,
    accumulate: u32,
    masked_only: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<uniform> mp: MatParams;
@group(0) @binding(2) var<storage, read> state: State;
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;  // (T, K/4)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // (T, N)
@group(0) @binding(5) var<storage, read> tokens: array<u32>;   // (T)

fn wanted(row: u32) -> bool {
    return row < dims.t && (mp.masked_only == 0u || tokens[row] == dims.mask_id);
}

fn store(row: u32, n: u32, v: f32) {
    if (!wanted(row)) {
        return;
    }
    let o = row * mp.n + n;
    if (mp.accumulate != 0u) {
        y[o] = y[o] + v;
    } else {
        y[o] = v;
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    let t0 = gid.y * 4u;
    if (state.done != 0u || n >= mp.n || t0 >= dims.t) {
        return;
    }
    if (!(wanted(t0) || wanted(t0 + 1u) || wanted(t0 + 2u) || wanted(t0 + 3u))) {
        return;
    }
    let kq = mp.k / 4u;
    let last = dims.t - 1u;
    let x0 = t0 * kq;
    let x1 = min(t0 + 1u, last) * kq;
    let x2 = min(t0 + 2u, last) * kq;
    let x3 = min(t0 + 3u, last) * kq;
    var a = vec4<f32>(0.0);
    for (var c = 0u; c < kq; c++) {
        let w = load4(n, c, mp.k);
        a += vec4<f32>(dot(w, x[x0 + c]), dot(w, x[x1 + c]), dot(w, x[x2 + c]), dot(w, x[x3 + c]));
    }
    store(t0, n, a.x);
    store(t0 + 1u, n, a.y);
    store(t0 + 2u, n, a.z);
    store(t0 + 3u, n, a.w);
}
