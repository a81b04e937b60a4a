// Fused dequantize-matmul: y = x (T, K) · Wᵀ with W (N, K) in the bound weight
// format, then one of five epilogues (`mp.mode`, `gpu::ops::matmul::Epilogue`; `mp` is a `MatParams`):
//   0 store, 1 add to y (the residual stream), 2 store the rows whose token is
//   [MASK] only (the output head inside the unmasking loop: the sampler reads no
//   other row), 3 RoPE on the Q and K parts of a stacked Q/K/V product,
//   4 SwiGLU of a stacked gate/up product: y (T, N/2) = silu(gate) · up.
// Each invocation owns four pairs of output columns (eight columns) for four
// consecutive rows, so every weight group is dequantized once and used four times
// and every activation load serves eight columns. The pair is chosen so the epilogue has both operands it
// needs: neighbours (2p, 2p+1) to store; the halves (j, j + hd/2) of one head that
// RoPE turns together; gate column p and up column p. Rows past T are clamped to
// T−1 (valid memory, results dropped) so the loop has no branches.

// Bindings: generated from `gpu::ops::matmul::DEF` (names, types, order).

const STORE: u32 = 0u;
const ACCUMULATE: u32 = 1u;
const MASKED: u32 = 2u;
const ROPE: u32 = 3u;
const SWIGLU: u32 = 4u;

fn wanted(row: u32) -> bool {
    return row < dims.t && (mp.mode != MASKED || tokens[row] == dims.mask_id);
}

// The two columns of pair p.
fn columns(p: u32) -> vec2<u32> {
    switch mp.mode {
        case ROPE: {
            let half = dims.head_dim / 2u;
            let c0 = (p / half) * dims.head_dim + p % half;
            return vec2<u32>(c0, c0 + half);
        }
        case SWIGLU: {
            return vec2<u32>(p, p + mp.n / 2u);
        }
        default: {
            return vec2<u32>(2u * p, 2u * p + 1u);
        }
    }
}

fn pairs() -> u32 {
    return (mp.n + 1u) / 2u;
}

// Row `row`'s two results a (column c.x) and b (column c.y), through the epilogue.
fn store(row: u32, c: vec2<u32>, a: f32, b: f32) {
    if (!wanted(row)) {
        return;
    }
    let o = row * mp.n;
    switch mp.mode {
        case ACCUMULATE: {
            y[o + c.x] += a;
            if (c.y < mp.n) {
                y[o + c.y] += b;
            }
        }
        case ROPE: {
            if (c.x < 2u * dims.d) {
                // Q or K: turn the pair by pos · theta^(−2j/hd).
                let j = c.x % dims.head_dim;
                let angle = f32(row) * pow(dims.rope_theta, -2.0 * f32(j) / f32(dims.head_dim));
                let cs = cos(angle);
                let sn = sin(angle);
                y[o + c.x] = a * cs - b * sn;
                y[o + c.y] = b * cs + a * sn;
            } else {
                y[o + c.x] = a;
                y[o + c.y] = b;
            }
        }
        case SWIGLU: {
            y[row * (mp.n / 2u) + c.x] = a / (1.0 + exp(-a)) * b;
        }
        default: {
            y[o + c.x] = a;
            if (c.y < mp.n) {
                y[o + c.y] = b;
            }
        }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let p0 = gid.x * 4u;
    let t0 = gid.y * 4u;
    if (state.done != 0u || p0 >= pairs() || t0 >= dims.t) {
        return;
    }
    if (!(wanted(t0) || wanted(t0 + 1u) || wanted(t0 + 2u) || wanted(t0 + 3u))) {
        return;
    }
    let np = pairs();
    let c0 = columns(p0);
    let c1 = columns(min(p0 + 1u, np - 1u));
    let c2 = columns(min(p0 + 2u, np - 1u));
    let c3 = columns(min(p0 + 3u, np - 1u));
    let top = vec4<u32>(mp.n - 1u);
    let r = min(vec4<u32>(c0, c1), top);
    let s = min(vec4<u32>(c2, c3), top);
    let kq = mp.k / 4u;
    let last = dims.t - 1u;
    let x0 = t0 * kq;
    let x1 = min(t0 + 1u, last) * kq;
    let x2 = min(t0 + 2u, last) * kq;
    let x3 = min(t0 + 3u, last) * kq;
    var acc: array<vec4<f32>, 8>;
    for (var i = 0u; i < kq; i++) {
        let v0 = x[x0 + i];
        let v1 = x[x1 + i];
        let v2 = x[x2 + i];
        let v3 = x[x3 + i];
        let w0 = load4(r.x, i, mp.k);
        let w1 = load4(r.y, i, mp.k);
        let w2 = load4(r.z, i, mp.k);
        let w3 = load4(r.w, i, mp.k);
        let w4 = load4(s.x, i, mp.k);
        let w5 = load4(s.y, i, mp.k);
        let w6 = load4(s.z, i, mp.k);
        let w7 = load4(s.w, i, mp.k);
        acc[0] += vec4<f32>(dot(w0, v0), dot(w0, v1), dot(w0, v2), dot(w0, v3));
        acc[1] += vec4<f32>(dot(w1, v0), dot(w1, v1), dot(w1, v2), dot(w1, v3));
        acc[2] += vec4<f32>(dot(w2, v0), dot(w2, v1), dot(w2, v2), dot(w2, v3));
        acc[3] += vec4<f32>(dot(w3, v0), dot(w3, v1), dot(w3, v2), dot(w3, v3));
        acc[4] += vec4<f32>(dot(w4, v0), dot(w4, v1), dot(w4, v2), dot(w4, v3));
        acc[5] += vec4<f32>(dot(w5, v0), dot(w5, v1), dot(w5, v2), dot(w5, v3));
        acc[6] += vec4<f32>(dot(w6, v0), dot(w6, v1), dot(w6, v2), dot(w6, v3));
        acc[7] += vec4<f32>(dot(w7, v0), dot(w7, v1), dot(w7, v2), dot(w7, v3));
    }
    let cs = array<vec2<u32>, 4>(c0, c1, c2, c3);
    for (var q = 0u; q < 4u; q++) {
        if (p0 + q < np) {
            for (var j = 0u; j < 4u; j++) {
                store(t0 + j, cs[q], acc[2u * q][j], acc[2u * q + 1u][j]);
            }
        }
    }
}
