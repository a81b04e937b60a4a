//! Training loop: AdamW (decoupled weight decay on matrices only), linear warm-up +
//! cosine decay fitted to a wall-clock budget, global-norm clipping, checkpoints,
//! a CSV loss log and a held-out LLaDA loss.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var};
use serde::{Deserialize, Serialize};
use unmask::progress::Progress;
use unmask::{ModelConfig, PoemTokenizer};

use crate::data::{causal_batch, diffusion_batch, Boost, Dataset, Part, Window};
use crate::model::{loss, Model};
use crate::rng::Rng;

#[derive(clap::Args, Clone, Serialize, Deserialize, Debug)]
pub struct TrainArgs {
    /// Folder with texts.jsonl and tokenizer.json (from `corpus`).
    #[arg(long, default_value = "data/corpus")]
    pub data: PathBuf,
    /// Run folder: checkpoints, log.csv.
    #[arg(long, default_value = "runs/main")]
    pub run: PathBuf,
    /// Wall-clock budget; the step count (and so the cosine schedule) is fitted to it.
    #[arg(long, default_value_t = 55.0)]
    pub minutes: f64,
    /// Fixed step count instead of fitting to --minutes.
    #[arg(long)]
    pub steps: Option<usize>,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    #[arg(long, default_value_t = 64)]
    pub seq: usize,
    #[arg(long, default_value_t = 256)]
    pub d_model: usize,
    #[arg(long, default_value_t = 6)]
    pub layers: usize,
    #[arg(long, default_value_t = 8)]
    pub heads: usize,
    #[arg(long, default_value_t = 704)]
    pub d_ff: usize,
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.1)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Normalise each sequence's masked CE by its actual masked count instead of p·T
    /// (same expectation, far lower variance; see data.rs).
    #[arg(long)]
    #[serde(default)]
    pub per_sequence: bool,
    /// Share of diffusion samples drawn SFT-style: one random line masked (prob t per
    /// character), the rest of the window visible (see data.rs `diffusion_batch`).
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub line_mask: f64,
    /// Share of diffusion steps whose batch is couplets only (`Window::Couplet`, one
    /// of the two lines masked, either with equal chance): the next-line and
    /// previous-line tasks as the page and the eval pose them, in short windows
    /// (`--couplet-seq`, batch scaled to the same tokens per step).
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub couplet_share: f64,
    #[arg(long, default_value_t = 17)]
    #[serde(default = "couplet_seq")]
    pub couplet_seq: usize,
    /// Share of the other diffusion samples that are whole poems from their first line
    /// with every character masked at rate t and the punctuation visible (the
    /// whole-poem task).
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub poem_share: f64,
    /// First step that uses --line-mask (plain LLaDA pre-training before it).
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub line_mask_from: usize,
    /// Multiply the sampling weight of the anthology texts (the famous poems the couplet
    /// test comes from) by this.
    #[arg(long, default_value_t = 1.0)]
    #[serde(default = "one")]
    pub anthology_boost: f64,
    /// The anthology boost for couplet batches only (default: --anthology-boost):
    /// famous couplets weighted up for recall without weighting the anthologies'
    /// whole poems up in the other batches (which teaches free poems to recite).
    #[arg(long)]
    #[serde(default)]
    pub couplet_boost: Option<f64>,
    /// Multiply the sampling weight of the canon (诗经, 论语, 四书, 楚辞, 古文观止, 蒙学,
    /// 水墨唐诗: the broader famous-couplet set's collections) by this, in every batch
    /// (default: canon texts in an anthology take the anthology boost, the others 1).
    #[arg(long)]
    #[serde(default)]
    pub canon_boost: Option<f64>,
    /// The canon boost for couplet batches only (default: --canon-boost): the canon's
    /// famous couplets weighted up without filling the whole-poem batches with prose.
    #[arg(long)]
    #[serde(default)]
    pub couplet_canon_boost: Option<f64>,
    /// The canon collections --canon-boost and --couplet-canon-boost weight up, by
    /// their corpus names (e.g. shijing,mengxue-verse; default: all of them); the
    /// others are weighted as if they were not canon.
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub canon_sources: Vec<String>,
    /// The canon file (`unmask-train canon`, data/corpus/canon.jsonl): its texts outside
    /// the anthologies and the boosted canon collections are drawn by length × fame
    /// score × --famous-boost (`Dataset::with_canon`).
    #[arg(long)]
    #[serde(default)]
    pub canon_file: Option<PathBuf>,
    /// The factor on the famous texts of --canon-file in every batch (default: drawn
    /// by their corpus weight, as if not listed).
    #[arg(long)]
    #[serde(default)]
    pub famous_boost: Option<f64>,
    /// The famous boost for couplet batches only (default: --famous-boost).
    #[arg(long)]
    #[serde(default)]
    pub couplet_famous_boost: Option<f64>,
    /// With --resume: start a new warm-up + cosine over the remaining steps at --lr
    /// instead of continuing the checkpoint's schedule.
    #[arg(long)]
    #[serde(default)]
    pub restart_schedule: bool,
    /// Diffusion model that reads its input shifted (`ModelConfig::shifted`); use with
    /// --init-from the autoregressive twin.
    #[arg(long)]
    #[serde(default)]
    pub shifted: bool,
    /// Train the autoregressive twin (causal mask, next-token loss).
    #[arg(long)]
    pub causal: bool,
    /// Continue from <run>/ckpt.safetensors.
    #[arg(long)]
    pub resume: bool,
    /// Start from another run's weights (fresh optimiser and schedule), e.g. a
    /// diffusion model from its autoregressive twin, as Dream 7B starts from Qwen2.5
    /// and DiffuLLaMA from LLaMA: the twin's memorised poems carry over.
    #[arg(long)]
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// With --resume: add this many steps to the checkpoint's schedule (no refit).
    #[arg(long)]
    #[serde(default)]
    pub extra_steps: Option<usize>,
    #[arg(long, default_value_t = 200)]
    pub eval_every: usize,
    #[arg(long, default_value_t = 100)]
    pub ckpt_every: usize,
}

