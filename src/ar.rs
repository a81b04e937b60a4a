//! What an autoregressive model can do for reversal without retraining: rank
//! candidates for the masked positions by the joint likelihood of the whole text,
//! `log p(A) + log p(B | A)` for a previous line A before a given line B, with the
//! candidates proposed by a left-to-right beam search of a stated width.
//!
//! Runs on the CPU reference. A causal model's row j depends only on tokens before j,
//! so every beam extension evaluates just the prefix up to the position it fills, and
//! each finished candidate is scored by one pass over the text (trailing `[PAD]`s are
//! not scored). The cost is counted in forward passes (model evaluations).

use serde::Serialize;
use thiserror::Error;

use crate::cpu::Forward;
use crate::sampler::banned;

/// Widest beam [`rank_by_joint`] accepts: each step keeps width² extensions, and
/// each finished candidate costs a forward pass.
pub const MAX_BEAM_WIDTH: usize = 1024;

#[derive(Debug, Error, PartialEq)]
pub enum BeamError {
    #[error("beam search needs an autoregressive (causal) model")]
    NotCausal,
    #[error("beam width must be at least 1")]
    ZeroWidth,
    #[error("beam width {0} is too large (at most {MAX_BEAM_WIDTH})")]
    TooWide(usize),
    #[error("the model's vocabulary has no character to generate")]
    NoCharacters,
    #[error("nothing to generate: the text has no masked positions")]
    NoMasks,
    #[error("the sequence has {len} positions; this model handles at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("the model computed a non-finite score (NaN or infinity): its weights overflow or the file is damaged")]
    NonFinite,
}

/// One finished candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// The whole sequence with the masks filled.
    pub tokens: Vec<u32>,
    /// Natural-log joint likelihood of the text (everything before the trailing PADs).
    pub log_joint: f64,
}

/// The ranker's answer: candidates best first (the first is the answer) and the cost.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ranked {
    pub candidates: Vec<Candidate>,
    /// Model evaluations spent: one per beam extension and one per candidate scored.
    pub forward_passes: usize,
}

/// Log-softmax of one row of logits.
fn log_softmax(row: &[f32]) -> Vec<f64> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = row.iter().map(|&l| (l as f64 - max).exp()).sum::<f64>().ln() + max;
    row.iter().map(|&l| l as f64 - lse).collect()
}

/// Length of the text: everything before the trailing `[PAD]`s.
fn text_len(tokens: &[u32], pad: u32) -> usize {
    tokens.iter().rposition(|&t| t != pad).map_or(0, |i| i + 1)
}

/// `log p(text)` under a causal model: the sum over positions of the log-probability
/// of each token given the ones before it, trailing PADs excluded. One forward pass.
pub fn log_joint(model: &dyn Forward, tokens: &[u32]) -> f64 {
    let (n, v) = (text_len(tokens, model.config().pad_id), model.config().vocab_size);
    if n == 0 {
        return 0.0;
    }
    let logits = model.forward(&tokens[..n]);
    (0..n).map(|j| log_softmax(&logits[j * v..(j + 1) * v])[tokens[j] as usize]).sum()
}

/// Fills the masked positions of `tokens` with the `width` best left-to-right
/// candidates (by the likelihood of the prefix), then ranks them by the joint
/// likelihood of the whole text. Token ids the sampler never produces (`[MASK]`,
/// `[PAD]`, `[UNK]`) are never proposed. Ties go to the lower token ids.
pub fn rank_by_joint(model: &dyn Forward, tokens: &[u32], width: usize) -> Result<Ranked, BeamError> {
    let c = model.config();
    if !c.causal {
        return Err(BeamError::NotCausal);
    }
    if width == 0 {
        return Err(BeamError::ZeroWidth);
    }
    if width > MAX_BEAM_WIDTH {
        return Err(BeamError::TooWide(width));
    }
    if tokens.len() > c.max_seq_len.min(crate::MAX_SEQ_LEN) {
        return Err(BeamError::TooLong { len: tokens.len(), max: c.max_seq_len.min(crate::MAX_SEQ_LEN) });
    }
    let masked: Vec<usize> = (0..tokens.len()).filter(|&i| tokens[i] == c.mask_id).collect();
    if masked.is_empty() {
        return Err(BeamError::NoMasks);
    }
    let v = c.vocab_size;
    let mut passes = 0;
    // (sequence, log-likelihood of the tokens filled so far)
    let mut beams: Vec<(Vec<u32>, f64)> = vec![(tokens.to_vec(), 0.0)];
    let allowed: Vec<u32> = (0..v as u32).filter(|&id| !banned(c, id)).collect();
    if allowed.is_empty() {
        return Err(BeamError::NoCharacters);
    }
    let mut scored = 0; // positions before this are in the beam scores
    for &pos in &masked {
        let mut next: Vec<(Vec<u32>, f64)> = Vec::with_capacity(beams.len() * width);
        for (seq, score) in &beams {
            // Row `pos` of the prefix 0..=pos predicts position `pos`; the rows before
            // it score the fixed tokens since the previous mask.
            let logits = model.forward(&seq[..=pos]);
            passes += 1;
            if !crate::sampler::finite_row(&logits) {
                return Err(BeamError::NonFinite);
            }
            let fixed: f64 = (scored..pos).map(|j| log_softmax(&logits[j * v..(j + 1) * v])[seq[j] as usize]).sum();
            let score = score + fixed;
            let lp = log_softmax(&logits[pos * v..(pos + 1) * v]);
            // The `width` best allowed ids, best first: partition, then sort only those.
            let mut ids = allowed.clone();
            let order = |a: &u32, b: &u32| lp[*b as usize].total_cmp(&lp[*a as usize]).then(a.cmp(b));
            if ids.len() > width {
                ids.select_nth_unstable_by(width - 1, order);
                ids.truncate(width);
            }
            ids.sort_by(order);
            for &id in &ids {
                let mut s = seq.clone();
                s[pos] = id;
                next.push((s, score + lp[id as usize]));
            }
        }
        next.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        next.truncate(width);
        beams = next;
        scored = pos + 1;
    }
    let mut candidates: Vec<Candidate> = beams
        .into_iter()
        .map(|(tokens, _)| {
            passes += 1;
            let log_joint = log_joint(model, &tokens);
            Candidate { tokens, log_joint }
        })
        .collect();
    candidates.sort_by(|a, b| b.log_joint.total_cmp(&a.log_joint).then_with(|| a.tokens.cmp(&b.tokens)));
    Ok(Ranked { candidates, forward_passes: passes })
}
