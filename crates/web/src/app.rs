//! The page: its state ([`Page`]: the form as one [`Request`], the result, its
//! history and candidates, generation as an async action) and its layout, built from
//! the components in `form` (tabs, input, examples, settings) and `result` (the
//! candidates, the result and the denoising view).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::engine::{BackendInfo, Engine, Source};
use crate::i18n::{t, Lang, Msg};
use crate::shared::{fresh_seed, now_ms, query, sleep_ms, ENGINE};
use crate::state::{bounds, cells, Cell, Request};
use unmask::pipeline::Prepared;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Load {
    Loading { got: u64, total: Option<u64> },
    Ready { backend: BackendInfo, source: Source, ms: f64 },
    Failed(String),
}

/// One finished generation as the page shows it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Outcome {
    pub text: String,
    /// The metre checker's report on `text` (None without prosody data).
    pub metre: Option<unmask::prosody::Report>,
    /// The verse rules it was written to (regulated poems and 对对子).
    pub plan: Option<unmask::prosody::Plan>,
    /// The request that produced it (the link's, when it is the one shown).
    pub req: Request,
    /// The model's own score: mean log-probability of the generated characters when
    /// each was unmasked (nats; nearer 0 is surer).
    pub score: f64,
    pub answer: String,
    pub frames: Vec<Vec<Cell>>,
    pub steps: usize,
    pub ms: f64,
    pub on_gpu: bool,
}

/// The temperature of the candidates view when none is set (greedy decoding would
/// give the same poem n times).
const CANDIDATE_TEMPERATURE: f32 = 0.8;
/// Candidates a click asks for.
pub(crate) const CANDIDATES: usize = 4;

/// Everything the page's components read and change; `Copy` (signals), shared by
/// context.
#[derive(Clone, Copy)]
pub(crate) struct Page {
    pub lang: RwSignal<Lang>,
    pub load: RwSignal<Load>,
    /// The form: task, text, form, verse rules and sampler settings.
    pub form: RwSignal<Request>,
    pub error: RwSignal<Option<String>>,
    /// Generation: the requests of one click in, the results (or why not) out; its
    /// pending state is the page's "busy".
    pub run: Action<Vec<Request>, Result<Vec<Outcome>, String>>,
    /// CPU steps done / to do while the CPU generates.
    pub cpu_progress: RwSignal<Option<(usize, usize)>>,
    /// Seconds since the running generation started (a GPU run is one submission
    /// with no steps to count, so time is what the visitor can be shown).
    pub elapsed: RwSignal<f64>,
    pub outcome: RwSignal<Option<Outcome>>,
    /// The candidates view: several samples of one request, best score first.
    pub candidates: RwSignal<Vec<Outcome>>,
    /// The denoising step shown, and the replay running (a newer id stops it).
    pub shown: RwSignal<usize>,
    pub replay_id: RwSignal<u32>,
    pub copied: RwSignal<bool>,
    pub show_compare: RwSignal<bool>,
    /// Edit by remasking: characters of the result marked to regenerate, and the
    /// results before (undo) and after (redo) the one shown.
    pub marked: RwSignal<Vec<usize>>,
    pub past: RwSignal<Vec<Outcome>>,
    pub future: RwSignal<Vec<Outcome>>,
    /// The request the URL shares: a shared link's, then the result's.
    pub shared: RwSignal<Option<Request>>,
    pub force_cpu: bool,
}

impl Page {
    fn new() -> Page {
        let q = query();
        let lang = RwSignal::new(if q.contains("lang=en") { Lang::En } else { Lang::Zh });
        let cpu_progress = RwSignal::new(None);
        Page {
            lang,
            load: RwSignal::new(Load::Loading { got: 0, total: None }),
            form: RwSignal::new(Request::from_query(&q)),
            error: RwSignal::new(None),
            run: Action::new_local(move |reqs: &Vec<Request>| run_all(reqs.clone(), lang, cpu_progress)),
            cpu_progress,
            elapsed: RwSignal::new(0.0),
            outcome: RwSignal::new(None),
            candidates: RwSignal::new(Vec::new()),
            shown: RwSignal::new(0),
            replay_id: RwSignal::new(0),
            copied: RwSignal::new(false),
            show_compare: RwSignal::new(q.contains("view=compare")),
            marked: RwSignal::new(Vec::new()),
            past: RwSignal::new(Vec::new()),
            future: RwSignal::new(Vec::new()),
            shared: RwSignal::new(crate::state::shared_request(&q)),
            force_cpu: q.contains("backend=cpu"),
        }
    }

