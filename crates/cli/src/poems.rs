//! `unmask eval-poems`: whole poems generated in each form, measured as verse and
//! against real poems of the same form — the anthologies' (`eval/poems.jsonl`, which
//! the models have memorised) and held-out ones no model here has read
//! (`eval/poems-heldout.jsonl`):
//!
//! - punctuation in character slots (the template fixes where `，` and `。` go; a slot
//!   that holds one breaks the line);
//! - loops: a line repeated, or a run of two or more characters occurring three times
//!   or more (不知人，不知人，不知人); doubled characters (萋萋, 历历) are not loops;
//! - distinct-2: distinct character pairs within lines over all pairs, for as many
//!   generated poems as real ones measured (it falls as a sample grows);
//! - recitation: the share of lines found verbatim in a text the models were trained
//!   on (`data/corpus/texts.jsonl`, held-out texts excluded): a poem stitched from
//!   memorised lines reads well to any model that memorised them too;
//! - naturalness: the autoregressive twin's negative log-likelihood per character of
//!   the generated poems over that of the held-out real poems (1.0 = as likely as
//!   real verse the twin has not read); over the anthologies' too, which the twin
//!   knows by heart (their NLL is a memorisation floor, not a naturalness one).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use unmask::engine::Engine;
use unmask::progress::Progress;
use unmask::prosody::{check, Compliance, Prosody};
use unmask::request::Request;
use unmask::sampler::{Generation, Remasking, Settings};
use unmask::tasks::{PoemForm, Prompt, Task, LINE_END};

use crate::engine::{self, Backend};
use crate::ModelArgs;

#[derive(Args)]
pub struct EvalPoemsArgs {
    /// Poems generated per form (seeds 1..=N).
    #[arg(long, default_value_t = 16)]
    count: usize,
    /// Forms to generate (repeatable); all four by default.
    #[arg(long, value_parser = crate::form_parser())]
    form: Vec<PoemForm>,
    /// The real poems, one {"form", "text"} object a line.
    #[arg(long, default_value = "eval/poems.jsonl")]
    real: PathBuf,
    /// Real poems no model here was trained on (same format): the reference of the
    /// twin's NLL ratio.
    #[arg(long, default_value = "eval/poems-heldout.jsonl")]
    heldout: PathBuf,
    /// The training corpus (texts.jsonl: {"text", "heldout"} objects), for the share
    /// of lines recited from it; left out when the file is not there.
    #[arg(long, default_value = "data/corpus/texts.jsonl")]
    corpus: PathBuf,
    /// The autoregressive twin that scores naturalness.
    #[arg(long, default_value_os_t = engine::bundled_ar())]
    ar_model: PathBuf,
    /// Skip the twin's naturalness score.
    #[arg(long)]
    no_twin: bool,
    /// Gumbel temperature of the sampler (poems need some: greedy gives one poem a form).
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Denoising steps (0 = one a character).
    #[arg(long, default_value_t = 0)]
    steps: usize,
    /// Print every generated poem.
    #[arg(long)]
    verbose: bool,
    /// Also generate each poem under the regulated-verse constraints (tone pattern,
    /// one rhyme group chosen by the model, the repeat rule), interleaved with the free
    /// one (the repeat rule alone, as the page does with the rules off): compliance,
    /// time and naturalness of both.
    #[arg(long)]
    metre: bool,
    /// Also generate each poem with no constraint: the model alone (its own loops),
    /// which no front end does — but for the guard every task keeps (no character
    /// three times in a row: `sampler::triples_at`).
    #[arg(long)]
    raw: bool,
    /// 对对子 on the first N couplets of --couplets, both ways (given the first line,
    /// and given the second), against next/previous line without the couplet rules.
    #[arg(long, default_value_t = 0)]
    pairs: usize,
    #[arg(long, default_value = "eval/couplets.jsonl")]
    couplets: PathBuf,
    /// The prosody data (tones, rhyme groups) for --metre and the metre line.
    #[arg(long, default_value_os_t = engine::bundled("prosody.json"))]
    prosody: PathBuf,
    /// Also write the JSON report to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
}

