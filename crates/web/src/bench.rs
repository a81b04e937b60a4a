//! What `www/bench.html` calls: the latency of one forward pass (every position's
//! logits) of the page's model on each backend this browser has — the fast CPU
//! path the page falls back to, the CPU reference, WebGPU — for a couplet and a
//! whole 七律, repetition by repetition in turn (a busy machine slows them alike),
//! with the largest logit difference of each backend from the reference.

use unmask::cpu::{CpuModel, Forward};
use unmask::engine::Runner;
use unmask::fast::FastModel;
use unmask::tasks::{PoemForm, TaskBuilder};
use wasm_bindgen::prelude::*;

use crate::engine::load_engine;
use crate::shared::{now_ms, sleep_ms};

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied()
}

fn max_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max)
}

/// Runs the benchmark with `reps` timed repetitions (1..=200) after a warm-up;
/// `reference` adds the (slow) CPU reference's timings, `cpu_only` skips WebGPU.
/// `progress(text)` reports each step. Resolves to the result as JSON.
#[wasm_bindgen]
pub async fn bench_run(
    reps: u32,
    reference: bool,
    cpu_only: bool,
    progress: js_sys::Function,
) -> Result<String, JsValue> {
    if !(1..=200).contains(&reps) {
        return Err(JsValue::from_str("repetitions must be 1 to 200"));
    }
    let say = |s: &str| {
        let _ = progress.call1(&JsValue::NULL, &s.into());
    };
    say("loading the model");
    let (engine, _) = load_engine("", cpu_only, &|_, _| {}).await.map_err(|e| JsValue::from_str(&e))?;
    let w = &engine.weights;
    let tb = TaskBuilder::new(&engine.tokenizer, &w.config);
    let err = |e: unmask::tasks::TaskError| JsValue::from_str(&e.to_string());
    let cases =
        [("couplet", tb.next_line("床前明月光").map_err(err)?), ("poem", tb.poem(PoemForm::QiLv, &[]).map_err(err)?)];
    let fast = FastModel::new(w);
    let oracle = CpuModel::new(w);
    let gpu = match engine.runner() {
        Runner::Gpu(m) => Some(m),
        Runner::Cpu(_) => None,
    };
    let mut out = Vec::new();
    for (name, prompt) in &cases {
        let tokens = &prompt.tokens;
        say(&format!("{name}: T = {}", tokens.len()));
        // Warm-up (pipelines, first upload), and the answers each backend is held to.
        let want = oracle.forward(tokens);
        let fast_diff = max_diff(&fast.forward(tokens), &want);
        let gpu_diff = match gpu {
            Some(g) => Some(max_diff(&g.forward(tokens).await.map_err(|e| JsValue::from_str(&e.to_string()))?, &want)),
            None => None,
        };
        let (mut cpu_ms, mut ref_ms, mut gpu_ms) = (Vec::new(), Vec::new(), Vec::new());
        let mut dispatches = 0;
        for r in 0..reps {
            let t0 = now_ms();
            fast.forward(tokens);
            cpu_ms.push(now_ms() - t0);
            if reference {
                let t0 = now_ms();
                oracle.forward(tokens);
                ref_ms.push(now_ms() - t0);
            }
            if let Some(g) = gpu {
                g.context().reset_counters();
                let t0 = now_ms();
                g.forward(tokens).await.map_err(|e| JsValue::from_str(&e.to_string()))?;
                gpu_ms.push(now_ms() - t0);
                dispatches = g.context().counters().dispatches;
            }
            say(&format!("{name}: {} of {reps}", r + 1));
            sleep_ms(0).await; // let the page paint
        }
        out.push(serde_json::json!({
            "case": name,
            "positions": tokens.len(),
            "cpu_ms": median(cpu_ms),
            "cpu_reference_ms": median(ref_ms),
            "webgpu_ms": median(gpu_ms),
            "webgpu_dispatches": gpu.map(|_| dispatches),
            "cpu_max_abs_diff": fast_diff,
            "webgpu_max_abs_diff": gpu_diff,
        }));
    }
    let ua = web_sys::window().and_then(|w| w.navigator().user_agent().ok());
    Ok(serde_json::json!({
        "user_agent": ua,
        "webgpu_adapter": gpu.map(|g| g.context().adapter_name()),
        "cpu_kernel": fast.isa().name(),
        "cpu_threads": 1,
        "model": engine.describe(),
        "repetitions": reps,
        "cases": out,
    })
    .to_string())
}
