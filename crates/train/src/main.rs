//! `unmask-train`: corpus → tokenizer → training → export for the Unmask poem model.
//!
//!   unmask-train corpus --dist data/package/dist     # texts, vocab, tokenizer, couplets
//!   unmask-train train --minutes 55                  # diffusion model (or --causal twin)
//!   unmask-train eval-sets                           # eval/famous-{dev,test}.jsonl, eval/poems-heldout.jsonl
//!   unmask-train heldout --run runs/main             # held-out LLaDA loss of a checkpoint
//!   unmask-train export --run runs/main              # f32/q8/q4 + www/model/
//!   unmask-train stamp --model F --tokenizer T       # record T's vocabulary digest in F
//!   unmask-train prosody …                           # www/model/prosody.json (scripts/prosody.sh)

mod canon;
mod corpus;
mod couplets;
mod data;
mod export;
mod model;
mod prosody;
mod rng;
mod sentences;
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
    /// Build the eval sets drawn from the whole corpus — the broader famous-couplet set
    /// (eval/famous-dev.jsonl, eval/famous-test.jsonl) and the held-out regular poems
    /// (eval/poems-heldout.jsonl) — from data/corpus and eval/couplets.jsonl (the corpus
    /// command writes them too).
    EvalSets {
        #[arg(long, default_value = "data/corpus")]
        data: PathBuf,
        /// The first set, left out of the broader one.
        #[arg(long, default_value = "eval/couplets.jsonl")]
        couplets: PathBuf,
        /// Where the sets go.
        #[arg(long, default_value = "eval")]
        out: PathBuf,
    },
    /// Build the canon (data/corpus/canon.jsonl: the famous texts by the corpus's own
    /// evidence, `canon.rs`) and its famous-couplet set (eval/canon-dev.jsonl and
    /// eval/canon-test.jsonl) from data/corpus and the package.
    Canon {
        #[arg(long, default_value = "data/package/dist")]
        dist: PathBuf,
        #[arg(long, default_value = "data/corpus")]
        data: PathBuf,
        /// The first set, left out of the canon set.
        #[arg(long, default_value = "eval/couplets.jsonl")]
        couplets: PathBuf,
        /// Where the canon set goes.
        #[arg(long, default_value = "eval")]
        out: PathBuf,
    },
    Train(Box<train::TrainArgs>),
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
    /// Record a tokenizer's vocabulary digest (`vocab_sha256`) in a model file exported
    /// before files carried one; the tensors are unchanged.
    Stamp {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, default_value = "www/model/tokenizer.json")]
        tokenizer: PathBuf,
    },
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
    s += &write_eval_sets(&texts, &vocab, &cps, couplets_path.parent().unwrap_or(std::path::Path::new(".")))?;
    let poems = couplets::poems(&texts, &vocab);
    write_jsonl(&poems_path, &poems)?;
    s += &format!("eval poems: {} → {}\n", poems.len(), poems_path.display());
    print!("{s}");
    std::fs::write(out.join("stats.txt"), s)?;
    Ok(())
}

fn write_jsonl<T: serde::Serialize>(path: &std::path::Path, items: &[T]) -> Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for it in items {
        writeln!(f, "{}", serde_json::to_string(it)?)?;
    }
    Ok(f.flush()?)
}

/// Writes the broader famous-couplet set's two halves and the held-out poems into
/// `dir`; returns a summary.
fn write_eval_sets(
    texts: &[corpus::Text],
    vocab: &HashSet<char>,
    first_set: &[unmask::pairs::Pair],
    dir: &std::path::Path,
) -> Result<String> {
    let all = couplets::famous(texts, vocab, first_set);
    let (dev, test): (Vec<_>, Vec<_>) = all.iter().cloned().partition(couplets::is_dev);
    let mut s = String::new();
    for (name, half) in [("famous-dev.jsonl", &dev), ("famous-test.jsonl", &test)] {
        let path = dir.join(name);
        std::fs::write(&path, unmask::pairs::to_jsonl(half))?;
        s += &format!("famous couplets: {} → {}\n", half.len(), path.display());
    }
    let mut books: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &all {
        let quoted = c.source.ends_with(" works)");
        *books.entry(if quoted { "quoted" } else { c.source.split(" · ").next().unwrap_or("") }).or_default() += 1;
    }
    s += &format!("  by book: {}\n", books.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    let held = couplets::heldout_poems(texts, vocab);
    let path = dir.join("poems-heldout.jsonl");
    write_jsonl(&path, &held)?;
    let mut forms: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &held {
        *forms.entry(p.form).or_default() += 1;
    }
    s += &format!(
        "held-out poems: {} ({}) → {}\n",
        held.len(),
        forms.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
        path.display()
    );
    Ok(s)
}

/// The corpus's texts (texts.jsonl, in order) and the characters of its vocabulary.
fn read_corpus(data: &std::path::Path) -> Result<(Vec<corpus::Text>, HashSet<char>)> {
    let tok = unmask::PoemTokenizer::from_bytes(&std::fs::read(data.join("tokenizer.json"))?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut texts = Vec::new();
    for line in std::fs::read_to_string(data.join("texts.jsonl")).context("texts.jsonl")?.lines() {
        texts.push(serde_json::from_str::<corpus::Text>(line)?);
    }
    let vocab: HashSet<char> =
        texts.iter().flat_map(|t| t.text.chars()).filter(|&c| tok.char_id(c).is_some()).collect();
    Ok((texts, vocab))
}

fn canon_cmd(dist: PathBuf, data: PathBuf, couplets_path: PathBuf, out: PathBuf) -> Result<()> {
    let (texts, vocab) = read_corpus(&data)?;
    let (canon, mut report) = canon::build(&dist, &texts, &vocab)?;
    write_jsonl(&data.join("canon.jsonl"), &canon)?;
    report += &format!("→ {}\n", data.join("canon.jsonl").display());
    let first = unmask::pairs::parse(&std::fs::read_to_string(&couplets_path).context("the first couplet set")?)?;
    let (dev, test) = couplets::canon_set(&texts, &vocab, &canon, &first);
    std::fs::create_dir_all(&out)?;
    for (name, half) in [("canon-dev.jsonl", &dev), ("canon-test.jsonl", &test)] {
        let path = out.join(name);
        std::fs::write(&path, unmask::pairs::to_jsonl(half))?;
        let mut periods: BTreeMap<&str, usize> = BTreeMap::new();
        for c in half.iter() {
            *periods.entry(c.source.split(" · ").next().unwrap_or("")).or_default() += 1;
        }
        let by = periods.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        report += &format!("canon couplets: {} → {} ({by})\n", half.len(), path.display());
    }
    print!("{report}");
    std::fs::write(data.join("canon-stats.txt"), report)?;
    Ok(())
}

fn eval_sets_cmd(data: PathBuf, couplets_path: PathBuf, out: PathBuf) -> Result<()> {
    let (texts, vocab) = read_corpus(&data)?;
    let first = unmask::pairs::parse(&std::fs::read_to_string(&couplets_path).context("the first couplet set")?)?;
    std::fs::create_dir_all(&out)?;
    print!("{}", write_eval_sets(&texts, &vocab, &first, &out)?);
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Corpus { dist, mix, out, couplets, poems } => corpus_cmd(dist, mix, out, couplets, poems),
        Cmd::EvalSets { data, couplets, out } => eval_sets_cmd(data, couplets, out),
        Cmd::Canon { dist, data, couplets, out } => canon_cmd(dist, data, couplets, out),
        Cmd::Train(a) => train::train(*a),
        Cmd::Stamp { model, tokenizer } => export::stamp(&model, &tokenizer),
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
