//! Every GPU kernel against the CPU reference, on seeded inputs with shapes that
//! are not multiples of the workgroup size, for dense, Q8 and Q4 weights.

mod common;

use common::*;
use pollster::block_on;
use unmask::cpu;
use unmask::gpu::ops::KernelRunner;
use unmask::sampler::{self, Remasking, SamplerParams};
use unmask::{Matrix, WeightFormat};

const FORMATS: [WeightFormat; 3] = [WeightFormat::F32, WeightFormat::Q8, WeightFormat::Q4];

#[test]
fn matmul_matches_cpu_for_every_format() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    // (T, K, N): T not a multiple of the 4-row tile, N not a multiple of 64.
    for (t, k, n) in [(7, 96, 77), (1, 32, 5), (13, 160, 131)] {
        for fmt in FORMATS {
            let w = Matrix::from_f32(&randn(n * k, 11, 0.2), n, k, fmt);
            let x = randn(t * k, 12, 1.0);
            let want = cpu::matmul(&x, &w.dequantize(), t, k, n);
            let got = block_on(r.matmul(&x, t, &w, None)).unwrap();
            assert_close(&format!("matmul {fmt:?} T={t} K={k} N={n}"), &got, &want, MATMUL_TOL);
            // Accumulating into the residual stream.
            let y0 = randn(t * n, 13, 1.0);
            let mut want_acc = y0.clone();
            cpu::add_assign(&mut want_acc, &want);
            let got_acc = block_on(r.matmul(&x, t, &w, Some(&y0))).unwrap();
            assert_close(&format!("matmul+acc {fmt:?} T={t}"), &got_acc, &want_acc, MATMUL_TOL);
        }
    }
}

#[test]
fn quantized_weights_stay_close_to_f32() {
    // Q8 within 1% and Q4 within 15% of the f32 weights' RMS (block-wise scales).
    let (n, k) = (50, 96);
    let w = randn(n * k, 21, 0.1);
    let rms = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
    for (fmt, bound) in [(WeightFormat::Q8, 0.01), (WeightFormat::Q4, 0.15)] {
        let d = Matrix::from_f32(&w, n, k, fmt).dequantize();
        let err = (w.iter().zip(&d).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / w.len() as f32).sqrt();
        assert!(err / rms < bound, "{fmt:?}: RMS error {} of weight RMS exceeds {bound}", err / rms);
    }
}

#[test]
fn embed_matches_cpu_for_every_format() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    let (v, d) = (45, 96);
    let tokens: Vec<u32> = vec![0, 44, 3, 17, 17, 29, 1];
    for fmt in FORMATS {
        let e = Matrix::from_f32(&randn(v * d, 31, 1.0), v, d, fmt);
        let deq = e.dequantize();
        let want: Vec<f32> = tokens.iter().flat_map(|&t| deq[t as usize * d..(t as usize + 1) * d].to_vec()).collect();
        let got = block_on(r.embed(&tokens, &e)).unwrap();
        assert_close(&format!("embed {fmt:?}"), &got, &want, ELEMENTWISE_TOL);
    }
}

#[test]
fn rmsnorm_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    for (t, d) in [(5, 96), (3, 200), (1, 33)] {
        let x = randn(t * d, 41, 3.0);
        let w = randn(d, 42, 1.0);
        let got = block_on(r.rmsnorm(&x, &w, 1e-5)).unwrap();
        assert_close(&format!("rmsnorm T={t} D={d}"), &got, &cpu::rmsnorm(&x, &w, 1e-5), ELEMENTWISE_TOL);
    }
}

