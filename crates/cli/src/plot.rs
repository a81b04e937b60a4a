//! `unmask plot`: the README's charts as SVG, drawn from the lineage file
//! (`docs/charts/lineage.json`: every run from the autoregressive twin to the newest
//! campaign segment, with its trainer log where one was kept) and the JSON reports
//! `unmask eval --json-out` writes. A new model's numbers become new pictures by
//! adding its run and eval to the lineage file and running this command again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Deserialize;
use unmask::progress::Progress;

#[derive(Args)]
pub struct PlotArgs {
    /// The lineage file; the paths inside it are relative to the current directory.
    #[arg(long, default_value = "docs/charts/lineage.json")]
    lineage: PathBuf,
    /// Where the SVGs go.
    #[arg(long, default_value = "docs/charts")]
    out: PathBuf,
}

/// Largest lineage, log or eval file read (they are a few kB to a few hundred kB).
const MAX_INPUT_BYTES: u64 = 64 << 20;

#[derive(Deserialize)]
struct Lineage {
    runs: Vec<Run>,
    recall: Vec<RecallPoint>,
    reversal: ReversalChart,
    /// Eval reports of one model exported at several precisions.
    sizes: Vec<PathBuf>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Objective {
    NextToken,
    Masked,
}

#[derive(Deserialize)]
struct Run {
    name: String,
    objective: Objective,
    /// Training steps and tokens per step (batch × window); or `tokens` alone for a
    /// run whose step count is not the point.
    steps: Option<u64>,
    tokens_per_step: Option<u64>,
    tokens: Option<u64>,
    /// The trainer's log.csv (step, loss, lr, tokens_per_s, elapsed_s, heldout_loss).
    log: Option<PathBuf>,
    /// Held-out losses at steps, where the log was not kept but the numbers were.
    #[serde(default)]
    heldout_at: Vec<(u64, f64)>,
    /// Held-out loss of the finished run (1,024 windows).
    heldout: Option<f64>,
}

#[derive(Deserialize)]
struct RecallPoint {
    run: String,
    /// Checkpoint step within the run; the run's end if absent.
    step: Option<u64>,
    /// An `unmask eval --json-out` report; or the two numbers, where the checkpoint
    /// no longer exists.
    eval: Option<PathBuf>,
    forward: Option<f64>,
    reversal: Option<f64>,
}

#[derive(Deserialize)]
struct ReversalChart {
    diffusion: PathBuf,
    autoregressive: PathBuf,
    published: Vec<Published>,
}

#[derive(Deserialize)]
struct Published {
    name: String,
    forward: f64,
    reversal: f64,
}

/// What the charts read from an eval report.
#[derive(Deserialize)]
struct EvalReport {
    n: usize,
    forward: f64,
    reversal: f64,
    tasks: Vec<EvalTask>,
    #[serde(default)]
    model_bytes: u64,
    #[serde(default)]
    weights: Option<unmask::WeightFormat>,
}

#[derive(Deserialize)]
struct EvalTask {
    key: String,
    accuracy: f64,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = crate::engine::read_capped(path, MAX_INPUT_BYTES)?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: not the expected JSON", path.display()))
}

/// A trainer log: (step, train loss, held-out loss if measured at that step). A resumed
/// run appends the steps after its checkpoint again; the later row wins.
fn read_log(path: &Path) -> Result<Vec<(u64, f64, Option<f64>)>> {
    let text = String::from_utf8(crate::engine::read_capped(path, MAX_INPUT_BYTES)?)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let mut rows = BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let bad = || format!("{}:{}: expected step,loss,lr,tokens_per_s,elapsed_s,heldout_loss", path.display(), i + 1);
        anyhow::ensure!(f.len() == 6, bad());
        let step: u64 = f[0].parse().with_context(bad)?;
        let loss: f64 = f[1].parse().with_context(bad)?;
        let held = if f[5].is_empty() { None } else { Some(f[5].parse().with_context(bad)?) };
        rows.insert(step, (loss, held));
    }
    Ok(rows.into_iter().map(|(s, (l, h))| (s, l, h)).collect())
}

/// Where each run starts and ends, in tokens seen since the twin's first step.
struct Placed<'a> {
    run: &'a Run,
    start: f64,
    end: f64,
    per_step: f64,
    log: Vec<(u64, f64, Option<f64>)>,
}

