//! The compare view's chart: forward and reversal recall over the whole couplet set
//! for the diffusion model and its autoregressive twin, as inline SVG, from the
//! reports `unmask eval --json-out` writes next to each model (`model/eval.json`,
//! `model-ar/eval.json`). The legend is HTML, so it wraps at phone width.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;

use crate::engine::fetch_fresh_json;
use crate::i18n::{t, Lang, Msg};
use crate::shared::AR_DIR;

/// What the chart reads from an eval report.
#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Report {
    n: usize,
    tasks: Vec<ReportTask>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct ReportTask {
    key: String,
    accuracy: f64,
}

/// One bar: which model and task (kept in data attributes for tests), its value, and
/// its legend entry.
#[derive(Clone, Debug, PartialEq)]
struct Bar {
    model: &'static str,
    task: String,
    value: f64,
    class: &'static str,
}

async fn load(dir: &str) -> Result<Report, String> {
    let url = format!("{dir}eval.json");
    let v = fetch_fresh_json(&url).await?;
    serde_json::from_value(v).map_err(|e| format!("{url}: {e}"))
}

/// Bars of one model: forward, reversal, and each beam-ranked reversal.
fn bars(model: &'static str, r: &Report) -> Vec<Bar> {
    r.tasks
        .iter()
        .filter_map(|tk| {
            let class = match tk.key.as_str() {
                "forward" => "bar-forward",
                "reversal" => "bar-reversal",
                k if k.starts_with("reversal_beam") => "bar-beam",
                _ => return None,
            };
            Some(Bar { model, task: tk.key.clone(), value: tk.accuracy, class })
        })
        .collect()
}

// Plot geometry in viewBox units (the SVG scales to the view's width).
const W: f64 = 360.0;
const LEFT: f64 = 34.0;
const TOP: f64 = 18.0;
const HEIGHT: f64 = 150.0;

/// Lowest bar drawn, so a 0% bar still shows its colour on the axis.
const MIN_BAR: f64 = 1.5;

fn y(v: f64) -> f64 {
    TOP + HEIGHT * (1.0 - v.clamp(0.0, 1.0))
}

/// Top of a bar: its value, or the stub of an (almost) empty one.
fn bar_top(v: f64) -> f64 {
    y(v).min(TOP + HEIGHT - MIN_BAR)
}

#[component]
pub fn EvalChart(lang: RwSignal<Lang>) -> impl IntoView {
    let data = RwSignal::new(None::<Result<(Report, Report), String>>);
    spawn_local(async move {
        let r = match (load("model/").await, load(AR_DIR).await) {
            (Ok(d), Ok(a)) => Ok((d, a)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        data.set(Some(r));
    });
    let state = move || match data.get() {
        None => "loading",
        Some(Ok(_)) => "ready",
        Some(Err(_)) => "failed",
    };
    let chart = move || {
        let l = lang.get();
        match data.get() {
            None => view! { <p class="meta">{t(l, Msg::ChartLoading)}</p> }.into_any(),
            Some(Err(e)) => view! { <p class="meta">{format!("{} {e}", t(l, Msg::ChartFailed))}</p> }.into_any(),
            Some(Ok((d, a))) => {
                let groups = [
                    ("diffusion", t(l, Msg::ChartDiffusion), bars("diffusion", &d)),
                    ("autoregressive", t(l, Msg::ChartAr), bars("autoregressive", &a)),
                ];
                let slot = (W - LEFT) / groups.len() as f64;
                let mut rects = Vec::new();
                let mut labels = Vec::new();
                for (g, (_, name, bs)) in groups.iter().enumerate() {
                    let x0 = LEFT + g as f64 * slot;
                    let bw = (slot * 0.8 / bs.len().max(1) as f64).min(44.0);
                    let start = x0 + (slot - bw * bs.len() as f64) / 2.0;
                    for (i, b) in bs.iter().enumerate() {
                        let x = start + i as f64 * bw;
                        let pct = format!("{:.1}", b.value * 100.0);
                        rects.push(view! {
                            <rect class=format!("bar {}", b.class) data-model=b.model data-task=b.task.clone() data-value=b.value.to_string()
                                x=format!("{:.1}", x + 2.0) y=format!("{:.1}", bar_top(b.value)) width=format!("{:.1}", bw - 4.0)
                                height=format!("{:.1}", TOP + HEIGHT - bar_top(b.value))>
                                <title>{format!("{name}: {} {pct}%", b.task)}</title>
                            </rect>
                            <text class="bar-value" x=format!("{:.1}", x + bw / 2.0) y=format!("{:.1}", bar_top(b.value) - 3.0) text-anchor="middle">{pct}</text>
                        });
                    }
                    labels.push(view! {
                        <text class="group-label" x=format!("{:.1}", x0 + slot / 2.0) y=format!("{:.1}", TOP + HEIGHT + 16.0) text-anchor="middle">{*name}</text>
                    });
                }
                let beams: Vec<String> =
                    a.tasks.iter().filter_map(|tk| tk.key.strip_prefix("reversal_beam").map(str::to_string)).collect();
                let grid = [0.0, 0.5, 1.0].map(|v| view! {
                    <line class="grid" x1=LEFT.to_string() x2=W.to_string() y1=y(v).to_string() y2=y(v).to_string() />
                    <text class="axis" x=(LEFT - 4.0).to_string() y=(y(v) + 4.0).to_string() text-anchor="end">{format!("{:.0}%", v * 100.0)}</text>
                });
                view! {
                    <svg class="eval-chart" viewBox=format!("0 0 {W} {}", TOP + HEIGHT + 24.0) role="img"
                        aria-label=format!("{} ({} {})", t(l, Msg::ChartTitle), d.n, t(l, Msg::ChartPairs))>
                        {grid.into_iter().collect_view()}
                        {rects}
                        {labels}
                    </svg>
                    <ul class="chart-legend">
                        <li><span class="swatch bar-forward"></span>{t(l, Msg::ChartForward)}</li>
                        <li><span class="swatch bar-reversal"></span>{t(l, Msg::ChartReversal)}</li>
                        {(!beams.is_empty()).then(|| view! {
                            <li><span class="swatch bar-beam"></span>{format!("{} {}", t(l, Msg::ChartBeam), beams.join(", "))}</li>
                        })}
                    </ul>
                    <p class="meta">{format!("{} · {} {} · {}", t(l, Msg::ChartTitle), d.n, t(l, Msg::ChartPairs), t(l, Msg::ChartNote))}</p>
                }
                .into_any()
            }
        }
    };
    view! { <figure id="eval-chart" data-state=state>{chart}</figure> }
}
