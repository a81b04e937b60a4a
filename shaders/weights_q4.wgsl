// Q4 block weights: 8 codes per little-endian word (column 2j in the low nibble of
// byte j), value = nibble - 8, one f32 scale per 32 weights. See src/format.rs.
@group(0) @binding({{W_BINDING}}) var<storage, read> w_words: array<u32>; // (N, K/8)
@group(0) @binding({{S_BINDING}}) var<storage, read> w_scales: array<f32>; // (N, K/32)

fn q4_code(word: u32, j: u32) -> f32 {
    return f32((word >> (4u * j)) & 15u) - 8.0;
}

fn weight_at(row: u32, col: u32, k: u32) -> f32 {
    let idx = row * k + col;
    return w_scales[idx / 32u] * q4_code(w_words[idx / 8u], idx % 8u);
}

fn load_block(row: u32, b: u32, k: u32) -> array<f32, 32> {
    var out: array<f32, 32>;
    let blk = row * (k / 32u) + b;
    let scale = w_scales[blk];
    for (var i = 0u; i < 4u; i++) {
        let word = w_words[blk * 4u + i];
        for (var j = 0u; j < 8u; j++) {
            out[i * 8u + j] = scale * q4_code(word, j);
        }
    }
    return out;
}
