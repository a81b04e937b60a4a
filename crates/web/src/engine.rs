//! The model in the browser: download with progress into the Cache API (a broken
//! or partial cache entry is detected and fetched again), WebGPU when the browser
//! has it, the fast CPU path when it doesn't, and recovery from a lost GPU device.

use js_sys::{Reflect, Uint8Array};
use unmask::engine::{EngineError, Runner};
use unmask::pipeline::{Outcome, Prepared};
use unmask::prosody::Prosody;
use unmask::request::Request;
use unmask::sampler::{CpuSampler, Generation, SamplerParams};
use unmask::{ModelWeights, PoemTokenizer};

use crate::i18n::{ignored_error, task_error, verse_error, Lang, Msg};
use crate::shared::now_ms;
pub use crate::state::Choice;

/// Loads the model under `base` (a folder URL ending in `/`, or `""` for the page's
/// own `model/`): the manifest fresh from the network, then tokenizer and weights
/// through the cache. Reports the weights' download progress.
pub async fn load_engine(
    base: &str,
    choice: Choice,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<(Engine, Source), String> {
    let dir = if base.is_empty() { "model/".to_string() } else { base.to_string() };
    // The manifest names the model version, which keys the cached copies, so a new
    // model is never hidden behind an old cache.
    let manifest = fetch_fresh_json(&format!("{dir}manifest.json")).await?;
    let version = manifest["version"].as_str().unwrap_or("0").to_string();
    let (tok, _, _) = fetch_cached(&format!("{dir}tokenizer.json?v={version}"), &|_, _| {}, |b| {
        PoemTokenizer::from_bytes(b).map_err(|e| e.to_string())
    })
    .await?;
    let (weights, source, _) = fetch_cached(&format!("{dir}poem.safetensors?v={version}"), progress, |b| {
        ModelWeights::from_bytes(b).map_err(|e| e.to_string())
    })
    .await?;
    unmask::engine::check_pair(&weights, &tok).map_err(|e| e.to_string())?;
    // The metre checker's data, when the folder has it: without it (or with a broken
    // copy) the page works and shows no tone marks.
    let mut keep = vec![format!("{dir}tokenizer.json?v={version}"), format!("{dir}poem.safetensors?v={version}")];
    let prosody = match manifest["prosody_version"].as_str() {
        Some(v) => fetch_cached(&format!("{dir}prosody.json?v={v}"), &|_, _| {}, |b| {
            Prosody::from_bytes(b, &tok).map_err(|e| e.to_string())
        })
        .await
        .map(|(p, _, _)| p)
        .map_err(|e| web_sys::console::warn_1(&format!("no metre checker: {e}").into()))
        .ok(),
        None => None,
    };
    if let Some(v) = manifest["prosody_version"].as_str() {
        keep.push(format!("{dir}prosody.json?v={v}"));
    }
    prune_cache(&dir, &keep).await;
    let mut engine = Engine::new(tok, weights, choice, &version).await;
    engine.inner.prosody = prosody;
    Ok((engine, source))
}
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

const CACHE_NAME: &str = "unmask-model-v1";

fn js_err(e: JsValue) -> String {
    e.as_string()
        .or_else(|| Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| format!("{e:?}"))
}

async fn await_js(p: js_sys::Promise) -> Result<JsValue, String> {
    JsFuture::from(p).await.map_err(js_err)
}

/// How long CPU steps may run before the page gets a frame (the browser's "long
/// task" is 50 ms).
const YIELD_AFTER_MS: f64 = 40.0;

/// Resolves on the next macrotask: lets the page paint between CPU steps.
pub async fn yield_now() {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window().unwrap().set_timeout_with_callback(&resolve);
    });
    let _ = JsFuture::from(p).await;
}

async fn open_cache() -> Option<Cache> {
    let caches = web_sys::window()?.caches().ok()?;
    await_js(caches.open(CACHE_NAME)).await.ok()?.dyn_into().ok()
}

