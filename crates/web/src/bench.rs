//! What `www/bench.html` (and the ONNX Runtime Web comparison) drives: the page's
//! model on each backend this browser has — the fast CPU path the page falls back
//! to, the CPU reference, WebGPU — one forward pass (every position's logits) at a
//! time, so the caller interleaves backends and runtimes repetition by repetition
//! (a busy machine slows them alike), plus each backend's largest logit difference
//! from the reference.

use unmask::cpu::{CpuModel, Forward};
use unmask::engine::Runner;
use unmask::tasks::{PoemForm, TaskBuilder};
use wasm_bindgen::prelude::*;

use crate::engine::{load_engine, Choice, Engine};
use crate::shared::now_ms;

/// The benchmark's cases: a couplet (next line of 床前明月光, 13 positions) and a
/// whole 七言律诗 (64 positions).
const CASES: [&str; 2] = ["couplet", "poem"];

#[wasm_bindgen]
pub struct BenchModel {
    engine: Engine,
    oracle: CpuModel,
    tokens: Vec<Vec<u32>>,
}

fn js(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

fn max_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max)
}

#[wasm_bindgen]
impl BenchModel {
    /// Loads the page's model (`model/`), on WebGPU unless `cpu_only` or the
    /// browser has none.
    pub async fn load(cpu_only: bool) -> Result<BenchModel, JsValue> {
        let choice = if cpu_only { Choice::Cpu } else { Choice::Gpu };
        let (engine, _) = load_engine("", choice, &|_, _| {}).await.map_err(JsValue::from)?;
        let w = &engine.weights;
        let tb = TaskBuilder::new(&engine.tokenizer, &w.config);
        let tokens =
            vec![tb.next_line("床前明月光").map_err(js)?.tokens, tb.poem(PoemForm::QiLv, &[]).map_err(js)?.tokens];
        let oracle = CpuModel::new(w);
        Ok(BenchModel { engine, oracle, tokens })
    }

    /// The case names, in the order the other methods number them.
    pub fn cases(&self) -> Vec<String> {
        CASES.iter().map(|s| s.to_string()).collect()
    }

    /// The token ids of case `i` (for another runtime to run the same input).
    pub fn tokens(&self, i: usize) -> Result<Vec<u32>, JsValue> {
        self.tokens.get(i).cloned().ok_or_else(|| js(format!("no case {i}")))
    }

    /// One forward pass of case `i` on the fast CPU path (the engine's own), in ms.
    pub fn time_cpu(&self, i: usize) -> Result<f64, JsValue> {
        let t = self.tokens(i)?;
        let t0 = now_ms();
        self.engine.cpu_model().forward(&t);
        Ok(now_ms() - t0)
    }

    /// One forward pass of case `i` on the CPU reference, in ms.
    pub fn time_reference(&self, i: usize) -> Result<f64, JsValue> {
        let t = self.tokens(i)?;
        let t0 = now_ms();
        self.oracle.forward(&t);
        Ok(now_ms() - t0)
    }

    /// One forward pass of case `i` on WebGPU with the logits read back, in ms;
    /// `undefined` without WebGPU.
    pub async fn time_webgpu(&self, i: usize) -> Result<Option<f64>, JsValue> {
        let t = self.tokens(i)?;
        let Runner::Gpu(g) = self.engine.runner() else { return Ok(None) };
        let t0 = now_ms();
        g.forward(&t).await.map_err(js)?;
        Ok(Some(now_ms() - t0))
    }

    /// Compute passes (dispatches) one WebGPU forward of case `i` records.
    pub async fn webgpu_dispatches(&self, i: usize) -> Result<Option<u32>, JsValue> {
        let t = self.tokens(i)?;
        let Runner::Gpu(g) = self.engine.runner() else { return Ok(None) };
        g.context().reset_counters();
        g.forward(&t).await.map_err(js)?;
        Ok(Some(g.context().counters().dispatches as u32))
    }

    /// Per-kernel WebGPU times of one forward of case `i` from timestamp queries, as
    /// JSON: `[{kernel, dispatches, ms}]`, or a sentence saying why there are none
    /// (no WebGPU, or a browser that does not allow timestamp queries).
    pub async fn webgpu_kernel_times(&self, i: usize) -> Result<String, JsValue> {
        let t = self.tokens(i)?;
        let Runner::Gpu(g) = self.engine.runner() else {
            return Ok(serde_json::json!("no WebGPU").to_string());
        };
        Ok(match g.kernel_times(&t).await.map_err(js)? {
            Some(times) => serde_json::json!(times),
            None => serde_json::json!("this browser does not allow timestamp queries"),
        }
        .to_string())
    }

    /// `{cpu, webgpu}`: each backend's largest |logit − reference logit| on case
    /// `i` (`webgpu` null without it).
    pub async fn check(&self, i: usize) -> Result<String, JsValue> {
        let t = self.tokens(i)?;
        let want = self.oracle.forward(&t);
        let gpu = match self.engine.runner() {
            Runner::Gpu(g) => Some(max_diff(&g.forward(&t).await.map_err(js)?, &want)),
            Runner::Cpu(_) => None,
        };
        Ok(serde_json::json!({ "cpu": max_diff(&self.engine.cpu_model().forward(&t), &want), "webgpu": gpu })
            .to_string())
    }

    /// The reference's logits of case `i` (T × V), to check another runtime.
    pub fn reference_logits(&self, i: usize) -> Result<Vec<f32>, JsValue> {
        Ok(self.oracle.forward(&self.tokens(i)?))
    }

    /// What ran: the WebGPU adapter (or null), the CPU kernel and the model.
    pub fn about(&self) -> String {
        let adapter = match self.engine.runner() {
            Runner::Gpu(g) => Some(g.context().adapter_name()),
            Runner::Cpu(_) => None,
        };
        serde_json::json!({
            "webgpu_adapter": adapter,
            "cpu_kernel": self.engine.cpu_model().isa().name(),
            "cpu_threads": 1,
            "model": self.engine.describe(),
            "vocab_size": self.engine.weights.config.vocab_size,
        })
        .to_string()
    }
}
