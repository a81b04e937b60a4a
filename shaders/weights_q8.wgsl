// Q8 block weights: 4 int8 codes per little-endian word, one f32 scale per 32
// weights (widened from the file's f16); w = scale * code. See src/format.rs.
@group(0) @binding({{W_BINDING}}) var<storage, read> w_words: array<u32>; // (N, K/4)
@group(0) @binding({{S_BINDING}}) var<storage, read> w_scales: array<f32>; // (N, K/32)

// Sign-extends byte `j` (0..3) of `word`.
fn q8_code(word: u32, j: u32) -> f32 {
    return f32(bitcast<i32>(word << (24u - 8u * j)) >> 24u);
}

fn weight_at(row: u32, col: u32, k: u32) -> f32 {
    let idx = row * k + col;
    return w_scales[idx / 32u] * q8_code(w_words[idx / 4u], idx % 4u);
}

fn load_block(row: u32, b: u32, k: u32) -> array<f32, 32> {
    var out: array<f32, 32>;
    let blk = row * (k / 32u) + b;
    let scale = w_scales[blk];
    for (var i = 0u; i < 8u; i++) {
        let word = w_words[blk * 8u + i];
        for (var j = 0u; j < 4u; j++) {
            out[i * 4u + j] = scale * q8_code(word, j);
        }
    }
    return out;
}
