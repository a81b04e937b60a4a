//! One denoising step — the pick per masked position and the commit rule — and the
//! CPU loop that runs them.

use serde::Serialize;

use super::constraints::{copies_at, repeats_at, runs_at, same_set, triples_at, Constraints, RHYME};
use super::params::{prepare, Remasking, SampleError, SamplerParams};
use super::schedule::{last_step, max_steps, schedule, scheduled_k};
use crate::cpu::Forward;
use crate::rng;

/// One denoising step as the UI shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepRecord {
    /// Tokens after this step's commit (T).
    pub tokens: Vec<u32>,
    /// Probability of the predicted token at positions masked before this step,
    /// `-1` elsewhere (T).
    pub confidence: Vec<f32>,
}

/// What a generation returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Generation {
    pub tokens: Vec<u32>,
    /// Forward passes (model evaluations) spent.
    pub steps_run: usize,
    /// Per-step history, when asked for.
    pub history: Vec<StepRecord>,
}

/// The pick for one masked position (reference of `shaders/pick.wgsl`): the token
/// `argmax(logit + temperature·gumbel)` over allowed ids (lowest id on ties), its
/// softmax probability under the raw logits, and the ranking key (probability, or a
/// uniform draw for random remasking). `tokens` is the text before this step (for
/// the repeat rule and [`triples_at`]).
pub fn pick(
    logits: &[f32],
    cfg: &crate::ModelConfig,
    p: &SamplerParams,
    tokens: &[u32],
    step: u32,
    pos: u32,
) -> (u32, f32, f32) {
    let mut best = (f32::NEG_INFINITY, 0u32);
    let mut max = f32::NEG_INFINITY;
    // One table per pick instead of a search of `exclude` for every id, twice.
    let mut skipped = vec![false; logits.len()];
    let at = p.constraints.excluded_at(pos as usize);
    let mut repeats = repeats_at(tokens, &p.constraints, cfg.mask_id, pos as usize);
    repeats.extend(triples_at(tokens, cfg.mask_id, pos as usize));
    for id in [cfg.mask_id, cfg.pad_id, cfg.unk_id].iter().chain(&p.exclude).chain(at).chain(&repeats) {
        if let Some(s) = skipped.get_mut(*id as usize) {
            *s = true;
        }
    }
    let skip = |v: u32| skipped[v as usize];
    for (v, &l) in logits.iter().enumerate() {
        if skip(v as u32) {
            continue;
        }
        max = max.max(l);
        let score = if p.temperature > 0.0 { l + p.temperature * rng::gumbel(p.seed, step, pos, v as u32) } else { l };
        if score > best.0 {
            best = (score, v as u32);
        }
    }
    let sum: f32 = logits.iter().enumerate().filter(|(v, _)| !skip(*v as u32)).map(|(_, l)| (l - max).exp()).sum();
    let prob = (logits[best.1 as usize] - max).exp() / sum;
    let key = match p.remasking {
        Remasking::LowConfidence => rank_key(prob),
        Remasking::Random => rng::uniform(p.seed, step, pos, u32::MAX),
    };
    (best.1, prob, key)
}

/// The low-confidence ranking key of a probability: the probability with all but
/// the top [`KEY_MANTISSA_BITS`] bits of its mantissa cleared (rounded towards zero,
/// so a step of 1/256 of its own size). The backends' probabilities differ in their
/// last bits (their sums run in other orders); compared in full, two positions a few
/// ulps apart commit in another order on the GPU than on the CPU. Cleared, such near
/// ties are equal keys and break by position, the same everywhere, unless they
/// straddle a step (about 0.4% of pairs 1e-6 apart). Same bits as `shaders/pick.wgsl`.
pub fn rank_key(prob: f32) -> f32 {
    f32::from_bits(prob.to_bits() & KEY_MASK)
}

/// Mantissa bits a ranking key keeps (of f32's 23).
pub const KEY_MANTISSA_BITS: u32 = 8;
const KEY_MASK: u32 = !((1u32 << (23 - KEY_MANTISSA_BITS)) - 1);