fn place(runs: &[Run]) -> Result<Vec<Placed<'_>>> {
    let mut at = 0.0;
    let mut out = Vec::new();
    for r in runs {
        let log = r.log.as_deref().map(read_log).transpose()?.unwrap_or_default();
        let per_step = r.tokens_per_step.unwrap_or(0) as f64;
        let steps = r.steps.or(log.last().map(|l| l.0));
        let tokens = match (r.tokens, steps) {
            (Some(t), _) => t as f64,
            (None, Some(s)) if per_step > 0.0 => s as f64 * per_step,
            _ => bail!("run {}: give tokens, or steps (or a log) and tokens_per_step", r.name),
        };
        out.push(Placed { run: r, start: at, end: at + tokens, per_step, log });
        at += tokens;
    }
    Ok(out)
}

const BLUE: RGBColor = RGBColor(0x1f, 0x6f, 0xb4);
const ORANGE: RGBColor = RGBColor(0xe0, 0x7b, 0x10);
const GREEN: RGBColor = RGBColor(0x2c, 0x9a, 0x4c);
const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);
const PALETTE: [RGBColor; 6] = [GREY, RGBColor(0x7b, 0x4e, 0xa3), BLUE, GREEN, ORANGE, RGBColor(0xc0, 0x39, 0x2b)];

fn mtok(t: f64) -> f64 {
    t / 1e6
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart with two numeric axes, captioned and labelled the same way in every picture.
fn axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    caption: &str,
    (x, y): (std::ops::Range<f64>, std::ops::Range<f64>),
    (x_desc, y_desc): (&str, &str),
) -> Result<Chart<'a, 'b>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, font(18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(font(13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    Ok(chart)
}

/// The series legend, boxed, where it hides the least.
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, at: SeriesLabelPosition) -> Result<()> {
    chart
        .configure_series_labels()
        .position(at)
        .label_font(font(12))
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .draw()?;
    Ok(())
}

/// Loss against tokens seen: each run's training loss (mean of 50 steps) and its
/// held-out losses; the twin's is a next-token NLL, the diffusion runs' the LLaDA bound.
fn training(runs: &[Placed], path: &Path) -> Result<()> {
    let x_max = mtok(runs.last().map_or(1.0, |r| r.end)) * 1.02;
    let root = SVGBackend::new(path, (900, 460)).into_drawing_area();
    let mut chart = axes(
        &root,
        "Loss against tokens seen, the whole lineage",
        (0.0..x_max, 0.0..7.5),
        ("tokens seen (millions)", "nats per character"),
    )?;
    // A colour per run; the legend names each kind of series once (a legend naming every
    // run would outgrow the chart as the lineage grows).
    let mut named = std::collections::HashSet::new();
    let mut first = |label: String| named.insert(label.clone()).then_some(label);
    for (i, r) in runs.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let x = |step: u64| mtok(r.start + step as f64 * r.per_step);
        if !r.log.is_empty() {
            let smooth: Vec<(f64, f64)> = r
                .log
                .chunks(50)
                .map(|c| (x(c[c.len() / 2].0), c.iter().map(|l| l.1).sum::<f64>() / c.len() as f64))
                .collect();
            let series = chart.draw_series(LineSeries::new(smooth, color.stroke_width(2)))?;
            if let Some(label) = first("training loss, mean of 50 steps (a colour a run)".to_string()) {
                series
                    .label(label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
            }
        }
        let mut held: Vec<(f64, f64)> = r.run.heldout_at.iter().map(|&(s, l)| (x(s), l)).collect();
        held.extend(r.log.iter().filter_map(|l| l.2.map(|h| (x(l.0), h))));
        if let Some(h) = r.run.heldout {
            held.push((mtok(r.end), h));
        }
        held.sort_by(|a, b| a.0.total_cmp(&b.0));
        let label = match r.run.objective {
            Objective::NextToken => format!("{}: held-out next-token NLL", r.run.name),
            Objective::Masked => "diffusion: held-out LLaDA loss".to_string(),
        };
        let series = chart.draw_series(held.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        if let Some(label) = first(label) {
            series.label(label).legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
        }
        // Run boundaries, named at the top.
        chart.draw_series(std::iter::once(PathElement::new(
            [(mtok(r.end), 0.0), (mtok(r.end), 7.5)],
            GREY.mix(0.4).stroke_width(1),
        )))?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
    root.present()?;
    Ok(())
}

/// Forward and reversal recall at each evaluated checkpoint of the diffusion lineage,
/// with the twin's (autoregressive) result as its own markers.
fn recall(runs: &[Placed], points: &[RecallPoint], path: &Path) -> Result<()> {
    let mut diff = Vec::new();
    let mut ar = Vec::new();
    for p in points {
        let r = runs
            .iter()
            .find(|r| r.run.name == p.run)
            .with_context(|| format!("recall point names run {:?}, which the lineage does not list", p.run))?;
        let x = mtok(match p.step {
            Some(s) => r.start + s as f64 * r.per_step,
            None => r.end,
        });
        let (f, v) = match (&p.eval, p.forward, p.reversal) {
            (Some(e), None, None) => {
                let e: EvalReport = read_json(e)?;
                (e.forward, e.reversal)
            }
            (None, Some(f), Some(v)) => (f, v),
            _ => bail!("recall point of {}: give either eval or both forward and reversal", p.run),
        };
        if r.run.objective == Objective::NextToken { &mut ar } else { &mut diff }.push((x, f * 100.0, v * 100.0));
    }
    diff.sort_by(|a, b| a.0.total_cmp(&b.0));
    let x_max = mtok(runs.last().map_or(1.0, |r| r.end)) * 1.02;
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    let mut chart = axes(
        &root,
        "Famous couplets recalled (1,217 pairs, exact match) against tokens seen",
        (0.0..x_max, 0.0..105.0),
        ("tokens seen (millions)", "% recalled"),
    )?;
    for (name, color, pick) in
        [("diffusion: next line (forward)", BLUE, 1usize), ("diffusion: previous line (reversal)", ORANGE, 2)]
    {
        // Forward values above their points, reversal values below.
        let anchor = if pick == 1 { text_anchor_above() } else { text_anchor_below() };
        let pts: Vec<(f64, f64)> = diff.iter().map(|p| (p.0, if pick == 1 { p.1 } else { p.2 })).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        // Values where they can be read: a point closer than 1/30 of the axis to the last
        // labelled one goes without (the newest always has its value).
        let mut labelled: Vec<(f64, f64)> = Vec::new();
        for (k, &(x, y)) in pts.iter().enumerate().rev() {
            if k + 1 == pts.len() || labelled.last().is_none_or(|l| l.0 - x >= x_max / 30.0) {
                labelled.push((x, y));
            }
        }
        chart.draw_series(labelled.iter().map(|&(x, y)| Text::new(format!("{y:.1}"), (x, y), font(12).pos(anchor))))?;
    }
    for (name, color, pick) in
        [("autoregressive twin: next line", BLUE, 1usize), ("autoregressive twin: previous line", ORANGE, 2)]
    {
        let pts: Vec<(f64, f64)> = ar.iter().map(|p| (p.0, if pick == 1 { p.1 } else { p.2 })).collect();
        chart
            .draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 7, color.filled())))?
            .label(name)
            .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 6, color.filled()));
        chart.draw_series(
            pts.iter().map(|&(x, y)| Text::new(format!("{y:.1}"), (x, y), font(12).pos(text_anchor_above()))),
        )?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}

