//! What a caller sets (`SamplerParams`), how a model runs it, and the checks every
//! request passes before the first step (`prepare`).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::constraints::{Constraints, MAX_CLASSES, MAX_LINE, RHYME};

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

/// What a user sets (the page's form, a link, the widget's attributes, the CLI's
/// flags): the sampler's options without what a request derives from its template
/// (the exclusions and the verse constraints, `pipeline::Engine::prepare`).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Denoising steps in total (see [`SamplerParams::steps`]).
    pub steps: usize,
    /// Semi-autoregressive block length; 0 = one block.
    pub block_length: usize,
    pub remasking: Remasking,
    /// Gumbel temperature; 0 = greedy.
    pub temperature: f32,
    /// Fast-dLLM parallel decoding threshold.
    pub threshold: Option<f32>,
    /// Positions pinned to a token id (the CLI's `--pin`).
    pub pinned: Vec<(usize, u32)>,
    pub seed: u32,
}

impl Default for Settings {
    fn default() -> Self {
        SamplerParams::default().settings()
    }
}

impl Settings {
    /// The sampler's parameters with these settings and nothing derived.
    pub fn sampler(&self) -> SamplerParams {
        let Settings { steps, block_length, remasking, temperature, threshold, ref pinned, seed } = *self;
        SamplerParams {
            steps,
            block_length,
            remasking,
            temperature,
            threshold,
            pinned: pinned.clone(),
            seed,
            ..Default::default()
        }
    }
}

/// Every sampler option, with defaults: a request's [`Settings`] plus what its
/// template derives. What both loops run and the tests drive directly.
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
    /// Token ids never generated, besides the special tokens. The pipeline puts the
    /// tokenizer's punctuation here: every mask of a template is a character slot,
    /// the template itself holds the punctuation (`pipeline::Engine::prepare_prompt`).
    #[serde(skip)]
    pub exclude: Vec<u32>,
    /// Per-position exclusions on top of `exclude` (regulated verse: tone classes and
    /// a rhyme group at the positions a pattern fixes; `pipeline::verse_constraints`).
    #[serde(skip)]
    pub constraints: Constraints,
    pub seed: u32,
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
    #[error("position {0} is pinned to two different characters")]
    PinConflict(usize),
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

impl SamplerParams {
    /// The user's part of these parameters.
    pub fn settings(&self) -> Settings {
        let p = self;
        Settings {
            steps: p.steps,
            block_length: p.block_length,
            remasking: p.remasking,
            temperature: p.temperature,
            threshold: p.threshold,
            pinned: p.pinned.clone(),
            seed: p.seed,
        }
    }

    /// The parameters a model actually runs with (both loops apply it, the CPU's and
    /// the GPU's): the diffusion model takes them as given; an autoregressive (causal)
    /// model can only commit the leftmost masked position each step (block length 1,
    /// one step per mask, no threshold) — the same loop and kernels, strictly left to
    /// right.
    pub fn for_model(&self, cfg: &crate::ModelConfig) -> SamplerParams {
        let mut p = self.clone();
        if cfg.causal {
            p.block_length = 1;
            p.threshold = None;
        }
        p
    }
}

impl Settings {
    /// The checks that need no text: steps, threshold, temperature and pins. The
    /// pipeline runs them before it plans anything, the sampler again.
    pub fn check(&self) -> Result<(), SampleError> {
        if self.steps == 0 {
            return Err(SampleError::ZeroSteps);
        }
        if let Some(th) = self.threshold {
            if !(th > 0.0 && th <= 1.0) {
                return Err(SampleError::BadThreshold(th));
            }
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(SampleError::BadTemperature(self.temperature));
        }
        check_pins(&self.pinned)
    }
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
    p.settings().check()?;
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

/// Token ids the sampler never produces: `[MASK]`, `[PAD]`, `[UNK]` (every task's masks
/// sit inside lines of fixed length).
pub fn banned(cfg: &crate::ModelConfig, id: u32) -> bool {
    id == cfg.mask_id || id == cfg.pad_id || id == cfg.unk_id
}

/// Refuses a position pinned to two different tokens (the same one twice is one pin).
pub fn check_pins(pinned: &[(usize, u32)]) -> Result<(), SampleError> {
    for (i, &(pos, tok)) in pinned.iter().enumerate() {
        if pinned[..i].iter().any(|&(q, t)| q == pos && t != tok) {
            return Err(SampleError::PinConflict(pos));
        }
    }
    Ok(())
}
