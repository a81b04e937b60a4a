// Q8 block weights: 4 int8 codes per little-endian word, one f32 scale per 32
// weights (widened from the file's f16); w = scale * code. See src/format.rs.
// Bindings `w_words` (and `w_scales`): generated from `gpu::shader::weight_slots`.

// Sign-extends byte `j` (0..3) of `word`.
fn q8_code(word: u32, j: u32) -> f32 {
    return f32(bitcast<i32>(word << (24u - 8u * j)) >> 24u);
}

fn weight_at(row: u32, col: u32, k: u32) -> f32 {
    let idx = row * k + col;
    return w_scales[idx / 32u] * q8_code(w_words[idx / 4u], idx % 4u);
}

// Weights 4c..4c+3 of `row`: one word, one scale.
fn load4(row: u32, c: u32, k: u32) -> vec4<f32> {
    let i = row * (k / 4u) + c;
    let word = bitcast<i32>(w_words[i]);
    let codes = vec4<i32>(word << 24u, word << 16u, word << 8u, word) >> vec4<u32>(24u);
    return w_scales[i / 8u] * vec4<f32>(codes);
}
