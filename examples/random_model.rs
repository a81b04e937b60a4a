//! Writes a randomly initialised model for a given tokenizer, in the bundled
//! model's format: for trying the engine, the CLI and the page before (or without)
//! training. `cargo run --example random_model -- TOKENIZER.json OUT.safetensors [q8|q4]`

use unmask::{ExportFormat, ModelConfig, ModelWeights, PoemTokenizer, WeightFormat};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, tok_path, out, rest @ ..] = args.as_slice() else {
        return Err("usage: random_model TOKENIZER.json OUT.safetensors [q8|q4]".into());
    };
    let fmt: WeightFormat = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(WeightFormat::Q8);
    let tok = PoemTokenizer::from_bytes(&std::fs::read(tok_path)?)?;
    let config = ModelConfig::poem(tok.vocab_size());
    let w = ModelWeights::random(config, ExportFormat { blocks: fmt, embeddings: WeightFormat::Q8 }, 1);
    std::fs::write(out, w.to_bytes())?;
    println!("{out}: {} parameters", w.param_count());
    Ok(())
}