    pub fn ready(&self) -> bool {
        matches!(self.load.get(), Load::Ready { .. })
    }

    pub fn busy(&self) -> bool {
        self.run.pending().get()
    }

    /// The form as it is run (steps within the page's bounds).
    fn request(&self) -> Request {
        let mut r = self.form.get_untracked();
        r.params.steps = r.params.steps.clamp(*bounds::STEPS.start(), *bounds::STEPS.end());
        r
    }

    /// The address bar: the shared request, the view, the backend and the language.
    pub fn write_url(&self) {
        let q = crate::state::page_query(
            self.shared.get_untracked().as_ref(),
            self.lang.get_untracked() == Lang::En,
            self.show_compare.get_untracked(),
            self.force_cpu,
        );
        if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&q));
        }
    }

    /// `n` = 1: one result. `n` > 1: the candidates view — n samples (seeds in a
    /// row, a temperature of 0.8 if none was set), ranked by the model's own score.
    pub fn generate(&self, n: usize) {
        if self.run.pending().get_untracked() || !matches!(self.load.get_untracked(), Load::Ready { .. }) {
            return;
        }
        let mut first = self.request();
        if n > 1 && first.params.temperature == 0.0 {
            first.params.temperature = CANDIDATE_TEMPERATURE;
        }
        let first = first.with_fresh_seed(fresh_seed);
        let reqs: Vec<Request> = (0..n as u32)
            .map(|i| {
                let mut r = first.clone();
                r.params.seed = if i == 0 { r.params.seed } else { first.params.seed.wrapping_add(i).max(1) };
                r
            })
            .collect();
        self.error.set(None);
        self.elapsed.set(0.0);
        self.run.dispatch(reqs);
        let (run, elapsed) = (self.run, self.elapsed);
        spawn_local(async move {
            let t0 = now_ms();
            sleep_ms(0).await;
            while run.pending().get_untracked() {
                sleep_ms(200).await;
                elapsed.set((now_ms() - t0) / 1e3);
            }
        });
    }

    /// Shows what a click generated (the best first), or why it could not.
    fn finish(&self, r: Result<Vec<Outcome>, String>) {
        match r {
            Err(e) => self.error.set(Some(e)),
            Ok(mut done) => {
                if done.len() > 1 {
                    done.sort_by(|a, b| b.score.total_cmp(&a.score));
                    self.candidates.set(done.clone());
                } else {
                    self.candidates.set(Vec::new());
                }
                if let Some(o) = done.into_iter().next() {
                    self.show(o);
                }
                // The backend may have changed (a lost GPU device falls back to the CPU).
                let backend = ENGINE.with(|e| e.borrow().as_ref().map(|e| e.backend.clone()));
                if let (Some(backend), Load::Ready { source, ms, .. }) = (backend, self.load.get_untracked()) {
                    self.load.set(Load::Ready { backend, source, ms });
                }
                self.replay();
            }
        }
    }

    /// Makes `o` the result (the one before it goes to the undo list) and the link's.
    pub fn show(&self, o: Outcome) {
        if let Some(prev) = self.outcome.get_untracked() {
            self.past.update(|p| p.push(prev));
        }
        self.future.set(Vec::new());
        self.marked.set(Vec::new());
        self.shared.set(Some(o.req.clone()));
        self.write_url();
        self.shown.set(o.frames.len().saturating_sub(1));
        self.outcome.set(Some(o));
    }

    /// Plays the denoising steps of the result.
    pub fn replay(&self) {
        let (id, outcome, shown, replay_id) =
            (self.replay_id.get_untracked().wrapping_add(1), self.outcome, self.shown, self.replay_id);
        replay_id.set(id);
        spawn_local(async move {
            let n = outcome.get_untracked().map(|o| o.frames.len()).unwrap_or(0);
            for s in 0..n {
                if replay_id.get_untracked() != id {
                    return;
                }
                shown.set(s);
                sleep_ms(if n > 24 { 60 } else { 160 }).await;
            }
        });
    }

    /// Regenerates the marked characters, the rest pinned: an infill request on the text.
    pub fn remask(&self) {
        let Some(o) = self.outcome.get_untracked() else { return };
        let m = self.marked.get_untracked();
        if m.is_empty() {
            return;
        }
        self.form.update(|r| {
            r.task = crate::state::Task::Infill;
            r.text = crate::state::remask_template(&o.text, &m);
        });
        self.generate(1);
    }

    /// Undo (`back`) or redo.
    pub fn step_history(&self, back: bool) {
        let (from, to) = if back { (self.past, self.future) } else { (self.future, self.past) };
        let Some(o) = from.try_update(|v| v.pop()).flatten() else { return };
        if let Some(cur) = self.outcome.get_untracked() {
            to.update(|v| v.push(cur));
        }
        self.marked.set(Vec::new());
        self.shown.set(o.frames.len().saturating_sub(1));
        self.outcome.set(Some(o));
    }
}

