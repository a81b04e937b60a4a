//! Small seeded RNG (SplitMix64) so init, data order and masking are reproducible.

/// The engine's SplitMix64 (`unmask::rng`), with the f64 draws the trainer needs.
pub struct Rng(unmask::rng::SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(unmask::rng::SplitMix64::new(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.f64() * n as f64) as usize % n.max(1)
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.f64().max(1e-300);
        let u2 = self.f64();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}
