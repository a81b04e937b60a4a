// Shared functions, prepended to every kernel. The structs the kernels bind
// (`Dims`, the sizes of this generation; `State`, the loop's GPU-side counter that
// every kernel reads, so work after the last mask is committed costs nothing) are
// declared from their Rust definitions in `gpu::ops`.

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
