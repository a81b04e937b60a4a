//! The paper's forward/reversal test (ARCHITECTURE.md, "Couplet evaluation"): for each pair of consecutive
//! lines, generate the second from the first and the first from the second, and
//! score exact matches. For the autoregressive twin the reversal is reported twice:
//! (a) the plain left-to-right attempt, which cannot see the given line, and (b) with
//! `--beam W`, candidates from a width-W beam ranked by log p(A) + log p(B | A).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use unmask::progress::Progress;
use unmask::tasks::{answer, Prompt, TaskBuilder};

use crate::{ModelArgs, SamplerArgs};

#[derive(Args)]
pub struct EvalArgs {
    /// JSONL file, one {"first": …, "second": …} object a line.
    #[arg(long)]
    pairs: PathBuf,
    /// Evaluate only the first N pairs.
    #[arg(long)]
    limit: Option<usize>,
    /// Autoregressive models: also rank previous lines with a beam of this width
    /// (repeatable: --beam 4 --beam 16).
    #[arg(long)]
    beam: Vec<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file (what `unmask plot` and the page's
    /// compare chart read, e.g. www/model/eval.json).
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Print every miss.
    #[arg(long)]
    verbose: bool,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    sampler: SamplerArgs,
}

/// One measured task over all pairs.
#[derive(Serialize)]
struct Task {
    /// Stable key for readers of the JSON: forward, reversal, reversal_beamW.
    key: String,
    name: String,
    correct: usize,
    accuracy: f64,
    /// Characters of the answer equal to the wanted line's at the same place, over
    /// all of the wanted lines' characters: a graded measure that moves before whole
    /// lines are recalled.
    char_accuracy: f64,
    /// Model evaluations per pair, averaged.
    forward_passes: f64,
    seconds: f64,
    /// Correct answers per book (the first ` · ` field of each pair's source), in
    /// the order of `Report::books`.
    correct_by_book: Vec<usize>,
    /// `char_accuracy` per book, in the same order.
    char_accuracy_by_book: Vec<f64>,
}

/// Pairs per book (the first ` · ` field of their source; "" without one).
#[derive(Serialize)]
struct Book {
    book: String,
    n: usize,
}

#[derive(Serialize)]
struct Report {
    n: usize,
    /// Shorthands for the first two tasks.
    forward: f64,
    reversal: f64,
    tasks: Vec<Task>,
    books: Vec<Book>,
    skipped: usize,
    model: String,
    /// The model file's size in bytes, and how its block matrices are stored (q8, q4, f32, f16).
    model_bytes: u64,
    weights: unmask::WeightFormat,
    pairs: String,
    causal: bool,
    backend: String,
    sampler: unmask::sampler::SamplerParams,
    seconds: f64,
}

/// How one task answers a prompt: (answer, forward passes).
type Solver<'a> = Box<dyn Fn(&Prompt) -> Result<(String, usize)> + 'a>;

pub fn run(a: EvalArgs) -> Result<()> {
    let text = crate::engine::read_capped(&a.pairs, crate::engine::MAX_PAIRS_BYTES)?;
    let text = String::from_utf8(text).with_context(|| format!("{} is not UTF-8 text", a.pairs.display()))?;
    let pairs = unmask::pairs::parse_first(&text, a.limit.unwrap_or(usize::MAX)).map_err(
        |unmask::pairs::PairsError::Line { line, reason }| {
            anyhow::anyhow!("{}:{line}: not a {{\"first\", \"second\"}} object ({reason})", a.pairs.display())
        },
    )?;
    anyhow::ensure!(!pairs.is_empty(), "{} holds no pairs", a.pairs.display());
    let eng = crate::engine::load(&a.model)?;
    anyhow::ensure!(
        a.beam.is_empty() || eng.weights.config.causal,
        "--beam ranks candidates with an autoregressive model; this model is a diffusion model"
    );
    let tb = TaskBuilder::new(&eng.tokenizer, &eng.weights.config);
    let params = a.sampler.settings();
    let norm = |s: &str| -> String {
        let e =
            eng.tokenizer.encode(s.trim_end_matches(unmask::tasks::LINE_END)).map(|e| eng.tokenizer.decode(&e.ids(0)));
        e.unwrap_or_default()
    };
    let generate: Solver = Box::new(|p: &Prompt| {
        let o = crate::engine::run(&eng, &eng.prepare_prompt(p.clone(), &params), false)?;
        Ok((o.answer, o.generation.steps_run))
    });
    // (key, name, reversal?, solver)
    let mut tasks: Vec<(String, String, bool, &Solver)> = vec![("forward".into(), "forward".into(), false, &generate)];
    let rev_name = if eng.weights.config.causal { "reversal (a) left to right" } else { "reversal" };
    tasks.push(("reversal".into(), rev_name.into(), true, &generate));
    let beams: Vec<(usize, Solver)> = a
        .beam
        .iter()
        .map(|&w| {
            let s: Solver = Box::new({
                let eng = &eng;
                move |p: &Prompt| {
                    let r = eng.rank(&p.tokens, w)?;
                    Ok((answer(&eng.tokenizer, p, &r.candidates[0].tokens), r.forward_passes))
                }
            });
            (w, s)
        })
        .collect();
    for (w, s) in &beams {
        tasks.push((format!("reversal_beam{w}"), format!("reversal (b) beam {w}, ranked by p(A)p(B|A)"), true, s));
    }

    // A pair either task cannot take is skipped; the reasons are counted.
    let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
    let prompts: Vec<Option<(Prompt, Prompt)>> = pairs
        .iter()
        .map(|p| match (tb.next_line(&p.first), tb.previous_line(&p.second)) {
            (Ok(f), Ok(r)) => Some((f, r)),
            (Err(e), _) | (_, Err(e)) => {
                // The reason's kind, without the characters it names.
                let why = e.to_string();
                *reasons.entry(why.split(':').next().unwrap_or(&why).to_string()).or_default() += 1;
                None
            }
        })
        .collect();
    let skipped = prompts.iter().filter(|p| p.is_none()).count();
    let n = pairs.len() - skipped;
    let why: Vec<String> = reasons.iter().map(|(r, k)| format!("{k}: {r}")).collect();
    anyhow::ensure!(
        n > 0,
        "all {skipped} pairs of {} were skipped ({}): nothing to score",
        a.pairs.display(),
        why.join("; ")
    );
    // Books in order of first appearance, and each scored pair's book.
    let mut books: Vec<Book> = Vec::new();
    let book_of: Vec<usize> = pairs
        .iter()
        .zip(&prompts)
        .map(|(p, pr)| {
            let name = p.source.split(" · ").next().unwrap_or("").trim();
            let i = books.iter().position(|b| b.book == name).unwrap_or_else(|| {
                books.push(Book { book: name.to_string(), n: 0 });
                books.len() - 1
            });
            books[i].n += pr.is_some() as usize;
            i
        })
        .collect();
    let t0 = std::time::Instant::now();
    let mut out = Vec::new();
    for (key, name, reversal, solve) in &tasks {
        let t1 = std::time::Instant::now();
        let (mut correct, mut passes) = (0, 0);
        let (mut chars_right, mut chars_wanted) = (0usize, 0usize);
        let mut by_book = vec![0usize; books.len()];
        // Characters right and wanted per book.
        let mut chars_by_book = vec![(0usize, 0usize); books.len()];
        let progress = Progress::new(name, pairs.len() as u64, 100);
        for (i, (pair, pr)) in pairs.iter().zip(&prompts).enumerate() {
            let Some((fp, rp)) = pr else { continue };
            let (prompt, want, given) =
                if *reversal { (rp, &pair.first, &pair.second) } else { (fp, &pair.second, &pair.first) };
            let (got, k) = solve(prompt)?;
            passes += k;
            let want = norm(want);
            let ok = got == want;
            let right = got.chars().zip(want.chars()).filter(|(g, w)| g == w).count();
            let wanted = want.chars().count();
            chars_right += right;
            chars_wanted += wanted;
            let b = &mut chars_by_book[book_of[i]];
            (b.0, b.1) = (b.0 + right, b.1 + wanted);
            correct += ok as usize;
            by_book[book_of[i]] += ok as usize;
            if a.verbose && !ok {
                progress.println(&format!("{name}: {given} → {got} (want {want})"));
            }
            progress.update(i as u64 + 1, || format!("pairs, {correct} correct"));
        }
        progress.finish();
        out.push(Task {
            key: key.clone(),
            name: name.clone(),
            correct,
            accuracy: correct as f64 / n.max(1) as f64,
            char_accuracy: chars_right as f64 / chars_wanted.max(1) as f64,
            forward_passes: passes as f64 / n.max(1) as f64,
            seconds: t1.elapsed().as_secs_f64(),
            correct_by_book: by_book,
            char_accuracy_by_book: chars_by_book.iter().map(|&(r, w)| r as f64 / w.max(1) as f64).collect(),
        });
    }
    let rep = Report {
        n,
        forward: out[0].accuracy,
        reversal: out[1].accuracy,
        tasks: out,
        books,
        skipped,
        model: format!("{} ({})", a.model.model.display(), eng.describe()),
        model_bytes: std::fs::metadata(&a.model.model).map(|m| m.len()).unwrap_or(0),
        weights: eng.weights.layers[0].wq.format(),
        pairs: a.pairs.display().to_string(),
        causal: eng.weights.config.causal,
        backend: eng.backend_name(),
        sampler: params.sampler().for_model(&eng.weights.config),
        seconds: t0.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_string(&rep)?;
    if let Some(path) = &a.json_out {
        std::fs::write(path, format!("{json}\n")).with_context(|| format!("writing {}", path.display()))?;
    }
    if a.json {
        println!("{json}");
    } else {
        if skipped == 0 {
            println!("pairs     {n}");
        } else {
            println!("pairs     {n} ({skipped} skipped: {})", why.join("; "));
        }
        for t in &rep.tasks {
            println!(
                "{:<44} {:>5.1}% ({}/{n}), characters {:.1}%  {:.1} forward passes a pair, {:.1} s",
                t.name,
                t.accuracy * 100.0,
                t.correct,
                t.char_accuracy * 100.0,
                t.forward_passes,
                t.seconds
            );
        }
        if rep.books.len() > 1 {
            println!("by book ({}):", rep.tasks.iter().map(|t| t.key.as_str()).collect::<Vec<_>>().join(" / "));
            for (i, b) in rep.books.iter().enumerate() {
                let cells: Vec<String> = rep
                    .tasks
                    .iter()
                    .map(|t| format!("{:.1}%", 100.0 * t.correct_by_book[i] as f64 / b.n.max(1) as f64))
                    .collect();
                let chars: Vec<String> =
                    rep.tasks.iter().map(|t| format!("{:.1}%", 100.0 * t.char_accuracy_by_book[i])).collect();
                println!(
                    "  {:<10} {:>5} pairs  {}  (characters {})",
                    b.book,
                    b.n,
                    cells.join(" / "),
                    chars.join(" / ")
                );
            }
        }
        println!("model     {}", rep.model);
        println!("backend   {} · {:.1} s", rep.backend, rep.seconds);
    }
    Ok(())
}
