//! What a generation shows: the candidates view, the result (every character a
//! button for editing by remasking, with its tone under it), the plan and metre
//! verdict, undo/redo, copy and share, and the step-by-step denoising view.

use leptos::prelude::*;

use crate::i18n::{t, Lang, Msg};
use crate::page::Page;
use crate::state::Cell;

/// Several samples of one request side by side, best score first; any one can be
/// kept for editing.
#[component]
pub fn Candidates(p: Page) -> impl IntoView {
    let Page { lang, candidates, outcome, show_compare, .. } = p;
    view! {
        <Show when=move || !candidates.get().is_empty() && !show_compare.get()>
            <section id="candidates" class="candidates" aria-label=move || t(lang.get(), Msg::Candidates)>
                <h2>{move || t(lang.get(), Msg::Candidates)}</h2>
                <p class="hint">{move || t(lang.get(), Msg::CandidatesExplain)}</p>
                <div class="cards">
                    {move || candidates.get().into_iter().enumerate().map(|(i, o)| {
                        let chosen = o.text.clone();
                        let verdict = o.metre.as_ref().filter(|r| r.form.is_some() || r.couplet).map(|r| r.violations);
                        let pick = o.clone();
                        view! {
                            <div class="candidate" data-score=format!("{:.3}", o.score) class=("current", move || outcome.get().is_some_and(|x| x.text == chosen))>
                                <p class="poem">{crate::state::verse_rows(&o.text).into_iter().map(|r| view! {
                                    <span class="verse-row">{crate::state::verse_lines(r).into_iter().map(|l| view! { <span class="verse-line">{l.to_string()}</span> }).collect_view()}</span>
                                }).collect_view()}</p>
                                <p class="meta">{move || {
                                    let l = lang.get();
                                    let v = match verdict { Some(0) => format!(" · {}", t(l, Msg::MetreOk)), Some(n) => format!(" · {n} ✗"), None => String::new() };
                                    format!("#{} · {} {:.2}{v}", i + 1, t(l, Msg::Score), o.score)
                                }}</p>
                                <button class="use" on:click=move |_| p.show(pick.clone())>{move || t(lang.get(), Msg::UseThis)}</button>
                            </div>
                        }
                    }).collect_view()}
                </div>
            </section>
        </Show>
    }
}

