//! The page: task tabs, input with inline errors, examples, settings, the result
//! and the step-by-step denoising view.

use std::cell::RefCell;

use leptos::prelude::*;
use leptos::task::spawn_local;
use unmask::sampler::{Remasking, SamplerParams};
use unmask::tasks::{answer, PoemForm};

use crate::engine::{BackendInfo, Engine, Source};
use crate::i18n::{t, task_hint, task_label, Lang};
use crate::state::{cells, Cell, Request, Task, MAX_STEPS};

thread_local! {
    // The engine is not Send; it lives here and is taken out while it generates.
    pub(crate) static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Test hook (`window.unmaskDebug.loseDevice()`): destroys the GPU device so the
/// next generation has to recover.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn debug_lose_device() -> bool {
    ENGINE.with(|e| e.borrow().as_ref().map(|e| e.lose_device()).is_some())
}

#[derive(Clone, Debug, PartialEq)]
enum Load {
    Loading { got: u64, total: Option<u64>, what: &'static str },
    Ready { backend: BackendInfo, source: Source, ms: f64 },
    Failed(String),
}

/// One finished generation as the page shows it.
#[derive(Clone, Debug, PartialEq)]
struct Outcome {
    text: String,
    /// The metre checker's report on `text` (None without prosody data).
    metre: Option<unmask::prosody::Report>,
    /// The verse rules it was written to (regulated poems and 对对子).
    plan: Option<unmask::prosody::Plan>,
    /// The request that produced it (the link's, when it is the one shown).
    req: Request,
    /// The model's own score: mean log-probability of the generated characters when
    /// each was unmasked (nats; nearer 0 is surer).
    score: f64,
    answer: String,
    frames: Vec<Vec<Cell>>,
    steps: usize,
    ms: f64,
    on_gpu: bool,
}

pub(crate) fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// A random seed for a sampling request whose seed is not fixed.
pub(crate) fn fresh_seed() -> u32 {
    (js_sys::Math::random() * u32::MAX as f64) as u32
}

fn query() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

async fn load_model(load: RwSignal<Load>, force_cpu: bool) {
    let t0 = now_ms();
    let progress = move |got, total| load.set(Load::Loading { got, total, what: "model" });
    match crate::engine::load_engine("", force_cpu, &progress).await {
        Ok((engine, source)) => {
            let backend = engine.backend.clone();
            ENGINE.with(|e| *e.borrow_mut() = Some(engine));
            load.set(Load::Ready { backend, source, ms: now_ms() - t0 });
        }
        Err(e) => load.set(Load::Failed(e)),
    }
}

/// CSS classes of a cell: confidence in ten buckets (`conf0`…`conf9`, low → high,
/// coloured as in LLaDA's demo), masked, or committed at the step shown.
fn cell_class(c: &Cell) -> String {
    let mut cls = String::from("cell");
    if c.masked {
        cls.push_str(" masked");
    } else if let Some(p) = c.confidence {
        cls.push_str(&format!(" conf{}", ((p.clamp(0.0, 1.0) * 10.0) as usize).min(9)));
    }
    if c.fresh {
        cls.push_str(" fresh");
    }
    cls
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The cells of one denoising step as markup.
fn frame_html(cells: &[Cell]) -> String {
    cells
        .iter()
        .map(|c| {
            let title = c.confidence.map(|p| format!(" title=\"p = {p:.2}\"")).unwrap_or_default();
            let text = if c.masked { "＿".to_string() } else { escape(&c.text) };
            format!("<span class=\"{}\"{title}>{text}</span>", cell_class(c))
        })
        .collect()
}

const EXAMPLES: [(Task, &str, &str); 8] = [
    (Task::Next, "床前明月光", "李白《静夜思》"),
    (Task::Prev, "疑是地上霜", "李白《静夜思》"),
    (Task::Next, "白日依山尽", "王之涣《登鹳雀楼》"),
    (Task::Prev, "处处闻啼鸟", "孟浩然《春晓》"),
    (Task::Next, "海上生明月", "张九龄《望月怀远》"),
    (Task::Infill, "举头望明_，低头思故_。", "李白《静夜思》"),
    (Task::Infill, "两个黄鹂鸣翠柳，一行白鹭上青_。", "杜甫《绝句》"),
    (Task::Poem, "春夏秋冬", "藏头诗 · acrostic"),
];

/// The temperature of the candidates view when none is set (greedy decoding would
/// give the same poem n times).
const CANDIDATE_TEMPERATURE: f32 = 0.8;
/// Candidates a click asks for.
const CANDIDATES: usize = 4;

/// One generation as the page shows it, with its denoising frames and score.
async fn run_one(
    engine: &mut Engine,
    req: Request,
    prepared: crate::engine::Prepared,
    on_step: &dyn Fn(usize, usize),
) -> Result<Outcome, String> {
    let t0 = now_ms();
    let crate::engine::Prepared { prompt, params, plan } = prepared;
    let g = engine.generate(&prompt.tokens, &params, on_step).await?;
    let ms = now_ms() - t0;
    let cfg = &engine.weights.config;
    let frames: Vec<Vec<Cell>> = (0..g.history.len())
        .map(|s| cells(&engine.tokenizer, &prompt.tokens, &g.history, s, cfg.mask_id, cfg.pad_id))
        .collect();
    let text = engine.tokenizer.decode(&g.tokens);
    let probs: Vec<f64> = frames
        .last()
        .map(|f| f.iter().filter_map(|c| c.confidence).map(|p| f64::from(p.max(1e-9)).ln()).collect())
        .unwrap_or_default();
    Ok(Outcome {
        metre: engine.prosody.as_ref().map(|p| unmask::prosody::check(p, &engine.tokenizer, &text)),
        plan,
        req,
        score: probs.iter().sum::<f64>() / probs.len().max(1) as f64,
        text,
        answer: answer(&engine.tokenizer, &prompt, &g.tokens),
        steps: g.steps_run,
        frames,
        ms,
        on_gpu: engine.on_gpu(),
    })
}

#[component]
pub fn App() -> impl IntoView {
    let initial = Request::from_query(&query());
    let force_cpu = query().contains("backend=cpu");
    let lang = RwSignal::new(if query().contains("lang=en") { Lang::En } else { Lang::Zh });
    let load = RwSignal::new(Load::Loading { got: 0, total: None, what: "model" });
    let task = RwSignal::new(initial.task);
    let text = RwSignal::new(initial.text.clone());
    let form = RwSignal::new(initial.form);
    let metre = RwSignal::new(initial.metre);
    let rhyme = RwSignal::new(initial.rhyme.clone());
    let pattern = RwSignal::new(initial.pattern.clone());
    let steps = RwSignal::new(initial.params.steps);
    let block = RwSignal::new(initial.params.block_length);
    let remasking = RwSignal::new(initial.params.remasking);
    let temperature = RwSignal::new(initial.params.temperature);
    let threshold = RwSignal::new(initial.params.threshold);
    let seed = RwSignal::new(initial.params.seed);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let cpu_progress = RwSignal::new(None::<(usize, usize)>);
    // Seconds since the running generation started (a GPU run is one submission with
    // no steps to count, so time is what the visitor can be shown).
    let elapsed = RwSignal::new(0.0f64);
    let outcome = RwSignal::new(None::<Outcome>);
    // The candidates view: several samples of one request, best score first.
    let candidates = RwSignal::new(Vec::<Outcome>::new());
    let shown = RwSignal::new(0usize);
    let replay_id = RwSignal::new(0u32);
    let copied = RwSignal::new(false);
    let show_compare = RwSignal::new(query().contains("view=compare"));
    // Edit by remasking: characters of the result marked to regenerate, and the
    // results before (undo) and after (redo) the one shown.
    let marked = RwSignal::new(Vec::<usize>::new());
    let past = RwSignal::new(Vec::<Outcome>::new());
    let future = RwSignal::new(Vec::<Outcome>::new());
    // The request the URL shares: a shared link's, then the last one generated.
    let shared = RwSignal::new(crate::state::shared_request(&query()));
    let write_url = move || {
        let q = crate::state::page_query(
            shared.get_untracked().as_ref(),
            lang.get_untracked() == Lang::En,
            show_compare.get_untracked(),
            force_cpu,
        );
        if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&q));
        }
    };
    let main_ready = Signal::derive(move || matches!(load.get(), Load::Ready { .. }));

    spawn_local(load_model(load, force_cpu));

    let request = move || Request {
        task: task.get_untracked(),
        text: text.get_untracked(),
        form: form.get_untracked(),
        metre: metre.get_untracked(),
        rhyme: rhyme.get_untracked(),
        pattern: pattern.get_untracked(),
        params: SamplerParams {
            steps: steps.get_untracked().clamp(1, MAX_STEPS),
            block_length: block.get_untracked(),
            remasking: remasking.get_untracked(),
            temperature: temperature.get_untracked(),
            threshold: threshold.get_untracked(),
            pinned: vec![],
            exclude: vec![],
            constraints: Default::default(),
            seed: seed.get_untracked(),
        },
    };

    let replay = move || {
        let id = replay_id.get_untracked().wrapping_add(1);
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
    };

    // `n` = 1: one result. `n` > 1: the candidates view — n samples (seeds in a row,
    // a temperature of 0.8 if none was set), ranked by the model's own score.
    let generate_n = move |n: usize| {
        if busy.get_untracked() || !matches!(load.get_untracked(), Load::Ready { .. }) {
            return;
        }
        let mut first = request();
        if n > 1 && first.params.temperature == 0.0 {
            first.params.temperature = CANDIDATE_TEMPERATURE;
        }
        let first = first.with_fresh_seed(fresh_seed);
        let reqs: Vec<Request> = (0..n as u32)
            .map(|i| {
                let mut r = first.clone();
                if i > 0 {
                    r.params.seed = first.params.seed.wrapping_add(i).max(1);
                }
                r
            })
            .collect();
        let Some(mut engine) = ENGINE.with(|e| e.borrow_mut().take()) else { return };
        let prepared: Result<Vec<_>, String> = reqs.iter().map(|r| engine.prepare(r, lang.get_untracked())).collect();
        let prepared = match prepared {
            Ok(p) => p,
            Err(e) => {
                error.set(Some(e));
                ENGINE.with(|s| *s.borrow_mut() = Some(engine));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        elapsed.set(0.0);
        spawn_local(async move {
            let t0 = now_ms();
            while busy.get_untracked() {
                sleep_ms(200).await;
                elapsed.set((now_ms() - t0) / 1e3);
            }
        });
        shared.set(Some(first.clone()));
        write_url();
        spawn_local(async move {
            let mut done = Vec::new();
            for (req, prepared) in reqs.into_iter().zip(prepared) {
                let on_step = move |s: usize, n: usize| cpu_progress.set(Some((s, n)));
                match run_one(&mut engine, req, prepared, &on_step).await {
                    Ok(o) => done.push(o),
                    Err(e) => {
                        error.set(Some(e));
                        break;
                    }
                }
            }
            cpu_progress.set(None);
            if n > 1 {
                done.sort_by(|a, b| b.score.total_cmp(&a.score));
                candidates.set(done.clone());
            } else {
                candidates.set(Vec::new());
            }
            if let Some(o) = done.into_iter().next() {
                let last = o.frames.len().saturating_sub(1);
                if let Some(prev) = outcome.get_untracked() {
                    past.update(|p| p.push(prev));
                }
                future.set(Vec::new());
                marked.set(Vec::new());
                shared.set(Some(o.req.clone()));
                write_url();
                outcome.set(Some(o));
                shown.set(last);
                if let Load::Ready { source, ms, .. } = load.get_untracked() {
                    load.set(Load::Ready { backend: engine.backend.clone(), source, ms });
                }
            }
            ENGINE.with(|s| *s.borrow_mut() = Some(engine));
            busy.set(false);
            replay();
        });
    };
    let generate = move || generate_n(1);
    // Keep editing another candidate: it becomes the result (and the link's request).
    let choose = move |o: Outcome| {
        if let Some(prev) = outcome.get_untracked() {
            past.update(|p| p.push(prev));
        }
        future.set(Vec::new());
        marked.set(Vec::new());
        shared.set(Some(o.req.clone()));
        write_url();
        shown.set(o.frames.len().saturating_sub(1));
        outcome.set(Some(o));
    };

    // A shared link shows its result, not only a filled form: generate once the model
    // is ready.
    if shared.get_untracked().is_some() && !show_compare.get_untracked() {
        let done = StoredValue::new(false);
        Effect::new(move |_| {
            if main_ready.get() && !done.get_value() {
                done.set_value(true);
                generate();
            }
        });
    }

    // Regenerate the marked characters, the rest pinned: an infill request on the text.
    let remask = move || {
        let Some(o) = outcome.get_untracked() else { return };
        let m = marked.get_untracked();
        if m.is_empty() {
            return;
        }
        task.set(Task::Infill);
        text.set(crate::state::remask_template(&o.text, &m));
        generate();
    };
    let step_history = move |back: bool| {
        let (from, to) = if back { (past, future) } else { (future, past) };
        let Some(o) = from.try_update(|v| v.pop()).flatten() else { return };
        if let Some(cur) = outcome.get_untracked() {
            to.update(|v| v.push(cur));
        }
        marked.set(Vec::new());
        shown.set(o.frames.len().saturating_sub(1));
        outcome.set(Some(o));
    };

    let set_example = move |(tk, txt, _): (Task, &'static str, &'static str)| {
        task.set(tk);
        text.set(txt.to_string());
        if tk == Task::Poem {
            form.set(PoemForm::QiJue);
        }
        error.set(None);
    };

    let copy_text = move |s: String| {
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&s);
            copied.set(true);
        }
    };

    view! {
        <main id="app"
            data-state=move || match load.get() { Load::Loading { .. } => "loading", Load::Ready { .. } => "ready", Load::Failed(_) => "failed" }
            data-backend=move || match load.get() { Load::Ready { backend: BackendInfo::WebGpu(_), .. } => "webgpu", Load::Ready { .. } => "cpu", _ => "" }
            data-source=move || match load.get() { Load::Ready { source: Source::Cache, .. } => "cache", Load::Ready { .. } => "network", _ => "" }
            data-load-ms=move || match load.get() { Load::Ready { ms, .. } => format!("{ms:.0}"), _ => String::new() }
        >
            <header>
                <h1>{move || t(lang.get(), "title")}</h1>
                <button class="lang" on:click=move |_| { lang.update(|l| *l = if *l == Lang::En { Lang::Zh } else { Lang::En }); write_url(); }>
                    {move || t(lang.get(), "lang")}
                </button>
            </header>
            <p class="subtitle">{move || t(lang.get(), if matches!(load.get(), Load::Ready { backend: BackendInfo::Cpu(_), .. }) { "subtitle_cpu" } else { "subtitle" })}</p>
            <StatusBar load=load lang=lang />

            <nav class="tabs" role="tablist">
                {Task::ALL.into_iter().map(|tk| view! {
                    <button role="tab" id=format!("tab-{}", tk.key()) class=("active", move || task.get() == tk && !show_compare.get())
                        tabindex=move || if task.get() == tk { "0" } else { "-1" }
                        on:keydown=move |ev: web_sys::KeyboardEvent| {
                            // Arrow keys move between tabs (WAI-ARIA tabs pattern), Home/End to the ends.
                            let i = Task::ALL.iter().position(|&x| x == tk).unwrap_or(0);
                            let n = Task::ALL.len();
                            let to = match ev.key().as_str() {
                                "ArrowRight" => (i + 1) % n,
                                "ArrowLeft" => (i + n - 1) % n,
                                "Home" => 0,
                                "End" => n - 1,
                                _ => return,
                            };
                            ev.prevent_default();
                            let next = Task::ALL[to];
                            task.set(next);
                            error.set(None);
                            focus(&format!("tab-{}", next.key()));
                        }
                        aria-selected=move || (task.get() == tk && !show_compare.get()).to_string()
                        on:click=move |_| { task.set(tk); error.set(None); if show_compare.get_untracked() { show_compare.set(false); write_url(); } }>
                        {move || task_label(lang.get(), tk)}
                    </button>
                }).collect_view()}
                <button id="compare-tab" class="compare-tab" class=("active", move || show_compare.get())
                    aria-pressed=move || show_compare.get().to_string() on:click=move |_| { show_compare.update(|s| *s = !*s); write_url(); }>
                    {move || t(lang.get(), "compare")}
                </button>
            </nav>
            <Show when=move || show_compare.get()>
                <crate::compare::Compare lang=lang main_ready=main_ready initial="疑是地上霜".to_string() />
            </Show>

            // The compare view has its own input: the page's form and result step aside.
            <section class="input" class=("hidden", move || show_compare.get())>
                <label for="text">{move || task_hint(lang.get(), task.get())}</label>
                <div class="row">
                    <textarea id="text" rows="2" maxlength=unmask::tasks::MAX_INPUT_CHARS.to_string() prop:value=move || text.get()
                        class=("invalid", move || error.get().is_some())
                        on:input=move |ev| text.set(event_target_value(&ev))
                        on:keydown=move |ev: web_sys::KeyboardEvent| { if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key() || !ev.shift_key()) { ev.prevent_default(); generate(); } }
                    ></textarea>
                    <Show when=move || task.get() == Task::Poem>
                        <select id="form" aria-label="form" on:change=move |ev| { if let Ok(f) = event_target_value(&ev).parse() { form.set(f) } }>
                            {PoemForm::ALL.into_iter().map(|f| view! { <option value=f.key() selected=move || form.get() == f>{f.name()}</option> }).collect_view()}
                        </select>
                    </Show>
                    <button id="generate" class="primary" disabled=move || busy.get() || !matches!(load.get(), Load::Ready { .. }) on:click=move |_| generate()>
                        {move || if busy.get() { t(lang.get(), "generating") } else { t(lang.get(), "generate") }}
                    </button>
                    <button id="candidates-btn" title=move || t(lang.get(), "candidates_hint")
                        disabled=move || busy.get() || !matches!(load.get(), Load::Ready { .. }) on:click=move |_| generate_n(CANDIDATES)>
                        {move || format!("{} ×{CANDIDATES}", t(lang.get(), "candidates"))}
                    </button>
                </div>
                <Show when=move || task.get() == Task::Poem>
                    <div class="verse-opts">
                        <label><input id="metre-on" type="checkbox" prop:checked=move || metre.get()
                            on:change=move |ev| metre.set(event_target_checked(&ev)) />
                            {move || t(lang.get(), "metre_on")}</label>
                        <label class=("hidden", move || !metre.get())>{move || t(lang.get(), "pattern_field")}
                            <select id="pattern" on:change=move |ev| pattern.set(event_target_value(&ev))>
                                <option value="" selected=move || pattern.get().is_empty()>{move || t(lang.get(), "pattern_auto")}</option>
                                {unmask::prosody::Pattern::ALL.into_iter().map(|p| view! {
                                    <option value=p.key() selected=move || pattern.get() == p.key()>{p.name()}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <label class=("hidden", move || !metre.get())>{move || t(lang.get(), "rhyme_field")}
                            <input id="rhyme" type="text" size="6" maxlength=unmask::request::MAX_RHYME_CHARS.to_string()
                                prop:value=move || rhyme.get() on:change=move |ev| rhyme.set(event_target_value(&ev).trim().to_string()) />
                        </label>
                    </div>
                </Show>
                <p id="error" class="error" role="alert">{move || error.get()}</p>
                // The metre checker on what is typed, once it has the shape of a
                // 绝句, 律诗 or couplet.
                {move || {
                    let txt = text.get();
                    let l = lang.get();
                    main_ready.get();
                    ENGINE.with(|e| e.borrow().as_ref().and_then(|e| {
                        let p = e.prosody.as_ref()?;
                        let r = unmask::prosody::check(p, &e.tokenizer, &txt);
                        (r.form.is_some() || r.couplet).then_some(r)
                    }))
                    .map(|r| view! {
                        <div id="typed-metre" class="typed-metre" aria-label=t(l, "typed_metre")>
                            <p class="poem metred">{metre_rows(&r)}</p>
                            {metre_summary(l, &r)}
                        </div>
                    })
                }}
                <Show when=move || busy.get()>
                    <p id="busy" class="progress" role="status">
                        <progress></progress>
                        " "{move || format!("{} {:.1} s", t(lang.get(), "generating"), elapsed.get())}
                        {move || cpu_progress.get().map(|(s, n)| format!(" · CPU {s}/{n}"))}
                    </p>
                </Show>
                <div class="examples">
                    <span>{move || t(lang.get(), "examples")}:</span>
                    {EXAMPLES.into_iter().map(|ex| view! {
                        <button class="example" title=ex.2 on:click=move |_| { set_example(ex); generate(); }>
                            {format!("{} · {}", ex.0.symbol(), ex.1)}
                        </button>
                    }).collect_view()}
                </div>
            </section>

            <details class="settings" class=("hidden", move || show_compare.get())>
                <summary>{move || t(lang.get(), "settings")}</summary>
                <label>{move || t(lang.get(), "steps")}
                    <input id="steps" type="number" min="1" max=MAX_STEPS.to_string() prop:value=move || steps.get().to_string()
                        on:change=move |ev| {
                            if let Ok(v) = event_target_value(&ev).trim().parse::<i64>() { steps.set(v.clamp(1, MAX_STEPS as i64) as usize) }
                            show_used(&ev, steps.get_untracked().to_string());
                        } />
                </label>
                <label>{move || t(lang.get(), "block")}
                    <input id="block" type="number" min="0" max="64" prop:value=move || block.get().to_string()
                        on:change=move |ev| {
                            if let Ok(v) = event_target_value(&ev).trim().parse::<i64>() { block.set(v.clamp(0, 64) as usize) }
                            show_used(&ev, block.get_untracked().to_string());
                        } />
                </label>
                <label>{move || t(lang.get(), "remasking")}
                    <select on:change=move |ev| remasking.set(event_target_value(&ev).parse().unwrap_or_default())>
                        <option value="low_confidence" selected=move || remasking.get() == Remasking::LowConfidence>{move || t(lang.get(), "low_confidence")}</option>
                        <option value="random" selected=move || remasking.get() == Remasking::Random>{move || t(lang.get(), "random")}</option>
                    </select>
                </label>
                <label>{move || t(lang.get(), "temperature")}
                    <input type="number" min="0" max="5" step="0.1" prop:value=move || temperature.get().to_string()
                        on:change=move |ev| {
                            if let Ok(v) = event_target_value(&ev).trim().parse::<f32>() { if v.is_finite() { temperature.set(v.clamp(0.0, 5.0)) } }
                            show_used(&ev, temperature.get_untracked().to_string());
                        } />
                </label>
                <label>{move || t(lang.get(), "threshold")}
                    <input type="number" min="0" max="1" step="0.05" placeholder="off" prop:value=move || threshold.get().map(|v| v.to_string()).unwrap_or_default()
                        on:change=move |ev| threshold.set(event_target_value(&ev).parse::<f32>().ok().filter(|v| *v > 0.0 && *v <= 1.0)) />
                </label>
                <label>{move || t(lang.get(), "seed")}
                    <input type="number" min="0" prop:value=move || seed.get().to_string()
                        on:change=move |ev| {
                            if let Ok(v) = event_target_value(&ev).trim().parse::<u32>() { seed.set(v) }
                            show_used(&ev, seed.get_untracked().to_string());
                        } />
                </label>
            </details>

            <Show when=move || !candidates.get().is_empty() && !show_compare.get()>
                <section id="candidates" class="candidates" aria-label=move || t(lang.get(), "candidates")>
                    <h2>{move || t(lang.get(), "candidates")}</h2>
                    <p class="hint">{move || t(lang.get(), "candidates_explain")}</p>
                    <div class="cards">
                        {move || candidates.get().into_iter().enumerate().map(|(i, o)| {
                            let chosen = o.text.clone();
                            let verdict = o.metre.as_ref().filter(|r| r.form.is_some() || r.couplet).map(|r| r.violations);
                            let pick = o.clone();
                            view! {
                                <div class="candidate" data-score=format!("{:.3}", o.score) class=("current", move || outcome.get().is_some_and(|x| x.text == chosen))>
                                    <p class="poem">{crate::state::verse_rows(&o.text).into_iter().map(|r| view! { <span class="verse-row">{r.to_string()}</span> }).collect_view()}</p>
                                    <p class="meta">{move || {
                                        let l = lang.get();
                                        let v = match verdict { Some(0) => format!(" · {}", t(l, "metre_ok")), Some(n) => format!(" · {n} ✗"), None => String::new() };
                                        format!("#{} · {} {:.2}{v}", i + 1, t(l, "score"), o.score)
                                    }}</p>
                                    <button class="use" on:click=move |_| choose(pick.clone())>{move || t(lang.get(), "use_this")}</button>
                                </div>
                            }
                        }).collect_view()}
                    </div>
                </section>
            </Show>
            <Show when=move || outcome.get().is_some() && !show_compare.get()>
                <section id="result" class="result"
                    data-answer=move || outcome.get().map(|o| o.answer).unwrap_or_default()
                    data-steps=move || outcome.get().map(|o| o.steps.to_string()).unwrap_or_default()
                    data-frames=move || outcome.get().map(|o| o.frames.len().to_string()).unwrap_or_default()
                    data-ms=move || outcome.get().map(|o| format!("{:.1}", o.ms)).unwrap_or_default()
                    data-gpu=move || outcome.get().map(|o| o.on_gpu.to_string()).unwrap_or_default()
                >
                    <h2>{move || t(lang.get(), "result")}</h2>
                    // Each character is a button: marking it (click, tap, Enter/Space) queues it
                    // for regeneration with the rest pinned.
                    // Under each character its tone (平 仄 中), red where it breaks the
                    // pattern or the rhyme (the metre checker, `unmask::prosody`).
                    <p id="output" class="poem" class=("metred", move || outcome.get().is_some_and(|o| o.metre.is_some()))>{move || outcome.get().map(|o| {
                        let mut at = 0usize;
                        let marks: Vec<unmask::prosody::Mark> =
                            o.metre.iter().flat_map(|r| r.lines.iter().flat_map(|l| l.marks.clone())).collect();
                        let mut k = 0usize;
                        crate::state::verse_rows(&o.text).into_iter().map(|r| {
                            let chars: Vec<(usize, char)> = r.chars().map(|c| { at += 1; (at - 1, c) }).collect();
                            view! { <span class="verse-row">{chars.into_iter().map(|(i, c)| {
                                if unmask::tasks::LINE_END.contains(&c) {
                                    view! { <span class="punct">{c.to_string()}</span> }.into_any()
                                } else {
                                    // The tone is drawn by CSS from data-tone, so the text stays the poem.
                                    let mark = marks.get(k).filter(|m| m.ch == c).cloned();
                                    k += 1;
                                    let (tone, bad, rhyme, why) = match &mark {
                                        Some(m) => (Some(m.tone.mark().to_string()), !m.ok, m.rhyme, m.why.clone()),
                                        None => (None, false, false, None),
                                    };
                                    view! {
                                        <button class="ch" data-i=i.to_string() class=("marked", move || marked.get().contains(&i))
                                            class=("tone-bad", bad) class=("tone-rhyme", rhyme) data-tone=tone title=why
                                            aria-pressed=move || marked.get().contains(&i).to_string()
                                            on:click=move |_| marked.update(|m| if let Some(k) = m.iter().position(|&x| x == i) { m.remove(k); } else { m.push(i) })>
                                            {c.to_string()}
                                        </button>
                                    }.into_any()
                                }
                            }).collect_view()}</span> }
                        }).collect_view()
                    })}</p>
                    {move || outcome.get().and_then(|o| o.plan).map(|p| plan_line(lang.get(), &p))}
                    {move || outcome.get().and_then(|o| o.metre).map(|r| metre_summary(lang.get(), &r))}
                    <div class="edit">
                        <span class="hint">{move || t(lang.get(), "remask_hint")}</span>
                        <button id="remask" class="primary" disabled=move || marked.get().is_empty() || busy.get() on:click=move |_| remask()>
                            {move || format!("{} ({})", t(lang.get(), "remask"), marked.get().len())}
                        </button>
                        <button id="undo" disabled=move || past.get().is_empty() || busy.get() on:click=move |_| step_history(true)>{move || t(lang.get(), "undo")}</button>
                        <button id="redo" disabled=move || future.get().is_empty() || busy.get() on:click=move |_| step_history(false)>{move || t(lang.get(), "redo")}</button>
                    </div>
                    <p class="meta">{move || outcome.get().map(|o| format!("{} steps · {:.0} ms · {}", o.steps, o.ms, if o.on_gpu { "WebGPU" } else { "CPU" }))}</p>
                    <div class="actions">
                        <button id="copy" on:click=move |_| if let Some(o) = outcome.get_untracked() { copy_text(o.text) }>
                            {move || if copied.get() { t(lang.get(), "copied") } else { t(lang.get(), "copy") }}
                        </button>
                        <button id="share" on:click=move |_| {
                            let href = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
                            copy_text(href);
                        }>{move || t(lang.get(), "share")}</button>
                    </div>
                    <h3>{move || t(lang.get(), "denoising")}</h3>
                    // Rendered as markup: each step replaces the whole row, so no cell keeps
                    // a class from an earlier frame.
                    <div id="frame" class="frame" data-step=move || shown.get().to_string()
                        inner_html=move || outcome.get().and_then(|o| o.frames.get(shown.get()).cloned()).map(|f| frame_html(&f)).unwrap_or_default()>
                    </div>
                    <div class="scrub">
                        <label>{move || t(lang.get(), "step")}
                            <input id="scrub" type="range" min="0" max=move || outcome.get().map(|o| o.frames.len().saturating_sub(1)).unwrap_or(0).to_string()
                                prop:value=move || shown.get().to_string()
                                on:input=move |ev| { replay_id.update(|i| *i += 1); shown.set(event_target_value(&ev).parse().unwrap_or(0)) } />
                        </label>
                        <span class="stepno">{move || format!("{}/{}", shown.get() + 1, outcome.get().map(|o| o.frames.len()).unwrap_or(0))}</span>
                        <button id="replay" on:click=move |_| replay()>{move || t(lang.get(), "replay")}</button>
                    </div>
                    <p class="legend">{move || t(lang.get(), "confidence_legend")}</p>
                </section>
            </Show>
            <footer>
                <a href="https://arxiv.org/abs/2502.09992">LLaDA</a>" · "
                <span>{move || match load.get() { Load::Ready { backend: BackendInfo::WebGpu(n), .. } => n, _ => String::new() }}</span>
            </footer>
        </main>
    }
}

/// After a number field's change: show the value actually used (a refused or clamped
/// entry such as "-3" does not stay on screen).
fn show_used(ev: &leptos::ev::Event, used: String) {
    use wasm_bindgen::JsCast;
    if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
        input.set_value(&used);
    }
}

