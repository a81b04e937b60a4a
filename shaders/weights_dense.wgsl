// Dense f32 weights (N, K) as raw bits in u32 words; see src/format.rs.
@group(0) @binding({{W_BINDING}}) var<storage, read> w_words: array<u32>; // (N, K)

fn weight_at(row: u32, col: u32, k: u32) -> f32 {
    return bitcast<f32>(w_words[row * k + col]);
}

// The 32 weights of block `b` of `row`.
fn load_block(row: u32, b: u32, k: u32) -> array<f32, 32> {
    var out: array<f32, 32>;
    let base = row * k + b * 32u;
    for (var i = 0u; i < 32u; i++) {
        out[i] = bitcast<f32>(w_words[base + i]);
    }
    return out;
}
