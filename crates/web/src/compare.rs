//! The compare view: the same line given to the diffusion model and to its
//! autoregressive twin (same size and data; the diffusion model starts from the twin's
//! weights), answers side by side with
//! the forward passes each took. The twin (`model-ar/`) downloads only when the view
//! is opened, through the same cache as the main model; the diffusion side is the
//! page's own model.

use std::cell::RefCell;

use leptos::prelude::*;
use leptos::task::spawn_local;
use unmask::sampler::Settings;
use unmask::tasks::{answer, Prompt, TaskBuilder};

use crate::chart::EvalChart;
use crate::engine::{load_engine, BackendInfo, Engine};
use crate::i18n::{t, task_label, Lang, Msg};
use crate::shared::{now_ms, AR_DIR, ENGINE};
use crate::state::Task;

/// Beam width of the ranked reversal (docs/evaluation.md's table uses the same).
pub const BEAM_WIDTH: usize = 16;

thread_local! {
    static AR: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

#[derive(Clone, Debug, PartialEq)]
enum ArLoad {
    Loading { got: u64, total: Option<u64> },
    Ready(BackendInfo),
    Failed(String),
}

/// One model's answer.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    id: &'static str,
    label: Msg,
    answer: String,
    text: String,
    passes: usize,
    ms: f64,
}

fn row(
    id: &'static str,
    label: Msg,
    tok: &unmask::PoemTokenizer,
    prompt: &Prompt,
    tokens: &[u32],
    passes: usize,
    ms: f64,
) -> Row {
    Row { id, label, answer: answer(tok, prompt, tokens), text: tok.decode(tokens), passes, ms }
}

/// Runs the three answers; engines are taken out of their slots meanwhile.
async fn run(task: Task, text: String) -> Result<Vec<Row>, String> {
    let diff = ENGINE.with(|e| e.borrow_mut().take()).ok_or("the main model is busy or not loaded")?;
    let Some(ar) = AR.with(|e| e.borrow_mut().take()) else {
        ENGINE.with(|e| *e.borrow_mut() = Some(diff));
        return Err("the autoregressive model is busy or not loaded".into());
    };
    let (mut diff, mut ar) = (diff, ar);
    let out = compare(&mut diff, &mut ar, task, &text).await;
    ENGINE.with(|e| *e.borrow_mut() = Some(diff));
    AR.with(|e| *e.borrow_mut() = Some(ar));
    out
}

async fn compare(diff: &mut Engine, ar: &mut Engine, task: Task, text: &str) -> Result<Vec<Row>, String> {
    let build = |e: &Engine| {
        let tb = TaskBuilder::new(&e.tokenizer, &e.weights.config);
        if task == Task::Prev { tb.previous_line(text) } else { tb.next_line(text) }.map_err(|e| e.to_string())
    };
    let (pd, pa) = (build(diff)?, build(ar)?);
    let p = Settings::default();
    let mut rows = Vec::new();
    let t0 = now_ms();
    let g = diff.run(&diff.prepare_prompt(pd.clone(), &p), &|_, _| {}).await?.generation;
    rows.push(row("cmp-diffusion", Msg::CmpDiffusion, &diff.tokenizer, &pd, &g.tokens, g.steps_run, now_ms() - t0));
    let t0 = now_ms();
    let g = ar.run(&ar.prepare_prompt(pa.clone(), &p), &|_, _| {}).await?.generation;
    let label = if task == Task::Prev { Msg::CmpArPlain } else { Msg::CmpAr };
    rows.push(row("cmp-ar", label, &ar.tokenizer, &pa, &g.tokens, g.steps_run, now_ms() - t0));
    if task == Task::Prev {
        crate::engine::yield_now().await;
        let t0 = now_ms();
        let r = ar.rank(&pa.tokens, BEAM_WIDTH)?;
        rows.push(row(
            "cmp-beam",
            Msg::CmpArBeam,
            &ar.tokenizer,
            &pa,
            &r.candidates[0].tokens,
            r.forward_passes,
            now_ms() - t0,
        ));
    }
    Ok(rows)
}