/// The fused Q/K/V product turns q and k by RoPE in its epilogue: against the CPU's
/// three products and `cpu::rope`, for every format, T not a multiple of 4.
#[test]
fn qkv_product_with_rope_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    let (t, nh, hd) = (37, 3, 32);
    let d = nh * hd;
    let x = randn(t * d, 50, 1.0);
    for fmt in FORMATS {
        let m = |seed| Matrix::from_f32(&randn(d * d, seed, 0.2), d, d, fmt);
        let (wq, wk, wv) = (m(51), m(52), m(53));
        let prod = |w: &Matrix| cpu::matmul(&x, &w.dequantize(), t, d, d);
        let (mut q, mut k, v) = (prod(&wq), prod(&wk), prod(&wv));
        cpu::rope(&mut q, t, nh, hd, 10_000.0);
        cpu::rope(&mut k, t, nh, hd, 10_000.0);
        let want: Vec<f32> =
            (0..t).flat_map(|i| [&q, &k, &v].into_iter().flat_map(move |m| m[i * d..(i + 1) * d].to_vec())).collect();
        let got = block_on(r.qkv_rope(&x, t, &wq, &wk, &wv, nh, 10_000.0)).unwrap();
        // Angles up to 36 rad: sin/cos of large arguments differ a little between libms.
        assert_close(&format!("qkv+rope {fmt:?}"), &got, &want, 5e-5);
    }
}

/// The fused gate/up product applies SwiGLU in its epilogue.
#[test]
fn gate_up_product_with_swiglu_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    for (t, k, f) in [(13, 64, 96), (1, 32, 5)] {
        let x = randn(t * k, 70, 1.0);
        for fmt in FORMATS {
            let (wg, wu) = (
                Matrix::from_f32(&randn(f * k, 71, 0.3), f, k, fmt),
                Matrix::from_f32(&randn(f * k, 72, 0.3), f, k, fmt),
            );
            let want =
                cpu::swiglu(&cpu::matmul(&x, &wg.dequantize(), t, k, f), &cpu::matmul(&x, &wu.dequantize(), t, k, f));
            let got = block_on(r.gate_up(&x, t, &wg, &wu)).unwrap();
            assert_close(&format!("gate/up+swiglu {fmt:?} T={t} F={f}"), &got, &want, MATMUL_TOL);
        }
    }
}

#[test]
fn attention_matches_cpu_bidirectional_and_causal() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    for (t, nh, hd) in [(37, 3, 32), (70, 2, 18), (1, 1, 8)] {
        let d = nh * hd;
        let (q, k, v) = (randn(t * d, 61, 1.0), randn(t * d, 62, 1.0), randn(t * d, 63, 1.0));
        for causal in [false, true] {
            let want = cpu::attention(&q, &k, &v, t, nh, hd, causal);
            let got = block_on(r.attention(&q, &k, &v, t, nh, hd, causal)).unwrap();
            assert_close(&format!("attention T={t} H={nh} hd={hd} causal={causal}"), &got, &want, MATMUL_TOL);
        }
    }
}

/// The repeat rule on the GPU: a pick never takes what its line holds away from it,
/// what another rhyme position holds, or the character that would finish a copy of
/// another written line — the CPU's choice in every case.
#[test]
fn pick_keeps_the_repeat_rule_like_the_cpu() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    let cfg = tiny_config(false);
    let (t, v) = (12, cfg.vocab_size);
    let m = cfg.mask_id;
    // Lines 0–2, 4–6, 8–10 (ids 1–3), punctuation between; 2 and 10 rhyme.
    let rh = sampler::RHYME;
    let line = vec![1, 1, 1 | rh, 0, 2, 2, 2, 0, 3, 3, 3 | rh, 0];
    // Line 2 is line 1 but for position 5; line 3 waits on its rhyme.
    let tokens = vec![15, 16, 17, 4, 15, m, 17, 4, 20, 21, m, 4];
    let mut logits = randn(t * v, 7, 1.0);
    logits[5 * v + 16] = 50.0; // the copy of line 1
    logits[5 * v + 18] = 40.0; // the next best
    logits[10 * v + 17] = 50.0; // line 1's rhyme
    logits[10 * v + 20] = 45.0; // held by its own line, away from it
    let [free, ruled] = picks_with_and_without(&r, &logits, &tokens, &line, &[5, 10]);
    assert_eq!(free, [16, 17]);
    assert_eq!(ruled[0], 18, "a copy of line 1 was finished");
    assert!(![17, 20].contains(&ruled[1]), "rhymed on 17 again, or repeated 20 in its line: {}", ruled[1]);
}

