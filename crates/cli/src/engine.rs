//! The CLI's side of loading a model: file paths and the `--backend` flag. The
//! engine itself is the library's [`unmask::engine::Engine`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;
use unmask::engine::{load_files, Engine};
use unmask::pipeline::{Outcome, Prepared};
use unmask::{ModelWeights, PoemTokenizer};

use crate::ModelArgs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Gpu,
    Cpu,
}

/// Path of a file under the repository's `www/` (where the bundled models live).
fn www(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../www").join(path)
}

/// Path of a file of the bundled model (`www/model/` in the repository).
pub fn bundled(name: &str) -> PathBuf {
    www("model").join(name)
}

/// The bundled autoregressive twin (`www/model-ar/poem.safetensors`).
pub fn bundled_ar() -> PathBuf {
    www("model-ar/poem.safetensors")
}

/// Largest files the CLI reads: a model, a tokenizer.json, an eval JSONL file.
pub const MAX_MODEL_BYTES: u64 = 256 << 20;
pub const MAX_TOKENIZER_BYTES: u64 = 64 << 20;
pub const MAX_PAIRS_BYTES: u64 = 256 << 20;
/// Largest training corpus (texts.jsonl) `eval-poems` reads for recited lines (the
/// one scripts/data.sh builds is ~110 MB).
pub const MAX_CORPUS_BYTES: u64 = 1 << 30;

/// The bytes of `path`, refusing anything larger than `max` (`/dev/zero` or a
/// mistaken path must not fill the memory).
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let too_big = || anyhow::anyhow!("{} is larger than {} MiB: not a file this reads", path.display(), max >> 20);
    // A regular file says its size; a device or pipe is read up to the cap.
    if f.metadata().is_ok_and(|m| m.is_file() && m.len() > max) {
        return Err(too_big());
    }
    let mut out = Vec::new();
    f.take(max + 1).read_to_end(&mut out).with_context(|| format!("reading {}", path.display()))?;
    if out.len() as u64 > max {
        return Err(too_big());
    }
    Ok(out)
}

/// The model and tokenizer files named by `a`, checked against each other.
pub fn read_files(a: &ModelArgs) -> Result<(ModelWeights, PoemTokenizer)> {
    let bytes = read_capped(&a.model, MAX_MODEL_BYTES).context("reading the model")?;
    let tj = read_capped(&a.tokenizer, MAX_TOKENIZER_BYTES).context("reading the tokenizer")?;
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

/// The prosody data (tones, rhyme groups) for `tok`'s vocabulary.
pub fn load_prosody(path: &Path, tok: &unmask::PoemTokenizer) -> Result<unmask::prosody::Prosody> {
    read_capped(path, unmask::prosody::MAX_BYTES as u64)
        .and_then(|b| Ok(unmask::prosody::Prosody::from_bytes(&b, tok)?))
        .with_context(|| format!("loading {}", path.display()))
}

/// One prepared generation, blocking.
pub fn run(eng: &Engine, prepared: &Prepared, history: bool) -> Result<Outcome> {
    Ok(pollster::block_on(eng.run(prepared, history))?)
}
