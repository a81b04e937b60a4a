//! `unmask`: generate, evaluate and benchmark the poem model from the command line,
//! on the GPU engine or the fast CPU path.

mod bench;
mod check;
mod engine;
mod eval;
mod plot;
mod poems;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use unmask::sampler::{Remasking, SamplerParams, Settings};
use unmask::tasks::{answer, PoemForm, Task, TaskBuilder};

use engine::Backend;

#[derive(Parser)]
#[command(name = "unmask", version, about = "A masked-diffusion (LLaDA-style) classical Chinese poem model")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Complete a poem: the next line, the previous line, masked characters or a whole poem.
    Generate(GenerateArgs),
    /// Forward/reversal exact-match accuracy on a JSONL file of {"first", "second"} pairs.
    Eval(eval::EvalArgs),
    /// Per-step and end-to-end latency on the GPU and the CPU in one run.
    Bench(bench::BenchArgs),
    /// Verse measures of generated whole poems (punctuation, loops, distinct-2, twin NLL) against real ones.
    EvalPoems(poems::EvalPoemsArgs),
    /// Draw the README's charts (SVG) from docs/charts/lineage.json and eval reports.
    Plot(plot::PlotArgs),
    /// The metre checker: tones (平仄), the pattern and rhyme of a 绝句 or 律诗, 对对子 rules.
    Check(check::CheckArgs),
}

/// Which model files to load.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// Model file (safetensors, unmask format). Defaults to the bundled model.
    #[arg(long, default_value_os_t = engine::bundled("poem.safetensors"))]
    pub model: PathBuf,
    /// tokenizer.json. Defaults to the bundled one.
    #[arg(long, default_value_os_t = engine::bundled("tokenizer.json"))]
    pub tokenizer: PathBuf,
    /// gpu (wgpu: Vulkan/Metal/DX12) or cpu (the fast integer path, `unmask::fast`).
    #[arg(long, value_enum, default_value_t = Backend::Gpu)]
    pub backend: Backend,
}

/// Sampler options (defaults from `SamplerParams::default()`).
#[derive(Args, Clone)]
pub struct SamplerArgs {
    /// Denoising steps.
    #[arg(long, default_value_t = SamplerParams::default().steps)]
    pub steps: usize,
    /// Semi-autoregressive block length (0 = one block).
    #[arg(long, default_value_t = 0)]
    pub block_length: usize,
    /// low_confidence or random.
    #[arg(long, default_value = "low_confidence")]
    pub remasking: Remasking,
    /// Gumbel temperature (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Fast-dLLM parallel decoding: commit every prediction at least this sure.
    #[arg(long)]
    pub threshold: Option<f32>,
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
}

impl SamplerArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            steps: self.steps,
            block_length: self.block_length,
            remasking: self.remasking,
            temperature: self.temperature,
            threshold: self.threshold,
            pinned: Vec::new(),
            seed: self.seed,
        }
    }
}

/// Parses `--mode` from the library's one list of tasks (help lists their keys).
fn task_parser() -> impl clap::builder::TypedValueParser<Value = Task> {
    clap::builder::PossibleValuesParser::new(Task::ALL.map(Task::key)).map(|s| s.parse::<Task>().expect("a listed key"))
}

/// Parses `--form` from the library's list of forms.
fn form_parser() -> impl clap::builder::TypedValueParser<Value = PoemForm> {
    clap::builder::PossibleValuesParser::new(PoemForm::ALL.map(PoemForm::key))
        .map(|s| s.parse::<PoemForm>().expect("a listed key"))
}

#[derive(Args)]
struct GenerateArgs {
    /// next: the line after the text; prev: the line before it; infill: fill the `_`
    /// (or ＿, [MASK]); poem: a whole poem of --form, the text an optional acrostic head;
    /// pair: 对对子, the line answering the text; pair-prev: the line the text answers.
    #[arg(long, value_parser = task_parser(), default_value = "next")]
    mode: Task,
    /// The text: a line for next/prev, a template with `_` for infill, the acrostic head for poem.
    #[arg(default_value = "")]
    text: String,
    /// 5/7 characters × 4/8 lines (五言/七言 绝句/律诗).
    #[arg(long, value_parser = form_parser(), default_value = "wujue")]
    form: PoemForm,
    /// Pin a character at a 0-based position of the template: --pin 3=月 (repeatable).
    #[arg(long)]
    pin: Vec<String>,
    /// Print the denoising trajectory, one line per step.
    #[arg(long)]
    show_steps: bool,
    /// Whole poems: no tone pattern or rhyme (by default a poem keeps its form's
    /// pattern and one rhyme group); the repeat rule stays either way: no character
    /// twice in a line but as 叠字, no line or run of two characters loops.
    #[arg(long)]
    no_metre: bool,
    /// The rhyme group of a poem: a 平水韵 level group (下平十一尤), the last character
    /// of its name (尤), or a character to rhyme with (光). Default: the model's choice.
    #[arg(long, default_value = "")]
    rhyme: String,
    /// The tone pattern of a poem: ping (平起首句不入韵), ping-rhymed (平起首句入韵),
    /// ze, ze-rhymed. Default: the one the pinned characters break least.
    #[arg(long, default_value = "")]
    pattern: String,
    /// Tones and rhyme groups (for poems with metre and for pair/pair-prev).
    #[arg(long, default_value_os_t = engine::bundled("prosody.json"))]
    prosody: PathBuf,
    /// Autoregressive models: fill the masks with the best of a width-W beam ranked by
    /// the joint likelihood of the whole text (for --mode prev: p(A)·p(B|A)).
    #[arg(long)]
    beam: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    sampler: SamplerArgs,
}

