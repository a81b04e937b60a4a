//! The page's state ([`Page`]: the form as one [`Request`], the results shown with
//! their history and the candidates, generation as an async action) and what it
//! runs: the pipeline's requests on the page's engine, and the model's loading. The
//! plain parts (the history, the ranking, the cells of a frame) are in `state`,
//! tested natively.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::engine::{BackendInfo, Engine, Measured, Source};
use crate::i18n::Lang;
use crate::shared::{fresh_seed, now_ms, query, sleep_ms, ENGINE};
use crate::state::{best_first, bounds, cells, Cell, History, Request, Task};
use unmask::pipeline::Prepared;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Load {
    Loading {
        got: u64,
        total: Option<u64>,
    },
    /// `measured`: the two backends timed on a couplet when the page chose by them;
    /// `switchable`: the visitor may move to the other backend.
    Ready {
        backend: BackendInfo,
        measured: Option<Measured>,
        switchable: bool,
        source: Source,
        ms: f64,
    },
    Failed(String),
}

impl Load {
    /// Ready with `engine`'s backend.
    fn ready(engine: &Engine, source: Source, ms: f64) -> Load {
        Load::Ready {
            backend: engine.backend.clone(),
            measured: engine.measured,
            switchable: engine.can_switch(),
            source,
            ms,
        }
    }
}

/// Moves the page's engine to its other backend (the status bar's switch), unless a
/// generation holds it.
pub(crate) async fn switch_backend(load: RwSignal<Load>) {
    let Some(mut engine) = ENGINE.with(|e| e.borrow_mut().take()) else { return };
    engine.switch().await;
    if let Load::Ready { source, ms, .. } = load.get_untracked() {
        load.set(Load::ready(&engine, source, ms));
    }
    ENGINE.with(|e| *e.borrow_mut() = Some(engine));
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
    /// The results shown, with what undo and redo go back and forth to.
    pub history: RwSignal<History<Outcome>>,
    /// The result shown (`history`'s current one).
    pub outcome: Memo<Option<Outcome>>,
    /// The candidates view: several samples of one request, best score first.
    pub candidates: RwSignal<Vec<Outcome>>,
    /// The denoising step shown, and the replay running (a newer id stops it).
    pub shown: RwSignal<usize>,
    pub replay_id: RwSignal<u32>,
    pub copied: RwSignal<bool>,
    pub show_compare: RwSignal<bool>,
    /// Edit by remasking: characters of the result marked to regenerate.
    pub marked: RwSignal<Vec<usize>>,
    /// The request the URL shares: a shared link's, then the result's.
    pub shared: RwSignal<Option<Request>>,
    /// Text that switching tasks took out of the box because the new task does not
    /// take it (`Request::text_fits`), with the task it was written for: it comes back
    /// there.
    pub set_aside: RwSignal<Option<(Task, String)>>,
    /// What the page's link gave that it could not take, and the settings it gave
    /// that its task does not use (`Request::ignored`): shown until dismissed (the
    /// unused ones while the form still does not use them).
    pub link_bad: RwSignal<Vec<unmask::request::Rejected>>,
    pub link_unused: RwSignal<Vec<&'static str>>,
    /// The backend the link asks for (`backend=cpu|webgpu`; else the faster).
    pub backend: crate::state::Choice,
}

/// The browser's languages, preferred first (`navigator.languages`).
fn browser_langs() -> Vec<String> {
    web_sys::window()
        .map(|w| w.navigator().languages().iter().filter_map(|v| v.as_string()).collect())
        .unwrap_or_default()
}

const LANG_KEY: &str = "unmask.lang";

/// The language the visitor chose last time (localStorage), if any.
fn saved_lang() -> Option<String> {
    web_sys::window()?.local_storage().ok()??.get_item(LANG_KEY).ok()?
}

/// Keeps the visitor's choice of language for the next visit (where storage is allowed).
pub(crate) fn save_lang(l: Lang) {
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item(LANG_KEY, crate::state::lang_key(l));
    }
}

impl Page {
    pub fn new() -> Page {
        let q = query();
        let lang = RwSignal::new(crate::state::choose_lang(&q, saved_lang().as_deref(), &browser_langs()));
        let cpu_progress = RwSignal::new(None);
        let history = RwSignal::new(History::default());
        let (request, link_bad) = Request::parse_query(&q);
        let link_unused = request.ignored();
        Page {
            lang,
            load: RwSignal::new(Load::Loading { got: 0, total: None }),
            form: RwSignal::new(request),
            error: RwSignal::new(None),
            run: Action::new_local(move |reqs: &Vec<Request>| run_all(reqs.clone(), lang, cpu_progress)),
            cpu_progress,
            elapsed: RwSignal::new(0.0),
            history,
            outcome: Memo::new(move |_| history.with(|h| h.current().cloned())),
            candidates: RwSignal::new(Vec::new()),
            shown: RwSignal::new(0),
            replay_id: RwSignal::new(0),
            copied: RwSignal::new(false),
            show_compare: RwSignal::new(q.contains("view=compare")),
            marked: RwSignal::new(Vec::new()),
            shared: RwSignal::new(crate::state::shared_request(&q)),
            set_aside: RwSignal::new(None),
            link_bad: RwSignal::new(link_bad),
            link_unused: RwSignal::new(link_unused),
            backend: crate::state::Choice::from_query(&q),
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
            // Always: a link opens in the language it was made in.
            Some(crate::state::lang_key(self.lang.get_untracked())),
            self.show_compare.get_untracked(),
            self.backend,
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
    pub fn finish(&self, r: Result<Vec<Outcome>, String>) {
        match r {
            Err(e) => self.error.set(Some(e)),
            Ok(mut done) => {
                if done.len() > 1 {
                    best_first(&mut done, |o| o.score);
                    self.candidates.set(done.clone());
                } else {
                    self.candidates.set(Vec::new());
                }
                if let Some(o) = done.into_iter().next() {
                    self.show(o);
                }
                // The backend may have changed (a lost GPU device falls back to the CPU).
                if let Load::Ready { source, ms, .. } = self.load.get_untracked() {
                    if let Some(l) = ENGINE.with(|e| e.borrow().as_ref().map(|e| Load::ready(e, source, ms))) {
                        self.load.set(l);
                    }
                }
                self.replay();
            }
        }
    }

    /// Makes `o` the result (the one before it goes to the undo list) and the link's.
    pub fn show(&self, o: Outcome) {
        self.marked.set(Vec::new());
        self.shared.set(Some(o.req.clone()));
        self.write_url();
        self.shown.set(o.frames.len().saturating_sub(1));
        self.history.update(|h| h.show(o));
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
        if !self.history.try_update(|h| h.step(back)).unwrap_or(false) {
            return;
        }
        self.marked.set(Vec::new());
        self.shown.set(self.outcome.get_untracked().map_or(0, |o| o.frames.len().saturating_sub(1)));
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
        reqs.iter().map(|r| engine.prepare(&r.without_ignored(), lang.get_untracked())).collect();
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

pub(crate) async fn load_model(load: RwSignal<Load>, choice: crate::state::Choice) {
    let t0 = now_ms();
    let progress = move |got, total| load.set(Load::Loading { got, total });
    match crate::engine::load_engine("", choice, &progress).await {
        Ok((engine, source)) => {
            let ready = Load::ready(&engine, source, now_ms() - t0);
            ENGINE.with(|e| *e.borrow_mut() = Some(engine));
            load.set(ready);
        }
        Err(e) => load.set(Load::Failed(e)),
    }
}
