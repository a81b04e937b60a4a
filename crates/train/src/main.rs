//! `unmask-train`: corpus → tokenizer → training → export for the Unmask poem model.
//!
//!   unmask-train corpus --dist data/package/dist     # texts, vocab, tokenizer, couplets
//!   unmask-train train --minutes 55                  # diffusion model (or --causal twin)
//!   unmask-train heldout --run runs/main             # held-out LLaDA loss of a checkpoint
//!   unmask-train export --run runs/main              # f32/q8/q4 + www/model/
//!   unmask-train prosody …                           # www/model/prosody.json (scripts/prosody.sh)

mod corpus;
mod couplets;
mod data;
mod export;
mod model;
mod prosody;
mod rng;
mod train;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Corpus, tokenizer, trainer and exporter for Unmask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build data/corpus/{texts.jsonl,tokenizer.json,stats.txt}, eval/couplets.jsonl and eval/poems.jsonl.
    Corpus {
        /// The extracted package's dist/ folder.
        #[arg(long, default_value = "data/package/dist")]
        dist: PathBuf,
        #[arg(long, default_value = "crates/train/mix.toml")]
        mix: PathBuf,
        #[arg(long, default_value = "data/corpus")]
        out: PathBuf,
        #[arg(long, default_value = "eval/couplets.jsonl")]
        couplets: PathBuf,
        /// The anthologies' regular poems, the reference of `unmask eval-poems`.
        #[arg(long, default_value = "eval/poems.jsonl")]
        poems: PathBuf,
    },
    Train(train::TrainArgs),
    /// Held-out loss of a checkpoint (nats per character; diffusion: the LLaDA bound).
    Heldout {
        #[arg(long, default_value = "runs/main")]
        run: PathBuf,
        #[arg(long, default_value = "data/corpus")]
        data: PathBuf,
        /// Score the anthology texts (all trained on) instead: how far the model has
        /// memorised the poems the couplet test asks for.
        #[arg(long)]
        anthology: bool,
    },
    Export(export::ExportArgs),
    /// Build www/model/prosody.json (tones and 平水韵 groups of the vocabulary): scripts/prosody.sh.
    Prosody(prosody::ProsodyArgs),
}

fn corpus_cmd(dist: PathBuf, mix: PathBuf, out: PathBuf, couplets_path: PathBuf, poems_path: PathBuf) -> Result<()> {
    let mix: corpus::Mix = toml::from_str(&std::fs::read_to_string(&mix).context("mix.toml")?)?;
    eprintln!("reading {}", dist.display());
    let texts = corpus::load_texts(&dist, &mix)?;
    std::fs::create_dir_all(&out)?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("texts.jsonl"))?);
    for t in &texts {
        writeln!(f, "{}", serde_json::to_string(t)?)?;
    }
    f.flush()?;
    let (chars, coverage) = corpus::build_vocab(&texts, mix.vocab_cap);
    let cc = corpus::t2s_converter()?;
    let t2s = corpus::t2s_table(&cc);
    let tok = unmask::PoemTokenizer::build(&chars, &t2s).map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::write(out.join("tokenizer.json"), tok.to_json())?;

    // Stats: per source texts, characters, share of samples drawn.
    let mut per: BTreeMap<&str, (usize, usize, usize, f64)> = BTreeMap::new();
    let total_w: f64 = texts.iter().filter(|t| !t.heldout).map(|t| t.weight).sum();
    let distinct: HashSet<char> = texts.iter().flat_map(|t| t.text.chars()).collect();
    for t in &texts {
        let e = per.entry(&t.source).or_default();
        e.0 += 1;
        e.1 += t.text.chars().count();
        if t.heldout {
            e.2 += 1;
        } else {
            e.3 += t.weight / total_w;
        }
    }
    let mut s = String::new();
    s += &format!("{:<18} {:>8} {:>11} {:>8} {:>8}\n", "source", "texts", "chars", "heldout", "share%");
    for (k, (n, c, h, w)) in &per {
        s += &format!("{k:<18} {n:>8} {c:>11} {h:>8} {:>8.2}\n", w * 100.0);
    }
    let n_chars: usize = per.values().map(|v| v.1).sum();
    s += &format!(
        "total: {} texts, {} characters, {} distinct; vocab {} ids ({} chars + 3 specials), coverage {:.3}%; t2s pairs {}\n",
        texts.len(), n_chars, distinct.len(), tok.vocab_size(), chars.len(), coverage * 100.0, t2s.len()
    );
    let vocab: HashSet<char> = chars.iter().copied().collect();
    let cps = couplets::extract(&texts, &vocab);
    if let Some(dir) = couplets_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&couplets_path, unmask::pairs::to_jsonl(&cps))?;
    s += &format!("eval couplets: {} → {}\n", cps.len(), couplets_path.display());
    let poems = couplets::poems(&texts, &vocab);
    let mut f = std::fs::File::create(&poems_path)?;
    for p in &poems {
        writeln!(f, "{}", serde_json::to_string(p)?)?;
    }
    s += &format!("eval poems: {} → {}\n", poems.len(), poems_path.display());
    print!("{s}");
    std::fs::write(out.join("stats.txt"), s)?;
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Corpus { dist, mix, out, couplets, poems } => corpus_cmd(dist, mix, out, couplets, poems),
        Cmd::Train(a) => train::train(a),
        Cmd::Heldout { run, data, anthology } => {
            let (meta, params, _) = train::load_params(&run)?;
            let tok = unmask::PoemTokenizer::from_bytes(&std::fs::read(data.join("tokenizer.json"))?)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let part = if anthology { data::Part::Anthology } else { data::Part::Heldout };
            let held = data::Dataset::load(&data.join("texts.jsonl"), &tok, part)?;
            let m = model::Model::from_tensors(meta.config.clone(), &params, &candle_core::Device::Cpu)?;
            let h = train::heldout_loss(&m, &held, meta.config.max_seq_len, meta.config.causal, 1024)?;
            let what = if anthology { "anthology" } else { "held-out" };
            println!("step {} {what} loss ({} texts, 1024 seqs): {h:.4} nats/char", meta.step, held.len());
            if !meta.config.causal && !anthology {
                train::probe(&m, &held, meta.config.max_seq_len)?;
            }
            Ok(())
        }
        Cmd::Export(a) => export::export(a),
        Cmd::Prosody(a) => prosody::run(a),
    }
}