/// The generations of one click, on the page's engine (taken out of its slot while
/// it runs, put back after).
async fn run_all(
    reqs: Vec<Request>,
    lang: RwSignal<Lang>,
    cpu_progress: RwSignal<Option<(usize, usize)>>,
) -> Result<Vec<Outcome>, String> {
    let Some(mut engine) = ENGINE.with(|e| e.borrow_mut().take()) else {
        return Err("the model is busy".into());
    };
    let prepared: Result<Vec<Prepared>, String> =
        reqs.iter().map(|r| engine.prepare(r, lang.get_untracked())).collect();
    let mut out = Ok(Vec::new());
    match prepared {
        Err(e) => out = Err(e),
        Ok(prepared) => {
            for (req, p) in reqs.into_iter().zip(prepared) {
                let on_step = move |s: usize, n: usize| cpu_progress.set(Some((s, n)));
                match run_one(&mut engine, req, p, &on_step).await {
                    Ok(o) => {
                        if let Ok(v) = &mut out {
                            v.push(o)
                        }
                    }
                    Err(e) => {
                        out = Err(e);
                        break;
                    }
                }
            }
        }
    }
    cpu_progress.set(None);
    ENGINE.with(|s| *s.borrow_mut() = Some(engine));
    out
}

/// One generation as the page shows it, with its denoising frames and score.
async fn run_one(
    engine: &mut Engine,
    req: Request,
    prepared: Prepared,
    on_step: &dyn Fn(usize, usize),
) -> Result<Outcome, String> {
    let t0 = now_ms();
    let o = engine.run(&prepared, on_step).await?;
    let ms = now_ms() - t0;
    let cfg = &engine.weights.config;
    let g = &o.generation;
    let frames: Vec<Vec<Cell>> = (0..g.history.len())
        .map(|s| cells(&engine.tokenizer, &prepared.prompt.tokens, &g.history, s, cfg.mask_id, cfg.pad_id))
        .collect();
    Ok(Outcome {
        metre: o.metre,
        plan: prepared.plan,
        req,
        score: o.score.unwrap_or(0.0),
        text: o.text,
        answer: o.answer,
        steps: g.steps_run,
        frames,
        ms,
        on_gpu: engine.on_gpu(),
    })
}

async fn load_model(load: RwSignal<Load>, force_cpu: bool) {
    let t0 = now_ms();
    let progress = move |got, total| load.set(Load::Loading { got, total });
    match crate::engine::load_engine("", force_cpu, &progress).await {
        Ok((engine, source)) => {
            let backend = engine.backend.clone();
            ENGINE.with(|e| *e.borrow_mut() = Some(engine));
            load.set(Load::Ready { backend, source, ms: now_ms() - t0 });
        }
        Err(e) => load.set(Load::Failed(e)),
    }
}

