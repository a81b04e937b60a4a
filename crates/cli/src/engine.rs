//! Loading a model for the CLI and running it on the chosen backend.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result};
use clap::ValueEnum;
use unmask::cpu::CpuModel;
use unmask::gpu::{GpuContext, GpuModel};
use unmask::sampler::{generate_cpu, Generation, SamplerParams};
use unmask::{ModelConfig, ModelWeights, PoemTokenizer};

use crate::ModelArgs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Gpu,
    Cpu,
}

/// Path of a file of the bundled model (`www/model/` in the repository).
pub fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../www/model").join(name)
}

pub enum Runner {
    Cpu(CpuModel),
    Gpu(GpuModel),
}

pub struct Engine {
    pub tokenizer: PoemTokenizer,
    pub config: ModelConfig,
    pub weights: ModelWeights,
    pub runner: Runner,
    /// The CPU reference for the beam ranker when the runner is the GPU.
    cpu_ref: std::cell::OnceCell<CpuModel>,
}

pub fn load_files(a: &ModelArgs) -> Result<(ModelWeights, PoemTokenizer)> {
    let bytes = std::fs::read(&a.model).with_context(|| format!("reading model {}", a.model.display()))?;
    let weights = ModelWeights::from_bytes(&bytes).with_context(|| format!("loading model {}", a.model.display()))?;
    let tj = std::fs::read(&a.tokenizer).with_context(|| format!("reading tokenizer {}", a.tokenizer.display()))?;
    let tokenizer = PoemTokenizer::from_bytes(&tj).with_context(|| format!("loading {}", a.tokenizer.display()))?;
    anyhow::ensure!(
        tokenizer.vocab_size() == weights.config.vocab_size,
        "tokenizer has {} tokens but the model expects {}",
        tokenizer.vocab_size(),
        weights.config.vocab_size
    );
    Ok((weights, tokenizer))
}

pub fn gpu_model(w: &ModelWeights) -> Result<GpuModel> {
    let ctx = pollster::block_on(GpuContext::new()).context("opening the GPU (try --backend cpu)")?;
    Ok(GpuModel::new(Rc::new(ctx), w)?)
}

impl Engine {
    pub fn load(a: &ModelArgs) -> Result<Self> {
        let (weights, tokenizer) = load_files(a)?;
        let runner = match a.backend {
            Backend::Cpu => Runner::Cpu(CpuModel::new(&weights)),
            Backend::Gpu => Runner::Gpu(gpu_model(&weights)?),
        };
        Ok(Engine { config: weights.config.clone(), tokenizer, weights, runner, cpu_ref: Default::default() })
    }

    /// Candidates for the masks ranked by joint likelihood (causal models only; runs
    /// on the CPU reference whatever the backend).
    pub fn rank(&self, tokens: &[u32], width: usize) -> Result<unmask::ar::Ranked> {
        let m = match &self.runner {
            Runner::Cpu(m) => m,
            Runner::Gpu(_) => self.cpu_ref.get_or_init(|| CpuModel::new(&self.weights)),
        };
        Ok(unmask::ar::rank_by_joint(m, tokens, width)?)
    }

    pub fn generate(&self, tokens: &[u32], p: &SamplerParams, history: bool) -> Result<Generation> {
        Ok(match &self.runner {
            Runner::Cpu(m) => generate_cpu(m, tokens, p, history, |_| true)?,
            Runner::Gpu(m) => pollster::block_on(m.generate(tokens, p, history))?,
        })
    }

    pub fn backend_name(&self) -> String {
        match &self.runner {
            Runner::Cpu(_) => "cpu".into(),
            Runner::Gpu(m) => format!("gpu: {}", m.context().adapter_name()),
        }
    }

    pub fn describe(&self) -> String {
        let c = &self.config;
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