/// The GPU's picks at `at` without the repeat rule and with `line`, each the CPU's.
fn picks_with_and_without(
    r: &KernelRunner,
    logits: &[f32],
    tokens: &[u32],
    line: &[u8],
    at: &[usize],
) -> [Vec<u32>; 2] {
    let cfg = tiny_config(false);
    let v = cfg.vocab_size;
    let ruled = sampler::Constraints { line: line.to_vec(), ..Default::default() };
    [sampler::Constraints::default(), ruled].map(|constraints| {
        let rule = !constraints.line.is_empty();
        let p = SamplerParams { constraints, ..Default::default() };
        let (gp, _, _) = block_on(r.pick(logits, tokens, &cfg, &p, 0)).unwrap();
        at.iter()
            .map(|&pos| {
                let (tok, _, _) = sampler::pick(&logits[pos * v..(pos + 1) * v], &cfg, &p, tokens, 0, pos as u32);
                assert_eq!(gp[pos], tok, "position {pos}, rule {rule}: GPU {} CPU {tok}", gp[pos]);
                tok
            })
            .collect()
    })
}

/// The run ban on the GPU: a pick never writes, beside a written neighbour, a run of
/// two characters the text holds twice — on either side — as the CPU.
#[test]
fn pick_writes_no_third_run_like_the_cpu() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    let cfg = tiny_config(false);
    let (t, v) = (16, cfg.vocab_size);
    let m = cfg.mask_id;
    let line = vec![1, 1, 1, 0, 2, 2, 2, 0, 3, 3, 3, 0, 4, 4, 4, 0];
    // The run 15 16 twice; line 3 would write it after 15, line 4 before 16.
    let tokens = vec![15, 16, 17, 4, 15, 16, 18, 4, 15, m, 19, 4, m, 16, 20, 4];
    let mut logits = randn(t * v, 9, 1.0);
    logits[9 * v + 16] = 50.0;
    logits[9 * v + 21] = 40.0;
    logits[12 * v + 15] = 50.0;
    logits[12 * v + 22] = 40.0;
    assert_eq!(picks_with_and_without(&r, &logits, &tokens, &line, &[9, 12]), [vec![16, 15], vec![21, 22]]);
}

/// The triple guard on the GPU, in a task without constraints: no pick is the third
/// identical character in a row (two written neighbours on one side, or one on
/// each), as the CPU; a double beside a mask bans nothing.
#[test]
fn pick_writes_no_triple_like_the_cpu() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    let cfg = tiny_config(false);
    let (t, v) = (12, cfg.vocab_size);
    let m = cfg.mask_id;
    let tokens = vec![15, 15, m, 16, m, 16, 4, m, 17, 17, m, m];
    let mut logits = randn(t * v, 10, 1.0);
    for (pos, want) in [(2, 15), (4, 16), (7, 17), (10, 17), (11, 17)] {
        logits[pos * v + want] = 50.0;
        logits[pos * v + 30] = 40.0;
    }
    let p = SamplerParams::default();
    let (gp, _, _) = block_on(r.pick(&logits, &tokens, &cfg, &p, 0)).unwrap();
    let cpu: Vec<u32> = [2, 4, 7, 10, 11]
        .iter()
        .map(|&pos| sampler::pick(&logits[pos * v..(pos + 1) * v], &cfg, &p, &tokens, 0, pos as u32).0)
        .collect();
    assert_eq!(cpu, [30, 30, 30, 30, 17], "CPU reference");
    assert_eq!([2, 4, 7, 10, 11].map(|pos| gp[pos]).to_vec(), cpu, "GPU");
}

