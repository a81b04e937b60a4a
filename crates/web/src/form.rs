//! The page's form: task tabs, the text with its form and verse options, the
//! buttons, inline errors and progress, the metre of what is typed, examples, and
//! the sampler settings. Everything edits the one `Request` in [`Page::form`].

use leptos::prelude::*;
use unmask::prosody::Pattern;
use unmask::tasks::PoemForm;

use crate::i18n::{link_rejected, link_unused, t, task_hint, task_label, text_set_aside, Msg};
use crate::page::{Page, CANDIDATES};
use crate::shared::ENGINE;
use crate::state::{bounds, Request, Task};

const EXAMPLES: [(Task, &str, &str); 9] = [
    (Task::Next, "床前明月光", "李白《静夜思》"),
    (Task::Prev, "疑是地上霜", "李白《静夜思》"),
    (Task::Next, "白日依山尽", "王之涣《登鹳雀楼》"),
    (Task::Prev, "处处闻啼鸟", "孟浩然《春晓》"),
    (Task::Next, "海上生明月", "张九龄《望月怀远》"),
    (Task::Infill, "举头望明_，低头思故_。", "李白《静夜思》"),
    (Task::Infill, "两个黄鹂鸣翠柳，一行白鹭上青_。", "杜甫《绝句》"),
    (Task::Poem, "春夏秋冬", "藏头诗 · acrostic"),
    (Task::Pair, "明月松间照", "对对子 · couplet"),
];

/// A read of one field of the form (re-runs only when that field changes).
fn field<T: Clone + PartialEq + Send + Sync + 'static>(
    form: RwSignal<Request>,
    f: impl Fn(&Request) -> T + Send + Sync + 'static,
) -> Memo<T> {
    Memo::new(move |_| form.with(&f))
}

/// The task tabs (WAI-ARIA tabs: arrow keys, Home, End) and the compare toggle.
#[component]
pub fn Tabs(p: Page) -> impl IntoView {
    let task = field(p.form, |r| r.task);
    let select = move |tk: Task| {
        let mut r = p.form.get_untracked();
        let from = r.task;
        r.task = tk;
        if !r.text_fits() {
            // Not what this task takes: set aside for the task it was written for.
            p.set_aside.set(Some((from, std::mem::take(&mut r.text))));
        } else if r.text.trim().is_empty() {
            if let Some((_, text)) = p.set_aside.get_untracked().filter(|(t, _)| *t == tk) {
                r.text = text;
                p.set_aside.set(None);
            }
        }
        p.form.set(r);
        p.error.set(None);
    };
    view! {
        <nav class="tabs" role="tablist">
            {Task::ALL.into_iter().map(|tk| view! {
                <button role="tab" id=format!("tab-{}", tk.key()) class=("active", move || task.get() == tk && !p.show_compare.get())
                    tabindex=move || if task.get() == tk { "0" } else { "-1" }
                    on:keydown=move |ev: web_sys::KeyboardEvent| {
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
                        select(Task::ALL[to]);
                        focus(&format!("tab-{}", Task::ALL[to].key()));
                    }
                    aria-selected=move || (task.get() == tk && !p.show_compare.get()).to_string()
                    on:click=move |_| {
                        select(tk);
                        if p.show_compare.get_untracked() { p.show_compare.set(false); p.write_url(); }
                    }>
                    {move || task_label(p.lang.get(), tk)}
                </button>
            }).collect_view()}
            <button id="compare-tab" class="compare-tab" class=("active", move || p.show_compare.get())
                aria-pressed=move || p.show_compare.get().to_string()
                on:click=move |_| { p.show_compare.update(|s| *s = !*s); p.write_url(); }>
                {move || t(p.lang.get(), Msg::Compare)}
            </button>
        </nav>
    }
}

