//! The reversal ranker for the autoregressive twin (`unmask::ar`): on a tiny model
//! where every candidate can be enumerated, a wide enough beam returns the candidate
//! with the highest joint likelihood, and the reported scores and costs are right.

mod common;

use common::*;
use unmask::ar::{log_joint, rank_by_joint, BeamError, MAX_BEAM_WIDTH};
use unmask::cpu::CpuModel;
use unmask::sampler::{banned, generate_cpu, SamplerParams};
use unmask::tasks::{answer, TaskBuilder};
use unmask::{ModelWeights, WeightFormat};

fn ar_model(seed: u64) -> CpuModel {
    let mut w = tiny_model(WeightFormat::Q8, seed);
    w.config.causal = true;
    CpuModel::new(&w)
}

/// Every filling of the masks with allowed ids, scored by `log_joint`.
fn enumerate(m: &CpuModel, tokens: &[u32]) -> Vec<(Vec<u32>, f64)> {
    let masks: Vec<usize> = (0..tokens.len()).filter(|&i| tokens[i] == m.config.mask_id).collect();
    let allowed: Vec<u32> = (0..m.config.vocab_size as u32).filter(|&id| !banned(&m.config, id)).collect();
    let mut out = vec![tokens.to_vec()];
    for &pos in &masks {
        out = out
            .iter()
            .flat_map(|s| {
                allowed.iter().map(move |&id| {
                    let mut s = s.clone();
                    s[pos] = id;
                    s
                })
            })
            .collect();
    }
    out.into_iter().map(|s| (s.clone(), log_joint(m, &s))).collect()
}

#[test]
fn a_full_beam_finds_the_enumerated_best() {
    for seed in [21, 22, 23] {
        // A 30-id vocabulary (27 characters) keeps the full beam (27² candidates)
        // within `MAX_BEAM_WIDTH`.
        let mut c = unmask::ModelConfig::tiny(30);
        c.causal = true;
        let m = CpuModel::new(&ModelWeights::random(
            c,
            unmask::ExportFormat { blocks: WeightFormat::Q8, embeddings: WeightFormat::Q8 },
            seed,
        ));
        // Two masks before a given line: every candidate can be listed.
        let mask = m.config.mask_id;
        let prompt = unmask::tasks::Prompt { tokens: vec![mask, mask, 3, 10, 11, 4], masked: vec![0, 1] };
        let all = enumerate(&m, &prompt.tokens);
        let best = all.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        let n_allowed = all.len().isqrt();
        // A beam as wide as the candidate list keeps every candidate.
        let r = rank_by_joint(&m, &prompt.tokens, all.len()).unwrap();
        assert_eq!(r.candidates.len(), all.len());
        assert_eq!(r.candidates[0].tokens, best.0, "seed {seed}: the beam's answer is not the enumerated best");
        assert!((r.candidates[0].log_joint - best.1).abs() < 1e-9);
        // Cost: one pass per beam per mask (1, then n_allowed) and one per candidate.
        assert_eq!(r.forward_passes, 1 + n_allowed + all.len());
        // A narrower beam costs less and still returns its best candidate by joint.
        let narrow = rank_by_joint(&m, &prompt.tokens, 3).unwrap();
        assert_eq!(narrow.forward_passes, 1 + 3 + 3);
        assert!(narrow.candidates[0].log_joint <= best.1 + 1e-9);
        // Candidates come best first and their scores are the joint likelihoods.
        for w in r.candidates.windows(2) {
            assert!(w[0].log_joint >= w[1].log_joint);
        }
        for c in &r.candidates {
            assert!((c.log_joint - log_joint(&m, &c.tokens)).abs() < 1e-9);
        }
    }
}

#[test]
fn width_one_is_the_plain_left_to_right_answer() {
    let tok = test_tokenizer();
    let m = ar_model(24);
    let tb = TaskBuilder::new(&tok, &m.config);
    let prompt = tb.previous_line("白日依山尽").unwrap();
    let greedy = generate_cpu(&m, &prompt.tokens, &SamplerParams::default(), false, |_| true).unwrap();
    let one = rank_by_joint(&m, &prompt.tokens, 1).unwrap();
    assert_eq!(one.candidates.len(), 1);
    assert_eq!(answer(&tok, &prompt, &one.candidates[0].tokens), answer(&tok, &prompt, &greedy.tokens));
    assert_eq!(one.forward_passes, 5 + 1);
    for width in [2, 4, 8] {
        let r = rank_by_joint(&m, &prompt.tokens, width).unwrap();
        assert_eq!(r.candidates.len(), width);
        assert_eq!(r.forward_passes, 1 + 4 * width + width, "width {width}");
    }
}

#[test]
fn bad_requests_are_errors() {
    let tok = test_tokenizer();
    let m = ar_model(25);
    let tb = TaskBuilder::new(&tok, &m.config);
    let prompt = tb.previous_line("白日依山尽").unwrap();
    assert_eq!(rank_by_joint(&m, &prompt.tokens, 0), Err(BeamError::ZeroWidth));
    let no_masks: Vec<u32> = prompt.tokens.iter().map(|&t| if t == m.config.mask_id { 5 } else { t }).collect();
    assert_eq!(rank_by_joint(&m, &no_masks, 2), Err(BeamError::NoMasks));
    let w = ModelWeights::random(
        tiny_config(false),
        unmask::ExportFormat { blocks: WeightFormat::Q8, embeddings: WeightFormat::Q8 },
        3,
    );
    assert_eq!(rank_by_joint(&CpuModel::new(&w), &prompt.tokens, 2), Err(BeamError::NotCausal));
    // Absurd widths are refused up front (they used to overflow an allocation).
    for width in [MAX_BEAM_WIDTH + 1, 1_000_000_000_000, usize::MAX] {
        assert_eq!(rank_by_joint(&m, &prompt.tokens, width), Err(BeamError::TooWide(width)));
    }
    // A vocabulary of special tokens only has nothing to generate (it used to panic).
    let mut c = unmask::ModelConfig::tiny(3);
    c.causal = true;
    let specials_only =
        ModelWeights::random(c, unmask::ExportFormat { blocks: WeightFormat::Q8, embeddings: WeightFormat::Q8 }, 4);
    let mask = specials_only.config.mask_id;
    assert_eq!(rank_by_joint(&CpuModel::new(&specials_only), &[mask, mask], 2), Err(BeamError::NoCharacters));
}

#[test]
fn overflowing_weights_are_an_error_not_a_ranking() {
    // Every logit NaN or infinite: the beam used to rank NaN scores and answer with
    // success.
    let tok = test_tokenizer();
    let mut w = tiny_model(WeightFormat::Q8, 26);
    w.config.causal = true;
    w.norm.iter_mut().for_each(|x| *x = 3e38);
    let m = CpuModel::new(&w);
    let prompt = TaskBuilder::new(&tok, &m.config).previous_line("白日依山尽").unwrap();
    assert_eq!(rank_by_joint(&m, &prompt.tokens, 4), Err(BeamError::NonFinite));
}