fn focus(id: &str) {
    use wasm_bindgen::JsCast;
    if let Some(e) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = e.focus();
    }
}

async fn sleep_ms(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

/// Model loading progress, the backend in use, and why not WebGPU if so.
#[component]
fn StatusBar(load: RwSignal<Load>, lang: RwSignal<Lang>) -> impl IntoView {
    view! {
        <div id="status" class="status">
            {move || match load.get() {
                Load::Loading { got, total, .. } => {
                    let pct = total.map(|t| (got as f64 / t.max(1) as f64 * 100.0).round()).unwrap_or(0.0);
                    view! {
                        <span>{t(lang.get(), "loading")}</span>
                        <progress max="100" value=pct.to_string()></progress>
                        <span class="bytes">{format!("{:.1} / {} MB", got as f64 / 1e6, total.map(|t| format!("{:.1}", t as f64 / 1e6)).unwrap_or("?".into()))}</span>
                    }.into_any()
                }
                Load::Ready { backend, source, ms } => {
                    let l = lang.get();
                    let (label, why) = match &backend {
                        BackendInfo::WebGpu(_) => (t(l, "ready_gpu"), None),
                        BackendInfo::Cpu(w) => (t(l, "ready_cpu"), Some(w.clone())),
                    };
                    let src = if source == Source::Cache { format!(" · {}", t(l, "from_cache")) } else { String::new() };
                    view! {
                        <span class="ok">{label}</span>
                        <span class="meta">{format!(" · {ms:.0} ms{src}")}</span>
                        {why.map(|w| view! {
                            <p class="why" data-reason=w.reason.key()>{t(l, w.reason.key())}</p>
                            <details class="why-detail"><summary>{t(l, "details")}</summary><code>{w.detail}</code></details>
                        })}
                    }.into_any()
                }
                Load::Failed(e) => view! {
                    <span class="error">{t(lang.get(), "load_failed")}" "{e}</span>
                    <button on:click=move |_| { let _ = web_sys::window().map(|w| w.location().reload()); }>{t(lang.get(), "retry")}</button>
                }.into_any(),
            }}
        </div>
    }
}

/// The metre checker's verdict under a result: form, pattern and rhyme group, and
/// what breaks the rules (`#metre`, with the count in `data-violations`).
fn metre_summary(lang: Lang, r: &unmask::prosody::Report) -> impl IntoView {
    let shaped = r.form.is_some() || r.couplet;
    let head: Vec<String> = [
        r.form.map(|f| f.name().to_string()),
        r.couplet.then(|| t(lang, "couplet").to_string()),
        r.pattern.clone(),
        r.rhyme_group.as_ref().map(|g| format!("{} {g}", t(lang, "rhyme"))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let verdict = match (shaped, r.violations, lang) {
        (false, ..) => t(lang, "metre_none").to_string(),
        (true, 0, _) => t(lang, "metre_ok").to_string(),
        (true, n, Lang::En) => format!("breaks the rules at {n} place{}:", if n == 1 { "" } else { "s" }),
        (true, n, Lang::Zh) => format!("{n} 处不合格律："),
    };
    let reasons: Vec<String> = r
        .lines
        .iter()
        .enumerate()
        .flat_map(|(li, l)| {
            l.marks.iter().filter_map(move |m| {
                m.why.as_ref().map(|w| match lang {
                    Lang::En => format!("line {}, {}: {w}", li + 1, m.ch),
                    Lang::Zh => format!("第 {} 句「{}」：{w}", li + 1, m.ch),
                })
            })
        })
        .collect();
    view! {
        <div id="metre" class="metre" data-violations=r.violations.to_string() data-form=r.form.map(|f| f.key()).unwrap_or_default()>
            <span class="metre-head">{head.join(" · ")}</span>
            <span class="metre-verdict" class=("bad", r.violations > 0)>{verdict}</span>
            <ul class="metre-why">{reasons.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
        </div>
    }
}

/// The verse rules a result was written to: pattern, rhyme group and how it was
/// chosen, and the pinned characters that break the pattern (`#plan`).
fn plan_line(lang: Lang, p: &unmask::prosody::Plan) -> impl IntoView {
    let from = match p.group_from {
        "given" => t(lang, "rhyme_given"),
        "pinned" => t(lang, "rhyme_pinned"),
        _ => t(lang, "rhyme_model"),
    };
    let group = p.rhyme_group.as_ref().map(|g| format!(" · {} {g} ({from})", t(lang, "rhyme"))).unwrap_or_default();
    view! {
        <div id="plan" class="plan" data-pattern=p.pattern.clone() data-group=p.rhyme_group.clone().unwrap_or_default()>
            {format!("{}: {}{group}", t(lang, "plan"), p.pattern)}
            <ul>{p.conflicts.iter().map(|(_, why)| view! { <li class="conflict">{why.clone()}</li> }).collect_view()}</ul>
        </div>
    }
}

/// A checked text line by line, each character with its tone under it (as the
/// result shows it, without the editing buttons).
fn metre_rows(r: &unmask::prosody::Report) -> impl IntoView {
    r.lines
        .iter()
        .map(|l| {
            view! {
                <span class="verse-row">
                    {l.marks.iter().map(|m| view! {
                        <span class="ch" class=("tone-bad", !m.ok) class=("tone-rhyme", m.rhyme)
                            data-tone=m.tone.mark().to_string() title=m.why.clone()>{m.ch.to_string()}</span>
                    }).collect_view()}
                    <span class="punct">{l.end.clone()}</span>
                </span>
            }
        })
        .collect_view()
}