fn one() -> f64 {
    1.0
}

fn couplet_seq() -> usize {
    17
}

#[derive(Serialize, Deserialize)]
pub struct CkptMeta {
    pub step: usize,
    pub total_steps: usize,
    pub config: ModelConfig,
    pub args: TrainArgs,
}

pub struct AdamW {
    m: HashMap<String, Var>,
    v: HashMap<String, Var>,
    step: usize,
}

const B1: f64 = 0.9;
const B2: f64 = 0.95;

impl AdamW {
    fn new(model: &Model) -> Result<AdamW> {
        let mut m = HashMap::new();
        let mut v = HashMap::new();
        for n in &model.names {
            let z = model.vars[n].as_tensor().zeros_like()?;
            m.insert(n.clone(), Var::from_tensor(&z)?);
            v.insert(n.clone(), Var::from_tensor(&z)?);
        }
        Ok(AdamW { m, v, step: 0 })
    }

    fn update(
        &mut self,
        model: &Model,
        grads: &candle_core::backprop::GradStore,
        lr: f64,
        wd: f64,
        scale: f64,
    ) -> Result<()> {
        self.step += 1;
        let (c1, c2) = (1.0 - B1.powi(self.step as i32), 1.0 - B2.powi(self.step as i32));
        for n in &model.names {
            let var = &model.vars[n];
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let g = (g * scale)?;
            let m = ((self.m[n].as_tensor() * B1)? + (&g * (1.0 - B1))?)?;
            let v = ((self.v[n].as_tensor() * B2)? + (g.sqr()? * (1.0 - B2))?)?;
            let upd = ((&m / c1)? / ((&v / c2)?.sqrt()? + 1e-8)?)?;
            let theta = var.as_tensor();
            let decay = if model.is_matrix(n) { wd } else { 0.0 };
            let new = ((theta * (1.0 - lr * decay))? - (upd * lr)?)?;
            var.set(&new)?;
            self.m[n].set(&m)?;
            self.v[n].set(&v)?;
        }
        Ok(())
    }
}

