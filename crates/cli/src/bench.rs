//! Latency of a couplet and a full 8-line poem on the GPU and the CPU in the same
//! run, with the GPU's counters. Prints figures; asserts nothing.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use unmask::cpu::CpuModel;
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
    /// Skip the CPU backend.
    #[arg(long)]
    no_cpu: bool,
    #[command(flatten)]
    model: ModelArgs,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn run(a: BenchArgs) -> Result<()> {
    let (w, tok) = read_files(&a.model)?;
    let tb = TaskBuilder::new(&tok, &w.config);
    // A prompt is as long as its text (T = 12 and 64 positions here).
    let cases = [
        ("couplet (next line, 5 masks)", tb.next_line("床前明月光")?),
        ("poem (七言律诗, 56 masks)", tb.poem(PoemForm::QiLv, &[])?),
    ];
    let ctx = pollster::block_on(GpuContext::new()).context("opening the GPU")?;
    let gpu = GpuModel::new(std::rc::Rc::new(ctx), &w)?;
    let cpu = (!a.no_cpu).then(|| CpuModel::new(&w));
    let ctx = gpu.context().clone();
    println!("adapter: {}", ctx.adapter_name());
    println!(
        "model:   {} params, up to {} positions, {:?} blocks",
        w.param_count(),
        w.config.max_seq_len,
        w.layers[0].wq.format()
    );
    println!(
        "{:<30} {:>8} {:>6} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "case", "backend", "steps", "total ms", "ms/step", "submits", "readbacks", "cpu/gpu"
    );
    for (name, prompt) in &cases {
        println!("{name}: T = {} positions", prompt.tokens.len());
        let p = SamplerParams { steps: a.steps, ..Default::default() };
        pollster::block_on(gpu.generate(&prompt.tokens, &p, false))?; // warm-up: pipelines, first upload
        let mut times = Vec::new();
        let mut steps = 0;
        ctx.reset_counters();
        for _ in 0..a.reps {
            let t0 = Instant::now();
            steps = pollster::block_on(gpu.generate(&prompt.tokens, &p, false))?.steps_run;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        let c = ctx.counters();
        let g = median(times);
        let reps = a.reps as f64;
        println!(
            "{:<30} {:>8} {:>6} {:>12.2} {:>12.3} {:>12.1} {:>12.1} {:>8}",
            name,
            "gpu",
            steps,
            g,
            g / steps as f64,
            c.submissions as f64 / reps,
            c.readbacks as f64 / reps,
            ""
        );
        println!("{:<30} {:>8} {:>6} dispatches per generation: {}", "", "", "", c.dispatches as f64 / reps);
        if let Some(cpu) = &cpu {
            let mut times = Vec::new();
            for _ in 0..a.reps {
                let t0 = Instant::now();
                generate_cpu(cpu, &prompt.tokens, &p, false, |_| true)?;
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            let m = median(times);
            println!(
                "{:<30} {:>8} {:>6} {:>12.2} {:>12.3} {:>12} {:>12} {:>8.2}",
                name,
                "cpu",
                steps,
                m,
                m / steps as f64,
                "-",
                "-",
                m / g
            );
        }
    }
    Ok(())
}
