//! Latency of a couplet and a full 8-line poem on every backend in the same run,
//! interleaved repetition by repetition (a shared machine's noise falls on all of
//! them alike): the GPU with its counters, the fast CPU path and the CPU reference.
//! Two measures: one forward pass with every position's logits (what the ONNX
//! Runtime comparison times), and a whole generation. Prints figures; asserts nothing.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use unmask::cpu::{CpuModel, Forward};
use unmask::fast::FastModel;
use unmask::gpu::{GpuContext, GpuModel};
use unmask::sampler::{generate_cpu, SamplerParams};
use unmask::tasks::{PoemForm, TaskBuilder};

use crate::engine::read_files;
use crate::ModelArgs;

#[derive(Args)]
pub struct BenchArgs {
    /// Timed repetitions of each case (after one warm-up).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Steps for each case.
    #[arg(long, default_value_t = 16)]
    steps: usize,
    /// Skip the GPU.
    #[arg(long)]
    no_gpu: bool,
    /// Skip the CPU reference (the slowest).
    #[arg(long)]
    no_reference: bool,
    /// Write each case's tokens and the CPU reference's logits (T × V) to
    /// DIR/{couplet,poem}.json, for checking another runtime on the same weights.
    #[arg(long, value_name = "DIR")]
    dump: Option<std::path::PathBuf>,
    /// Also write the figures as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json_out: Option<std::path::PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Milliseconds `f` takes.
fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t0 = Instant::now();
    let out = f();
    (t0.elapsed().as_secs_f64() * 1e3, out)
}

