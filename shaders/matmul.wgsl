// Fused dequantize-matmul: y = x (T, K) · Wᵀ with W (N, K) in the bound weight
// format, then one of five epilogues (`mp.mode`, `gpu::kernels::Epilogue`):
//   0 store, 1 add to y (the residual stream), 2 store the rows whose token is
//   [MASK] only (the output head inside the unmasking loop: the sampler reads no
//   other row), 3 RoPE on the Q and K parts of a stacked Q/K/V product,
//   4 SwiGLU of a stacked gate/up product: y (T, N/2) = silu(gate) · up.
// Each invocation owns two output columns (a "pair") for four consecutive rows, so
// every weight group is dequantized once and used four times and every activation
// load serves two columns. The pair is chosen so the epilogue has both operands it
// needs: neighbours (2p, 2p+1) to store; the halves (j, j + hd/2) of one head that
// RoPE turns together; gate column p and up column p. Rows past T are clamped to
// T−1 (valid memory, results dropped) so the loop has no branches.

struct MatParams {
    k: u32,     // K: inputs per row
    n: u32,     // N: rows of W (columns of the product)
    mode: u32,  // the epilogue, below
    _pad: u32,
}

// Bindings: generated from `gpu::kernels::MATMUL` (names, types, order).

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
    let p = gid.x;
    let t0 = gid.y * 4u;
    if (state.done != 0u || p >= pairs() || t0 >= dims.t) {
        return;
    }
    if (!(wanted(t0) || wanted(t0 + 1u) || wanted(t0 + 2u) || wanted(t0 + 3u))) {
        return;
    }
    let c = columns(p);
    // An odd N's last pair reads its first column twice and stores it once.
    let r1 = min(c.y, mp.n - 1u);
    let kq = mp.k / 4u;
    let last = dims.t - 1u;
    let x0 = t0 * kq;
    let x1 = min(t0 + 1u, last) * kq;
    let x2 = min(t0 + 2u, last) * kq;
    let x3 = min(t0 + 3u, last) * kq;
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    for (var i = 0u; i < kq; i++) {
        let wa = load4(c.x, i, mp.k);
        let wb = load4(r1, i, mp.k);
        let v0 = x[x0 + i];
        let v1 = x[x1 + i];
        let v2 = x[x2 + i];
        let v3 = x[x3 + i];
        a += vec4<f32>(dot(wa, v0), dot(wa, v1), dot(wa, v2), dot(wa, v3));
        b += vec4<f32>(dot(wb, v0), dot(wb, v1), dot(wb, v2), dot(wb, v3));
    }
    store(t0, c, a.x, b.x);
    store(t0 + 1u, c, a.y, b.y);
    store(t0 + 2u, c, a.z, b.z);
    store(t0 + 3u, c, a.w, b.w);
}
