//! The reverse (unmasking) process: parameters, schedule, the per-position pick and
//! the commit rule, shared by the CPU loop here and the GPU loop in `gpu::generate`
//! (whose kernels implement `pick` and `commit` exactly as written here).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::cpu::Forward;
use crate::rng;

/// Which masked positions to commit each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Remasking {
    /// Commit the predictions the model is most sure of (softmax probability).
    #[default]
    LowConfidence,
    /// Commit random masked positions.
    Random,
}

impl std::str::FromStr for Remasking {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low_confidence" | "low-confidence" | "confidence" => Ok(Self::LowConfidence),
            "random" => Ok(Self::Random),
            _ => Err(format!("unknown remasking `{s}` (expected low_confidence or random)")),
        }
    }
}

/// Every sampler option, with defaults. Shared by the CLI, the web page and tests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplerParams {
    /// Denoising steps in total (split evenly across blocks; a block never takes more
    /// steps than it has masks).
    pub steps: usize,
    /// Semi-autoregressive block length in positions; 0 = one block (fully parallel).
    pub block_length: usize,
    pub remasking: Remasking,
    /// Gumbel temperature; 0 = greedy.
    pub temperature: f32,
    /// Fast-dLLM parallel decoding: commit every prediction with probability ≥ this
    /// (at least one a step) instead of following the step schedule.
    pub threshold: Option<f32>,
    /// Positions forced to a token id before sampling; never changed.
    pub pinned: Vec<(usize, u32)>,
    /// Token ids never generated, besides the special tokens. The engine puts the
    /// tokenizer's punctuation here: every mask of a template is a character slot,
    /// the template itself holds the punctuation (`engine::Engine::params_for`).
    #[serde(skip)]
    pub exclude: Vec<u32>,
    /// Per-position exclusions on top of `exclude` (regulated verse: tone classes and
    /// a rhyme group at the positions a pattern fixes; `prosody::constraints`).
    #[serde(skip)]
    pub constraints: Constraints,
    pub seed: u32,
}

/// The most constraint classes a request may use (a 对对子 answer of 30 characters
/// needs one per position: its tone and the given line's character there).
pub const MAX_CLASSES: usize = 32;
/// The most positions one line of the repeat rule may have (with the rhyme
/// positions), and the most lines.
pub const MAX_LINE: usize = 32;
/// Steps added to a schedule when the repeat rule holds: a step may leave a position
/// masked whose pick clashes with a better one in its line, and these finish them.
pub const CLEANUP_STEPS: usize = 2;

/// Per-position allowed sets, as classes: `at[i] = 0` leaves position `i` to
/// `exclude` alone, `at[i] = k ≥ 1` also excludes `classes[k − 1]` there. An empty
/// `at` means no constraint. The GPU's pick reads the same table
/// (`gpu::kernels::pick_tables`).
///
/// `line` is the repeat rule (empty: none): positions with the same nonzero id form
/// a line in which the model writes no character that the line already holds, except
/// right next to itself — 叠字 such as 萋萋 are part of the art, loops such as
/// 不知人不知人 are not — and then only a character of `doubles` when that is not
/// empty (the prosody data's list of what the corpus doubles: 萋萋, not 不不). The [`RHYME`] bit puts a position in one more such set, the
/// poem's rhyme positions, whatever their lines: a regulated poem never rhymes on one
/// character twice (重韵). Nor does a pick finish a copy of a written line
/// ([`copies_at`]), nor write a run of two characters that two other places of the
/// text already hold ([`runs_at`]: 江南 … 江南 … 江南 is a loop across lines).
/// Characters the user pinned or gave count as held, and may
/// repeat among themselves. Two picks of one step that would clash are settled in
/// `commit`: the better one is committed, the other waits a step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Constraints {
    pub classes: Vec<Vec<u32>>,
    pub at: Vec<u8>,
    pub line: Vec<u8>,
    /// Sorted ids that may stand beside themselves in a line (empty: any).
    pub doubles: Vec<u32>,
}

/// The bit of a `Constraints::line` word that puts a position in the rhyme set; the
/// other bits are its line id (0: none).
pub const RHYME: u8 = 0x80;

