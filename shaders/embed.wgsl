// Token embedding lookup: x (T, D) = E[tokens] with E (V, D) in the bound format.
// A causal or shifted model reads [MASK] then the tokens shifted right by one
// (dims.shifted; ModelConfig::shifts_input).

// Bindings: generated from `gpu::ops::embed::DEF` (names, types, order).

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
