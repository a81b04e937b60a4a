// Rotary position embedding (rotate-half), in place on q and k (T, H·hd): the pair
// (i, i + hd/2) of each head turns by pos · theta^(−2i/hd).

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> state: State;
@group(0) @binding(2) var<storage, read_write> q: array<f32>;  // (T, D)
@group(0) @binding(3) var<storage, read_write> k: array<f32>;  // (T, D)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let half = dims.head_dim / 2u;
    let i = gid.x;
    if (state.done != 0u || i >= dims.t * dims.n_heads * half) {
        return;
    }
    let pos = i / (dims.n_heads * half);
    let h = (i / half) % dims.n_heads;
    let j = i % half;
    let freq = pow(dims.rope_theta, -2.0 * f32(j) / f32(dims.head_dim));
    let angle = f32(pos) * freq;
    let c = cos(angle);
    let s = sin(angle);
    let a = pos * dims.d + h * dims.head_dim + j;
    let b = a + half;
    let qa = q[a];
    let qb = q[b];
    q[a] = qa * c - qb * s;
    q[b] = qb * c + qa * s;
    let ka = k[a];
    let kb = k[b];
    k[a] = ka * c - kb * s;
    k[b] = kb * c + ka * s;
}
