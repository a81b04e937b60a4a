//! Shared test helpers: the GPU context, seeded data, tiny models and comparisons
//! that name the index, the computed and the expected value.
#![allow(dead_code)]

use std::rc::Rc;

use unmask::gpu::GpuContext;
use unmask::rng::SplitMix64;
use unmask::{ExportFormat, ModelConfig, ModelWeights, PoemTokenizer, WeightFormat};

/// Elementwise kernels (norms, RoPE, activations): f32 rounding only.
pub const ELEMENTWISE_TOL: f32 = 1e-5;
/// Reductions over K ≤ a few hundred terms (matmul, attention).
pub const MATMUL_TOL: f32 = 1e-4;
/// The whole forward pass: errors compound over layers.
pub const FORWARD_TOL: f32 = 2e-3;

/// The GPU context for tests: lavapipe in CI. Without an adapter the test fails,
/// unless UNMASK_SKIP_GPU=1 says this machine has none on purpose.
pub fn gpu() -> Option<Rc<GpuContext>> {
    match pollster::block_on(GpuContext::new()) {
        Ok(c) => Some(Rc::new(c)),
        Err(e) if std::env::var("UNMASK_SKIP_GPU").as_deref() == Ok("1") => {
            eprintln!("skipping GPU test: {e}");
            None
        }
        Err(e) => panic!("no GPU for the GPU tests ({e}); install mesa-vulkan-drivers or set UNMASK_SKIP_GPU=1"),
    }
}

/// Called by a GPU test whose adapter lacks `feature` (timestamp queries, a pipeline
/// cache): a failure, as a missing GPU is, unless `UNMASK_SKIP_GPU_FEATURES`
/// (comma-separated) names it — a machine known to lack it skips on purpose, and
/// says so. Lavapipe has both.
pub fn lacks_feature(feature: &str) {
    let skip = std::env::var("UNMASK_SKIP_GPU_FEATURES").unwrap_or_default();
    if skip.split(',').any(|f| f.trim() == feature) {
        eprintln!("skipping: this adapter has no {feature} (UNMASK_SKIP_GPU_FEATURES)");
    } else {
        panic!("this adapter has no {feature}; set UNMASK_SKIP_GPU_FEATURES={feature} on a machine known to lack it");
    }
}

pub fn randn(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut r = SplitMix64::new(seed);
    (0..n).map(|_| r.normal() * scale).collect()
}

/// Asserts |got − want| ≤ tol·(1 + |want|) everywhere; on failure the message names
/// the first miss, the worst one and how many there were.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length {} != expected {}", got.len(), want.len());
    let err_at = |i: usize| {
        let e = (got[i] - want[i]).abs() / (1.0 + want[i].abs());
        if e.is_finite() {
            e
        } else {
            f32::INFINITY
        }
    };
    // err_at maps NaN to infinity, so `>` catches every miss.
    let misses: Vec<usize> = (0..got.len()).filter(|&i| err_at(i) > tol).collect();
    if let Some(&first) = misses.first() {
        let worst = misses.iter().copied().max_by(|&a, &b| err_at(a).total_cmp(&err_at(b))).unwrap_or(first);
        panic!(
            "{what}: {} of {} values off (normalised error > {tol:e}); first at index {first}: computed {}, \
             expected {} (error {:e}); worst at index {worst}: computed {}, expected {} (error {:e})",
            misses.len(),
            got.len(),
            got[first],
            want[first],
            err_at(first),
            got[worst],
            want[worst],
            err_at(worst)
        );
    }
}

/// Poem characters for a test vocabulary.
pub const TEST_CHARS: &str = "，。？！床前明月光疑是地上霜举头望思故乡春眠不觉晓处闻啼鸟夜来风雨声花落知多少白日依山尽黄河入海流欲穷千里目更一层楼静";

pub fn test_tokenizer() -> PoemTokenizer {
    let chars: Vec<char> = TEST_CHARS.chars().collect();
    PoemTokenizer::build(&chars, &[('靜', '静'), ('頭', '头'), ('鄉', '乡'), ('來', '来'), ('聲', '声')])
        .expect("tokenizer builds")
}

pub fn tiny_config(causal: bool) -> ModelConfig {
    let mut c = ModelConfig::tiny(test_tokenizer().vocab_size());
    c.causal = causal;
    c
}

pub fn tiny_model(blocks: WeightFormat, seed: u64) -> ModelWeights {
    let fmt = ExportFormat { blocks, embeddings: if blocks == WeightFormat::Q4 { WeightFormat::Q8 } else { blocks } };
    ModelWeights::random(tiny_config(false), fmt, seed)
}
