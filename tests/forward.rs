//! The whole model on the GPU against the CPU reference: logits of one forward
//! pass, and the full unmasking loop (identical tokens when greedy).

mod common;

use common::*;
use pollster::block_on;
use unmask::cpu::CpuModel;
use unmask::gpu::GpuError;
use unmask::gpu::GpuModel;
use unmask::sampler::{generate_cpu, Constraints, Remasking, SampleError, SamplerParams};
use unmask::tasks::{PoemForm, TaskBuilder};
use unmask::{ExportFormat, ModelWeights, WeightFormat};

#[test]
fn forward_pass_matches_cpu_q8_q4_causal_and_shifted() {
    let Some(ctx) = gpu() else { return };
    let mut models =
        vec![tiny_model(WeightFormat::Q8, 1), tiny_model(WeightFormat::Q4, 2), tiny_model(WeightFormat::F16, 3)];
    let mut causal = tiny_model(WeightFormat::Q8, 4);
    causal.config.causal = true;
    models.push(causal);
    let mut shifted = tiny_model(WeightFormat::Q8, 6);
    shifted.config.shifted = true;
    models.push(shifted);
    for w in &models {
        let cpu = CpuModel::new(w);
        let gpu = GpuModel::new(ctx.clone(), w).unwrap();
        let tokens: Vec<u32> = (0..37u32).map(|i| (i * 7 + 3) % w.config.vocab_size as u32).collect();
        let want = cpu.forward(&tokens);
        let got = block_on(gpu.forward(&tokens)).unwrap();
        let what = format!("logits {:?} causal={} shifted={}", w.output.format(), w.config.causal, w.config.shifted);
        assert_close(&what, &got, &want, FORWARD_TOL);
        // Rows-only head (what the CPU sampler uses) agrees with the full head.
        let rows = [0usize, 5, 36];
        let part = cpu.forward_rows(&tokens, &rows);
        let v = w.config.vocab_size;
        for (i, &r) in rows.iter().enumerate() {
            assert_close("forward_rows", &part[i * v..(i + 1) * v], &want[r * v..(r + 1) * v], 1e-5);
        }
    }
}

#[test]
fn causal_model_ignores_the_future() {
    let mut w = tiny_model(WeightFormat::Q8, 5);
    w.config.causal = true;
    let cpu = CpuModel::new(&w);
    let a: Vec<u32> = vec![5, 6, 7, 8, 9, 10];
    let v = w.config.vocab_size;
    // Row j predicts token j from tokens 0..j−1: the last token changes no row, token 2
    // changes rows 3.. only.
    let mut b = a.clone();
    b[5] = 20;
    assert_eq!(cpu.forward(&a), cpu.forward(&b), "the last token changed the logits of a causal model");
    let mut c = a.clone();
    c[2] = 20;
    let (la, lc) = (cpu.forward(&a), cpu.forward(&c));
    assert_eq!(la[..3 * v], lc[..3 * v], "token 2 changed rows 0..=2 of a causal model");
    assert_ne!(la[3 * v..4 * v], lc[3 * v..4 * v], "token 2 did not reach row 3");
}

/// A shifted diffusion model (`ModelConfig::shifted`) reads token j−1 at row j and
/// attends both ways: a token reaches rows before and after it; the last position is
/// read only through a trailing `[PAD]`, which the task builder adds.
#[test]
fn shifted_model_sees_both_ways_and_reads_the_last_token_through_a_pad() {
    let mut w = tiny_model(WeightFormat::Q8, 7);
    w.config.shifted = true;
    let cpu = CpuModel::new(&w);
    let v = w.config.vocab_size;
    let a: Vec<u32> = vec![5, 6, 7, 8, 9, 10];
    let mut c = a.clone();
    c[2] = 20;
    let (la, lc) = (cpu.forward(&a), cpu.forward(&c));
    assert_ne!(la[..v], lc[..v], "token 2 did not reach row 0");
    assert_ne!(la[4 * v..5 * v], lc[4 * v..5 * v], "token 2 did not reach row 4");
    let mut last = a.clone();
    last[5] = 20;
    assert_eq!(cpu.forward(&a), cpu.forward(&last), "the last token is not read without a trailing [PAD]");
    let pad = |x: &[u32]| [x, &[w.config.pad_id]].concat();
    assert_ne!(
        cpu.forward(&pad(&a))[..v],
        cpu.forward(&pad(&last))[..v],
        "a trailing [PAD] lets row 0 see the last token"
    );
    let tok = test_tokenizer();
    let tb = TaskBuilder::new(&tok, &w.config);
    let p = tb.next_line("床前明月光").unwrap();
    assert_eq!(p.tokens.len(), 13);
    assert_eq!(*p.tokens.last().unwrap(), w.config.pad_id);
    assert_eq!(tok.decode(&p.tokens[..12]), "床前明月光，＿＿＿＿＿。");
}

