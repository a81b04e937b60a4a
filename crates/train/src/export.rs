//! Checkpoint → the engine's safetensors format (f32, q8, q4), plus the copy the web
//! page loads from www/model/.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;
use unmask::progress::Progress;
use unmask::{ExportFormat, ModelWeights, WeightFormat};

#[derive(clap::Args)]
pub struct ExportArgs {
    #[arg(long, default_value = "runs/main")]
    pub run: PathBuf,
    #[arg(long, default_value = "data/corpus/tokenizer.json")]
    pub tokenizer: PathBuf,
    /// Which variant goes to www/model/poem.safetensors.
    #[arg(long, default_value = "q8")]
    pub publish: String,
    #[arg(long, default_value = "www/model")]
    pub www: PathBuf,
}

pub fn export(a: ExportArgs) -> Result<()> {
    let (meta, params, _) = crate::train::load_params(&a.run)?;
    eprintln!("checkpoint at step {} of {}", meta.step, meta.total_steps);
    let out = a.run.join("export");
    std::fs::create_dir_all(&out)?;
    let variants = [
        ("f32", WeightFormat::F32, WeightFormat::F32),
        ("q8", WeightFormat::Q8, WeightFormat::Q8),
        ("q4", WeightFormat::Q4, WeightFormat::Q8),
    ];
    let params: HashMap<String, Vec<f32>> = params;
    // The file records the vocabulary it was trained with, so that the engine refuses
    // any other tokenizer beside it.
    let tokenizer = unmask::PoemTokenizer::from_bytes(&std::fs::read(&a.tokenizer)?)?;
    anyhow::ensure!(
        tokenizer.vocab_size() == meta.config.vocab_size,
        "{} has {} ids, the checkpoint's model {}",
        a.tokenizer.display(),
        tokenizer.vocab_size(),
        meta.config.vocab_size
    );
    let progress = Progress::new("export", variants.len() as u64, 1);
    for (i, (name, blocks, embeddings)) in variants.into_iter().enumerate() {
        let mut w = ModelWeights::from_f32(meta.config.clone(), &params, ExportFormat { blocks, embeddings })?;
        w.vocab_sha256 = Some(tokenizer.vocab_digest());
        let bytes = w.to_bytes();
        // Round-trip through the engine's own reader before anyone ships it.
        ModelWeights::from_bytes(&bytes)?;
        let path = out.join(format!("poem-{name}.safetensors"));
        std::fs::write(&path, &bytes)?;
        progress.update(i as u64 + 1, || name.to_string());
        println!("{:>10} bytes  {}", bytes.len(), path.display());
    }
    progress.finish();
    std::fs::copy(&a.tokenizer, out.join("tokenizer.json"))?;
    std::fs::create_dir_all(&a.www)?;
    let dst = a.www.join("poem.safetensors");
    std::fs::copy(out.join(format!("poem-{}.safetensors", a.publish)), &dst)?;
    let tdst = a.www.join("tokenizer.json");
    std::fs::copy(&a.tokenizer, &tdst)?;
    for p in [dst, tdst] {
        println!("{:>10} bytes  {}", std::fs::metadata(&p)?.len(), p.display());
    }
    Ok(())
}

/// Records `tokenizer`'s vocabulary digest in the model file at `model` (rewritten in
/// place: same tensors, the header signed again), after checking that the two belong
/// together as far as a file without the digest can tell.
pub fn stamp(model: &std::path::Path, tokenizer: &std::path::Path) -> Result<()> {
    let mut w =
        ModelWeights::from_bytes(&std::fs::read(model)?).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let tok = unmask::PoemTokenizer::from_bytes(&std::fs::read(tokenizer)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", tokenizer.display()))?;
    w.vocab_sha256 = None;
    unmask::engine::check_pair(&w, &tok).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tensors = w.to_f32_tensors();
    w.vocab_sha256 = Some(tok.vocab_digest());
    let bytes = w.to_bytes();
    let back = ModelWeights::from_bytes(&bytes)?;
    anyhow::ensure!(back.to_f32_tensors() == tensors, "the tensors changed on the way (a bug)");
    std::fs::write(model, &bytes)?;
    println!("{}: vocab_sha256 {}", model.display(), tok.vocab_digest());
    Ok(())
}