/// Deletes the cached copies of `dir`'s own files at versions other than `keep` (the
/// URLs just loaded): a new model replaces the old one in the cache, not adds to it.
async fn prune_cache(dir: &str, keep: &[String]) {
    let Some(c) = open_cache().await else { return };
    let Some(base) = web_sys::window().and_then(|w| w.location().href().ok()) else { return };
    let abs = |u: &str| web_sys::Url::new_with_base(u, &base).ok().map(|u| u.href());
    let Some(prefix) = abs(dir) else { return };
    let keep: Vec<String> = keep.iter().filter_map(|u| abs(u)).collect();
    let Ok(keys) = await_js(c.keys()).await else { return };
    for req in js_sys::Array::from(&keys).iter() {
        let Ok(req) = req.dyn_into::<web_sys::Request>() else { continue };
        let url = req.url();
        // This folder's files only (not model-ar/'s, nor a subfolder's).
        let own = url.strip_prefix(&prefix).is_some_and(|rest| !rest.contains('/'));
        if own && url.contains("?v=") && !keep.contains(&url) {
            let _ = await_js(c.delete_with_str(&url)).await;
        }
    }
}

async fn response_bytes(resp: &Response) -> Result<Vec<u8>, String> {
    let buf = await_js(resp.array_buffer().map_err(js_err)?).await?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// Fetches `url` from the network, reporting (bytes so far, total if known).
async fn download(url: &str, progress: &dyn Fn(u64, Option<u64>)) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let resp: Response =
        await_js(window.fetch_with_str(url)).await.map_err(|e| format!("{url}: {e}"))?.dyn_into().map_err(js_err)?;
    if !resp.ok() {
        return Err(format!("{url}: HTTP {} {}", resp.status(), resp.status_text()));
    }
    let total = resp.headers().get("content-length").ok().flatten().and_then(|s| s.parse::<u64>().ok());
    let Some(body) = resp.body() else { return response_bytes(&resp).await };
    let reader: web_sys::ReadableStreamDefaultReader =
        body.get_reader().dyn_into().map_err(|_| "the response body has no default reader".to_string())?;
    let mut out: Vec<u8> = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = await_js(reader.read()).await?;
        if Reflect::get(&chunk, &"done".into()).ok().and_then(|d| d.as_bool()).unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(js_err)?.dyn_into().map_err(js_err)?;
        out.extend(value.to_vec());
        progress(out.len() as u64, total);
    }
    if let Some(t) = total {
        if out.len() as u64 != t {
            return Err(format!("{url}: the download stopped at {} of {t} bytes", out.len()));
        }
    }
    Ok(out)
}

/// A small JSON file, always from the network (bypassing the HTTP cache).
pub async fn fetch_fresh_json(url: &str) -> Result<serde_json::Value, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_cache(web_sys::RequestCache::NoCache);
    let resp: Response = await_js(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .dyn_into()
        .map_err(js_err)?;
    if !resp.ok() {
        return Err(format!("{url}: HTTP {} {}", resp.status(), resp.status_text()));
    }
    let bytes = response_bytes(&resp).await?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{url}: {e}"))
}

/// Where a file came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Cache,
    Network,
}

/// Bytes of `url` from the cache if present and `valid`, else from the network
/// (then cached). A cached copy that fails `valid` is deleted and fetched again.
pub async fn fetch_cached<T>(
    url: &str,
    progress: &dyn Fn(u64, Option<u64>),
    valid: impl Fn(&[u8]) -> Result<T, String>,
) -> Result<(T, Source, u64), String> {
    let cache = open_cache().await;
    if let Some(c) = &cache {
        if let Ok(hit) = await_js(c.match_with_str(url)).await {
            if let Ok(resp) = hit.dyn_into::<Response>() {
                if let Ok(bytes) = response_bytes(&resp).await {
                    match valid(&bytes) {
                        Ok(v) => {
                            progress(bytes.len() as u64, Some(bytes.len() as u64));
                            return Ok((v, Source::Cache, bytes.len() as u64));
                        }
                        Err(e) => {
                            web_sys::console::warn_1(
                                &format!("cached {url} is damaged ({e}); fetching it again").into(),
                            );
                            let _ = await_js(c.delete_with_str(url)).await;
                        }
                    }
                }
            }
        }
    }
    let bytes = download(url, progress).await?;
    let v = valid(&bytes)?;
    if let Some(c) = &cache {
        let mut copy = bytes.clone();
        if let Ok(resp) = Response::new_with_opt_u8_array(Some(&mut copy)) {
            let _ = await_js(c.put_with_str(url, &resp)).await;
        }
    }
    Ok((v, Source::Network, bytes.len() as u64))
}