/// The autoregressive twin runs the same loop: one token a step, always the leftmost
/// mask, identical on the GPU and the CPU (greedy and seeded sampling), whatever the
/// diffusion-only settings say.
#[test]
fn autoregressive_loop_commits_left_to_right_on_gpu_and_cpu() {
    let Some(ctx) = gpu() else { return };
    let mut w = tiny_model(WeightFormat::Q8, 13);
    w.config.causal = true;
    let cpu = CpuModel::new(&w);
    let gpu = GpuModel::new(ctx, &w).unwrap();
    let tok = test_tokenizer();
    let tb = TaskBuilder::new(&tok, &w.config);
    let prev = tb.previous_line("白日依山尽").unwrap();
    for prompt in [poem_prompt(&w), prev.tokens.clone()] {
        let masks: Vec<usize> = (0..prompt.len()).filter(|&i| prompt[i] == w.config.mask_id).collect();
        for p in [
            SamplerParams { steps: 3, block_length: 12, threshold: Some(0.1), ..Default::default() },
            SamplerParams { temperature: 1.0, seed: 4, ..Default::default() },
        ] {
            let c = generate_cpu(&cpu, &prompt, &p, true, |_| true).unwrap();
            assert_eq!(c.steps_run, masks.len(), "one step per mask");
            let mut before = prompt.clone();
            for (s, h) in c.history.iter().enumerate() {
                let changed: Vec<usize> = (0..before.len()).filter(|&i| h.tokens[i] != before[i]).collect();
                assert_eq!(changed, vec![masks[s]], "step {s} must commit exactly the leftmost mask");
                before = h.tokens.clone();
            }
            let g = block_on(gpu.generate(&prompt, &p, true)).unwrap();
            assert_eq!(g.tokens, c.tokens, "{p:?}: AR tokens differ between GPU and CPU");
            assert_eq!(g.steps_run, c.steps_run);
            for (s, (gh, ch)) in g.history.iter().zip(&c.history).enumerate() {
                assert_eq!(gh.tokens, ch.tokens, "AR history step {s}");
            }
        }
    }
    // The plain reversal attempt cannot see the given line: its answer is the same
    // whatever line follows the masks.
    let other = tb.previous_line("黄河入海流").unwrap();
    let p = SamplerParams::default();
    let a = generate_cpu(&cpu, &prev.tokens, &p, false, |_| true).unwrap();
    let b = generate_cpu(&cpu, &other.tokens, &p, false, |_| true).unwrap();
    assert_eq!(a.tokens[..5], b.tokens[..5], "a causal model saw the line after the masks");
}

fn poem_prompt(w: &ModelWeights) -> Vec<u32> {
    let tok = test_tokenizer();
    let tb = TaskBuilder::new(&tok, &w.config);
    tb.acrostic(PoemForm::WuJue, "春夜").unwrap().tokens
}