/// What a poem is generated under.
#[derive(Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Rules {
    /// No constraint: the model alone.
    None,
    /// The repeat rule only: the page with the rules off.
    Repeat,
    /// Regulated verse: tone pattern, rhyme and the repeat rule.
    Metre,
}

impl Rules {
    fn label(self) -> &'static str {
        match self {
            Rules::None => "none",
            Rules::Repeat => "off",
            Rules::Metre => "on",
        }
    }
}

/// Most poems per form (each is a whole generation).
const MAX_COUNT: usize = 4096;

#[derive(Deserialize)]
struct RealPoem {
    form: String,
    text: String,
}

/// Verse measures of a set of poems.
#[derive(Serialize, Default, Clone)]
struct Measures {
    poems: usize,
    /// Share of character slots holding punctuation.
    punct_in_slots: f64,
    /// Share of poems with a line repeated, and with any loop.
    repeated_line: f64,
    looped: f64,
    distinct2: f64,
    /// Share of lines found verbatim in a training text (None without the corpus).
    recited: Option<f64>,
    /// Twin's NLL in nats per character (None without a twin).
    ar_nll: Option<f64>,
}

#[derive(Serialize)]
struct FormReport {
    form: &'static str,
    /// What it was generated under.
    rules: Rules,
    generated: Measures,
    real: Measures,
    /// The held-out real poems of the form.
    heldout: Measures,
    /// generated / held-out real twin NLL.
    nll_ratio: Option<f64>,
    /// generated / anthology twin NLL.
    nll_ratio_anthology: Option<f64>,
    examples: Vec<String>,
    /// The metre checker over the generated poems, and over the real ones.
    metre: unmask::prosody::Compliance,
    real_metre: unmask::prosody::Compliance,
    /// Time spent generating them.
    seconds: f64,
}