/// Whether a masked position's logits are all finite; a NaN or ±∞ anywhere in the
/// row stops the generation with `SampleError::NonFinite` (on the GPU, pick sets
/// `State::fault` and commit ends the loop), instead of committing a token the
/// ranking could not have chosen.
pub fn finite_row(logits: &[f32]) -> bool {
    logits.iter().all(|l| l.is_finite())
}

/// How one step commits (besides the tokens and the picks).
#[derive(Clone, Copy, Debug)]
pub struct CommitRule<'a> {
    pub mask_id: u32,
    pub block_length: usize,
    /// The count in schedule mode ([`scheduled_k`]).
    pub k_scheduled: u32,
    pub threshold: Option<f32>,
    /// The repeat rule's sets (`Constraints::line`).
    pub line: &'a [u8],
    /// The plan's last step or a fill step after it (`schedule::last_step`):
    /// every candidate of the block commits, clash or not.
    pub last: bool,
    /// Steps the loop may still run after this one (`max_steps` − step − 1). On a
    /// last step a pick that would make a triple with picks taken before it waits
    /// only while the budget has a step to spare for every block that still has
    /// masks (`schedule::fill_steps` leaves [`TRIPLE_STEPS`] spare), so the loop
    /// still ends with every mask filled.
    pub steps_left: usize,
}

/// The commit rule (reference of `shaders/commit.wgsl`). Candidates are the masked
/// positions of the first block that still has masks, less those whose pick clashes
/// under the repeat rule with a better-ranked candidate's (same set, same character:
/// beside it too, so that a 叠字 is written one step after its first half, when
/// [`repeats_at`] can judge it; not on the last step); the `k` with the highest key (lower
/// position first on ties) are chosen, and take their predicted token in rank order
/// unless the ones taken before make it a third identical character in a row
/// ([`triples_at`], any task), finish a copy of a line or write a run of two
/// characters a third time ([`copies_at`], [`runs_at`]); then it waits a step, but
/// not on the last (where two picks side by side may still make a triple). `k` is the schedule's count, or in threshold mode the number
/// of candidates whose probability reaches the threshold (at least one; on the last
/// steps all of them), so the last steps leave no mask in their block. Returns the
/// committed positions.
pub fn commit(tokens: &mut [u32], pred: &[u32], prob: &[f32], key: &[f32], r: &CommitRule) -> Vec<usize> {
    let t = tokens.len();
    let l = if r.block_length == 0 { t } else { r.block_length.min(t) };
    let Some(first) = tokens.iter().position(|&x| x == r.mask_id) else { return Vec::new() };
    let block_end = ((first / l) + 1) * l;
    let above = |j: usize, i: usize| key[j] > key[i] || (key[j] == key[i] && j < i);
    let line = |i: usize| r.line.get(i).copied().unwrap_or(0);
    let masked: Vec<usize> = (0..t.min(block_end)).filter(|&i| tokens[i] == r.mask_id).collect();
    let clashes = |i: usize| {
        !r.last
            && line(i) != 0
            && masked.iter().any(|&j| same_set(line(j), line(i)) && pred[j] == pred[i] && above(j, i))
    };
    let cands: Vec<usize> = masked.iter().copied().filter(|&i| !clashes(i)).collect();
    let k = match r.threshold {
        Some(_) if r.last => cands.len(),
        Some(th) => cands.iter().filter(|&&i| prob[i] >= th).count().max(1),
        None => r.k_scheduled as usize,
    }
    .min(cands.len());
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    for &i in &cands {
        let rank = cands.iter().filter(|&&j| above(j, i)).count();
        if rank < k {
            chosen.push(i);
        }
    }
    // Rank order: `above` is a strict total order on distinct positions.
    chosen.sort_by(|&a, &b| match (a == b, above(a, b)) {
        (true, _) => std::cmp::Ordering::Equal,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => std::cmp::Ordering::Greater,
    });
    let rule = Constraints { line: r.line.to_vec(), ..Default::default() };
    // On a last step, the budget has a step to spare for each block with masks.
    let spare = r.last && tokens.chunks(l).filter(|b| b.contains(&r.mask_id)).count() <= r.steps_left;
    let mut taken = Vec::with_capacity(chosen.len());
    for i in chosen {
        let in_line = line(i) & !RHYME != 0;
        let triple = || triples_at(tokens, r.mask_id, i).contains(&pred[i]);
        let waits = if r.last {
            spare && triple()
        } else {
            triple()
                || in_line
                    && copies_at(tokens, &rule, r.mask_id, i)
                        .into_iter()
                        .chain(runs_at(tokens, &rule, r.mask_id, i))
                        .any(|x| x == pred[i])
        };
        if waits {
            continue;
        }
        tokens[i] = pred[i];
        taken.push(i);
    }
    taken.sort_unstable();
    taken
}