#[test]
fn pick_matches_cpu_greedy_gumbel_and_random() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    let cfg = tiny_config(false);
    let (t, v) = (9, cfg.vocab_size);
    let logits = randn(t * v, 81, 2.0);
    let mut tokens = vec![cfg.mask_id; t];
    tokens[2] = 5;
    tokens[6] = 7;
    // The argmax ids at T = 0, excluded in the last case so the pick must move on;
    // plus ids past 32 so a second bit word is read.
    let argmax: Vec<u32> = (0..t)
        .map(|pos| (0..v).max_by(|&a, &b| logits[pos * v + a].total_cmp(&logits[pos * v + b])).unwrap() as u32)
        .collect();
    let mut exclude: Vec<u32> = argmax.iter().copied().filter(|&id| !sampler::banned(&cfg, id)).collect();
    exclude.extend([33, 40, (v - 1) as u32]);
    for (temperature, remasking, exclude) in [
        (0.0, Remasking::LowConfidence, vec![]),
        (0.8, Remasking::LowConfidence, vec![]),
        (1.0, Remasking::Random, vec![]),
        (0.0, Remasking::LowConfidence, exclude.clone()),
        (0.8, Remasking::LowConfidence, exclude.clone()),
    ] {
        let p = SamplerParams { temperature, remasking, seed: 1234, exclude, ..Default::default() };
        let (gp, gprob, gkey) = block_on(r.pick(&logits, &tokens, &cfg, &p, 3)).unwrap();
        for pos in 0..t {
            if tokens[pos] != cfg.mask_id {
                assert_eq!(gp[pos], tokens[pos], "unmasked position {pos} must keep its token");
                continue;
            }
            let (tok, prob, key) = sampler::pick(&logits[pos * v..(pos + 1) * v], &cfg, &p, &tokens, 3, pos as u32);
            assert_eq!(gp[pos], tok, "T={temperature} position {pos}: GPU picked {} CPU {tok}", gp[pos]);
            assert_close(&format!("prob T={temperature} pos {pos}"), &[gprob[pos]], &[prob], MATMUL_TOL);
            assert_close(&format!("key {remasking:?} pos {pos}"), &[gkey[pos]], &[key], MATMUL_TOL);
            assert!(!sampler::banned(&cfg, gp[pos]), "picked a special token at {pos}");
            assert!(!p.exclude.contains(&gp[pos]), "picked excluded id {} at {pos}", gp[pos]);
        }
    }
}