/// Whether two positions with these `Constraints::line` words share a set of the
/// repeat rule: the same line, or both rhyme positions. (`shaders/pick.wgsl` and
/// `shaders/commit.wgsl` test the same.)
pub fn same_set(a: u8, b: u8) -> bool {
    let (la, lb) = (a & !RHYME, b & !RHYME);
    (la != 0 && la == lb) || (a & b & RHYME) != 0
}

/// `Constraints::line` word of `c` per position (0 for positions past `line`).
fn line_of(c: &Constraints, pos: usize) -> u8 {
    c.line.get(pos).copied().unwrap_or(0)
}

/// The characters the repeat rule forbids at `pos`: those its sets hold at a
/// position not next to it, those next to it that may not double
/// ([`Constraints::may_double`]), [`copies_at`] and [`runs_at`].
pub fn repeats_at(tokens: &[u32], c: &Constraints, mask_id: u32, pos: usize) -> Vec<u32> {
    let l = line_of(c, pos);
    if l == 0 {
        return Vec::new();
    }
    let held = |q: usize| q.abs_diff(pos) > 1 || (q != pos && !c.may_double(tokens[q]));
    let mut out: Vec<u32> = (0..tokens.len())
        .filter(|&q| same_set(l, line_of(c, q)) && held(q) && tokens[q] != mask_id)
        .map(|q| tokens[q])
        .collect();
    out.extend(copies_at(tokens, c, mask_id, pos));
    out.extend(runs_at(tokens, c, mask_id, pos));
    out
}