fn generate(a: GenerateArgs) -> Result<()> {
    let mut eng = engine::load(&a.model)?;
    let mut req = unmask::request::Request {
        task: a.mode,
        text: a.text.clone(),
        form: a.form,
        metre: !a.no_metre,
        rhyme: a.rhyme.clone(),
        pattern: a.pattern.clone(),
        params: a.sampler.settings(),
    };
    if let Some(flag) = req.ignored().first() {
        let why = if req.task == Task::Poem { "with --no-metre" } else { "outside --mode poem" };
        bail!("--{flag} has no effect {why}: leave it out");
    }
    let prompt = req.prompt(&TaskBuilder::new(&eng.tokenizer, &eng.weights.config))?;
    for pin in &a.pin {
        let (pos, ch) = pin.split_once('=').with_context(|| format!("--pin {pin}: expected POS=CHAR"))?;
        let pos: usize = pos.trim().parse().with_context(|| format!("--pin {pin}: bad position"))?;
        let mut chars = ch.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else { bail!("--pin {pin}: give exactly one character") };
        let id = eng.tokenizer.char_id(c).with_context(|| format!("--pin {pin}: '{c}' is not in the vocabulary"))?;
        req.params.pinned.push((pos, id));
    }
    if let Some(width) = a.beam {
        anyhow::ensure!(a.pin.is_empty(), "--pin does not combine with --beam");
        let t0 = std::time::Instant::now();
        let r = eng.rank(&prompt.tokens, width)?;
        let elapsed = t0.elapsed();
        for c in r.candidates.iter().skip(1).take(4).rev() {
            eprintln!("  {:>8.2}  {}", c.log_joint, answer(&eng.tokenizer, &prompt, &c.tokens));
        }
        let best = &r.candidates[0];
        println!("{}", eng.tokenizer.decode(&best.tokens));
        eprintln!(
            "[cpu] answer {} · log p = {:.2} · beam {width}, {} forward passes · {:.1} ms · {}",
            answer(&eng.tokenizer, &prompt, &best.tokens),
            best.log_joint,
            r.forward_passes,
            elapsed.as_secs_f64() * 1e3,
            eng.describe()
        );
        return Ok(());
    }
    let t0 = std::time::Instant::now();
    // Regulated verse: the constraints, and the checker under the result. 对对子 is
    // its rules and needs the data; a poem without data that fits this tokenizer
    // (another model's files) is written without tone pattern and rhyme, with a
    // warning. Every whole poem keeps the repeat rule: no loops.
    let pair = matches!(a.mode, Task::Pair | Task::PairPrev);
    let verse = pair || (a.mode == Task::Poem && !a.no_metre);
    let prosody = (verse || a.mode == Task::Poem).then(|| engine::load_prosody(&a.prosody, &eng.tokenizer));
    eng.prosody = match prosody {
        Some(Ok(pr)) => Some(pr),
        Some(Err(e)) if pair => return Err(e.context("对对子 needs the tone data")),
        Some(Err(e)) if verse => {
            eprintln!("warning: no tone pattern or rhyme ({e:#}); the poem is written without them");
            None
        }
        _ => None,
    };
    let prepared = eng.prepare(&req)?;
    if let Some(plan) = &prepared.plan {
        let group = plan.rhyme_group.as_ref().map(|g| format!(" · 韵 {g} ({})", plan.group_from)).unwrap_or_default();
        eprintln!("{}{group}", plan.pattern);
        for c in &plan.conflicts {
            eprintln!("  position {}: {c}", c.at);
        }
    }
    let o = engine::run(&eng, &prepared, a.show_steps)?;
    let elapsed = t0.elapsed();
    if a.show_steps {
        for (s, h) in o.generation.history.iter().enumerate() {
            println!("step {:>2}: {}", s + 1, eng.tokenizer.decode(&h.tokens));
        }
    }
    println!("{}", o.text);
    eprintln!(
        "[{}] answer {} · {} steps · {:.1} ms · {}",
        eng.backend_name(),
        o.answer,
        o.generation.steps_run,
        elapsed.as_secs_f64() * 1e3,
        eng.describe()
    );
    if let Some(r) = o.metre.filter(|r| r.form.is_some() || r.couplet) {
        eprint!("{}", check::render(&r));
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Generate(a) => generate(a),
        Cmd::Eval(a) => eval::run(a),
        Cmd::Bench(a) => bench::run(a),
        Cmd::EvalPoems(a) => poems::run(a),
        Cmd::Plot(a) => plot::run(a),
        Cmd::Check(a) => check::run(a),
    };
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