/// The text, its form and verse options, Generate and Candidates, errors, progress,
/// the metre of the typed text, and the examples.
#[component]
pub fn Input(p: Page) -> impl IntoView {
    let lang = p.lang;
    let task = field(p.form, |r| r.task);
    let text = field(p.form, |r| r.text.clone());
    let form = field(p.form, |r| r.form);
    let metre = field(p.form, |r| r.metre);
    let rhyme = field(p.form, |r| r.rhyme.clone());
    let pattern = field(p.form, |r| r.pattern.clone());
    let can_run = move || !p.busy() && p.ready();
    view! {
        <section class="input" class=("hidden", move || p.show_compare.get())>
            <label for="text">{move || task_hint(lang.get(), task.get())}</label>
            <div class="row">
                <textarea id="text" rows="2" maxlength=unmask::tasks::MAX_INPUT_CHARS.to_string() prop:value=move || text.get()
                    class=("invalid", move || p.error.get().is_some())
                    on:input=move |ev| p.form.update(|r| r.text = event_target_value(&ev))
                    on:keydown=move |ev: web_sys::KeyboardEvent| { if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key() || !ev.shift_key()) { ev.prevent_default(); p.generate(1); } }
                ></textarea>
                <Show when=move || task.get() == Task::Poem>
                    <select id="form" aria-label="form" on:change=move |ev| { if let Ok(f) = event_target_value(&ev).parse() { p.form.update(|r| r.form = f) } }>
                        {PoemForm::ALL.into_iter().map(|f| view! { <option value=f.key() selected=move || form.get() == f>{f.name()}</option> }).collect_view()}
                    </select>
                </Show>
                <button id="generate" class="primary" disabled=move || !can_run() on:click=move |_| p.generate(1)>
                    {move || if p.busy() { t(lang.get(), Msg::Generating) } else { t(lang.get(), Msg::Generate) }}
                </button>
                <button id="candidates-btn" title=move || t(lang.get(), Msg::CandidatesHint)
                    disabled=move || !can_run() on:click=move |_| p.generate(CANDIDATES)>
                    {move || format!("{} ×{CANDIDATES}", t(lang.get(), Msg::Candidates))}
                </button>
            </div>
            {move || {
                let bad = p.link_bad.get();
                let r = p.form.get();
                let ignored = r.ignored();
                let unused: Vec<&str> = p.link_unused.get().into_iter().filter(|k| ignored.contains(k)).collect();
                (!bad.is_empty() || !unused.is_empty()).then(|| view! {
                    <p id="link-note" class="note" role="status">
                        {(!bad.is_empty()).then(|| link_rejected(lang.get(), &bad))}
                        {(!bad.is_empty() && !unused.is_empty()).then_some(" ")}
                        {(!unused.is_empty()).then(|| link_unused(lang.get(), &r, &unused))}
                        <button class="dismiss" aria-label=move || t(lang.get(), Msg::Dismiss)
                            on:click=move |_| { p.link_bad.set(Vec::new()); p.link_unused.set(Vec::new()); }>"×"</button>
                    </p>
                })
            }}
            {move || p.set_aside.get().filter(|(from, _)| *from != task.get()).map(|(from, text)| view! {
                <p id="text-note" class="note" role="status">{text_set_aside(lang.get(), &text, from, task.get())}</p>
            })}
            <Show when=move || task.get() == Task::Poem>
                <div class="verse-opts">
                    <label><input id="metre-on" type="checkbox" prop:checked=move || metre.get()
                        on:change=move |ev| p.form.update(|r| r.metre = event_target_checked(&ev)) />
                        {move || t(lang.get(), Msg::MetreOn)}</label>
                    <label class=("hidden", move || !metre.get())>{move || t(lang.get(), Msg::PatternField)}
                        <select id="pattern" on:change=move |ev| p.form.update(|r| r.pattern = event_target_value(&ev))>
                            <option value="" selected=move || pattern.get().is_empty()>{move || t(lang.get(), Msg::PatternAuto)}</option>
                            {Pattern::ALL.into_iter().map(|pat| view! {
                                <option value=pat.key() selected=move || pattern.get() == pat.key()>{pat.name()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label class=("hidden", move || !metre.get())>{move || t(lang.get(), Msg::RhymeField)}
                        <input id="rhyme" type="text" size="6" maxlength=unmask::request::MAX_RHYME_CHARS.to_string()
                            prop:value=move || rhyme.get() on:change=move |ev| p.form.update(|r| r.rhyme = event_target_value(&ev).trim().to_string()) />
                    </label>
                </div>
            </Show>
            <p id="error" class="error" role="alert">{move || p.error.get()}</p>
            <TypedMetre p=p text=text />
            <Show when=move || p.busy()>
                <p id="busy" class="progress" role="status">
                    <progress></progress>
                    " "{move || format!("{} {:.1} s", t(lang.get(), Msg::Generating), p.elapsed.get())}
                    {move || p.cpu_progress.get().map(|(s, n)| format!(" · CPU {s}/{n}"))}
                </p>
            </Show>
            <Examples p=p />
        </section>
    }
}

/// Famous lines one click away: a click fills the form and generates.
#[component]
fn Examples(p: Page) -> impl IntoView {
    let lang = p.lang;
    let set_example = move |(tk, txt, _): (Task, &'static str, &'static str)| {
        p.form.update(|r| {
            r.task = tk;
            r.text = txt.to_string();
            if tk == Task::Poem {
                r.form = PoemForm::QiJue;
            }
        });
        p.error.set(None);
    };
    view! {
        <div class="examples">
            <span>{move || t(lang.get(), Msg::Examples)}</span>
            {EXAMPLES.into_iter().map(|ex| view! {
                <button class="example" title=ex.2 on:click=move |_| { set_example(ex); p.generate(1); }>
                    {format!("{} · {}", ex.0.symbol(), ex.1)}
                </button>
            }).collect_view()}
        </div>
    }
}

/// The metre checker on what is typed, once it has the shape of a 绝句, 律诗 or couplet
/// and no blanks: a template's blanks have no tone, so `_____，_____。…` would "follow
/// the rules" — its result is checked once filled.
#[component]
fn TypedMetre(p: Page, text: Memo<String>) -> impl IntoView {
    move || {
        let txt = text.get();
        let l = p.lang.get();
        p.ready(); // the checker's data arrives with the model
        if unmask::tokenizer::has_blank(&txt) {
            return None;
        }
        ENGINE
            .with(|e| {
                e.borrow().as_ref().and_then(|e| {
                    let pr = e.prosody.as_ref()?;
                    let r = unmask::prosody::check_task(pr, &e.tokenizer, &txt, p.form.with(|f| f.task));
                    (r.form.is_some() || r.couplet).then_some(r)
                })
            })
            .map(|r| {
                view! {
                    <div id="typed-metre" class="typed-metre" aria-label=t(l, Msg::TypedMetre)>
                        <p class="poem metred">{crate::result::metre_rows(l, &r)}</p>
                        {crate::result::metre_summary(l, &r)}
                    </div>
                }
            })
    }
}

/// The sampler settings; a number field shows the value actually used after a change.
#[component]
pub fn Settings(p: Page) -> impl IntoView {
    let lang = p.lang;
    let params = field(p.form, |r| r.params.clone());
    let number = move |ev: &leptos::ev::Event| event_target_value(ev).trim().to_string();
    view! {
        <details class="settings" class=("hidden", move || p.show_compare.get())>
            <summary>{move || t(lang.get(), Msg::Settings)}</summary>
            <label>{move || t(lang.get(), Msg::Steps)}
                <input id="steps" type="number" min=bounds::STEPS.start().to_string() max=bounds::STEPS.end().to_string() prop:value=move || params.get().steps.to_string()
                    on:change=move |ev| {
                        if let Ok(v) = number(&ev).parse::<i64>() { p.form.update(|r| r.params.steps = v.clamp(*bounds::STEPS.start() as i64, *bounds::STEPS.end() as i64) as usize) }
                        show_used(&ev, params.get_untracked().steps.to_string());
                    } />
            </label>
            <label>{move || t(lang.get(), Msg::Block)}
                <input id="block" type="number" min=bounds::BLOCK_LENGTH.start().to_string() max=bounds::BLOCK_LENGTH.end().to_string() prop:value=move || params.get().block_length.to_string()
                    on:change=move |ev| {
                        if let Ok(v) = number(&ev).parse::<i64>() { p.form.update(|r| r.params.block_length = v.clamp(*bounds::BLOCK_LENGTH.start() as i64, *bounds::BLOCK_LENGTH.end() as i64) as usize) }
                        show_used(&ev, params.get_untracked().block_length.to_string());
                    } />
            </label>
            <label>{move || t(lang.get(), Msg::Remasking)}
                <select on:change=move |ev| p.form.update(|r| r.params.remasking = event_target_value(&ev).parse().unwrap_or_default())>
                    <option value="low_confidence" selected=move || params.get().remasking == unmask::sampler::Remasking::LowConfidence>{move || t(lang.get(), Msg::LowConfidence)}</option>
                    <option value="random" selected=move || params.get().remasking == unmask::sampler::Remasking::Random>{move || t(lang.get(), Msg::Random)}</option>
                </select>
            </label>
            <label>{move || t(lang.get(), Msg::Temperature)}
                <input type="number" min="0" max="5" step="0.1" prop:value=move || params.get().temperature.to_string()
                    on:change=move |ev| {
                        if let Ok(v) = number(&ev).parse::<f32>() { if v.is_finite() { p.form.update(|r| r.params.temperature = v.clamp(*bounds::TEMPERATURE.start(), *bounds::TEMPERATURE.end())) } }
                        show_used(&ev, params.get_untracked().temperature.to_string());
                    } />
            </label>
            <label>{move || t(lang.get(), Msg::Threshold)}
                <input type="number" min="0" max="1" step="0.05" placeholder="off" prop:value=move || params.get().threshold.map(|v| v.to_string()).unwrap_or_default()
                    on:change=move |ev| p.form.update(|r| r.params.threshold = event_target_value(&ev).parse::<f32>().ok().filter(|&v| bounds::threshold_ok(v))) />
            </label>
            <label>{move || t(lang.get(), Msg::Seed)}
                <input type="number" min="0" prop:value=move || params.get().seed.to_string()
                    on:change=move |ev| {
                        if let Ok(v) = number(&ev).parse::<u32>() { p.form.update(|r| r.params.seed = v) }
                        show_used(&ev, params.get_untracked().seed.to_string());
                    } />
            </label>
        </details>
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