#[test]
fn commit_matches_cpu_schedule_threshold_and_blocks() {
    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    let cfg = tiny_config(false);
    let m = cfg.mask_id;
    let t = 29;
    let mut tokens: Vec<u32> = (0..t as u32).map(|i| if i % 3 == 0 { 5 + i % 7 } else { m }).collect();
    tokens[1] = 9;
    // Picks repeat every 4 positions, so lines of 7 (the repeat rule) have clashes.
    let pred: Vec<u32> = (0..t as u32).map(|i| 10 + i % 4).collect();
    let prob = randn(t, 91, 1.0).iter().map(|v| v.abs().min(1.0)).collect::<Vec<f32>>();
    let mut key = prob.clone();
    key[4] = key[5]; // a tie, broken by position
    let lines: Vec<u8> = (0..t).map(|i| (i / 7) as u8).collect();
    // A rhyme set across lines 0–2 whose picks are all 12: only the best may commit.
    let mut rhymes = lines.clone();
    for i in [2, 10, 14, 22, 26] {
        rhymes[i] |= sampler::RHYME;
    }
    for (block_length, threshold, k, line) in [
        (0, None, 3u32, vec![]),
        (8, None, 2, vec![]),
        (0, Some(0.5), 0, vec![]),
        (5, Some(0.99), 0, vec![]),
        (0, None, 40, vec![]),
        (0, None, 6, lines.clone()),
        (8, None, 3, lines.clone()),
        (0, Some(0.3), 0, lines.clone()),
        (0, None, 12, rhymes.clone()),
        (0, Some(0.3), 0, rhymes.clone()),
    ] {
        let constraints = sampler::Constraints { line: line.clone(), ..Default::default() };
        let p = SamplerParams { block_length, threshold, constraints, ..Default::default() };
        let mut want = tokens.clone();
        // A schedule that reaches every mask (k = 40 asks for more than there are).
        let masked = tokens.iter().filter(|&&x| x == m).count();
        let sched = [k, masked.saturating_sub(k as usize) as u32];
        let rule = sampler::CommitRule {
            mask_id: m,
            block_length,
            k_scheduled: sampler::scheduled_k(&sched, 0, masked),
            threshold,
            line: &line,
            last: false,
            steps_left: 0,
        };
        sampler::commit(&mut want, &pred, &prob, &key, &rule);
        let (got, state) = block_on(r.commit(&tokens, &pred, &prob, &key, &cfg, &p, &sched, 0)).unwrap();
        assert_eq!(got, want, "commit block={block_length} threshold={threshold:?} k={k} lines {}", !line.is_empty());
        assert_eq!(state.step, 1, "commit advances the step");
    }
    // Picks that would together finish a copy of a line (and a run a third time):
    // taken in rank order, the second waits, either way round.
    let line = vec![1u8, 1, 0, 2, 2, 0, 3, 3, 0, 4, 4, 0];
    let tokens = vec![20, 21, 9, 20, 21, 9, m, m, 9, m, m, 9];
    let pred = vec![20, 21, 9, 20, 21, 9, 20, 21, 9, 30, 31, 9];
    for better in [6, 7] {
        let mut key = vec![0.5f32; 12];
        key[better] = 0.9;
        let constraints = sampler::Constraints { line: line.clone(), ..Default::default() };
        let p = SamplerParams { constraints, ..Default::default() };
        let rule = sampler::CommitRule {
            mask_id: m,
            block_length: 0,
            k_scheduled: 4,
            threshold: None,
            line: &line,
            last: false,
            steps_left: 0,
        };
        let mut want = tokens.clone();
        assert_eq!(sampler::commit(&mut want, &pred, &key, &key, &rule).len(), 3);
        let (got, _) = block_on(r.commit(&tokens, &pred, &key, &key, &cfg, &p, &[4, 0], 0)).unwrap();
        assert_eq!(got, want, "{better} is better");
    }
    // On a last step with a step to spare, a triple waits as before the last steps;
    // with two blocks holding masks and one step left, there is none to spare.
    for (tokens, pred, block_length, steps_left) in [
        (vec![9, m, m, 4], vec![9, 9, 9, 4], 0, 1usize),
        (vec![9, m, m, 4, m, 5], vec![9, 9, 9, 4, 6, 5], 4, 1),
        (vec![9, m, m, 4, m, 5], vec![9, 9, 9, 4, 6, 5], 4, 2),
    ] {
        let mut key = vec![0.5f32; tokens.len()];
        key[1] = 0.9;
        // Steps 0..=steps_left, all of them last steps, run from step 0.
        let sched = vec![0u32; steps_left + 1];
        let masked = tokens.iter().filter(|&&x| x == m).count();
        let rule = sampler::CommitRule {
            mask_id: m,
            block_length,
            k_scheduled: sampler::scheduled_k(&sched, 0, masked),
            threshold: None,
            line: &[],
            last: true,
            steps_left,
        };
        let mut want = tokens.clone();
        sampler::commit(&mut want, &pred, &key, &key, &rule);
        let p = SamplerParams { block_length, ..Default::default() };
        let (got, _) = block_on(r.commit_from(&tokens, &pred, &key, &key, &cfg, &p, &sched, 0, 0)).unwrap();
        assert_eq!(got, want, "blocks of {block_length}, {steps_left} steps left");
    }
    // Two picks side by side that would make a triple, without constraints: the
    // better one is taken, the other waits; on the last step both are.
    let tokens = vec![9, m, m, 4];
    let pred = vec![9, 9, 9, 4];
    for (better, last) in [(1, false), (2, false), (1, true)] {
        let mut key = vec![0.5f32; 4];
        key[better] = 0.9;
        let rule = sampler::CommitRule {
            mask_id: m,
            block_length: 0,
            k_scheduled: 2,
            threshold: None,
            line: &[],
            last,
            steps_left: 0,
        };
        let mut want = tokens.clone();
        sampler::commit(&mut want, &pred, &key, &key, &rule);
        assert_eq!(want.iter().filter(|&&x| x == m).count(), if last { 0 } else { 1 });
        // A one-step schedule makes this step the last.
        let sched: &[u32] = if last { &[2] } else { &[2, 0] };
        let (got, _) =
            block_on(r.commit(&tokens, &pred, &key, &key, &cfg, &SamplerParams::default(), sched, 0)).unwrap();
        assert_eq!(got, want, "{better} is better, last step {last}");
    }
}