/// Why the page runs on the CPU, or the GPU it runs on.
#[derive(Clone, Debug, PartialEq)]
pub enum BackendInfo {
    WebGpu(String),
    Cpu(CpuWhy),
}

/// Why the model runs on the CPU: a reason the page words for people, and the
/// technical detail (an adapter error, say) behind a disclosure.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuWhy {
    pub reason: CpuReason,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuReason {
    /// `backend=cpu` in the URL.
    Chosen,
    /// The browser offers no WebGPU.
    NoWebGpu,
    /// WebGPU is there but no usable adapter or device came of it.
    GpuFailed,
    /// The device was lost and could not be reopened.
    DeviceLost,
    /// Measured on this adapter and model: a couplet is ready sooner on the CPU.
    Faster,
    /// The visitor switched to the CPU.
    Visitor,
}

impl CpuReason {
    /// The i18n key of the sentence that explains it.
    /// What the page says about it.
    pub fn msg(self) -> Msg {
        match self {
            CpuReason::Chosen => Msg::CpuChosen,
            CpuReason::NoWebGpu => Msg::CpuNoWebgpu,
            CpuReason::GpuFailed => Msg::CpuGpuFailed,
            CpuReason::DeviceLost => Msg::CpuDeviceLost,
            CpuReason::Faster => Msg::CpuFaster,
            CpuReason::Visitor => Msg::CpuVisitor,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            CpuReason::Chosen => "cpu_chosen",
            CpuReason::NoWebGpu => "cpu_no_webgpu",
            CpuReason::GpuFailed => "cpu_gpu_failed",
            CpuReason::DeviceLost => "cpu_device_lost",
            CpuReason::Faster => "cpu_faster",
            CpuReason::Visitor => "cpu_visitor",
        }
    }
}

fn cpu(reason: CpuReason, detail: impl Into<String>) -> BackendInfo {
    BackendInfo::Cpu(CpuWhy { reason, detail: detail.into() })
}

/// The library's engine (with the folder's tone data, if it has any) plus what the
/// page shows about its backend.
pub struct Engine {
    pub inner: unmask::engine::Engine,
    pub backend: BackendInfo,
    /// The WebGPU adapter this engine may switch to (`None`: no WebGPU, or it failed
    /// to open), and the key its choice is remembered under.
    gpu: Option<(String, String)>,
    /// The two backends timed on a couplet, when the choice was measured.
    pub measured: Option<Measured>,
}

/// A couplet's generation timed on each backend (ms, the better of two on the CPU,
/// the second on the GPU, after one that compiles its pipelines).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measured {
    pub cpu_ms: f64,
    pub gpu_ms: f64,
}

/// The backend choice remembered for one adapter and model version (localStorage):
/// measured on the first load, or the visitor's switch.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Remembered {
    cpu: bool,
    visitor: bool,
    measured: Option<Measured>,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

fn recall(key: &str) -> Option<Remembered> {
    storage().and_then(|s| s.get_item(key).ok().flatten()).and_then(|v| serde_json::from_str(&v).ok())
}

fn remember(key: &str, r: &Remembered) {
    if let (Some(s), Ok(v)) = (storage(), serde_json::to_string(r)) {
        let _ = s.set_item(key, &v);
    }
}

fn adapter_name(e: &unmask::engine::Engine) -> String {
    match e.runner() {
        Runner::Gpu(m) => m.context().adapter_name(),
        Runner::Cpu(_) => String::new(),
    }
}

fn has_webgpu() -> bool {
    web_sys::window()
        .and_then(|w| Reflect::get(&w.navigator(), &"gpu".into()).ok())
        .is_some_and(|g| !g.is_undefined() && !g.is_null())
}

