// Dense f32 weights (N, K) as raw bits in u32 words; see src/format.rs.
// Bindings `w_words` (and `w_scales`): generated from `gpu::shader::weight_slots`.

fn weight_at(row: u32, col: u32, k: u32) -> f32 {
    return bitcast<f32>(w_words[row * k + col]);
}

// Weights 4c..4c+3 of `row`.
fn load4(row: u32, c: u32, k: u32) -> vec4<f32> {
    let i = row * k + c * 4u;
    return vec4<f32>(bitcast<f32>(w_words[i]), bitcast<f32>(w_words[i + 1u]), bitcast<f32>(w_words[i + 2u]), bitcast<f32>(w_words[i + 3u]));
}