/// The constructors refuse operands that do not fit together, with the kernel
/// and the operand named, before anything is bound.
#[test]
fn kernel_constructors_refuse_operands_that_do_not_fit() {
    use unmask::gpu::ops::{self, matmul::Epilogue, Dims, PickBuffers, SamplerUniform, Shared, State};
    use unmask::gpu::tensor::{GpuMatrix, Tensor, Uniform};
    use unmask::gpu::GpuError;
    let Some(ctx) = gpu() else { return };
    let dev = &ctx.device;
    let dims = Uniform::new(dev, "dims", &Dims::default());
    let state = Tensor::row(dev, "state", &[State::default()]);
    let s = Shared { dims: &dims, state: &state };
    let (t, k, n) = (8, 32, 24);
    let w = GpuMatrix::upload(dev, &Matrix::from_f32(&randn(n * k, 1, 0.2), n, k, WeightFormat::Q8), "w");
    let x = Tensor::<f32>::zeros(dev, "x", t, k);
    let tokens = Tensor::<u32>::zeros(dev, "tokens", t, 1);
    let shape_error = |r: Result<ops::Op, GpuError>| match r {
        Err(GpuError::Shape(why)) => why,
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("accepted"),
    };
    // The right shapes bind; one column too many in y is refused.
    let y = Tensor::<f32>::zeros(dev, "y", t, n);
    assert!(ops::matmul::op(&ctx, s, &x, &w, &y, &tokens, Epilogue::Store).is_ok());
    let wide = Tensor::<f32>::zeros(dev, "y", t, n + 1);
    let why = shape_error(ops::matmul::op(&ctx, s, &x, &w, &wide, &tokens, Epilogue::Store));
    assert!(why.contains("matmul") && why.contains("y is 8×25, needs 8×24"), "{why}");
    // SwiGLU writes half the stacked rows.
    let half = Tensor::<f32>::zeros(dev, "g", t, n / 2);
    assert!(ops::matmul::op(&ctx, s, &x, &w, &half, &tokens, Epilogue::Swiglu).is_ok());
    assert!(shape_error(ops::matmul::op(&ctx, s, &x, &w, &y, &tokens, Epilogue::Swiglu)).contains("y is"));
    // x's width must be W's.
    let narrow = Tensor::<f32>::zeros(dev, "x", t, k - 4);
    assert!(shape_error(ops::matmul::op(&ctx, s, &narrow, &w, &y, &tokens, Epilogue::Store)).contains("x is"));
    // Attention: q | k | v is three times the output's width, in whole heads.
    let (qkv, out) = (Tensor::<f32>::zeros(dev, "qkv", t, 3 * 16), Tensor::<f32>::zeros(dev, "out", t, 16));
    assert!(ops::attention::op(&ctx, s, &qkv, &out, 4).is_ok());
    assert!(shape_error(ops::attention::op(&ctx, s, &qkv, &out, 3)).contains("heads"));
    assert!(shape_error(ops::attention::op(&ctx, s, &out, &out, 4)).contains("qkv is"));
    // Rmsnorm's gain is one row of the input's width.
    let gain = Tensor::row(dev, "w", &vec![1.0f32; k + 1]);
    assert!(shape_error(ops::rmsnorm::op(&ctx, s, &x, &gain, &x)).contains("weight is 1×33"));
    // Pick: the per-position columns have one row per position.
    let sp = Uniform::new(dev, "sp", &SamplerUniform::default());
    let v = 40;
    let logits = Tensor::<f32>::zeros(dev, "logits", t, v);
    let (pred, prob, key) =
        (Tensor::zeros(dev, "pred", t, 1), Tensor::zeros(dev, "prob", t, 1), Tensor::zeros(dev, "key", t - 1, 1));
    let ex = Tensor::<u32>::zeros(dev, "exclude", 1, ops::pick::pick_table_words(v));
    let pb = PickBuffers { sampler: &sp, tokens: &tokens, pred: &pred, prob: &prob, key: &key };
    assert!(shape_error(ops::pick::op(&ctx, s, &logits, pb, &ex)).contains("key is 7×1, needs 8×1"));
}