pub fn run(a: BenchArgs) -> Result<()> {
    anyhow::ensure!((1..=1000).contains(&a.reps), "--reps must be 1..=1000");
    anyhow::ensure!((1..=256).contains(&a.steps), "--steps must be 1..=256");
    let (w, tok) = read_files(&a.model)?;
    let tb = TaskBuilder::new(&tok, &w.config);
    // A prompt is as long as its text (T = 12 and 64 positions here).
    let cases = [
        ("couplet (next line, 5 masks)", tb.next_line("床前明月光")?),
        ("poem (七言律诗, 56 masks)", tb.poem(PoemForm::QiLv, &[])?),
    ];
    let gpu = if a.no_gpu {
        None
    } else {
        match pollster::block_on(GpuContext::new()) {
            Ok(ctx) => Some(GpuModel::new(std::rc::Rc::new(ctx), &w)?),
            Err(e) => {
                println!("gpu:     not measured ({e})");
                None
            }
        }
    };
    let fast = FastModel::new(&w);
    // The fast path's other SIMD kernels, timed beside the best (AVX2 where the best
    // is AVX-512): what the best one gains, in the same run.
    let others: Vec<FastModel> = unmask::fast::Isa::available()
        .into_iter()
        .filter(|&i| i != fast.isa() && i != unmask::fast::Isa::Scalar)
        .map(|i| FastModel::with_isa(&w, i))
        .collect();
    let other_names: Vec<String> = others.iter().map(|m| format!("cpu-{}", m.isa().name())).collect();
    if let Some(g) = &gpu {
        println!("adapter: {}", g.context().adapter_name());
    }
    println!("cpu:     fast path with the {} kernel, single thread", fast.isa().name());
    for n in &other_names {
        println!("{n}: the same path with that kernel, single thread");
    }
    println!(
        "model:   {} params, up to {} positions, {:?} blocks; median of {} interleaved repetitions",
        w.param_count(),
        w.config.max_seq_len,
        w.layers[0].wq.format(),
        a.reps
    );
    let reference = (!a.no_reference).then(|| CpuModel::new(&w));
    if let Some(dir) = &a.dump {
        std::fs::create_dir_all(dir)?;
        let fresh;
        let cpu = match &reference {
            Some(r) => r,
            None => {
                fresh = CpuModel::new(&w);
                &fresh
            }
        };
        for ((name, prompt), file) in cases.iter().zip(["couplet", "poem"]) {
            let logits = cpu.forward(&prompt.tokens);
            let rows: Vec<&[f32]> = logits.chunks(w.config.vocab_size).collect();
            let json = serde_json::json!({ "case": name, "tokens": prompt.tokens, "logits": rows });
            std::fs::write(dir.join(format!("{file}.json")), json.to_string())?;
        }
        println!("wrote the reference logits to {}", dir.display());
    }
    let p = SamplerParams { steps: a.steps, ..Default::default() };
    let mut report = Vec::new();
    let mut kernels = Vec::new();
    for (case, prompt) in &cases {
        let tokens = &prompt.tokens;
        println!("\n{case}: T = {} positions", tokens.len());
        let mut cpus: Vec<(&str, &dyn Forward)> = vec![("cpu", &fast)];
        for (n, m) in other_names.iter().zip(&others) {
            cpus.push((n, m));
        }
        if let Some(r) = &reference {
            cpus.push(("cpu-ref", r));
        }
        // Warm-up: pipelines, first upload, caches.
        if let Some(g) = &gpu {
            pollster::block_on(g.generate(tokens, &p, false))?;
        }
        for (_, m) in &cpus {
            m.forward(tokens);
        }
        let mut gen_ms = vec![Vec::new(); cpus.len() + 1];
        let mut fwd_ms = vec![Vec::new(); cpus.len() + 1];
        let mut steps = vec![0; cpus.len() + 1];
        let mut counted = (0, 0, 0);
        for _ in 0..a.reps {
            if let Some(g) = &gpu {
                g.context().reset_counters();
                let (ms, out) = time(|| pollster::block_on(g.generate(tokens, &p, false)));
                let c = g.context().counters();
                counted = (counted.0 + c.submissions, counted.1 + c.readbacks, counted.2 + c.dispatches);
                gen_ms[0].push(ms);
                steps[0] = out?.steps_run;
                fwd_ms[0].push(time(|| pollster::block_on(g.forward(tokens))).0);
            }
            for (i, (_, m)) in cpus.iter().enumerate() {
                fwd_ms[i + 1].push(time(|| m.forward(tokens)).0);
                let (ms, out) = time(|| generate_cpu(*m, tokens, &p, false, |_| true));
                gen_ms[i + 1].push(ms);
                steps[i + 1] = out?.steps_run;
            }
        }
        println!(
            "{:<16} {:>12} {:>14} {:>6} {:>12} {:>10}",
            "backend", "forward ms", "generation ms", "steps", "ms/step", "vs cpu"
        );
        let cpu_fwd = median(fwd_ms[1].clone());
        let names = std::iter::once("gpu").chain(cpus.iter().map(|(n, _)| *n));
        for (i, name) in names.enumerate() {
            if gen_ms[i].is_empty() {
                continue;
            }
            let (f, g) = (median(fwd_ms[i].clone()), median(gen_ms[i].clone()));
            report.push(serde_json::json!({
                "case": case, "positions": tokens.len(), "backend": name,
                "forward_ms": f, "generation_ms": g, "steps": steps[i],
            }));
            println!(
                "{:<16} {:>12.2} {:>14.2} {:>6} {:>12.3} {:>9.2}×",
                name,
                f,
                g,
                steps[i],
                g / steps[i] as f64,
                f / cpu_fwd
            );
        }
        if gpu.is_some() {
            let reps = a.reps as f64;
            println!(
                "gpu per generation: {:.1} submissions, {:.1} readbacks, {:.0} dispatches",
                counted.0 as f64 / reps,
                counted.1 as f64 / reps,
                counted.2 as f64 / reps
            );
        }
        if let Some(g) = &gpu {
            match pollster::block_on(g.kernel_times(tokens))? {
                Some(times) => {
                    let total: f64 = times.iter().map(|k| k.ms).sum();
                    println!("gpu kernels, one forward (timestamp queries, a pass each):");
                    for k in &times {
                        println!(
                            "  {:<28} {:>3}× {:>10.3} ms {:>5.1}%",
                            k.kernel,
                            k.dispatches,
                            k.ms,
                            100.0 * k.ms / total.max(f64::MIN_POSITIVE)
                        );
                    }
                    kernels.push(serde_json::json!({ "case": case, "kernels": times }));
                }
                None => println!("gpu kernels: the adapter has no timestamp queries"),
            }
        }
    }
    if let Some(path) = &a.json_out {
        let json = serde_json::json!({ "cpu_kernel": fast.isa().name(), "threads": 1, "reps": a.reps, "results": report, "gpu_kernels": kernels });
        std::fs::write(path, json.to_string() + "\n")?;
    }
    Ok(())
}
