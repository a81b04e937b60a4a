//! The CLI's side of loading a model: file paths and the `--backend` flag. The
//! engine itself is the library's [`unmask::engine::Engine`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;
use unmask::engine::{load_files, Engine};
use unmask::sampler::{Generation, SamplerParams};
use unmask::{ModelWeights, PoemTokenizer};

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

/// The model and tokenizer files named by `a`, checked against each other.
pub fn read_files(a: &ModelArgs) -> Result<(ModelWeights, PoemTokenizer)> {
    let bytes = std::fs::read(&a.model).with_context(|| format!("reading model {}", a.model.display()))?;
    let tj = std::fs::read(&a.tokenizer).with_context(|| format!("reading tokenizer {}", a.tokenizer.display()))?;
    load_files(&bytes, &tj)
        .with_context(|| format!("loading model {} with tokenizer {}", a.model.display(), a.tokenizer.display()))
}

/// The engine on the backend `a` asks for.
pub fn load(a: &ModelArgs) -> Result<Engine> {
    let (weights, tokenizer) = read_files(a)?;
    Ok(match a.backend {
        Backend::Cpu => Engine::cpu(tokenizer, weights),
        Backend::Gpu => pollster::block_on(Engine::gpu(tokenizer, weights))
            .map_err(|(e, ..)| e)
            .context("opening the GPU (try --backend cpu)")?,
    })
}

/// One generation, blocking.
pub fn generate(eng: &Engine, tokens: &[u32], p: &SamplerParams, history: bool) -> Result<Generation> {
    Ok(pollster::block_on(eng.generate(tokens, p, history))?)
}