fn text_anchor_above() -> plotters::style::text_anchor::Pos {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    Pos::new(HPos::Center, VPos::Bottom)
}

fn text_anchor_below() -> plotters::style::text_anchor::Pos {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    Pos::new(HPos::Center, VPos::Top)
}

/// One bar of a grouped chart.
struct Bar {
    label: String,
    value: f64,
    color: RGBColor,
}

/// Groups of bars in percent, each value written above its bar.
fn bars(path: &Path, size: (u32, u32), caption: &str, groups: &[(String, Vec<Bar>)]) -> Result<()> {
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let n = groups.len();
    let names: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, font(18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(50)
        // Room above 100% for the legend.
        .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..140.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("% of couplets recalled")
        // Key points at the whole numbers, the groups' centres.
        .x_labels(n)
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 {
                names.get(x.round() as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| if *y <= 100.0 { format!("{y:.0}") } else { String::new() })
        .label_style(font(13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let mut legend: Vec<(String, RGBColor)> = Vec::new();
    for (g, (_, bars)) in groups.iter().enumerate() {
        let w = 0.8 / bars.len() as f64;
        for (i, b) in bars.iter().enumerate() {
            let x0 = g as f64 - 0.4 + i as f64 * w;
            let v = b.value * 100.0;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0 + 0.02, 0.0), (x0 + w - 0.02, v)],
                b.color.filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{v:.1}"),
                (x0 + w / 2.0, v + 1.0),
                font(12).pos(text_anchor_above()),
            )))?;
            if !legend.iter().any(|l| l.0 == b.label) {
                legend.push((b.label.clone(), b.color));
            }
        }
    }
    for (label, color) in legend {
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(font(12))
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The paper's experiment: forward and reversal for the diffusion model and its twin
/// (plain, and beam candidates ranked by the joint likelihood), with published
/// figures of LLaDA 8B and GPT-4o on the paper's own set as reference.
fn reversal(c: &ReversalChart, path: &Path) -> Result<()> {
    let d: EvalReport = read_json(&c.diffusion)?;
    let a: EvalReport = read_json(&c.autoregressive)?;
    let fwd = |v| Bar { label: "next line (forward)".into(), value: v, color: BLUE };
    let rev = |v| Bar { label: "previous line (reversal)".into(), value: v, color: ORANGE };
    let mut groups = vec![
        (format!("Unmask diffusion ({})", weights(&d)), vec![fwd(d.forward), rev(d.reversal)]),
        (format!("Unmask autoregressive ({})", weights(&a)), vec![fwd(a.forward), rev(a.reversal)]),
    ];
    let mut widths = Vec::new();
    for t in a.tasks.iter().filter(|t| t.key.starts_with("reversal_beam")) {
        widths.push(t.key.trim_start_matches("reversal_beam").to_string());
        groups[1].1.push(Bar {
            label: "previous line, beam candidates ranked by p(A)·p(B|A)".into(),
            value: t.accuracy,
            color: RGBColor(0xf5, 0xb7, 0x6e),
        });
    }
    if !widths.is_empty() {
        groups[1].0 += &format!(" · beams {}", widths.join(", "));
    }
    for p in &c.published {
        groups.push((
            format!("{} (published, own set)", p.name),
            vec![
                Bar { label: "published: forward".into(), value: p.forward, color: RGBColor(0x9e, 0xc0, 0xdf) },
                Bar { label: "published: reversal".into(), value: p.reversal, color: RGBColor(0xf3, 0xc8, 0x9c) },
            ],
        ));
    }
    let caption = format!("The reversal test: {} famous couplets, same data, same size (8.9M parameters)", d.n);
    bars(path, (980, 440), &caption, &groups)
}

fn weights(e: &EvalReport) -> String {
    e.weights.map(|w| format!("{w:?}").to_lowercase()).unwrap_or_else(|| "?".into())
}

/// Forward and reversal against file size for one model at several precisions.
fn sizes(files: &[PathBuf], path: &Path) -> Result<()> {
    let mut pts = Vec::new();
    for f in files {
        let e: EvalReport = read_json(f)?;
        anyhow::ensure!(e.model_bytes > 0, "{}: no model_bytes (re-run the eval with this version)", f.display());
        pts.push((e.model_bytes as f64 / 1e6, e.forward * 100.0, e.reversal * 100.0, weights(&e)));
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let lo = pts.iter().map(|p| p.1.min(p.2)).fold(100.0, f64::min);
    let y0 = (lo - 4.0).floor().max(0.0);
    let x_max = pts.iter().map(|p| p.0).fold(1.0, f64::max) * 1.1;
    let root = SVGBackend::new(path, (760, 400)).into_drawing_area();
    let mut chart = axes(
        &root,
        "File size against recall (the shipped model at three precisions)",
        (0.0..x_max, y0..100.5),
        ("model file (MB)", "% recalled"),
    )?;
    for (name, color, pick) in [("next line (forward)", BLUE, 1usize), ("previous line (reversal)", ORANGE, 2)] {
        let series: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, if pick == 1 { p.1 } else { p.2 })).collect();
        chart
            .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(series.iter().map(|&p| Circle::new(p, 5, color.filled())))?;
    }
    chart.draw_series(
        pts.iter()
            .map(|p| Text::new(format!("{} {:.1}", p.3, p.1), (p.0, p.1 + 0.3), font(12).pos(text_anchor_above()))),
    )?;
    chart.draw_series(
        pts.iter().map(|p| Text::new(format!("{:.1}", p.2), (p.0, p.2 - 0.3), font(12).pos(text_anchor_below()))),
    )?;
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}

/// Draws one chart into the file at the path.
type Draw<'a> = dyn Fn(&Path) -> Result<()> + 'a;

pub fn run(a: PlotArgs) -> Result<()> {
    let l: Lineage = read_json(&a.lineage)?;
    anyhow::ensure!(!l.runs.is_empty(), "{}: no runs", a.lineage.display());
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let runs = place(&l.runs)?;
    let charts: [(&str, &Draw); 4] = [
        ("training.svg", &|p| training(&runs, p)),
        ("recall.svg", &|p| recall(&runs, &l.recall, p)),
        ("reversal.svg", &|p| reversal(&l.reversal, p)),
        ("sizes.svg", &|p| sizes(&l.sizes, p)),
    ];
    let progress = Progress::new("charts", charts.len() as u64, 1);
    for (i, (name, draw)) in charts.iter().enumerate() {
        let path = a.out.join(name);
        draw(&path).with_context(|| format!("drawing {}", path.display()))?;
        progress.update(i as u64 + 1, || format!("wrote {}", path.display()));
    }
    progress.finish();
    Ok(())
}