#[component]
pub fn App() -> impl IntoView {
    let page = Page::new();
    provide_context(page);
    let Page { lang, load, show_compare, .. } = page;
    spawn_local(load_model(load, page.force_cpu));
    // A click's results land here.
    Effect::new(move |_| {
        if let Some(r) = page.run.value().get() {
            page.finish(r);
        }
    });
    // A shared link shows its result, not only a filled form: generate once the model
    // is ready.
    if page.shared.get_untracked().is_some() && !show_compare.get_untracked() {
        let done = StoredValue::new(false);
        Effect::new(move |_| {
            if page.ready() && !done.get_value() {
                done.set_value(true);
                page.generate(1);
            }
        });
    }
    let main_ready = Signal::derive(move || page.ready());

    view! {
        <main id="app"
            data-state=move || match load.get() { Load::Loading { .. } => "loading", Load::Ready { .. } => "ready", Load::Failed(_) => "failed" }
            data-backend=move || match load.get() { Load::Ready { backend: BackendInfo::WebGpu(_), .. } => "webgpu", Load::Ready { .. } => "cpu", _ => "" }
            data-source=move || match load.get() { Load::Ready { source: Source::Cache, .. } => "cache", Load::Ready { .. } => "network", _ => "" }
            data-load-ms=move || match load.get() { Load::Ready { ms, .. } => format!("{ms:.0}"), _ => String::new() }
        >
            <header>
                <h1>{move || t(lang.get(), Msg::Title)}</h1>
                <button class="lang" on:click=move |_| { lang.update(|l| *l = if *l == Lang::En { Lang::Zh } else { Lang::En }); page.write_url(); }>
                    {move || t(lang.get(), Msg::Lang)}
                </button>
            </header>
            <p class="subtitle">{move || t(lang.get(), if matches!(load.get(), Load::Ready { backend: BackendInfo::Cpu(_), .. }) { Msg::SubtitleCpu } else { Msg::Subtitle })}</p>
            <StatusBar load=load lang=lang />
            <crate::form::Tabs />
            <Show when=move || show_compare.get()>
                <crate::compare::Compare lang=lang main_ready=main_ready initial="疑是地上霜".to_string() />
            </Show>
            // The compare view has its own input: the page's form and result step aside.
            <crate::form::Input />
            <crate::form::Settings />
            <crate::result::Candidates />
            <crate::result::ResultView />
            <footer>
                <a href="https://arxiv.org/abs/2502.09992">LLaDA</a>
                // The adapter, once on WebGPU (the status bar names the CPU path).
                <span>{move || match load.get() {
                    Load::Ready { backend: BackendInfo::WebGpu(n), .. } if n == unmask::gpu::context::UNNAMED_WEBGPU => {
                        format!(" · {}", t(lang.get(), Msg::GpuUnnamed))
                    }
                    Load::Ready { backend: BackendInfo::WebGpu(n), .. } => format!(" · {n}"),
                    _ => String::new()
                }}</span>
            </footer>
        </main>
    }
}

/// Model loading progress, the backend in use, and why not WebGPU if so.
#[component]
fn StatusBar(load: RwSignal<Load>, lang: RwSignal<Lang>) -> impl IntoView {
    view! {
        <div id="status" class="status">
            {move || match load.get() {
                Load::Loading { got, total } => {
                    let pct = total.map(|t| (got as f64 / t.max(1) as f64 * 100.0).round()).unwrap_or(0.0);
                    view! {
                        <span>{t(lang.get(), Msg::Loading)}</span>
                        <progress max="100" value=pct.to_string()></progress>
                        <span class="bytes">{format!("{:.1} / {} MB", got as f64 / 1e6, total.map(|t| format!("{:.1}", t as f64 / 1e6)).unwrap_or("?".into()))}</span>
                    }.into_any()
                }
                Load::Ready { backend, source, ms } => {
                    let l = lang.get();
                    let (label, why) = match &backend {
                        BackendInfo::WebGpu(_) => (t(l, Msg::ReadyGpu), None),
                        BackendInfo::Cpu(w) => (t(l, Msg::ReadyCpu), Some(w.clone())),
                    };
                    let src = if source == Source::Cache { format!(" · {}", t(l, Msg::FromCache)) } else { String::new() };
                    view! {
                        <span class="ok">{label}</span>
                        <span class="meta">{format!(" · {ms:.0} ms{src}")}</span>
                        {why.map(|w| view! {
                            <p class="why" data-reason=w.reason.key()>{t(l, w.reason.msg())}</p>
                            <details class="why-detail"><summary>{t(l, Msg::Details)}</summary><code>{w.detail}</code></details>
                        })}
                    }.into_any()
                }
                Load::Failed(e) => view! {
                    <span class="error">{t(lang.get(), Msg::LoadFailed)}" "{e}</span>
                    <button on:click=move |_| { let _ = web_sys::window().map(|w| w.location().reload()); }>{t(lang.get(), Msg::Retry)}</button>
                }.into_any(),
            }}
        </div>
    }
}