/// The characters that would make `pos` the third of three identical characters in
/// a row (with two written neighbours on one side, or one on each): never written,
/// in any task, whatever the constraints — 叠字 such as 萋萋 are the art, 日日日 is a
/// loop (370 of the corpus's 3.2M lines hold one). Under the repeat rule the line
/// bans them anyway; this is the loop guard of the tasks without it (the next or
/// previous line, masked characters). At most three ids.
pub fn triples_at(tokens: &[u32], mask_id: u32, pos: usize) -> Vec<u32> {
    let at = |q: Option<usize>| q.and_then(|q| tokens.get(q)).copied().filter(|&x| x != mask_id);
    let (l2, l1, r1, r2) = (at(pos.checked_sub(2)), at(pos.checked_sub(1)), at(Some(pos + 1)), at(Some(pos + 2)));
    let mut out: Vec<u32> =
        [(l2, l1), (l1, r1), (r1, r2)].into_iter().filter_map(|(a, b)| a.filter(|_| a == b)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The characters that would write, beside a written neighbour in `pos`'s line, a
/// run of two characters (two written positions side by side in one line) that the
/// text holds twice already. (Picks of one step that would make a third run
/// together are settled in [`commit`].)
pub fn runs_at(tokens: &[u32], c: &Constraints, mask_id: u32, pos: usize) -> Vec<u32> {
    let id = |q: usize| line_of(c, q) & !RHYME;
    let l = id(pos);
    if l == 0 {
        return Vec::new();
    }
    let runs: Vec<(u32, u32)> = (1..tokens.len())
        .filter(|&q| id(q) != 0 && id(q - 1) == id(q) && tokens[q - 1] != mask_id && tokens[q] != mask_id)
        .map(|q| (tokens[q - 1], tokens[q]))
        .collect();
    let twice = |r: &(u32, u32)| runs.iter().filter(|&x| x == r).count() >= 2;
    let written = |q: usize| id(q) == l && tokens[q] != mask_id;
    let mut out = Vec::new();
    if pos > 0 && written(pos - 1) {
        out.extend(runs.iter().filter(|r| r.0 == tokens[pos - 1] && twice(r)).map(|r| r.1));
    }
    if pos + 1 < tokens.len() && written(pos + 1) {
        out.extend(runs.iter().filter(|r| r.1 == tokens[pos + 1] && twice(r)).map(|r| r.0));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The characters that would make `pos`'s line a copy of another line: when every
/// other position of its line is written, each written line of as many positions
/// that holds the same characters in the same order everywhere else bans its own
/// character at `pos`'s place (a line is its positions in order, whatever lies
/// between them).
pub fn copies_at(tokens: &[u32], c: &Constraints, mask_id: u32, pos: usize) -> Vec<u32> {
    let id = |q: usize| line_of(c, q) & !RHYME;
    let l = id(pos);
    if l == 0 {
        return Vec::new();
    }
    let mine: Vec<usize> = (0..tokens.len()).filter(|&q| id(q) == l).collect();
    let off = mine.iter().position(|&q| q == pos).expect("pos is in its line");
    if mine.iter().any(|&q| q != pos && tokens[q] == mask_id) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for first in 0..tokens.len() {
        let o = id(first);
        // Each other line once, from its first position.
        if o == 0 || o == l || (0..first).any(|q| id(q) == o) {
            continue;
        }
        let theirs: Vec<usize> = (first..tokens.len()).filter(|&q| id(q) == o).collect();
        let copy = theirs.len() == mine.len()
            && theirs.iter().all(|&q| tokens[q] != mask_id)
            && (0..mine.len()).all(|j| j == off || tokens[theirs[j]] == tokens[mine[j]]);
        if copy {
            out.push(tokens[theirs[off]]);
        }
    }
    out
}

impl Constraints {
    /// Whether `id` may stand beside itself in a line of the repeat rule (叠字).
    pub fn may_double(&self, id: u32) -> bool {
        self.doubles.is_empty() || self.doubles.binary_search(&id).is_ok()
    }

    /// The ids excluded at `pos` besides `exclude`.
    pub fn excluded_at(&self, pos: usize) -> &[u32] {
        match self.at.get(pos) {
            Some(&k) if k > 0 => self.classes.get(k as usize - 1).map_or(&[], Vec::as_slice),
            _ => &[],
        }
    }
}

impl Default for SamplerParams {
    fn default() -> Self {
        SamplerParams {
            steps: 16,
            block_length: 0,
            remasking: Remasking::LowConfidence,
            temperature: 0.0,
            threshold: None,
            pinned: Vec::new(),
            exclude: Vec::new(),
            constraints: Constraints::default(),
            seed: 0,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SampleError {
    #[error("nothing to generate: the text has no masked positions")]
    NoMasks,
    #[error("the sequence has {len} positions; this model handles at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("the sequence is empty")]
    Empty,
    #[error("pinned position {0} is outside the sequence")]
    PinOutOfRange(usize),
    #[error("position {0} is not one the model fills; only masked positions can be pinned")]
    PinNotMasked(usize),
    #[error("position {0} is a character slot: it cannot be pinned to punctuation or a special token")]
    PinNotCharacter(usize),
    #[error("the model's vocabulary has no character it may generate here")]
    NothingAllowed,
    #[error("token id {0} is not in the vocabulary")]
    BadToken(u32),
    #[error("steps must be at least 1")]
    ZeroSteps,
    #[error("threshold must be in (0, 1], got {0}")]
    BadThreshold(f32),
    #[error("temperature must be finite and non-negative, got {0}")]
    BadTemperature(f32),
    #[error("bad constraints: {0}")]
    BadConstraints(String),
    #[error("no character the model may generate satisfies the constraints at position {0}")]
    NothingAllowedAt(usize),
    #[error("the model computed a non-finite score (NaN or infinity): its weights overflow or the file is damaged")]
    NonFinite,
}

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

/// The parameters a model actually runs with: the diffusion model takes `p` as given;
/// an autoregressive (causal) model can only commit the leftmost masked position each
/// step (block length 1, one step per mask, no threshold) — the same loop and kernels,
/// strictly left to right.
pub fn params_for(cfg: &crate::ModelConfig, p: &SamplerParams) -> SamplerParams {
    let mut p = p.clone();
    if cfg.causal {
        p.block_length = 1;
        p.threshold = None;
    }
    p
}

/// Applies pins and checks the request; returns the starting tokens.
pub fn prepare(tokens: &[u32], p: &SamplerParams, cfg: &crate::ModelConfig) -> Result<Vec<u32>, SampleError> {
    let (vocab, mask_id, max_len) = (cfg.vocab_size, cfg.mask_id, cfg.max_seq_len);
    if tokens.is_empty() {
        return Err(SampleError::Empty);
    }
    if tokens.len() > max_len.min(crate::MAX_SEQ_LEN) {
        return Err(SampleError::TooLong { len: tokens.len(), max: max_len.min(crate::MAX_SEQ_LEN) });
    }
    if p.steps == 0 {
        return Err(SampleError::ZeroSteps);
    }
    if let Some(th) = p.threshold {
        if !(th > 0.0 && th <= 1.0) {
            return Err(SampleError::BadThreshold(th));
        }
    }
    if !(p.temperature.is_finite() && p.temperature >= 0.0) {
        return Err(SampleError::BadTemperature(p.temperature));
    }
    let mut x = tokens.to_vec();
    for &(pos, tok) in &p.pinned {
        if pos >= x.len() {
            return Err(SampleError::PinOutOfRange(pos));
        }
        // Only a position the model is to fill can be pinned: never a prompt
        // character or the trailing [PAD] a shifted model reads through.
        if tokens[pos] != mask_id {
            return Err(SampleError::PinNotMasked(pos));
        }
        // (Checked here too: a later pin of the same position hides it from `x`.)
        if tok as usize >= vocab {
            return Err(SampleError::BadToken(tok));
        }
        x[pos] = tok;
    }
    let c = &p.constraints;
    let class_ids = c.classes.iter().flatten();
    if let Some(&bad) = x.iter().chain(&p.exclude).chain(class_ids).find(|&&t| t as usize >= vocab) {
        return Err(SampleError::BadToken(bad));
    }
    if !x.contains(&mask_id) {
        return Err(SampleError::NoMasks);
    }
    if !c.at.is_empty() && c.at.len() != x.len() {
        return Err(SampleError::BadConstraints(format!("{} positions for a {}-position text", c.at.len(), x.len())));
    }
    if c.classes.len() > MAX_CLASSES || c.at.iter().any(|&k| k as usize > c.classes.len()) {
        return Err(SampleError::BadConstraints(format!("at most {MAX_CLASSES} classes, each used one defined")));
    }
    if !c.line.is_empty() && c.line.len() != x.len() {
        return Err(SampleError::BadConstraints(format!("{} line ids for a {}-position text", c.line.len(), x.len())));
    }
    // A position's sets hold at most MAX_LINE positions together (the GPU's pick
    // gathers what they hold into a table of that size).
    let mut per_line = [0usize; 128];
    for &l in &c.line {
        per_line[(l & !RHYME) as usize] += 1;
    }
    let rhymes = c.line.iter().filter(|&&l| l & RHYME != 0).count();
    if per_line[1..].iter().any(|&n| n + rhymes > MAX_LINE) {
        return Err(SampleError::BadConstraints(format!(
            "a line of the repeat rule and the rhyme positions have more than {MAX_LINE} positions"
        )));
    }
    if per_line[1..].iter().filter(|&&n| n > 0).count() > MAX_LINE {
        return Err(SampleError::BadConstraints(format!("the repeat rule has more than {MAX_LINE} lines")));
    }
    // With nothing allowed the pick would commit a special token with success.
    let mut skip = vec![false; vocab];
    for &id in &p.exclude {
        skip[id as usize] = true;
    }
    if !(0..vocab as u32).any(|id| !banned(cfg, id) && !skip[id as usize]) {
        return Err(SampleError::NothingAllowed);
    }
    // A pin fills a character slot: never with what the model may not write there.
    if let Some(&(pos, _)) = p.pinned.iter().find(|&&(_, tok)| banned(cfg, tok) || skip[tok as usize]) {
        return Err(SampleError::PinNotCharacter(pos));
    }
    for (k, class) in c.classes.iter().enumerate() {
        let Some(pos) = (0..x.len()).find(|&i| x[i] == mask_id && c.at.get(i) == Some(&(k as u8 + 1))) else {
            continue;
        };
        let mut s = skip.clone();
        for &id in class {
            s[id as usize] = true;
        }
        if !(0..vocab as u32).any(|id| !banned(cfg, id) && !s[id as usize]) {
            return Err(SampleError::NothingAllowedAt(pos));
        }
    }
    Ok(x)
}

/// Block bounds: block `b` covers positions `[b·L, (b+1)·L)`; `L = 0` → one block.
fn block_len(p: &SamplerParams, t: usize) -> usize {
    if p.block_length == 0 {
        t
    } else {
        p.block_length.min(t)
    }
}

/// Tokens to commit at each step (schedule mode): blocks in order, each with
/// `steps / blocks` steps (at least one, at most its mask count), its masks spread
/// evenly with the remainder on the first steps (as LLaDA's schedule).
/// With the repeat rule, [`CLEANUP_STEPS`] steps of 0 follow: "whatever is left".
pub fn schedule(tokens: &[u32], p: &SamplerParams, mask_id: u32) -> Vec<u32> {
    let l = block_len(p, tokens.len());
    let masks: Vec<usize> =
        tokens.chunks(l).map(|b| b.iter().filter(|&&t| t == mask_id).count()).filter(|&m| m > 0).collect();
    let per_block = (p.steps / masks.len().max(1)).max(1);
    let mut out = Vec::new();
    for m in masks {
        let s = per_block.min(m);
        let (base, rem) = (m / s, m % s);
        out.extend((0..s).map(|i| (base + usize::from(i < rem)) as u32));
    }
    if p.constraints.line.iter().any(|&l| l > 0) {
        out.extend([0; CLEANUP_STEPS]);
    }
    out
}

/// How many positions step `step` commits at most in schedule mode: its scheduled
/// count, or more when earlier steps left positions waiting (the repeat rule) and
/// the rest of the schedule would not reach them all.
pub fn scheduled_k(sched: &[u32], step: usize, masked: usize) -> u32 {
    let rest: usize = sched.iter().skip(step + 1).map(|&k| k as usize).sum();
    let own = sched.get(step).copied().unwrap_or(0);
    own.max(masked.saturating_sub(rest) as u32)
}

/// The maximum number of steps a generation can take: the schedule's length, or one
/// step per mask in threshold mode.
pub fn max_steps(tokens: &[u32], p: &SamplerParams, mask_id: u32) -> usize {
    match p.threshold {
        Some(_) => tokens.iter().filter(|&&t| t == mask_id).count(),
        None => schedule(tokens, p, mask_id).len(),
    }
}

/// Token ids the sampler never produces: `[MASK]`, `[PAD]`, `[UNK]` (every task's masks
/// sit inside lines of fixed length).
pub fn banned(cfg: &crate::ModelConfig, id: u32) -> bool {
    id == cfg.mask_id || id == cfg.pad_id || id == cfg.unk_id
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
        Remasking::LowConfidence => prob,
        Remasking::Random => rng::uniform(p.seed, step, pos, u32::MAX),
    };
    (best.1, prob, key)
}

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
    /// The last step: every candidate may commit, clash or not.
    pub last: bool,
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
/// of candidates whose probability reaches the threshold (at least one). Returns the
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
    let mut taken = Vec::with_capacity(chosen.len());
    for i in chosen {
        let in_line = line(i) & !RHYME != 0;
        let waits = !r.last
            && (triples_at(tokens, r.mask_id, i).contains(&pred[i])
                || in_line
                    && copies_at(tokens, &rule, r.mask_id, i)
                        .into_iter()
                        .chain(runs_at(tokens, &rule, r.mask_id, i))
                        .any(|x| x == pred[i]));
        if waits {
            continue;
        }
        tokens[i] = pred[i];
        taken.push(i);
    }
    taken.sort_unstable();
    taken
}

/// The reverse process on the CPU reference, one step at a time, so a caller (the
/// web page's CPU fallback) can yield between steps and never freeze the UI.
pub struct CpuSampler<'m> {
    model: &'m dyn Forward,
    params: SamplerParams,
    x: Vec<u32>,
    sched: Vec<u32>,
    total: usize,
    step: usize,
}

impl<'m> CpuSampler<'m> {
    pub fn new(model: &'m dyn Forward, tokens: &[u32], p: &SamplerParams) -> Result<Self, SampleError> {
        let cfg = model.config();
        let x = prepare(tokens, p, cfg)?;
        let p = params_for(cfg, p);
        let sched = schedule(&x, &p, cfg.mask_id);
        let total = max_steps(&x, &p, cfg.mask_id);
        Ok(CpuSampler { model, params: p, x, sched, total, step: 0 })
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
            last: self.step + 1 >= self.total,
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

/// Runs the whole reverse process on the CPU reference. `on_step` sees each step as
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