#[test]
fn greedy_generation_is_identical_on_gpu_and_cpu() {
    let Some(ctx) = gpu() else { return };
    for (fmt, seed) in [(WeightFormat::Q8, 7), (WeightFormat::Q4, 8)] {
        let w = tiny_model(fmt, seed);
        let cpu = CpuModel::new(&w);
        let gpu = GpuModel::new(ctx.clone(), &w).unwrap();
        let prompt = poem_prompt(&w);
        for p in [
            SamplerParams { steps: 8, ..Default::default() },
            SamplerParams { steps: 20, block_length: 12, ..Default::default() },
            SamplerParams { threshold: Some(0.2), ..Default::default() },
            // Punctuation excluded, as the pipeline samples (`Engine::prepare_prompt`).
            SamplerParams { steps: 8, exclude: (3..10).collect(), ..Default::default() },
            // Per-position classes (regulated verse's tone and rhyme sets).
            SamplerParams {
                steps: 8,
                exclude: (3..10).collect(),
                constraints: Constraints {
                    classes: vec![(10..30).collect(), (30..50).chain([12]).collect()],
                    at: (0..prompt.len()).map(|i| (i % 3) as u8).collect(),
                    ..Default::default()
                },
                ..Default::default()
            },
            // The repeat rule over lines of 6 (a random model's picks clash often).
            SamplerParams { steps: 8, constraints: lines(prompt.len(), 6), ..Default::default() },
            SamplerParams {
                steps: 30,
                temperature: 0.9,
                seed: 7,
                remasking: Remasking::Random,
                constraints: lines(prompt.len(), 5),
                ..Default::default()
            },
            SamplerParams { threshold: Some(0.1), constraints: lines(prompt.len(), 7), ..Default::default() },
            // Blocks of 4 under the repeat rule: picks that wait push masks past the
            // plan, and the fill steps finish the later blocks (`sampler::fill_steps`).
            SamplerParams { steps: 4, block_length: 4, constraints: lines(prompt.len(), 6), ..Default::default() },
            SamplerParams {
                threshold: Some(0.5),
                block_length: 5,
                constraints: lines(prompt.len(), 6),
                ..Default::default()
            },
            // Lines of 6 in which only ids divisible by 3 may stand as 叠字.
            SamplerParams {
                steps: 12,
                constraints: Constraints { doubles: (0..60).step_by(3).collect(), ..lines(prompt.len(), 6) },
                ..Default::default()
            },
            // Lines of 6 and a rhyme set across them (every fourth position).
            SamplerParams {
                steps: 8,
                constraints: Constraints {
                    line: lines(prompt.len(), 6)
                        .line
                        .iter()
                        .enumerate()
                        .map(|(i, &l)| if i % 4 == 3 { l | unmask::sampler::RHYME } else { l })
                        .collect(),
                    ..Default::default()
                },
                ..Default::default()
            },
        ] {
            let c = generate_cpu(&cpu, &prompt, &p, true, |_| true).unwrap();
            let g = block_on(gpu.generate(&prompt, &p, true)).unwrap();
            let masked = prompt.iter().enumerate().filter(|(_, &t)| t == w.config.mask_id).map(|(i, _)| i);
            for i in masked {
                let t = c.tokens[i];
                assert!(!p.exclude.contains(&t), "{p:?}: excluded id {t} generated at {i}");
                assert!(!p.constraints.excluded_at(i).contains(&t), "{p:?}: id {t} of an excluded class at {i}");
            }
            assert!(!c.tokens.contains(&w.config.mask_id), "{fmt:?} {p:?}: masks left {:?}", c.tokens);
            assert_eq!(g.tokens, c.tokens, "{fmt:?} {p:?}: GPU and CPU tokens differ");
            assert_eq!(g.steps_run, c.steps_run, "{fmt:?} {p:?}: step counts differ");
            assert_eq!(g.history.len(), c.history.len());
            for (s, (gh, ch)) in g.history.iter().zip(&c.history).enumerate() {
                assert_eq!(gh.tokens, ch.tokens, "history step {s} tokens");
                assert_close(&format!("history step {s} confidence"), &gh.confidence, &ch.confidence, FORWARD_TOL);
            }
        }
    }
}

#[test]
fn overflowing_weights_are_an_error_on_gpu_and_cpu_not_a_poem() {
    // A finite but overflowing norm weight makes every logit NaN or infinite. The GPU
    // used to commit id 0xFFFFFFFF ('□') and the CPU id 0, both with success.
    let Some(ctx) = gpu() else { return };
    for (fmt, huge) in [(WeightFormat::Q8, 3e38), (WeightFormat::Q4, f32::MAX)] {
        let mut w = tiny_model(fmt, 11);
        w.norm.iter_mut().for_each(|x| *x = huge);
        let cpu = CpuModel::new(&w);
        let gpu = GpuModel::new(ctx.clone(), &w).unwrap();
        let prompt = poem_prompt(&w);
        for p in [
            SamplerParams { steps: 8, ..Default::default() },
            SamplerParams { steps: 8, temperature: 1.0, seed: 3, ..Default::default() },
            SamplerParams { threshold: Some(0.5), ..Default::default() },
        ] {
            let c = generate_cpu(&cpu, &prompt, &p, false, |_| true);
            assert!(matches!(c, Err(SampleError::NonFinite)), "{fmt:?} {p:?}: CPU gave {c:?}");
            let g = block_on(gpu.generate(&prompt, &p, true));
            assert!(matches!(g, Err(GpuError::Sample(SampleError::NonFinite))), "{fmt:?} {p:?}: GPU gave {g:?}");
        }
        // The same device generates normally afterwards: the fault lives in one run's state.
        let ok = tiny_model(fmt, 11);
        let fine = GpuModel::new(ctx.clone(), &ok).unwrap();
        let p = SamplerParams { steps: 8, ..Default::default() };
        assert_eq!(
            block_on(fine.generate(&prompt, &p, false)).unwrap().tokens,
            generate_cpu(&CpuModel::new(&ok), &prompt, &p, false, |_| true).unwrap().tokens
        );
    }
}

