//! Random numbers. `SplitMix64` seeds weights in tests; `hash4`/`uniform` are the
//! counter-based generator the sampler uses, written identically in
//! `shaders/common.wgsl` so the CPU and GPU draw the same noise for the same
//! (seed, step, position, token).

/// A small seeded generator for initialisation (not for the sampler).
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.next_f32().max(1e-7);
        let u2 = self.next_f32();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// PCG-style 32-bit permutation (`pcg_hash` in WGSL).
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// Hash of four 32-bit counters.
pub fn hash4(a: u32, b: u32, c: u32, d: u32) -> u32 {
    pcg(pcg(pcg(pcg(a) ^ b) ^ c) ^ d)
}

/// Uniform in the open interval (0, 1), with 24 bits.
pub fn uniform(seed: u32, step: u32, pos: u32, idx: u32) -> f32 {
    ((hash4(seed, step, pos, idx) >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0)
}

/// Standard Gumbel noise `−ln(−ln u)`.
pub fn gumbel(seed: u32, step: u32, pos: u32, idx: u32) -> f32 {
    -(-uniform(seed, step, pos, idx).ln()).ln()
}