/// A planted near tie (issue: Hardening v2): eight masked positions whose best
/// probabilities differ by about 1e-7, less than the backends' float sums disagree.
/// Their ranking keys are equal (`sampler::rank_key`), on the GPU and the CPU bit for
/// bit, so the tie breaks by position on both: the first three commit, not the three
/// a few ulps ahead (which full-precision keys would take, in an order that depends
/// on the backend).
#[test]
fn near_ties_rank_by_position_on_gpu_and_cpu() {
    let cfg = tiny_config(false);
    let (t, v) = (8, cfg.vocab_size);
    let mut logits = vec![0f32; t * v];
    for pos in 0..t {
        logits[pos * v + 10 + pos] = 5.0 + pos as f32 * 5e-7;
    }
    let tokens = vec![cfg.mask_id; t];
    let p = SamplerParams::default();
    let cpu: Vec<(u32, f32, f32)> =
        (0..t).map(|pos| sampler::pick(&logits[pos * v..(pos + 1) * v], &cfg, &p, &tokens, 0, pos as u32)).collect();
    assert!(cpu.windows(2).any(|w| w[0].1 != w[1].1), "the probabilities differ (a near tie, not a tie)");
    assert!(cpu.iter().all(|c| c.2 == cpu[0].2), "equal keys for the near tie: {cpu:?}");
    let (pred, prob, key): (Vec<u32>, Vec<f32>, Vec<f32>) =
        (cpu.iter().map(|c| c.0).collect(), cpu.iter().map(|c| c.1).collect(), cpu.iter().map(|c| c.2).collect());
    let rule = sampler::CommitRule {
        mask_id: cfg.mask_id,
        block_length: 0,
        k_scheduled: 3,
        threshold: None,
        line: &[],
        last: false,
        steps_left: 0,
    };
    let mut want = tokens.clone();
    assert_eq!(sampler::commit(&mut want, &pred, &prob, &key, &rule), vec![0, 1, 2]);

    let Some(ctx) = gpu() else { return };
    let r = KernelRunner::new(&ctx);
    let (gp, _, gkey) = block_on(r.pick(&logits, &tokens, &cfg, &p, 0)).unwrap();
    assert_eq!(gp, pred);
    assert_eq!(
        gkey.iter().map(|k| k.to_bits()).collect::<Vec<_>>(),
        key.iter().map(|k| k.to_bits()).collect::<Vec<_>>()
    );
    let (got, _) = block_on(r.commit(&tokens, &gp, &prob, &gkey, &cfg, &p, &[3, 5], 0)).unwrap();
    assert_eq!(got, want, "the GPU commits the same positions");
}
