//! Times each GPU kernel once at the bundled model's shapes (upload and read-back
//! included), to find the slow one on a given adapter. Figures only.
use std::time::Instant;

use pollster::block_on;
use unmask::gpu::ops::KernelRunner;
use unmask::gpu::GpuContext;
use unmask::rng::SplitMix64;
use unmask::sampler::SamplerParams;
use unmask::{Matrix, ModelConfig, WeightFormat};

fn randn(n: usize, seed: u64) -> Vec<f32> {
    let mut r = SplitMix64::new(seed);
    (0..n).map(|_| r.normal()).collect()
}

fn main() {
    let ctx = block_on(GpuContext::new()).expect("a GPU");
    println!("adapter: {}", ctx.adapter_name());
    let r = KernelRunner::new(&ctx);
    let (t, d, f, v, nh) = (64, 256, 704, 8000, 8);
    let time = |name: &str, f: &dyn Fn()| {
        f(); // compile + warm
        let t0 = Instant::now();
        for _ in 0..3 {
            f();
        }
        println!("{name:<28} {:>9.2} ms", t0.elapsed().as_secs_f64() * 1e3 / 3.0);
    };
    let x = randn(t * d, 1);
    for fmt in [WeightFormat::F32, WeightFormat::Q8, WeightFormat::Q4] {
        let w = Matrix::from_f32(&randn(d * d, 2), d, d, fmt);
        time(&format!("matmul {fmt:?} 64x256x256"), &|| drop(block_on(r.matmul(&x, t, &w, None)).unwrap()));
    }
    let wf = Matrix::from_f32(&randn(f * d, 3), f, d, WeightFormat::Q8);
    time("matmul Q8 64x256x704", &|| drop(block_on(r.matmul(&x, t, &wf, None)).unwrap()));
    let wh = Matrix::from_f32(&randn(v * d, 4), v, d, WeightFormat::Q8);
    time("matmul Q8 64x256x8000", &|| drop(block_on(r.matmul(&x, t, &wh, None)).unwrap()));
    let q = randn(t * d, 5);
    time("attention 64x8x32", &|| drop(block_on(r.attention(&q, &q, &q, t, nh, d / nh, false)).unwrap()));
    time("rmsnorm 64x256", &|| drop(block_on(r.rmsnorm(&x, &x[..d], 1e-5)).unwrap()));
    let mut cfg = ModelConfig::tiny(v);
    cfg.max_seq_len = 64;
    let logits = randn(t * v, 6);
    let tokens = vec![0u32; t];
    time("pick 64x8000", &|| drop(block_on(r.pick(&logits, &tokens, &cfg, &SamplerParams::default(), 0)).unwrap()));
    let wd = Matrix::from_f32(&randn(d * d, 9), d, d, WeightFormat::Q8);
    time("qkv+rope Q8 64x256x768", &|| drop(block_on(r.qkv_rope(&x, t, &wd, &wd, &wd, nh, 10_000.0)).unwrap()));
    time("gate/up+swiglu Q8 64x256x1408", &|| drop(block_on(r.gate_up(&x, t, &wf, &wf)).unwrap()));
}
