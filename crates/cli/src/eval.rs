//! The paper's forward/reversal test (design.md §6): for each pair of consecutive
//! lines, generate the second from the first and the first from the second, and
//! score exact matches.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use unmask::tasks::{answer, TaskBuilder};

use crate::engine::Engine;
use crate::{ModelArgs, SamplerArgs};

#[derive(Args)]
pub struct EvalArgs {
    /// JSONL file, one {"first": …, "second": …} object a line.
    #[arg(long)]
    pairs: PathBuf,
    /// Evaluate only the first N pairs.
    #[arg(long)]
    limit: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Print every miss.
    #[arg(long)]
    verbose: bool,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    sampler: SamplerArgs,
}

#[derive(Deserialize)]
struct Pair {
    first: String,
    second: String,
}

#[derive(Serialize)]
struct Report {
    n: usize,
    forward: f64,
    reversal: f64,
    forward_correct: usize,
    reversal_correct: usize,
    skipped: usize,
    model: String,
    backend: String,
    sampler: unmask::sampler::SamplerParams,
    seconds: f64,
}

pub fn run(a: EvalArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.pairs).with_context(|| format!("reading {}", a.pairs.display()))?;
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let p: Pair = serde_json::from_str(line).with_context(|| format!("{}:{}: not a {{first, second}} object", a.pairs.display(), i + 1))?;
        pairs.push(p);
    }
    if let Some(n) = a.limit {
        pairs.truncate(n);
    }
    anyhow::ensure!(!pairs.is_empty(), "{} holds no pairs", a.pairs.display());
    let eng = Engine::load(&a.model)?;
    let tb = TaskBuilder::new(&eng.tokenizer, &eng.config);
    let params = a.sampler.params();
    let norm = |s: &str| -> String {
        let e = eng.tokenizer.encode(s.trim_end_matches(unmask::tasks::LINE_END)).map(|e| eng.tokenizer.decode(&e.ids(0)));
        e.unwrap_or_default()
    };
    let (mut fwd, mut rev, mut skipped) = (0, 0, 0);
    let t0 = std::time::Instant::now();
    for (i, p) in pairs.iter().enumerate() {
        let (Ok(fp), Ok(rp)) = (tb.next_line(&p.first), tb.previous_line(&p.second)) else {
            skipped += 1;
            continue;
        };
        let f = answer(&eng.tokenizer, &fp, &eng.generate(&fp.tokens, &params, false)?.tokens);
        let r = answer(&eng.tokenizer, &rp, &eng.generate(&rp.tokens, &params, false)?.tokens);
        let (fo, ro) = (f == norm(&p.second), r == norm(&p.first));
        fwd += fo as usize;
        rev += ro as usize;
        if a.verbose && !(fo && ro) {
            eprintln!("{} → {f} (want {}) | {r} ← {} (want {})", p.first, p.second, p.second, p.first);
        }
        if (i + 1) % 50 == 0 {
            eprintln!("{}/{} pairs: forward {fwd}, reversal {rev}", i + 1, pairs.len());
        }
    }
    let n = pairs.len() - skipped;
    let rep = Report {
        n,
        forward: fwd as f64 / n.max(1) as f64,
        reversal: rev as f64 / n.max(1) as f64,
        forward_correct: fwd,
        reversal_correct: rev,
        skipped,
        model: format!("{} ({})", a.model.model.display(), eng.describe()),
        backend: eng.backend_name(),
        sampler: params,
        seconds: t0.elapsed().as_secs_f64(),
    };
    if a.json {
        println!("{}", serde_json::to_string(&rep)?);
    } else {
        println!("pairs     {n} ({skipped} skipped: characters outside the vocabulary or empty)");
        println!("forward   {:.1}% ({fwd}/{n})  given the first line, the second", rep.forward * 100.0);
        println!("reversal  {:.1}% ({rev}/{n})  given the second line, the first", rep.reversal * 100.0);
        println!("model     {}", rep.model);
        println!("backend   {} · {:.1} s", rep.backend, rep.seconds);
    }
    Ok(())
}
