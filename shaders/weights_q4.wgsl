// Q4 block weights: 8 codes per little-endian word (column 2j in the low nibble of
// byte j), value = nibble - 8, one f32 scale per 32 weights. See src/format.rs.
// Bindings `w_words` (and `w_scales`): generated from `gpu::shader::weight_slots`.

fn q4_code(word: u32, j: u32) -> f32 {
    return f32((word >> (4u * j)) & 15u) - 8.0;
}

fn weight_at(row: u32, col: u32, k: u32) -> f32 {
    let idx = row * k + col;
    return w_scales[idx / 32u] * q4_code(w_words[idx / 8u], idx % 8u);
}

// Weights 4c..4c+3 of `row`: half a word, one scale.
fn load4(row: u32, c: u32, k: u32) -> vec4<f32> {
    let i = row * (k / 4u) + c; // index in 4-weight groups
    let half = w_words[i / 2u] >> (16u * (i % 2u));
    let nib = (vec4<u32>(half) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u);
    return w_scales[i / 8u] * (vec4<f32>(nib) - vec4<f32>(8.0));
}