impl std::ops::Deref for Engine {
    type Target = unmask::engine::Engine;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Engine {
    /// The backend `choice` asks for; by default the faster of WebGPU and the CPU on
    /// a couplet, measured once per adapter and model `version` (a software adapter
    /// such as SwiftShader is many times slower than the CPU path) and remembered, as
    /// is the visitor's switch ([`Engine::switch`]). Says why in `backend`.
    pub async fn new(tokenizer: PoemTokenizer, weights: ModelWeights, choice: Choice, version: &str) -> Engine {
        let on_cpu = |tokenizer, weights, backend| Engine {
            inner: unmask::engine::Engine::cpu(tokenizer, weights),
            backend,
            gpu: None,
            measured: None,
        };
        if choice == Choice::Cpu {
            return on_cpu(tokenizer, weights, cpu(CpuReason::Chosen, "backend=cpu in the URL"));
        }
        if !has_webgpu() {
            return on_cpu(tokenizer, weights, cpu(CpuReason::NoWebGpu, "navigator.gpu is missing"));
        }
        let inner = match unmask::engine::Engine::gpu(tokenizer, weights).await {
            Ok(inner) => inner,
            Err((e, tokenizer, weights)) => {
                return on_cpu(tokenizer, weights, cpu(CpuReason::GpuFailed, e.to_string()))
            }
        };
        let name = adapter_name(&inner);
        let key = format!("unmask.backend.{version}.{name}");
        let mut engine = Engine {
            inner,
            backend: BackendInfo::WebGpu(name.clone()),
            gpu: Some((name, key.clone())),
            measured: None,
        };
        if choice == Choice::Gpu {
            return engine;
        }
        let chosen = match recall(&key) {
            Some(r) => r,
            None => match engine.measure().await {
                Ok(m) => {
                    let r = Remembered { cpu: m.cpu_ms < m.gpu_ms, visitor: false, measured: Some(m) };
                    remember(&key, &r);
                    r
                }
                // A GPU that fails on a couplet is no choice (not remembered: the next
                // load tries again).
                Err(e) => {
                    web_sys::console::warn_1(&format!("WebGPU failed on a couplet: {e}").into());
                    Remembered { cpu: true, visitor: false, measured: None }
                }
            },
        };
        engine.measured = chosen.measured;
        if chosen.cpu {
            engine.inner.use_cpu();
            engine.backend = engine.cpu_backend(chosen.visitor);
        }
        engine
    }

    /// Why the CPU runs when WebGPU is there: the visitor's switch, or measured faster.
    fn cpu_backend(&self, visitor: bool) -> BackendInfo {
        let adapter = self.gpu.as_ref().map(|(n, _)| n.as_str()).unwrap_or("");
        match (visitor, self.measured) {
            (true, _) => cpu(CpuReason::Visitor, format!("WebGPU ({adapter}) is there; the visitor chose the CPU")),
            (false, Some(m)) => cpu(
                CpuReason::Faster,
                format!("a couplet: {:.0} ms on the CPU, {:.0} ms on WebGPU ({adapter})", m.cpu_ms, m.gpu_ms),
            ),
            (false, None) => cpu(CpuReason::GpuFailed, format!("WebGPU ({adapter}) failed on a couplet")),
        }
    }

    /// Times a couplet (the next line of 床前明月光, greedy, with the per-step history
    /// the page shows) on the CPU and on the GPU.
    async fn measure(&self) -> Result<Measured, String> {
        let req = Request::default();
        let prepared = self.inner.prepare(&req).map_err(|e| e.to_string())?;
        let (tokens, p) = (&prepared.prompt.tokens, &prepared.params);
        // Built before it is timed (what the first CPU run would otherwise include).
        let model = self.inner.cpu_model();
        let mut cpu_ms = f64::INFINITY;
        for _ in 0..2 {
            let t0 = now_ms();
            let mut s = CpuSampler::new(model, tokens, p).map_err(|e| e.to_string())?;
            while s.step().map_err(|e| e.to_string())?.is_some() {}
            cpu_ms = cpu_ms.min(now_ms() - t0);
            yield_now().await;
        }
        // The first GPU run compiles the pipelines (once per page); the second is timed.
        self.inner.generate(tokens, p, true).await.map_err(|e| e.to_string())?;
        let t0 = now_ms();
        self.inner.generate(tokens, p, true).await.map_err(|e| e.to_string())?;
        Ok(Measured { cpu_ms, gpu_ms: now_ms() - t0 })
    }

    /// Whether [`Engine::switch`] has another backend to go to.
    pub fn can_switch(&self) -> bool {
        self.gpu.is_some()
    }

    /// Moves to the other backend at the visitor's request, and remembers it for this
    /// adapter and model.
    pub async fn switch(&mut self) {
        let Some((name, key)) = self.gpu.clone() else { return };
        let to_cpu = self.inner.on_gpu();
        if to_cpu {
            self.inner.use_cpu();
            self.backend = self.cpu_backend(true);
        } else {
            match self.inner.reopen_gpu().await {
                Ok(()) => self.backend = BackendInfo::WebGpu(adapter_name(&self.inner)),
                Err(e) => {
                    self.backend = cpu(CpuReason::GpuFailed, format!("{name}: {e}"));
                    return;
                }
            }
        }
        remember(&key, &Remembered { cpu: to_cpu, visitor: true, measured: self.measured });
    }

    /// A request as the pipeline prepares it (`pipeline::Engine::prepare`), with its
    /// errors in `lang`.
    pub fn prepare(&self, req: &Request, lang: Lang) -> Result<Prepared, String> {
        self.inner.prepare(req).map_err(|e| match e {
            EngineError::Task(e) => task_error(lang, &e),
            EngineError::Verse(e) => verse_error(lang, &e),
            EngineError::Ignored(s) => ignored_error(lang, s),
            e => e.to_string(),
        })
    }

    /// Candidates for the masks ranked by joint likelihood with a width-`width` beam
    /// (autoregressive models; on the CPU fast path).
    pub fn rank(&self, tokens: &[u32], width: usize) -> Result<unmask::ar::Ranked, String> {
        self.inner.rank(tokens, width).map_err(|e| e.to_string())
    }

    /// Generates `prepared` with per-step history and reads the result. On the CPU,
    /// yields to the page once steps have run 40 ms and reports progress; on a lost GPU device,
    /// opens a new one and tries again, then falls back to the CPU.
    pub async fn run(&mut self, prepared: &Prepared, on_cpu_step: &dyn Fn(usize, usize)) -> Result<Outcome, String> {
        let g = self.generate(&prepared.prompt.tokens, &prepared.params, on_cpu_step).await?;
        Ok(self.inner.outcome(prepared, g))
    }

    async fn generate(
        &mut self,
        tokens: &[u32],
        p: &SamplerParams,
        on_cpu_step: &dyn Fn(usize, usize),
    ) -> Result<Generation, String> {
        if self.inner.on_gpu() {
            match self.inner.generate(tokens, p, true).await {
                Ok(g) => return Ok(g),
                Err(e @ EngineError::Sample(_)) => return Err(e.to_string()),
                Err(e) => {
                    web_sys::console::warn_1(&format!("GPU failed ({e}); reopening the device").into());
                    match self.inner.reopen_gpu().await {
                        Ok(()) => {
                            if let Ok(g) = self.inner.generate(tokens, p, true).await {
                                return Ok(g);
                            }
                        }
                        Err(e2) => web_sys::console::warn_1(&e2.to_string().into()),
                    }
                    self.inner.use_cpu();
                    self.backend = cpu(CpuReason::DeviceLost, e.to_string());
                }
            }
        }
        let mut s = CpuSampler::new(self.inner.cpu_model(), tokens, p).map_err(|e| e.to_string())?;
        let mut history = Vec::new();
        let total = s.max_steps();
        let mut since = now_ms();
        while let Some(rec) = s.step().map_err(|e| e.to_string())? {
            history.push(rec);
            on_cpu_step(s.steps_run(), total);
            // The page gets a frame once the steps have held it for a long task's
            // worth (a couplet's few steps run through; a 七律 shows its progress).
            if now_ms() - since > YIELD_AFTER_MS {
                yield_now().await;
                since = now_ms();
            }
        }
        Ok(Generation { tokens: s.tokens().to_vec(), steps_run: s.steps_run(), history })
    }
}
