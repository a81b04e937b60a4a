// Shared declarations, prepended to every kernel.
//
// `Dims` holds the model and sequence sizes for the current generation; `State` is
// the unmasking loop's GPU-side counter, read by every kernel so work after the last
// mask is committed costs nothing (the loop is recorded ahead of time).

struct Dims {
    t: u32,          // sequence length T of this generation
    d: u32,          // d_model D
    f: u32,          // MLP width F
    v: u32,          // vocabulary V
    n_heads: u32,
    head_dim: u32,
    causal: u32,     // 1: causal attention
    mask_id: u32,    // id of [MASK]
    eps: f32,
    rope_theta: f32,
    shifted: u32,    // 1: input read shifted right behind [MASK] (ModelConfig::shifts_input)
    _pad: u32,
}

struct State {
    step: u32,       // next step index (drives the RNG and the schedule)
    steps_run: u32,  // forward passes that did work
    done: u32,       // 1 once no mask is left (or a fault stopped the loop)
    fault: u32,      // 1 once pick met a non-finite logit (NaN or ±∞): nothing more is committed
}

// PCG permutation; identical to `rng::pcg` on the CPU.
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn hash4(a: u32, b: u32, c: u32, d: u32) -> u32 {
    return pcg(pcg(pcg(pcg(a) ^ b) ^ c) ^ d);
}

// Uniform in (0, 1) with 24 bits; identical to `rng::uniform`.
fn uniform01(seed: u32, step: u32, pos: u32, idx: u32) -> f32 {
    return (f32(hash4(seed, step, pos, idx) >> 8u) + 0.5) * (1.0 / 16777216.0);
}

// Gumbel noise, computed in log space (WGSL has no f64).
fn gumbel(seed: u32, step: u32, pos: u32, idx: u32) -> f32 {
    return -log(-log(uniform01(seed, step, pos, idx)));
}