/// The reverse process on a CPU model (the fast path or the reference), one step at
/// a time, so a caller (the web page's CPU fallback) can yield between steps and
/// never freeze the UI.
pub struct CpuSampler<'m> {
    model: &'m dyn Forward,
    params: SamplerParams,
    x: Vec<u32>,
    sched: Vec<u32>,
    total: usize,
    /// From this step on nothing waits (`last_step`).
    last: usize,
    step: usize,
}

impl<'m> CpuSampler<'m> {
    pub fn new(model: &'m dyn Forward, tokens: &[u32], p: &SamplerParams) -> Result<Self, SampleError> {
        let cfg = model.config();
        let x = prepare(tokens, p, cfg)?;
        let p = p.for_model(cfg);
        let sched = schedule(&x, &p, cfg.mask_id);
        let total = max_steps(&x, &p, cfg.mask_id);
        let last = last_step(&x, &p, cfg.mask_id);
        Ok(CpuSampler { model, params: p, x, sched, total, last, step: 0 })
    }

    /// Runs one step; `None` once every mask is committed.
    pub fn step(&mut self) -> Result<Option<StepRecord>, SampleError> {
        let (cfg, p, t) = (self.model.config(), &self.params, self.x.len());
        let masked: Vec<usize> = (0..t).filter(|&i| self.x[i] == cfg.mask_id).collect();
        if masked.is_empty() || self.step >= self.total {
            return Ok(None);
        }
        let logits = self.model.forward_rows(&self.x, &masked);
        if !finite_row(&logits) {
            return Err(SampleError::NonFinite);
        }
        let (mut pred, mut prob, mut key) = (vec![0u32; t], vec![-1f32; t], vec![f32::NEG_INFINITY; t]);
        for (row, &i) in masked.iter().enumerate() {
            let v = cfg.vocab_size;
            let row = &logits[row * v..(row + 1) * v];
            (pred[i], prob[i], key[i]) = pick(row, cfg, p, &self.x, self.step as u32, i as u32);
        }
        let rule = CommitRule {
            mask_id: cfg.mask_id,
            block_length: p.block_length,
            k_scheduled: scheduled_k(&self.sched, self.step, masked.len()),
            threshold: p.threshold,
            line: &p.constraints.line,
            last: self.step >= self.last,
            steps_left: self.total - self.step - 1,
        };
        commit(&mut self.x, &pred, &prob, &key, &rule);
        self.step += 1;
        Ok(Some(StepRecord { tokens: self.x.clone(), confidence: prob }))
    }

    /// The most steps this generation can take.
    pub fn max_steps(&self) -> usize {
        self.total
    }

    pub fn steps_run(&self) -> usize {
        self.step
    }

    pub fn tokens(&self) -> &[u32] {
        &self.x
    }
}

/// Runs the whole reverse process on a CPU model. `on_step` sees each step as
/// it happens and may return `false` to stop early.
pub fn generate_cpu(
    model: &dyn Forward,
    tokens: &[u32],
    p: &SamplerParams,
    keep_history: bool,
    mut on_step: impl FnMut(&StepRecord) -> bool,
) -> Result<Generation, SampleError> {
    let mut s = CpuSampler::new(model, tokens, p)?;
    let mut history = Vec::new();
    while let Some(rec) = s.step()? {
        let go_on = on_step(&rec);
        if keep_history {
            history.push(rec);
        }
        if !go_on {
            break;
        }
    }
    Ok(Generation { tokens: s.x, steps_run: s.step, history })
}
