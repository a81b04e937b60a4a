//! The fuzz targets in every CI run: each committed corpus input, then a bounded,
//! seeded mutational run of every target (the long campaigns run with
//! `cargo fuzz`, see docs/testing.md), and the GPU against the CPU reference on every
//! corpus model that loads.

use std::path::{Path, PathBuf};

use unmask::cpu::CpuModel;
use unmask::gpu::{GpuContext, GpuModel};
use unmask::rng::SplitMix64;
use unmask::ModelWeights;
use unmask_fuzz::{mutate::mutate, seeds, TARGETS};

/// Mutated executions per target in a test run (a few seconds each on one core).
const RUNS: usize = 3000;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.into_iter().map(|p| (p.file_name().unwrap().to_string_lossy().into(), std::fs::read(&p).unwrap())).collect()
}

#[test]
fn committed_seeds_are_what_the_seeds_command_writes() {
    for (target, name, bytes) in seeds::all() {
        let path = corpus_dir(target).join(&name);
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(committed == bytes, "fuzz/corpus/{target}/{name} is stale: run `unmask-fuzz seeds`");
    }
}

#[test]
fn every_target_survives_its_corpus_and_a_bounded_mutation_run() {
    for (name, target) in TARGETS {
        let inputs = corpus(name);
        assert!(!inputs.is_empty(), "no corpus for {name}");
        for (file, input) in &inputs {
            let r = std::panic::catch_unwind(|| target(input));
            assert!(r.is_ok(), "{name}: corpus input {file} broke an invariant");
        }
        let mut r = SplitMix64::new(0x5eed);
        for i in 0..RUNS {
            let a = &inputs[(r.next_u64() % inputs.len() as u64) as usize].1;
            let b = &inputs[(r.next_u64() % inputs.len() as u64) as usize].1;
            let input = mutate(a, b, &mut r, 64 << 10);
            let ok = std::panic::catch_unwind(|| target(&input)).is_ok();
            assert!(ok, "{name}: mutated input {i} broke an invariant: {input:?}");
        }
    }
}

/// Every corpus model that loads gives the same logits on the GPU as on the CPU, or
/// non-finite ones on both (then generation is an error on both: tests/forward.rs).
#[test]
fn gpu_matches_cpu_on_every_corpus_model() {
    let ctx = match pollster::block_on(GpuContext::new()) {
        Ok(c) => std::rc::Rc::new(c),
        Err(e) if std::env::var("UNMASK_SKIP_GPU").as_deref() == Ok("1") => return eprintln!("skipping: {e}"),
        Err(e) => panic!("no GPU for the GPU tests ({e}); install mesa-vulkan-drivers or set UNMASK_SKIP_GPU=1"),
    };
    let mut loaded = 0;
    for (file, bytes) in corpus("loader") {
        let Ok(w) = ModelWeights::from_bytes(&bytes) else { continue };
        loaded += 1;
        let c = &w.config;
        let tokens: Vec<u32> = (0..c.max_seq_len.min(6) as u32).map(|i| (i * 7 + 3) % c.vocab_size as u32).collect();
        let cpu = CpuModel::new(&w).forward(&tokens);
        let gpu = pollster::block_on(GpuModel::new(ctx.clone(), &w).unwrap().forward(&tokens)).unwrap();
        assert_eq!(cpu.len(), gpu.len(), "{file}");
        for (row, (g, c)) in gpu.chunks(c.vocab_size).zip(cpu.chunks(c.vocab_size)).enumerate() {
            if c.iter().any(|x| !x.is_finite()) {
                assert!(g.iter().any(|x| !x.is_finite()), "{file} row {row}: finite on the GPU only");
                continue;
            }
            let scale = 1.0 + c.iter().fold(0f32, |m, x| m.max(x.abs()));
            for (v, (a, b)) in g.iter().zip(c).enumerate() {
                assert!((a - b).abs() <= 2e-3 * scale, "{file} row {row} id {v}: GPU {a}, CPU {b}");
            }
        }
    }
    assert!(loaded >= 16, "only {loaded} corpus models load");
}