/// Warm-up then cosine from `a.lr` to `a.lr / 10`; `step` and `total` count from the
/// schedule's start.
fn lr_at(a: &TrainArgs, step: usize, total: usize) -> f64 {
    if step < a.warmup {
        return a.lr * (step + 1) as f64 / a.warmup as f64;
    }
    let prog = (step - a.warmup) as f64 / (total.saturating_sub(a.warmup).max(1)) as f64;
    let min = 0.1 * a.lr;
    min + 0.5 * (a.lr - min) * (1.0 + (std::f64::consts::PI * prog.min(1.0)).cos())
}

pub fn save_ckpt(dir: &Path, model: &Model, opt: &AdamW, meta: &CkptMeta) -> Result<()> {
    let mut t: HashMap<String, Tensor> = HashMap::new();
    for n in &model.names {
        t.insert(n.clone(), model.vars[n].as_tensor().clone());
        t.insert(format!("adam_m.{n}"), opt.m[n].as_tensor().clone());
        t.insert(format!("adam_v.{n}"), opt.v[n].as_tensor().clone());
    }
    // Write then rename so a crash mid-save never leaves a torn checkpoint.
    let tmp = dir.join("ckpt.safetensors.tmp");
    candle_core::safetensors::save(&t, &tmp)?;
    std::fs::rename(&tmp, dir.join("ckpt.safetensors"))?;
    std::fs::write(dir.join("ckpt.json"), serde_json::to_string_pretty(meta)?)?;
    Ok(())
}

/// A checkpoint: its metadata, the parameters as f32 by name, and every tensor of the
/// file (optimizer state included).
pub type Checkpoint = (CkptMeta, HashMap<String, Vec<f32>>, HashMap<String, Tensor>);

/// Loads the parameters (not the optimizer state) of a checkpoint.
pub fn load_params(dir: &Path) -> Result<Checkpoint> {
    let meta: CkptMeta = serde_json::from_str(&std::fs::read_to_string(dir.join("ckpt.json")).context("ckpt.json")?)?;
    let all = candle_core::safetensors::load(dir.join("ckpt.safetensors"), &Device::Cpu)?;
    let mut params = HashMap::new();
    for unmask::format::TensorSpec { name, .. } in unmask::format::tensor_plan(&meta.config) {
        params.insert(name.clone(), all[&name].flatten_all()?.to_vec1::<f32>()?);
    }
    Ok((meta, params, all))
}

/// The weights to start from: a run folder (its checkpoint) or a model file as
/// shipped (`www/model/poem.safetensors`, dequantized), so a campaign can start from
/// the published model on a machine without `runs/`.
fn load_init(src: &Path) -> Result<(ModelConfig, HashMap<String, Vec<f32>>)> {
    if src.is_dir() {
        let (meta, params, _) = load_params(src)?;
        return Ok((meta.config, params));
    }
    let bytes = std::fs::read(src).with_context(|| src.display().to_string())?;
    let w = unmask::ModelWeights::from_bytes(&bytes).with_context(|| src.display().to_string())?;
    Ok((w.config.clone(), w.to_f32_tensors()))
}

/// Fixed held-out batches: same sequences, t's and masks every time it is computed,
/// and the same sequences for the diffusion model and its causal twin (the masks are
/// drawn from their own stream).
pub fn heldout_loss(model: &Model, held: &Dataset, seq: usize, causal: bool, n_seqs: usize) -> Result<f64> {
    let mut rng = Rng::new(0xE7A1);
    let mut mask_rng = Rng::new(0x3A5C);
    let dev = Device::Cpu;
    let mut total = 0.0;
    let batches = n_seqs / 64;
    for bi in 0..batches {
        let seqs: Vec<Vec<u32>> = (0..64).map(|_| held.sample(&mut rng, seq)).collect();
        // Stratified t over the whole set lowers the Monte-Carlo variance.
        let ts: Vec<f64> = (0..64).map(|i| ((bi * 64 + i) as f64 + 0.5) / (batches * 64) as f64).collect();
        let b = if causal {
            causal_batch(&seqs, &dev)?
        } else {
            diffusion_batch(&seqs, &mut mask_rng, Some(&ts), false, &[], &dev)?
        };
        total += loss(model, &b)?.to_scalar::<f32>()? as f64;
    }
    Ok(total / batches as f64)
}