/// The result, its verse verdict, editing by remasking, and the denoising view.
#[component]
pub fn ResultView(p: Page) -> impl IntoView {
    let Page { lang, outcome, marked, history, copied, show_compare, .. } = p;
    let copy_text = move |s: String| {
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&s);
            copied.set(true);
        }
    };
    view! {
        <Show when=move || outcome.get().is_some() && !show_compare.get()>
        <section id="result" class="result"
            data-answer=move || outcome.get().map(|o| o.answer).unwrap_or_default()
            data-steps=move || outcome.get().map(|o| o.steps.to_string()).unwrap_or_default()
            data-frames=move || outcome.get().map(|o| o.frames.len().to_string()).unwrap_or_default()
            data-ms=move || outcome.get().map(|o| format!("{:.1}", o.ms)).unwrap_or_default()
            data-gpu=move || outcome.get().map(|o| o.on_gpu.to_string()).unwrap_or_default()
        >
            <h2>{move || t(lang.get(), Msg::Result)}</h2>
            // Each character is a button: marking it (click, tap, Enter/Space) queues it
            // for regeneration with the rest pinned.
            // Under each character its tone (平 仄 中), red where it breaks the
            // pattern or the rhyme (the metre checker, `unmask::prosody`).
            <p id="output" class="poem" class=("metred", move || outcome.get().is_some_and(|o| o.metre.is_some()))>{move || outcome.get().map(|o| {
                let mut at = 0usize;
                let marks: Vec<unmask::prosody::Mark> =
                    o.metre.iter().flat_map(|r| r.lines.iter().flat_map(|l| l.marks.clone())).collect();
                let mut k = 0usize;
                // A row is a couplet; its lines never break inside (a 七言 couplet is
                // wider than a phone: it wraps between its lines).
                crate::state::verse_rows(&o.text).into_iter().map(|r| {
                    let lines: Vec<Vec<(usize, char)>> = crate::state::verse_lines(r)
                        .into_iter()
                        .map(|l| l.chars().map(|c| { at += 1; (at - 1, c) }).collect())
                        .collect();
                    view! { <span class="verse-row">{lines.into_iter().map(|chars| view! { <span class="verse-line">{chars.into_iter().map(|(i, c)| {
                        if unmask::tasks::LINE_END.contains(&c) {
                            view! { <span class="punct">{c.to_string()}</span> }.into_any()
                        } else {
                            // The tone is drawn by CSS from data-tone, so the text stays the poem.
                            let mark = marks.get(k).filter(|m| m.ch == c).cloned();
                            k += 1;
                            let (tone, bad, rhyme, why) = match &mark {
                                Some(m) => (Some(m.tone.mark().to_string()), !m.ok, m.rhyme, m.why.as_ref().map(|w| crate::i18n::why(lang.get(), w))),
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
                    }).collect_view()}</span> }).collect_view()}</span> }
                }).collect_view()
            })}</p>
            {move || outcome.get().and_then(|o| o.plan).map(|p| plan_line(lang.get(), &p))}
            {move || outcome.get().and_then(|o| o.metre).map(|r| metre_summary(lang.get(), &r))}
            <div class="edit">
                <span class="hint">{move || t(lang.get(), Msg::RemaskHint)}</span>
                <button id="remask" class="primary" disabled=move || marked.get().is_empty() || p.busy() on:click=move |_| p.remask()>
                    {move || format!("{} ({})", t(lang.get(), Msg::Remask), marked.get().len())}
                </button>
                <button id="undo" disabled=move || !history.with(|h| h.can_undo()) || p.busy() on:click=move |_| p.step_history(true)>{move || t(lang.get(), Msg::Undo)}</button>
                <button id="redo" disabled=move || !history.with(|h| h.can_redo()) || p.busy() on:click=move |_| p.step_history(false)>{move || t(lang.get(), Msg::Redo)}</button>
            </div>
            <p class="meta">{move || outcome.get().map(|o| crate::i18n::run_meta(lang.get(), o.steps, o.ms, o.on_gpu))}</p>
            <div class="actions">
                <button id="copy" on:click=move |_| if let Some(o) = outcome.get_untracked() { copy_text(o.text) }>
                    {move || if copied.get() { t(lang.get(), Msg::Copied) } else { t(lang.get(), Msg::Copy) }}
                </button>
                <button id="share" on:click=move |_| {
                    let href = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
                    copy_text(href);
                }>{move || t(lang.get(), Msg::Share)}</button>
            </div>
            <Denoising p=p />
        </section>
        </Show>
    }
}

/// The denoising view: every step's characters coloured by the confidence each had
/// when it was unmasked, a slider through the steps and a replay button.
#[component]
fn Denoising(p: Page) -> impl IntoView {
    let Page { lang, outcome, shown, replay_id, .. } = p;
    view! {
        <h3>{move || t(lang.get(), Msg::Denoising)}</h3>
        // Rendered as markup: each step replaces the whole row, so no cell keeps
        // a class from an earlier frame.
        <div id="frame" class="frame" data-step=move || shown.get().to_string()
            inner_html=move || outcome.get().and_then(|o| o.frames.get(shown.get()).cloned()).map(|f| frame_html(&f)).unwrap_or_default()>
        </div>
        <div class="scrub">
            <label>{move || t(lang.get(), Msg::Step)}
                <input id="scrub" type="range" min="0" max=move || outcome.get().map(|o| o.frames.len().saturating_sub(1)).unwrap_or(0).to_string()
                    prop:value=move || shown.get().to_string()
                    on:input=move |ev| { replay_id.update(|i| *i += 1); shown.set(event_target_value(&ev).parse().unwrap_or(0)) } />
            </label>
            <span class="stepno">{move || format!("{}/{}", shown.get() + 1, outcome.get().map(|o| o.frames.len()).unwrap_or(0))}</span>
            <button id="replay" on:click=move |_| p.replay()>{move || t(lang.get(), Msg::Replay)}</button>
        </div>
        <p class="legend">{move || t(lang.get(), Msg::ConfidenceLegend)}</p>
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

/// The cells of one denoising step as markup, a row per sentence as the result
/// prints it (a 律诗 steps as four couplets, not a strip that wraps anywhere).
fn frame_html(cells: &[Cell]) -> String {
    let mut html = String::new();
    for (i, c) in cells.iter().enumerate() {
        let title = c.confidence.map(|p| format!(" title=\"p = {p:.2}\"")).unwrap_or_default();
        let text = if c.masked { "＿".to_string() } else { escape(&c.text) };
        html.push_str(&format!("<span class=\"{}\"{title}>{text}</span>", cell_class(c)));
        let mut chars = c.text.chars();
        let row_end = matches!((chars.next(), chars.next()), (Some(ch), None) if crate::state::ends_row(ch));
        if !c.masked && row_end && i + 1 < cells.len() {
            html.push_str("<span class=\"row-break\"></span>");
        }
    }
    html
}

/// The metre checker's verdict under a result: form, pattern and rhyme group, and
/// what breaks the rules (`#metre`, with the count in `data-violations`).
pub(crate) fn metre_summary(lang: Lang, r: &unmask::prosody::Report) -> impl IntoView {
    let shaped = r.form.is_some() || r.couplet;
    let head: Vec<String> = [
        r.form.map(|f| f.name().to_string()),
        r.couplet.then(|| t(lang, Msg::Couplet).to_string()),
        r.pattern.clone(),
        r.rhyme_group.as_ref().map(|g| format!("{} {g}", t(lang, Msg::Rhyme))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let verdict = match (shaped, r.violations, lang) {
        (false, ..) => t(lang, Msg::MetreNone).to_string(),
        (true, 0, _) => t(lang, Msg::MetreOk).to_string(),
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
                    Lang::Zh => format!("第 {} 句「{}」：{}", li + 1, m.ch, crate::i18n::why(lang, w)),
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
        "given" => t(lang, Msg::RhymeGiven),
        "pinned" => t(lang, Msg::RhymePinned),
        _ => t(lang, Msg::RhymeModel),
    };
    let (open, close) = if lang == Lang::Zh { ("（", "）") } else { (" (", ")") };
    let group = p
        .rhyme_group
        .as_ref()
        .map(|g| format!(" · {} {g}{open}{from}{close}", t(lang, Msg::Rhyme)))
        .unwrap_or_default();
    view! {
        <div id="plan" class="plan" data-pattern=p.pattern.clone() data-group=p.rhyme_group.clone().unwrap_or_default()>
            {format!("{}{}{}{group}", t(lang, Msg::Plan), if lang == Lang::Zh { "：" } else { ": " }, p.pattern)}
            <ul>{p.conflicts.iter().map(|c| view! { <li class="conflict">{crate::i18n::conflict(lang, c)}</li> }).collect_view()}</ul>
        </div>
    }
}

/// A checked text line by line, each character with its tone under it (as the
/// result shows it, without the editing buttons).
pub(crate) fn metre_rows(lang: Lang, r: &unmask::prosody::Report) -> impl IntoView {
    r.lines
        .iter()
        .map(|l| {
            view! {
                <span class="verse-row">
                    {l.marks.iter().map(|m| view! {
                        <span class="ch" class=("tone-bad", !m.ok) class=("tone-rhyme", m.rhyme)
                            data-tone=m.tone.mark().to_string() title=m.why.as_ref().map(|w| crate::i18n::why(lang, w))>{m.ch.to_string()}</span>
                    }).collect_view()}
                    <span class="punct">{l.end.clone()}</span>
                </span>
            }
        })
        .collect_view()
}
