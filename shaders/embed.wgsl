// Token embedding lookup: x (T, D) = E[tokens] with E (V, D) in the bound format.
// A causal or shifted model reads [MASK] then the tokens shifted right by one
// (dims.shifted; ModelConfig::shifts_input).

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> state: State;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;   // (T)
@group(0) @binding(3) var<storage, read_write> x: array<f32>;  // (T, D)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (state.done != 0u || i >= dims.t * dims.d) {
        return;
    }
    let t = i / dims.d;
    var tok = tokens[t];
    if (dims.shifted != 0u) {
        tok = select(dims.mask_id, tokens[max(t, 1u) - 1u], t > 0u);
    }
    x[i] = weight_at(tok, i % dims.d, dims.d);
}
