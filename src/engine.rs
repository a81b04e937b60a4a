//! One façade over a loaded model for every front end (CLI, page, widget): the
//! files checked against each other, the backend the caller chose (the GPU engine
//! or the CPU fast path), generation and the autoregressive twin's ranking on
//! whichever runs. The request pipeline on top of it is [`crate::pipeline`]. Front
//! ends add only what is theirs (the page's download cache and per-step yielding,
//! the CLI's file paths).

use std::cell::OnceCell;
use std::rc::Rc;

use thiserror::Error;

use crate::ar::{rank_by_joint, BeamError, Ranked};
use crate::fast::FastModel;
use crate::format::{FormatError, ModelWeights};
use crate::gpu::{GpuContext, GpuError, GpuModel};
use crate::prosody::{Prosody, VerseError};
use crate::sampler::{generate_cpu, Generation, SampleError, SamplerParams};
use crate::tasks::TaskError;
use crate::tokenizer::{PoemTokenizer, TokenizerError, MASK_ID, PAD_ID, UNK_ID};

// The file errors carry their cause in the message (not as a `source`), so an error
// chain prints it once.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("model file: {0}")]
    Model(FormatError),
    #[error("tokenizer: {0}")]
    Tokenizer(TokenizerError),
    #[error("the tokenizer has {tokenizer} ids but the model expects {model}")]
    VocabMismatch { tokenizer: usize, model: usize },
    #[error("the model's special ids (mask {mask}, pad {pad}, unk {unk}) are not the tokenizer's (0, 1, 2)")]
    SpecialIds { mask: u32, pad: u32, unk: u32 },
    #[error("the tokenizer is not the one the model was trained with: its vocabulary's sha256 is {tokenizer}, the model file records {model} (use the tokenizer.json exported with the model)")]
    VocabDigest { tokenizer: String, model: String },
    #[error(transparent)]
    Gpu(GpuError),
    #[error(transparent)]
    Task(TaskError),
    #[error(transparent)]
    Verse(VerseError),
    #[error("`{0}` applies only to a whole poem with metre (task=poem, metre on); leave it out")]
    Ignored(&'static str),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error(transparent)]
    Beam(#[from] BeamError),
}

/// What runs the forward passes.
#[allow(clippy::large_enum_variant)] // one per loaded model: its size does not matter
pub enum Runner {
    Cpu(FastModel),
    Gpu(GpuModel),
}

/// A model, its tokenizer, the tone data regulated verse is planned and checked
/// with, and the backend it runs on.
pub struct Engine {
    pub tokenizer: PoemTokenizer,
    pub weights: ModelWeights,
    /// Tones and rhyme groups (`None`: poems keep the repeat rule only, 对对子 is an
    /// error, and no metre report).
    pub prosody: Option<Prosody>,
    runner: Runner,
    /// The CPU model for the beam ranker and regulated verse when the runner is the GPU.
    cpu_ref: OnceCell<FastModel>,
}

/// Parses a model file and its tokenizer and checks that they belong together.
pub fn load_files(model: &[u8], tokenizer: &[u8]) -> Result<(ModelWeights, PoemTokenizer), EngineError> {
    let weights = ModelWeights::from_bytes(model).map_err(EngineError::Model)?;
    let tokenizer = PoemTokenizer::from_bytes(tokenizer).map_err(EngineError::Tokenizer)?;
    check_pair(&weights, &tokenizer)?;
    Ok((weights, tokenizer))
}

/// Whether a parsed model and tokenizer belong together: the same vocabulary size,
/// the tokenizer's special ids, and the vocabulary digest the model file records, if
/// it records one (every loader's one check, whatever read the files).
pub fn check_pair(weights: &ModelWeights, tokenizer: &PoemTokenizer) -> Result<(), EngineError> {
    let c = &weights.config;
    if tokenizer.vocab_size() != c.vocab_size {
        return Err(EngineError::VocabMismatch { tokenizer: tokenizer.vocab_size(), model: c.vocab_size });
    }
    if (c.mask_id, c.pad_id, c.unk_id) != (MASK_ID, PAD_ID, UNK_ID) {
        return Err(EngineError::SpecialIds { mask: c.mask_id, pad: c.pad_id, unk: c.unk_id });
    }
    if let Some(model) = &weights.vocab_sha256 {
        let tokenizer = tokenizer.vocab_digest();
        if &tokenizer != model {
            return Err(EngineError::VocabDigest { tokenizer, model: model.clone() });
        }
    }
    Ok(())
}

impl Engine {
    /// On the CPU (the fast integer path, [`FastModel`]).
    pub fn cpu(tokenizer: PoemTokenizer, weights: ModelWeights) -> Engine {
        let runner = Runner::Cpu(FastModel::new(&weights));
        Engine { tokenizer, weights, prosody: None, runner, cpu_ref: OnceCell::new() }
    }

    /// On a GPU opened on the default adapter (WebGPU in a browser).
    pub async fn gpu(
        tokenizer: PoemTokenizer,
        weights: ModelWeights,
    ) -> Result<Engine, (EngineError, PoemTokenizer, ModelWeights)> {
        match open_gpu(&weights, None).await {
            Ok(m) => Ok(Engine { tokenizer, weights, prosody: None, runner: Runner::Gpu(m), cpu_ref: OnceCell::new() }),
            Err(e) => Err((e, tokenizer, weights)),
        }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    pub fn on_gpu(&self) -> bool {
        matches!(self.runner, Runner::Gpu(_))
    }

    /// Replaces the GPU (after a lost device) with a freshly opened one.
    pub async fn reopen_gpu(&mut self) -> Result<(), EngineError> {
        let stale = match &self.runner {
            Runner::Gpu(m) => Some(m.context().clone()),
            Runner::Cpu(_) => None,
        };
        self.runner = Runner::Gpu(open_gpu(&self.weights, stale.as_ref()).await?);
        Ok(())
    }

    /// Moves to the CPU (when the GPU cannot be used any more).
    pub fn use_cpu(&mut self) {
        if self.on_gpu() {
            self.runner = Runner::Cpu(self.cpu_ref.take().unwrap_or_else(|| FastModel::new(&self.weights)));
        }
    }

    /// The model on the CPU, whichever backend generates.
    pub fn cpu_model(&self) -> &FastModel {
        match &self.runner {
            Runner::Cpu(m) => m,
            Runner::Gpu(_) => self.cpu_ref.get_or_init(|| FastModel::new(&self.weights)),
        }
    }

    /// A whole generation of `p` as given (a [`crate::pipeline::Prepared`]'s
    /// parameters) on the current backend (the CPU one runs to the end without
    /// yielding; the page steps `CpuSampler` itself).
    pub async fn generate(&self, tokens: &[u32], p: &SamplerParams, history: bool) -> Result<Generation, EngineError> {
        Ok(match &self.runner {
            Runner::Cpu(m) => generate_cpu(m, tokens, p, history, |_| true)?,
            // Bad input is the caller's error, whichever backend found it.
            Runner::Gpu(m) => m.generate(tokens, p, history).await.map_err(|e| match e {
                GpuError::Sample(s) => EngineError::Sample(s),
                e => EngineError::Gpu(e),
            })?,
        })
    }

    /// Candidates for the masks ranked by joint likelihood with a width-`width` beam
    /// (autoregressive models; on the CPU whatever the backend).
    pub fn rank(&self, tokens: &[u32], width: usize) -> Result<Ranked, EngineError> {
        Ok(rank_by_joint(self.cpu_model(), tokens, width)?)
    }

    /// Destroys the GPU device, as a driver reset would (tests the recovery path).
    pub fn lose_device(&self) {
        if let Runner::Gpu(m) = &self.runner {
            m.context().lose_device();
        }
    }

    /// `cpu` or `gpu: <adapter>`.
    pub fn backend_name(&self) -> String {
        match &self.runner {
            Runner::Cpu(_) => "cpu".into(),
            Runner::Gpu(m) => format!("gpu: {}", m.context().adapter_name()),
        }
    }

    /// Kind, size and weight format of the model, in one line.
    pub fn describe(&self) -> String {
        let c = &self.weights.config;
        format!(
            "{} · {}M params, d={} × {} layers, {} weights",
            if c.causal { "autoregressive" } else { "diffusion" },
            (self.weights.param_count() as f64 / 1e6 * 10.0).round() / 10.0,
            c.d_model,
            c.n_layers,
            format!("{:?}", self.weights.layers[0].wq.format()).to_lowercase()
        )
    }
}

thread_local! {
    /// The device every GPU engine of this thread shares (on the page: the model
    /// and the compare view's twin), with its compiled pipelines; held only while
    /// an engine uses it.
    static SHARED_GPU: std::cell::RefCell<std::rc::Weak<GpuContext>> = const { std::cell::RefCell::new(std::rc::Weak::new()) };
}

/// The shared device if one is open and alive (and is not `stale`, the one an
/// engine lost: its loss may not have been reported yet), else a newly opened one
/// that later engines share — after a lost device they all reopen onto it.
pub async fn shared_gpu(stale: Option<&Rc<GpuContext>>) -> Result<Rc<GpuContext>, GpuError> {
    if let Some(ctx) = SHARED_GPU.with(|s| s.borrow().upgrade()) {
        if ctx.check_alive().is_ok() && !stale.is_some_and(|old| Rc::ptr_eq(old, &ctx)) {
            return Ok(ctx);
        }
    }
    let ctx = Rc::new(GpuContext::new().await?);
    SHARED_GPU.with(|s| *s.borrow_mut() = Rc::downgrade(&ctx));
    Ok(ctx)
}

async fn open_gpu(w: &ModelWeights, stale: Option<&Rc<GpuContext>>) -> Result<GpuModel, EngineError> {
    let ctx = shared_gpu(stale).await.map_err(EngineError::Gpu)?;
    GpuModel::new(ctx, w).map_err(EngineError::Gpu)
}