fn lines(text: &str) -> Vec<String> {
    text.split(|c| LINE_END.contains(&c)).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// A line repeated, and a run of ≥ 2 characters (within lines) seen ≥ 3 times.
fn loops(text: &str) -> (bool, bool) {
    let ls = lines(text);
    let repeated = ls.iter().enumerate().any(|(i, l)| ls[..i].contains(l));
    let mut counts: HashMap<&[char], usize> = HashMap::new();
    let chars: Vec<Vec<char>> = ls.iter().map(|l| l.chars().collect()).collect();
    for l in &chars {
        for n in 2..=l.len() {
            for w in l.windows(n) {
                *counts.entry(w).or_default() += 1;
            }
        }
    }
    (repeated, repeated || counts.values().any(|&c| c >= 3))
}

fn distinct2(texts: &[String]) -> f64 {
    let mut all = 0usize;
    let mut seen = std::collections::HashSet::new();
    for t in texts {
        for l in lines(t) {
            let c: Vec<char> = l.chars().collect();
            for w in c.windows(2) {
                all += 1;
                seen.insert((w[0], w[1]));
            }
        }
    }
    if all == 0 {
        0.0
    } else {
        seen.len() as f64 / all as f64
    }
}

/// Measures of `texts`; `slots` = (punctuation in character slots, slots) when known;
/// distinct-2 over the first `k` poems only (it depends on the sample size).
fn measure(
    texts: &[String],
    k: usize,
    slots: (usize, usize),
    nll: Option<f64>,
    trained: Option<&HashSet<String>>,
) -> Measures {
    let n = texts.len().max(1) as f64;
    let recited = trained.map(|set| {
        let all: Vec<String> = texts.iter().flat_map(|t| lines(t)).collect();
        all.iter().filter(|l| set.contains(*l)).count() as f64 / all.len().max(1) as f64
    });
    let l: Vec<(bool, bool)> = texts.iter().map(|t| loops(t)).collect();
    Measures {
        poems: texts.len(),
        punct_in_slots: slots.0 as f64 / slots.1.max(1) as f64,
        repeated_line: l.iter().filter(|x| x.0).count() as f64 / n,
        looped: l.iter().filter(|x| x.1).count() as f64 / n,
        distinct2: distinct2(&texts[..k.min(texts.len())]),
        recited,
        ar_nll: nll,
    }
}

pub fn run(a: EvalPoemsArgs) -> Result<()> {
    anyhow::ensure!((1..=MAX_COUNT).contains(&a.count), "--count must be 1..={MAX_COUNT}");
    let forms = if a.form.is_empty() { PoemForm::ALL.to_vec() } else { a.form.clone() };
    let real = read_real(&a.real)?;
    let heldout = read_real(&a.heldout)?;
    let trained = trained_lines(&a.corpus)?;
    if trained.is_none() {
        eprintln!("{} is not there: recited lines not measured (bash scripts/data.sh builds it)", a.corpus.display());
    }
    let mut eng = engine::load(&a.model)?;
    // The metre checker's data: required with --metre or --pairs; otherwise the metre
    // line is left out when it does not belong to this model's tokenizer.
    eng.prosody = match engine::load_prosody(&a.prosody, &eng.tokenizer) {
        Ok(p) => Some(p),
        Err(e) if a.metre || a.pairs > 0 => return Err(e),
        Err(_) => None,
    };
    let twin = if a.no_twin {
        None
    } else {
        let t = engine::load(&ModelArgs {
            model: a.ar_model.clone(),
            tokenizer: a.model.tokenizer.clone(),
            backend: Backend::Cpu,
        })?;
        anyhow::ensure!(t.weights.config.causal, "{} is not an autoregressive model", a.ar_model.display());
        Some(t)
    };
    // Mean NLL per scored character of texts under the twin.
    let nll = |texts: &[String]| -> Result<Option<f64>> {
        let Some(t) = &twin else { return Ok(None) };
        let (mut sum, mut n) = (0.0, 0usize);
        for s in texts {
            let ids = t.tokenizer.encode(s)?.ids(t.weights.config.mask_id);
            sum -= unmask::ar::log_joint(t.cpu_model(), &ids);
            n += ids.len();
        }
        Ok(Some(sum / n.max(1) as f64))
    };
    let punct: Vec<u32> = LINE_END.iter().filter_map(|&c| eng.tokenizer.char_id(c)).collect();
    let prosody = eng.prosody.as_ref();
    let variants: Vec<Rules> = [(a.raw, Rules::None), (true, Rules::Repeat), (a.metre, Rules::Metre)]
        .into_iter()
        .filter_map(|(on, r)| on.then_some(r))
        .collect();
    let mut reports = Vec::new();
    for form in forms {
        // Per variant: poems, punctuation in slots, compliance, seconds.
        let mut sets: Vec<(Vec<String>, usize, unmask::prosody::Compliance, f64)> =
            variants.iter().map(|_| Default::default()).collect();
        let mut slots = 0;
        let progress = Progress::new(form.key(), a.count as u64, 4);
        // Seed by seed, the variants interleaved: their times compare on a noisy machine.
        for seed in 1..=a.count {
            for (set, &rules) in sets.iter_mut().zip(&variants) {
                let req = poem_request(form, rules == Rules::Metre, &a, seed as u32);
                let started = std::time::Instant::now();
                let (g, prompt) = run_request(&eng, &req, rules != Rules::None)?;
                set.3 += started.elapsed().as_secs_f64();
                slots = prompt.masked.len();
                set.1 += prompt.masked.iter().filter(|&&i| punct.contains(&g.tokens[i])).count();
                let poem = eng.tokenizer.decode(&g.tokens);
                if let Some(p) = &prosody {
                    set.2.add(&unmask::prosody::check(p, &eng.tokenizer, &poem));
                }
                if a.verbose {
                    progress.println(&format!("{:<5}{poem}", rules.label()));
                }
                set.0.push(poem);
            }
            progress.update(seed as u64, || "poems".into());
        }
        progress.finish();
        let of_form = |set: &HashMap<String, Vec<String>>, path: &std::path::Path| {
            let texts = set.get(form.key()).cloned().unwrap_or_default();
            anyhow::ensure!(!texts.is_empty(), "{} holds no {} poems", path.display(), form.key());
            Ok(texts)
        };
        let real_texts = of_form(&real, &a.real)?;
        let held_texts = of_form(&heldout, &a.heldout)?;
        let mut real_metre = unmask::prosody::Compliance::default();
        if let Some(p) = &prosody {
            for t in &real_texts {
                real_metre.add(&unmask::prosody::check(p, &eng.tokenizer, t));
            }
        }
        // Distinct-2 depends on the sample size: measure equal numbers of poems.
        let k = a.count.min(real_texts.len());
        let r = measure(&real_texts, k, (0, 0), nll(&real_texts)?, trained.as_ref());
        let h = measure(&held_texts, a.count.min(held_texts.len()), (0, 0), nll(&held_texts)?, trained.as_ref());
        for ((gen, in_slots, metre, seconds), &rules) in sets.into_iter().zip(&variants) {
            let g = measure(&gen, k, (in_slots, slots * a.count), nll(&gen)?, trained.as_ref());
            reports.push(FormReport {
                form: form.key(),
                rules,
                nll_ratio: g.ar_nll.zip(h.ar_nll).map(|(x, y)| x / y),
                nll_ratio_anthology: g.ar_nll.zip(r.ar_nll).map(|(x, y)| x / y),
                generated: g,
                real: r.clone(),
                heldout: h.clone(),
                examples: gen.into_iter().take(3).collect(),
                metre,
                real_metre: real_metre.clone(),
                seconds,
            });
        }
    }
    println!(
        "{:<6} {:>6} {:>6} {:>7} {:>11} {:>9} {:>13} {:>10} {:>22} {:>7} {:>7}",
        "form",
        "metre",
        "poems",
        "punct%",
        "rep. line%",
        "loops%",
        "distinct-2",
        "recited%",
        "twin NLL",
        "ratio",
        "(anth.)"
    );
    for r in &reports {
        let (g, re) = (&r.generated, &r.real);
        let nll = match (g.ar_nll, r.heldout.ar_nll, re.ar_nll) {
            (Some(x), Some(h), Some(y)) => format!("{x:.2} / {h:.2} / {y:.2}"),
            _ => "–".into(),
        };
        let ratio = |x: Option<f64>| x.map_or("–".into(), |x| format!("{x:.2}×"));
        println!(
            "{:<6} {:>6} {:>6} {:>7.1} {:>11} {:>9} {:>13} {:>10} {:>22} {:>7} {:>7}",
            r.form,
            r.rules.label(),
            g.poems,
            g.punct_in_slots * 100.0,
            format!("{:.0} / {:.0}", g.repeated_line * 100.0, re.repeated_line * 100.0),
            format!("{:.0} / {:.0}", g.looped * 100.0, re.looped * 100.0),
            format!("{:.3} / {:.3}", g.distinct2, re.distinct2),
            g.recited.zip(r.heldout.recited).map_or("–".into(), |(x, h)| format!(
                "{:.0} / {:.0}",
                x * 100.0,
                h * 100.0
            )),
            nll,
            ratio(r.nll_ratio),
            ratio(r.nll_ratio_anthology),
        );
        println!("       e.g. {}", r.examples.first().map_or("", String::as_str));
        if prosody.is_some() {
            println!(
                "       metre: {} ({} real: {}); {:.1} s generating",
                metre_line(&r.metre),
                r.real.poems,
                metre_line(&r.real_metre),
                r.seconds
            );
        }
    }
    if a.metre {
        for form in reports.chunks(variants.len()) {
            if let [.., off, on] = form {
                println!("{}: constrained / free generation time {:.2}×", on.form, on.seconds / off.seconds.max(1e-9));
            }
        }
    }
    let pairs = match &prosody {
        Some(p) if a.pairs > 0 => Some(eval_pairs(&a, &eng, p, &nll)?),
        _ => None,
    };
    let counts = |m: fn(&FormReport) -> usize| -> String {
        let mut v: Vec<String> = reports.iter().map(|r| format!("{} {}", m(r), r.form)).collect();
        v.dedup();
        v.join(", ")
    };
    println!(
        "(generated / real: {} from {}; distinct-2 over equal numbers of poems; twin NLL in nats per character: \
         generated / held-out real ({} from {}) / real; ratio: generated over held-out, (anth.) over real; \
         recited: lines found in a text trained on, generated / held-out real)",
        counts(|r| r.real.poems),
        a.real.display(),
        counts(|r| r.heldout.poems),
        a.heldout.display()
    );
    let json = serde_json::to_string(&serde_json::json!({
        "model": a.model.model.display().to_string(),
        "temperature": a.temperature,
        "steps": a.steps,
        "forms": reports,
        "pairs": pairs,
    }))?;
    if let Some(path) = &a.json_out {
        std::fs::write(path, format!("{json}\n")).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The lines of every text trained on in a texts.jsonl (None when there is no file).
fn trained_lines(path: &std::path::Path) -> Result<Option<HashSet<String>>> {
    #[derive(Deserialize)]
    struct CorpusText {
        text: String,
        #[serde(default)]
        heldout: bool,
    }
    if !path.exists() {
        return Ok(None);
    }
    let text = String::from_utf8(engine::read_capped(path, engine::MAX_CORPUS_BYTES)?)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let mut set = HashSet::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let t: CorpusText = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a {{text, heldout}} object", path.display(), i + 1))?;
        if !t.heldout {
            set.extend(lines(&t.text));
        }
    }
    Ok(Some(set))
}

/// Real poems by form from a JSONL file of {"form", "text"} objects.
fn read_real(path: &std::path::Path) -> Result<HashMap<String, Vec<String>>> {
    let text = String::from_utf8(engine::read_capped(path, engine::MAX_PAIRS_BYTES)?)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let mut real: HashMap<String, Vec<String>> = HashMap::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let p: RealPoem = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a {{form, text}} object", path.display(), i + 1))?;
        real.entry(p.form).or_default().push(p.text);
    }
    Ok(real)
}

/// A whole-poem request as eval-poems runs it (one step per character by default).
fn poem_request(form: PoemForm, metre: bool, a: &EvalPoemsArgs, seed: u32) -> Request {
    Request {
        task: Task::Poem,
        text: String::new(),
        form,
        metre,
        rhyme: String::new(),
        pattern: String::new(),
        params: Settings {
            steps: if a.steps == 0 { form.lines() * form.chars_per_line() } else { a.steps },
            remasking: Remasking::LowConfidence,
            temperature: a.temperature,
            seed,
            ..Default::default()
        },
    }
}

/// A request as the pipeline prepares it (without `constrained`: no constraints at
/// all, the bare model), its generation and its template.
fn run_request(eng: &Engine, req: &Request, constrained: bool) -> Result<(Generation, Prompt)> {
    let mut prepared = eng.prepare(req)?;
    if !constrained {
        prepared.params.constraints = Default::default();
        prepared.plan = None;
    }
    let o = engine::run(eng, &prepared, false)?;
    Ok((o.generation, prepared.prompt))
}

fn metre_line(m: &Compliance) -> String {
    let pct = Compliance::percent;
    format!(
        "{:.0}% follow every rule, key positions {:.1}%, rhyme positions {:.1}%",
        pct(m.clean, m.checked),
        pct(m.key_ok, m.key_positions),
        pct(m.rhyme_ok, m.rhyme_positions)
    )
}

/// 对对子 both ways against the free next/previous line, interleaved, with the real
/// couplets' compliance for reference.
#[derive(Serialize)]
struct PairReport {
    direction: &'static str,
    couplets: usize,
    /// The whole couplets (the given line included).
    free: Compliance,
    pair: Compliance,
    real: Compliance,
    /// Couplets whose written line (the real couplets: that line) keeps every rule.
    free_answer_clean: usize,
    pair_answer_clean: usize,
    real_answer_clean: usize,
    free_seconds: f64,
    pair_seconds: f64,
    free_nll: Option<f64>,
    pair_nll: Option<f64>,
    examples: Vec<String>,
}

fn eval_pairs(
    a: &EvalPoemsArgs,
    eng: &Engine,
    p: &Prosody,
    nll: &dyn Fn(&[String]) -> Result<Option<f64>>,
) -> Result<Vec<PairReport>> {
    let text = String::from_utf8(engine::read_capped(&a.couplets, engine::MAX_PAIRS_BYTES)?)
        .with_context(|| format!("{} is not UTF-8 text", a.couplets.display()))?;
    let pairs = unmask::pairs::parse(&text).with_context(|| format!("reading {}", a.couplets.display()))?;
    let pairs = &pairs[..a.pairs.min(pairs.len())];
    let mut out = Vec::new();
    for (direction, free_task, pair_task) in
        [("forward", Task::Next, Task::Pair), ("reverse", Task::Prev, Task::PairPrev)]
    {
        let (mut free, mut pair, mut real) = (Compliance::default(), Compliance::default(), Compliance::default());
        let (mut free_texts, mut pair_texts) = (Vec::new(), Vec::new());
        let (mut free_s, mut pair_s) = (0.0, 0.0);
        // The line written: the second going forward, the first in reverse.
        let line = usize::from(direction == "forward");
        let answer_clean = |r: &unmask::prosody::Report| {
            usize::from(r.couplet && r.lines.get(line).is_some_and(|l| l.marks.iter().all(|m| m.ok)))
        };
        let (mut free_ans, mut pair_ans, mut real_ans) = (0, 0, 0);
        for (i, c) in pairs.iter().enumerate() {
            let given = if direction == "forward" { &c.first } else { &c.second };
            let r = check(p, &eng.tokenizer, &format!("{}，{}。", c.first, c.second));
            real_ans += answer_clean(&r);
            real.add(&r);
            for (task, set, answers, texts, secs) in [
                (free_task, &mut free, &mut free_ans, &mut free_texts, &mut free_s),
                (pair_task, &mut pair, &mut pair_ans, &mut pair_texts, &mut pair_s),
            ] {
                let req = Request {
                    task,
                    text: given.clone(),
                    params: Settings { temperature: a.temperature, seed: i as u32 + 1, ..Default::default() },
                    ..Default::default()
                };
                let started = std::time::Instant::now();
                let (g, _) = run_request(eng, &req, true)?;
                *secs += started.elapsed().as_secs_f64();
                let t = eng.tokenizer.decode(&g.tokens);
                let r = check(p, &eng.tokenizer, &t);
                *answers += answer_clean(&r);
                set.add(&r);
                texts.push(t);
            }
        }
        let pct = Compliance::percent;
        let n = pairs.len();
        println!(
            "对对子 {direction} ({n} couplets): the written line keeps every rule in {:.0}% (free {direction} line {:.0}%, the real line {:.0}%)",
            pct(pair_ans, n),
            pct(free_ans, n),
            pct(real_ans, n),
        );
        println!(
            "       whole couplets, the given line included: {:.0}% (free {:.0}%, real {:.0}%); key positions {:.1}% / {:.1}% / {:.1}%; time {:.2}× the free line",
            pct(pair.clean, pair.checked),
            pct(free.clean, free.checked),
            pct(real.clean, real.checked),
            pct(pair.key_ok, pair.key_positions),
            pct(free.key_ok, free.key_positions),
            pct(real.key_ok, real.key_positions),
            pair_s / free_s.max(1e-9),
        );
        let (free_nll, pair_nll) = (nll(&free_texts)?, nll(&pair_texts)?);
        if let (Some(f), Some(q)) = (free_nll, pair_nll) {
            println!("       twin NLL per character: 对对子 {q:.2}, free {f:.2}");
        }
        println!("       e.g. {}", pair_texts.first().map_or("", String::as_str));
        out.push(PairReport {
            direction,
            couplets: pairs.len(),
            free,
            pair,
            real,
            free_answer_clean: free_ans,
            pair_answer_clean: pair_ans,
            real_answer_clean: real_ans,
            free_seconds: free_s,
            pair_seconds: pair_s,
            free_nll,
            pair_nll,
            examples: pair_texts.into_iter().take(5).collect(),
        });
    }
    Ok(out)
}
