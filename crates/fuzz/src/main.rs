//! `unmask-fuzz seeds` writes the seed corpus; `unmask-fuzz run TARGET|all` runs the
//! targets on mutations of their corpus for a bounded number of executions or
//! seconds, on the stable toolchain (no coverage feedback: for long campaigns use
//! `cargo fuzz run TARGET` in fuzz/, which calls the same functions with libFuzzer).
//! A finding is written to fuzz/artifacts/<target>/ and ends the run with an error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use unmask::rng::SplitMix64;
use unmask_fuzz::{mutate::mutate, seeds, Target, TARGETS};

#[derive(Parser)]
#[command(about = "Fuzz targets of the Unmask engine (stable runner)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write the seed corpus into DIR/<target>/.
    Seeds {
        #[arg(long, default_value = "fuzz/corpus")]
        out: PathBuf,
    },
    /// Run a target (or `all`) on mutations of its corpus.
    Run {
        target: String,
        /// Executions per target (after the corpus itself).
        #[arg(long, default_value_t = 100_000)]
        runs: u64,
        /// Stop a target after this many seconds even if `runs` is not reached.
        #[arg(long)]
        seconds: Option<u64>,
        #[arg(long, default_value = "fuzz/corpus")]
        corpus: PathBuf,
        /// Mutation seed (a run is repeatable for a fixed seed and corpus).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Longest input per target: a micro model file is ~12 KB.
fn max_len(target: &str) -> usize {
    match target {
        "loader" => 64 << 10,
        // The shipped prosody file is ~59 KB.
        "prosody" => 128 << 10,
        _ => 4 << 10,
    }
}

fn read_corpus(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files.iter().map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display()))).collect()
}

/// Runs `t` on `input`; a panic is saved and reported.
fn exec(name: &str, t: Target, input: &[u8]) -> Result<()> {
    if std::panic::catch_unwind(|| t(input)).is_ok() {
        return Ok(());
    }
    let dir = Path::new("fuzz/artifacts").join(name);
    std::fs::create_dir_all(&dir)?;
    // FNV-1a names the input by its bytes.
    let h = input.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    let path = dir.join(format!("crash-{h:016x}"));
    std::fs::write(&path, input)?;
    bail!("{name}: invariant broken (panic above); input saved as {}", path.display())
}

fn run_target(name: &str, t: Target, corpus: &Path, runs: u64, seconds: Option<u64>, seed: u64) -> Result<()> {
    let inputs = read_corpus(&corpus.join(name))?;
    let start = Instant::now();
    for input in &inputs {
        exec(name, t, input)?;
    }
    let pool: Vec<Vec<u8>> = if inputs.is_empty() { vec![Vec::new()] } else { inputs };
    let mut r = SplitMix64::new(seed);
    let deadline = seconds.map(|s| start + Duration::from_secs(s));
    let mut n = 0u64;
    while n < runs && deadline.is_none_or(|d| Instant::now() < d) {
        let a = &pool[(r.next_u64() % pool.len() as u64) as usize];
        let b = &pool[(r.next_u64() % pool.len() as u64) as usize];
        exec(name, t, &mutate(a, b, &mut r, max_len(name)))?;
        n += 1;
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{name}: {} corpus inputs + {n} mutated executions in {s:.1} s ({:.0}/s), no invariant broken",
        pool.len(),
        n as f64 / s.max(1e-9)
    );
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Seeds { out } => {
            for (target, name, bytes) in seeds::all() {
                let dir = out.join(target);
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join(name), bytes)?;
            }
            Ok(())
        }
        Cmd::Run { target, runs, seconds, corpus, seed } => {
            let chosen: Vec<(&str, Target)> =
                TARGETS.iter().copied().filter(|(n, _)| target == "all" || *n == target).collect();
            if chosen.is_empty() {
                let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
                bail!("no target `{target}` (targets: {}, all)", names.join(", "));
            }
            for (name, t) in chosen {
                run_target(name, t, &corpus, runs, seconds, seed)?;
            }
            Ok(())
        }
    }
}