#[component]
pub fn Compare(lang: RwSignal<Lang>, main_ready: Signal<bool>, initial: String) -> impl IntoView {
    let load = RwSignal::new(ArLoad::Loading { got: 0, total: None });
    let task = RwSignal::new(Task::Prev);
    let text = RwSignal::new(initial);
    let rows = RwSignal::new(None::<Vec<Row>>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Opening the view is what downloads the twin (once per page).
    if AR.with(|e| e.borrow().is_some()) {
        let b = AR.with(|e| e.borrow().as_ref().map(|e| e.backend.clone())).unwrap();
        load.set(ArLoad::Ready(b));
    } else {
        spawn_local(async move {
            let progress = move |got, total| load.set(ArLoad::Loading { got, total });
            // The twin's beam ranks on the CPU fast path (`Engine::rank`), whichever
            // backend is open: no GPU device for it.
            match load_engine(AR_DIR, crate::state::Choice::Cpu, &progress).await {
                Ok((e, _)) if !e.weights.config.causal => {
                    load.set(ArLoad::Failed(format!("{AR_DIR} holds a diffusion model, not an autoregressive one")))
                }
                Ok((e, _)) => {
                    let b = e.backend.clone();
                    AR.with(|s| *s.borrow_mut() = Some(e));
                    load.set(ArLoad::Ready(b));
                }
                Err(e) => load.set(ArLoad::Failed(e)),
            }
        });
    }

    let ready = move || main_ready.get() && matches!(load.get(), ArLoad::Ready(_));
    let go = move || {
        if busy.get_untracked() || !ready() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match run(task.get_untracked(), text.get_untracked()).await {
                Ok(r) => rows.set(Some(r)),
                // The previous answers belong to another line: not left under the error.
                Err(e) => {
                    rows.set(None);
                    error.set(Some(e))
                }
            }
            busy.set(false);
        });
    };

    view! {
        <section id="compare" class="compare"
            data-state=move || match load.get() { ArLoad::Loading { .. } => "loading", ArLoad::Ready(_) => "ready", ArLoad::Failed(_) => "failed" }>
            <h2>{move || t(lang.get(), Msg::CmpTitle)}</h2>
            <p class="meta">{move || t(lang.get(), Msg::CmpExplain)}</p>
            <p class="status">{move || match load.get() {
                ArLoad::Loading { got, total } => format!("{} {:.1} / {} MB", t(lang.get(), Msg::CmpLoading), got as f64 / 1e6,
                    total.map(|t| format!("{:.1}", t as f64 / 1e6)).unwrap_or("?".into())),
                ArLoad::Ready(BackendInfo::WebGpu(_)) => format!("{} · WebGPU", t(lang.get(), Msg::CmpReady)),
                ArLoad::Ready(BackendInfo::Cpu(_)) => format!("{} · CPU", t(lang.get(), Msg::CmpReady)),
                ArLoad::Failed(e) => format!("{} {e}", t(lang.get(), Msg::LoadFailed)),
            }}</p>
            <div class="row">
                <select id="cmp-task" aria-label="direction" on:change=move |ev| task.set(Task::from_key(&event_target_value(&ev)).unwrap_or(Task::Prev))>
                    {[Task::Prev, Task::Next].into_iter().map(|tk| view! {
                        <option value=tk.key() selected=move || task.get() == tk>{move || task_label(lang.get(), tk)}</option>
                    }).collect_view()}
                </select>
                <input id="cmp-text" type="text" prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))
                    on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Enter" { go() } />
                <button id="cmp-run" class="primary" disabled=move || busy.get() || !ready() on:click=move |_| go()>
                    {move || if busy.get() { t(lang.get(), Msg::Generating) } else { t(lang.get(), Msg::CmpRun) }}
                </button>
            </div>
            <p class="error" role="alert">{move || error.get()}</p>
            // The table appears with the first comparison: a header over no rows reads as broken.
            <Show when=move || rows.with(Option::is_some)>
            <div class="cmp-scroll"><table class="cmp-table">
                <thead><tr>
                    <th>{move || t(lang.get(), Msg::CmpModel)}</th>
                    <th>{move || t(lang.get(), Msg::CmpAnswer)}</th>
                    <th>{move || t(lang.get(), Msg::CmpPasses)}</th>
                    <th>{move || t(lang.get(), Msg::CmpMs)}</th>
                </tr></thead>
                <tbody>
                    {move || rows.get().unwrap_or_default().into_iter().map(|r| view! {
                        <tr id=r.id data-answer=r.answer.clone() data-passes=r.passes.to_string()>
                            <td>{move || if r.id == "cmp-beam" { format!("{} {BEAM_WIDTH}", t(lang.get(), r.label)) } else { t(lang.get(), r.label).to_string() }}</td>
                            <td class="poem" title=r.text.clone()>{r.answer.clone()}</td>
                            <td>{r.passes}</td>
                            <td>{format!("{:.0}", r.ms)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table></div>
            </Show>
            <EvalChart lang=lang />
        </section>
    }
}
