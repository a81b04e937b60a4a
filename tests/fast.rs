//! The fast CPU path against the CPU reference: every kernel this machine has (the
//! portable one always; AVX2, AVX-512 VNNI or wasm SIMD where present) gives the reference's
//! logits up to activation quantization, the kernels agree with each other up to
//! f32 summation order, and whole generations of the bundled model are the
//! reference's.

mod common;

use common::*;
use unmask::cpu::{CpuModel, Forward};
use unmask::fast::{FastModel, Isa};
use unmask::sampler::{generate_cpu, SamplerParams};
use unmask::tasks::{PoemForm, TaskBuilder};
use unmask::{ModelWeights, PoemTokenizer, WeightFormat};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Activations quantized to 16 bits in blocks of 32 (relative error ≤ 1/65534 an
/// element): the whole forward pass as close as the GPU's.
const QUANTIZED_ACTIVATIONS_TOL: f32 = FORWARD_TOL;

fn tokens(n: usize, vocab: usize) -> Vec<u32> {
    (0..n as u32).map(|i| (i * 7 + 3) % vocab as u32).collect()
}

#[test]
fn every_kernel_gives_the_reference_logits_for_every_weight_format() {
    let mut models =
        vec![tiny_model(WeightFormat::Q8, 1), tiny_model(WeightFormat::Q4, 2), tiny_model(WeightFormat::F16, 3)];
    let mut causal = tiny_model(WeightFormat::Q8, 4);
    causal.config.causal = true;
    models.push(causal);
    // Lengths that leave every tile shape (rows 1..=4 in the last group).
    for (w, t) in models.iter().zip([37, 12, 5, 30]) {
        let want = CpuModel::new(w).forward(&tokens(t, w.config.vocab_size));
        let mut by_isa = Vec::new();
        for isa in Isa::available() {
            let fast = FastModel::with_isa(w, isa);
            let got = fast.forward(&tokens(t, w.config.vocab_size));
            let what = format!("{} logits, {:?} weights, causal={}", isa.name(), w.output.format(), w.config.causal);
            assert_close(&what, &got, &want, QUANTIZED_ACTIVATIONS_TOL);
            // The rows-only head gives the same rows.
            let rows = [0, t / 2, t - 1];
            let part = fast.forward_rows(&tokens(t, w.config.vocab_size), &rows);
            let v = w.config.vocab_size;
            for (i, &r) in rows.iter().enumerate() {
                assert_close("forward_rows", &part[i * v..(i + 1) * v], &got[r * v..(r + 1) * v], 1e-5);
            }
            by_isa.push((isa, got));
        }
        // Integer sums are exact in every kernel: only the f32 accumulation order
        // differs, compounded over the layers as between the GPU and the reference.
        for (isa, got) in &by_isa[1..] {
            assert_close(&format!("{} against the scalar kernel", isa.name()), got, &by_isa[0].1, FORWARD_TOL);
        }
    }
}

#[test]
fn quantized_activations_keep_the_bundled_models_choices() {
    let w = ModelWeights::from_bytes(&std::fs::read(format!("{ROOT}/www/model/poem.safetensors")).unwrap()).unwrap();
    let tok = PoemTokenizer::from_bytes(&std::fs::read(format!("{ROOT}/www/model/tokenizer.json")).unwrap()).unwrap();
    let tb = TaskBuilder::new(&tok, &w.config);
    let reference = CpuModel::new(&w);
    let prompts = [
        tb.next_line("床前明月光").unwrap(),
        tb.previous_line("疑是地上霜").unwrap(),
        tb.poem(PoemForm::QiLv, &[]).unwrap(),
        tb.acrostic(PoemForm::WuJue, "春夏秋冬").unwrap(),
    ];
    for isa in Isa::available() {
        let fast = FastModel::with_isa(&w, isa);
        for prompt in &prompts {
            let (got, want) = (fast.forward(&prompt.tokens), reference.forward(&prompt.tokens));
            let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-2, "{}: logits differ by up to {worst}", isa.name());
            // Greedy, as the golden test runs: the same text as the reference.
            let p = SamplerParams { steps: 16, seed: 0, ..Default::default() };
            let a = generate_cpu(&fast, &prompt.tokens, &p, false, |_| true).unwrap();
            let b = generate_cpu(&reference, &prompt.tokens, &p, false, |_| true).unwrap();
            assert_eq!(tok.decode(&a.tokens), tok.decode(&b.tokens), "{} generation", isa.name());
        }
    }
}

#[test]
fn the_engines_cpu_backend_is_the_fast_path() {
    let w = tiny_model(WeightFormat::Q8, 9);
    let eng = unmask::engine::Engine::cpu(test_tokenizer(), w);
    assert_eq!(eng.cpu_model().isa(), Isa::detect());
    assert!(Isa::available().contains(&Isa::Scalar));
}

/// The AVX-512 kernel does the AVX2 kernel's integer sums and f32 steps row by row:
/// the same logits bit for bit, so everything held to AVX2 holds for it.
#[test]
fn the_avx512_kernel_gives_the_avx2_logits_bit_for_bit() {
    if !Isa::available().contains(&Isa::Avx512) {
        eprintln!("this CPU has no AVX-512 VNNI: nothing to compare");
        return;
    }
    let bundled =
        ModelWeights::from_bytes(&std::fs::read(format!("{ROOT}/www/model/poem.safetensors")).unwrap()).unwrap();
    let models = [tiny_model(WeightFormat::Q8, 1), tiny_model(WeightFormat::Q4, 2), bundled];
    for w in &models {
        let (a, b) = (FastModel::with_isa(w, Isa::Avx2), FastModel::with_isa(w, Isa::Avx512));
        for t in [1, 5, 13, 37, w.config.max_seq_len] {
            let x = tokens(t, w.config.vocab_size);
            let (ya, yb) = (a.forward(&x), b.forward(&x));
            let differ = ya.iter().zip(&yb).filter(|(p, q)| p.to_bits() != q.to_bits()).count();
            assert_eq!(differ, 0, "T = {t}, d_model = {}: {differ} logits differ", w.config.d_model);
        }
    }
}