/// The header and the rows of a trainer log (`step,…` CSV) up to and including `step`.
fn log_upto(text: &str, step: usize) -> String {
    text.lines()
        .enumerate()
        .filter(|(i, l)| {
            *i == 0 || l.split(',').next().and_then(|s| s.parse::<usize>().ok()).is_some_and(|s| s <= step)
        })
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

pub fn train(a: TrainArgs) -> Result<()> {
    let dev = Device::Cpu;
    let canon_sources =
        crate::corpus::canon_mask(&a.canon_sources).map_err(|e| anyhow::anyhow!("--canon-sources: {e}"))?;
    // A fresh run never writes over another run's checkpoint and log.
    anyhow::ensure!(
        a.resume || !a.run.join("ckpt.safetensors").exists(),
        "{} already holds a checkpoint: pass --resume to continue it, or choose another --run",
        a.run.display()
    );
    std::fs::create_dir_all(&a.run)?;
    let tok = PoemTokenizer::from_bytes(&std::fs::read(a.data.join("tokenizer.json"))?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let texts = a.data.join("texts.jsonl");
    let boost = Boost { anthology: a.anthology_boost, canon: a.canon_boost, canon_sources, famous: a.famous_boost };
    let couplet_boost = Boost {
        anthology: a.couplet_boost.unwrap_or(a.anthology_boost),
        canon: a.couplet_canon_boost.or(a.canon_boost),
        canon_sources,
        famous: a.couplet_famous_boost.or(a.famous_boost),
    };
    let mut train_set = Dataset::load(&texts, &tok, Part::Train { boost })?;
    if let Some(path) = &a.canon_file {
        let canon = crate::canon::read(path)?;
        train_set = train_set.with_canon(&canon, boost);
        eprintln!("canon file {}: {} famous texts", path.display(), canon.len());
    }
    let couplet_set = train_set.boosted(couplet_boost);
    for (what, b) in [("windows", boost), ("couplets", couplet_boost)] {
        let [an, ca, fa, rest] = train_set.shares(b).map(|x| x * 100.0);
        eprintln!(
            "{what}: anthologies {an:.1}%, canon collections {ca:.1}%, famous texts {fa:.1}%, the rest {rest:.1}%"
        );
    }
    let held = Dataset::load(&texts, &tok, Part::Heldout)?;
    eprintln!("train: {} texts, {} tokens; held-out: {} texts", train_set.len(), train_set.tokens(), held.len());
    let config = ModelConfig {
        vocab_size: tok.vocab_size(),
        d_model: a.d_model,
        n_layers: a.layers,
        n_heads: a.heads,
        d_ff: a.d_ff,
        max_seq_len: a.seq,
        rope_theta: 10_000.0,
        norm_eps: 1e-5,
        causal: a.causal,
        shifted: a.shifted,
        mask_id: unmask::tokenizer::MASK_ID,
        pad_id: unmask::tokenizer::PAD_ID,
        unk_id: unmask::tokenizer::UNK_ID,
    };
    config.validate().map_err(anyhow::Error::msg)?;
    let (model, mut opt, mut step, mut total) = if a.resume {
        let (meta, params, all) = load_params(&a.run)?;
        let model = Model::from_tensors(meta.config.clone(), &params, &dev)?;
        let mut opt = AdamW::new(&model)?;
        for n in &model.names {
            opt.m[n].set(&all[&format!("adam_m.{n}")])?;
            opt.v[n].set(&all[&format!("adam_v.{n}")])?;
        }
        opt.step = meta.step;
        eprintln!("resumed at step {} of {}", meta.step, meta.total_steps);
        (model, opt, meta.step, meta.total_steps + a.extra_steps.unwrap_or(0))
    } else if let Some(src) = &a.init_from {
        let (from, params) = load_init(src)?;
        anyhow::ensure!(
            from.vocab_size == config.vocab_size,
            "{} has {} ids, the tokenizer {}",
            src.display(),
            from.vocab_size,
            config.vocab_size
        );
        let mut c = from.clone();
        c.causal = a.causal;
        c.shifted = a.shifted;
        // RoPE has no learned positions: a model trained on shorter windows can be
        // trained on longer ones.
        c.max_seq_len = c.max_seq_len.max(a.seq);
        eprintln!("initialised from {} (causal {}, {} positions)", src.display(), from.causal, from.max_seq_len);
        let model = Model::from_tensors(c, &params, &dev)?;
        let opt = AdamW::new(&model)?;
        (model, opt, 0, a.steps.unwrap_or(usize::MAX))
    } else {
        let model = Model::new(config.clone(), a.seed, &dev)?;
        let opt = AdamW::new(&model)?;
        (model, opt, 0, a.steps.unwrap_or(usize::MAX))
    };
    let n_params: usize = model.names.iter().map(|n| model.vars[n].as_tensor().elem_count()).sum();
    eprintln!("model: {:?}, {n_params} parameters", model.config);
    let log_path = a.run.join("log.csv");
    if a.resume && log_path.exists() {
        // Rows logged after the checkpoint (a run stopped between checkpoints) are
        // trained again: drop them, so the log holds each step once.
        let text = std::fs::read_to_string(&log_path)?;
        std::fs::write(&log_path, log_upto(&text, step))?;
    }
    let new_log = !log_path.exists() || !a.resume;
    let mut log =
        std::fs::OpenOptions::new().create(true).append(a.resume).write(true).truncate(!a.resume).open(&log_path)?;
    if new_log {
        writeln!(log, "step,loss,lr,tokens_per_s,elapsed_s,heldout_loss")?;
    }
    // Data order depends on (seed, step) so a resumed run does not replay batches.
    let mut rng = Rng::new(a.seed.wrapping_mul(0x9E37).wrapping_add(step as u64));
    let start = Instant::now();
    let budget = a.minutes * 60.0;
    let start_step = step;
    let mut t_mark = (0usize, 0.0f64);
    let mut ema = f64::NAN;
    let vars: Vec<Var> = model.names.iter().map(|n| model.vars[n].clone()).collect();
    let shown_total = |t: usize| if t == usize::MAX { 0 } else { t as u64 };
    let mut progress = Progress::new("step", shown_total(total), 10);
    while step < total {
        let batch = if a.causal {
            let seqs: Vec<Vec<u32>> = (0..a.batch).map(|_| train_set.sample(&mut rng, a.seq)).collect();
            causal_batch(&seqs, &dev)?
        } else if rng.f64() < a.couplet_share {
            let n = (a.batch * a.seq / a.couplet_seq).max(1);
            let seqs: Vec<Vec<u32>> =
                (0..n).map(|_| couplet_set.sample_window(&mut rng, a.couplet_seq, Window::Couplet)).collect();
            let spans: Vec<_> = seqs
                .iter()
                .map(|s| {
                    let lines = train_set.lines_of(s);
                    if lines.is_empty() {
                        Vec::new()
                    } else {
                        vec![lines[rng.below(lines.len())].clone()]
                    }
                })
                .collect();
            diffusion_batch(&seqs, &mut rng, None, a.per_sequence, &spans, &dev)?
        } else {
            let frac = if step >= a.line_mask_from { a.line_mask } else { 0.0 };
            let (mut seqs, mut spans) = (Vec::with_capacity(a.batch), Vec::with_capacity(a.batch));
            for _ in 0..a.batch {
                let u = rng.f64();
                if u < a.poem_share {
                    let s = train_set.sample_window(&mut rng, a.seq, Window::Poem);
                    spans.push(train_set.lines_of(&s));
                    seqs.push(s);
                } else {
                    let s = train_set.sample(&mut rng, a.seq);
                    spans.push(if u < a.poem_share + frac { train_set.response(&s, &mut rng) } else { Vec::new() });
                    seqs.push(s);
                }
            }
            diffusion_batch(&seqs, &mut rng, None, a.per_sequence, &spans, &dev)?
        };
        let l = loss(&model, &batch)?;
        let grads = l.backward()?;
        let mut sq = 0.0f64;
        for v in &vars {
            if let Some(g) = grads.get(v.as_tensor()) {
                sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            }
        }
        let gnorm = sq.sqrt();
        let scale = if gnorm > a.clip { a.clip / gnorm } else { 1.0 };
        let total_for_lr = if total == usize::MAX { 1_000_000 } else { total };
        let lr = if a.restart_schedule {
            lr_at(&a, step - start_step, total_for_lr - start_step)
        } else {
            lr_at(&a, step, total_for_lr)
        };
        opt.update(&model, &grads, lr, a.weight_decay, scale)?;
        step += 1;
        let lv = l.to_scalar::<f32>()? as f64;
        ema = if ema.is_nan() { lv } else { 0.95 * ema + 0.05 * lv };
        let el = start.elapsed().as_secs_f64();
        // Fit the step count to the budget: time steps 2..10 (step 1 pays warm-up
        // allocations).
        let done = step - start_step;
        if done == 2 {
            t_mark = (step, el);
        }
        // Refit every 100 steps over the first 60% too: the CPU is shared with other
        // builds, so the speed drifts; the average since step 2 keeps the cosine smooth.
        // A resumed run refits too, so the cosine still ends at the new budget.
        let refit = done == 10 || (done % 100 == 0 && (done as f64) < 0.6 * (total - start_step) as f64);
        if a.steps.is_none() && a.extra_steps.is_none() && refit {
            let sps = (el - t_mark.1) / (step - t_mark.0) as f64;
            let evals = 1.0 + 1.0 / a.eval_every as f64 * 4.0; // eval/ckpt overhead
            total = step + ((budget - el - 60.0) / (sps * evals)).max(0.0) as usize;
            progress.println(&format!("{sps:.3} s/step measured → total_steps = {total}"));
            progress.set_total(shown_total(total));
        }
        let mut held_loss = String::new();
        if step % a.eval_every == 0 || step == total {
            let h = heldout_loss(&model, &held, a.seq, a.causal, 512)?;
            held_loss = format!("{h:.4}");
        }
        if !held_loss.is_empty() {
            progress.println(&format!("step {step:>6}/{total} heldout {held_loss}"));
        }
        progress.update(step as u64, || {
            let tps = (step - start_step) as f64 * (a.batch * a.seq) as f64 / el;
            let eta = if total == usize::MAX { 0.0 } else { (total - step) as f64 * el / (step - start_step) as f64 };
            format!(
                "loss {lv:.4} (ema {ema:.4}) lr {lr:.2e} |g| {gnorm:.2} {tps:.0} tok/s elapsed {:.1} min ETA {:.1} min",
                el / 60.0,
                eta / 60.0
            )
        });
        writeln!(
            log,
            "{step},{lv:.5},{lr:.3e},{:.0},{el:.1},{held_loss}",
            (step - start_step) as f64 * (a.batch * a.seq) as f64 / el
        )?;
        if step % a.ckpt_every == 0 || step == total || el > budget {
            log.flush()?;
            let meta = CkptMeta { step, total_steps: total, config: model.config.clone(), args: a.clone() };
            save_ckpt(&a.run, &model, &opt, &meta)?;
        }
        if el > budget {
            progress.println(&format!("time budget spent at step {step}; stopping (checkpoint saved)"));
            break;
        }
    }
    progress.finish();
    let h = heldout_loss(&model, &held, a.seq, a.causal, 1024)?;
    eprintln!("final held-out {} loss (1024 seqs): {h:.4}", if a.causal { "next-token" } else { "LLaDA masked" });
    std::fs::write(a.run.join("heldout.txt"), format!("step {step} heldout_loss {h:.5}\n"))?;
    Ok(())
}

/// Mean CE per masked token at fixed mask rates: if the model uses context, low rates
/// score far better than t = 1 (no context at all).
pub fn probe(model: &Model, held: &Dataset, seq: usize) -> Result<()> {
    let dev = Device::Cpu;
    for t in [0.1, 0.3, 0.5, 0.8, 1.0] {
        let mut rng = Rng::new(77);
        let seqs: Vec<Vec<u32>> = (0..128).map(|_| held.sample(&mut rng, seq)).collect();
        let b = diffusion_batch(&seqs, &mut rng, Some(&vec![t; 128]), false, &[], &dev)?;
        let k = b.rows.dims1()? as f64;
        let p = (1.0 - 1e-3) * t + 1e-3;
        // loss = Σ CE / (p·n) over n characters  ⇒  mean CE per masked one = loss·p·n/K.
        let n = seqs.iter().flatten().filter(|&&id| id != unmask::tokenizer::PAD_ID).count() as f64;
        let l = loss(model, &b)?.to_scalar::<f32>()? as f64 * p * n / k;
        println!("t = {t:.1}: {l:.3} nats per masked token ({k} masked)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_log_drops_the_rows_after_its_checkpoint() {
        let log = "step,loss,lr,tokens_per_s,elapsed_s,heldout_loss\n399,1.6,4e-4,1146,1425.9,\n400,1.7,4e-4,1147,1428.3,5.96\n401,3.1,4e-4,1149,1430.1,\n";
        assert_eq!(
            log_upto(log, 400),
            "step,loss,lr,tokens_per_s,elapsed_s,heldout_loss\n399,1.6,4e-4,1146,1425.9,\n400,1.7,4e-4,1147,1428.3,5.96\n"
        );
        assert_eq!(log_upto(log, 0), "step,loss,lr,tokens_per_s,elapsed_s,heldout_loss\n");
    }

    /// End-to-end learning check on a copy task: the second half of each sequence
    /// repeats the first, so masked tokens are predictable only through attention.
    #[test]
    #[ignore = "trains for ~a minute; run with --ignored"]
    fn learns_a_copy_task() -> Result<()> {
        let dev = Device::Cpu;
        let mut c = ModelConfig::tiny(24);
        c.d_model = 64;
        c.n_heads = 4;
        c.d_ff = 128;
        c.max_seq_len = 16;
        let env = |k: &str, d: f64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
        c.causal = env("COPY_CAUSAL", 0.0) > 0.0;
        let model = Model::new(c, 5, &dev)?;
        let mut opt = AdamW::new(&model)?;
        let lr = env("COPY_LR", 3e-3);
        let mut rng = Rng::new(8);
        let mut last = 0.0;
        for step in 0..400 {
            let seqs: Vec<Vec<u32>> = (0..32)
                .map(|_| {
                    let h: Vec<u32> = (0..8).map(|_| 3 + rng.below(21) as u32).collect();
                    h.iter().chain(h.iter()).copied().collect()
                })
                .collect();
            let mut b = if model.config.causal {
                causal_batch(&seqs, &dev)?
            } else {
                diffusion_batch(&seqs, &mut rng, None, env("COPY_PERSEQ", 0.0) > 0.0, &[], &dev)?
            };
            if env("COPY_UNIFORM", 0.0) > 0.0 {
                let k = b.rows.dims1()?;
                b.weights = Tensor::from_vec(vec![1.0f32 / k as f32; k], k, &dev)?;
            }
            let l = loss(&model, &b)?;
            let g = l.backward()?;
            opt.update(&model, &g, lr, 0.0, 1.0)?;
            last = 0.9 * last + 0.1 * l.to_scalar::<f32>()? as f64;
            if step % 50 == 0 {
                eprintln!("step {step} loss {last:.3}");
            }
        }
        // Random guessing is ln 21 ≈ 3.0 per masked token; copying gets far below.
        if !model.config.causal {
            let seqs: Vec<Vec<u32>> = (0..256)
                .map(|_| {
                    let h: Vec<u32> = (0..8).map(|_| 3 + rng.below(21) as u32).collect();
                    h.iter().chain(h.iter()).copied().collect()
                })
                .collect();
            let b = diffusion_batch(&seqs, &mut rng, Some(&vec![0.5; 256]), false, &[], &dev)?;
            let k = b.rows.dims1()? as f64;
            let ce = loss(&model, &b)?.to_scalar::<f32>()? as f64 * 0.5005 * (256.0 * 16.0) / k;
            eprintln!("CE per masked token at t = 0.5: {ce:.3} (guess 3.04, floor 1.52)");
        }
        // The floor is E[p]·ln 21 ≈ 1.5 (a token whose copy is masked too is a guess).
        assert!(last < 2.5, "copy task not learned: {last}");
        Ok(())
    }
}
