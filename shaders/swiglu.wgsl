// Fused SwiGLU activation: g = silu(g) · u, in place on g (T, F).

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> state: State;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;  // (T, F)
@group(0) @binding(3) var<storage, read> u: array<f32>;        // (T, F)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (state.done != 0u || i >= dims.t * dims.f) {
        return;
    }
    let a = g[i];
    g[i] = a / (1.0 + exp(-a)) * u[i];
}