#[test]
fn sampling_with_temperature_is_seeded_on_gpu() {
    let Some(ctx) = gpu() else { return };
    let w = tiny_model(WeightFormat::Q8, 9);
    let gpu = GpuModel::new(ctx, &w).unwrap();
    let prompt = poem_prompt(&w);
    let p =
        |seed| SamplerParams { steps: 10, temperature: 1.0, remasking: Remasking::Random, seed, ..Default::default() };
    let a = block_on(gpu.generate(&prompt, &p(1), false)).unwrap();
    let b = block_on(gpu.generate(&prompt, &p(1), false)).unwrap();
    let c = block_on(gpu.generate(&prompt, &p(2), false)).unwrap();
    assert_eq!(a.tokens, b.tokens, "same seed, different output");
    assert_ne!(a.tokens, c.tokens, "different seeds gave the same poem");
}

#[test]
fn one_submission_and_one_readback_per_generation() {
    let Some(ctx) = gpu() else { return };
    let w = tiny_model(WeightFormat::Q4, 10);
    let gpu = GpuModel::new(ctx.clone(), &w).unwrap();
    let prompt = poem_prompt(&w);
    let p = SamplerParams { steps: 12, ..Default::default() };
    for history in [false, true] {
        ctx.reset_counters();
        let g = block_on(gpu.generate(&prompt, &p, history)).unwrap();
        let c = ctx.counters();
        assert_eq!((c.submissions, c.readbacks), (1, 1), "history={history}: {c:?}");
        // What the op list says a step dispatches is what was recorded, for every
        // step the loop may run (those after it ends get no workgroups).
        let recorded = unmask::sampler::max_steps(&prompt, &p.for_model(&w.config), w.config.mask_id);
        assert!(g.steps_run <= recorded);
        assert_eq!(c.dispatches, gpu.dispatches_per_step() * recorded as u64, "dispatches per step");
    }
}

/// Threshold decoding records a step per mask but finishes in fewer: the commit that
/// ends the loop zeroes every dispatch's workgroup counts, so the steps recorded
/// after it dispatch no work.
#[test]
fn steps_after_the_loop_ends_dispatch_nothing() {
    let Some(ctx) = gpu() else { return };
    let w = tiny_model(WeightFormat::Q8, 12);
    let gpu = GpuModel::new(ctx, &w).unwrap();
    let prompt = poem_prompt(&w);
    let masks = prompt.iter().filter(|&&id| id == w.config.mask_id).count();
    let p = SamplerParams { threshold: Some(0.01), ..Default::default() };
    let g = block_on(gpu.generate(&prompt, &p, false)).unwrap();
    assert!(g.steps_run < masks, "{} steps for {masks} masks: the threshold should finish early", g.steps_run);
    let per_step = gpu.dispatches_per_step() as usize;
    let args = block_on(gpu.step_workgroups()).unwrap();
    // Every dispatch of a step but commit (which writes the counts) reads them.
    assert_eq!(args, vec![0; 3 * (per_step - 1)], "workgroups left after the loop ended");
    assert_eq!(g.tokens, generate_cpu(&CpuModel::new(&w), &prompt, &p, false, |_| true).unwrap().tokens);
}

#[test]
fn file_round_trip_keeps_gpu_output() {
    let Some(ctx) = gpu() else { return };
    let w = ModelWeights::random(
        tiny_config(false),
        ExportFormat { blocks: WeightFormat::Q4, embeddings: WeightFormat::F16 },
        11,
    );
    let back = ModelWeights::from_bytes(&w.to_bytes()).unwrap();
    assert_eq!(back, w);
    let prompt = poem_prompt(&w);
    let p = SamplerParams::default();
    let a = block_on(GpuModel::new(ctx.clone(), &w).unwrap().generate(&prompt, &p, false)).unwrap();
    let b = block_on(GpuModel::new(ctx, &back).unwrap().generate(&prompt, &p, false)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_lost_device_is_an_error_not_a_panic_and_a_new_one_works() {
    let Some(ctx) = gpu() else { return };
    let w = tiny_model(WeightFormat::Q8, 12);
    let prompt = poem_prompt(&w);
    let p = SamplerParams::default();
    let gpu = GpuModel::new(ctx.clone(), &w).unwrap();
    let before = block_on(gpu.generate(&prompt, &p, false)).unwrap();
    ctx.lose_device();
    assert!(block_on(gpu.generate(&prompt, &p, false)).is_err(), "generation on a destroyed device must fail");
    let fresh = self::gpu().unwrap();
    let again = block_on(GpuModel::new(fresh, &w).unwrap().generate(&prompt, &p, false)).unwrap();
    assert_eq!(again, before);
}

/// The repeat rule alone: positions in lines of `width` (ids 1, 2, …).
fn lines(t: usize, width: usize) -> Constraints {
    Constraints { line: (0..t).map(|i| (i / width + 1) as u8).collect(), ..Default::default() }
}

/// Engines on one thread share one device and its compiled pipelines (the page's
/// model and the compare view's twin), and after the device is lost every engine
/// reopens onto one new device.
#[test]
fn engines_share_one_device_and_its_pipelines() {
    use unmask::engine::{Engine, Runner};
    if gpu().is_none() {
        return;
    }
    let open = |seed| match block_on(Engine::gpu(test_tokenizer(), tiny_model(WeightFormat::Q8, seed))) {
        Ok(e) => e,
        Err((e, _, _)) => panic!("{e}"),
    };
    let ctx = |e: &Engine| match e.runner() {
        Runner::Gpu(m) => m.context().clone(),
        Runner::Cpu(_) => panic!("not on the GPU"),
    };
    let mut a = open(1);
    let compiled = ctx(&a).pipelines_compiled();
    let mut b = open(2);
    assert!(std::rc::Rc::ptr_eq(&ctx(&a), &ctx(&b)), "two devices for two engines");
    assert_eq!(ctx(&b).pipelines_compiled(), compiled, "the second model compiled its own pipelines");
    let prompt = poem_prompt(&tiny_model(WeightFormat::Q8, 2));
    let p = SamplerParams { temperature: 0.7, seed: 9, ..Default::default() };
    let before = block_on(b.generate(&prompt, &p, true)).unwrap();
    a.lose_device();
    block_on(a.reopen_gpu()).unwrap();
    block_on(b.reopen_gpu()).unwrap();
    assert!(std::rc::Rc::ptr_eq(&ctx(&a), &ctx(&b)), "reopened onto two devices");
    // The reopened engine computes what it did before the loss, history included.
    assert_eq!(block_on(b.generate(&prompt, &p, true)).unwrap(), before);
}

/// Per-kernel GPU times from timestamp queries: every dispatch of a forward pass
/// counted once, grouped by kernel and shape; none where the device lacks them.
#[test]
fn kernel_times_cover_every_dispatch_of_a_forward() {
    let Some(ctx) = gpu() else { return };
    let w = tiny_model(WeightFormat::Q8, 13);
    let gpu = GpuModel::new(ctx.clone(), &w).unwrap();
    let times = block_on(gpu.kernel_times(&poem_prompt(&w))).unwrap();
    let Some(times) = times else {
        assert!(!ctx.timestamps, "timestamps on, but no kernel times");
        lacks_feature("timestamps");
        return;
    };
    let per_step = gpu.dispatches_per_step() as usize;
    // A forward is a step less pick and commit.
    assert_eq!(times.iter().map(|k| k.dispatches).sum::<usize>(), per_step - 2, "{times:?}");
    let names: Vec<&str> = times.iter().map(|k| k.kernel.as_str()).collect();
    for want in ["embed", "rmsnorm", "attention", "+rope", "+swiglu", "+acc"] {
        assert!(names.iter().any(|n| n.contains(want)), "no {want} in {names:?}");
    }
    assert!(times.iter().all(|k| k.ms.is_finite() && k.ms >= 0.0) && times.iter().any(|k| k.ms > 0.0), "{times:?}");
}

/// Natively, compiled pipelines are kept on disk between runs where the backend has
/// a pipeline cache: the file appears when the context is dropped, and a context
/// opened on it builds models that compute the same.
#[test]
fn pipelines_are_kept_on_disk_between_runs() {
    if gpu().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("unmask-pipeline-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let w = tiny_model(WeightFormat::Q8, 14);
    let prompt = poem_prompt(&w);
    let run = || {
        let ctx = std::rc::Rc::new(block_on(unmask::gpu::GpuContext::open(Some(dir.clone()))).unwrap());
        let model = GpuModel::new(ctx.clone(), &w).unwrap();
        let out = block_on(model.generate(&prompt, &SamplerParams::default(), false)).unwrap().tokens;
        (out, ctx.pipeline_cache_path().map(|p| p.to_path_buf()))
    };
    let (first, path) = run();
    let Some(path) = path else {
        lacks_feature("pipeline-cache");
        return;
    };
    assert!(std::fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false), "{} not written", path.display());
    let (second, _) = run();
    assert_eq!(first, second);
    let _ = std::fs::remove_dir_all(&dir);
}
