//! `unmask check TEXT`: the metre checker in the terminal — each character's tone
//! (平 仄, 中 for either, ？ without data), the standard pattern a 绝句 or 律诗 follows
//! and its rhyme group, or for two lines the rules of 对对子; what breaks them marked.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use unmask::prosody::{check, Compliance, Prosody, Report};
use unmask::PoemTokenizer;

use crate::engine::{bundled, read_capped, MAX_TOKENIZER_BYTES};

#[derive(Args)]
pub struct CheckArgs {
    /// The text: lines closed by ，。？！；： (any of them).
    #[arg(required_unless_present = "jsonl")]
    pub text: Option<String>,
    /// Instead of one text, every `{"text": …}` line of a JSONL file (e.g.
    /// eval/poems.jsonl, the anthologies' regular poems): compliance by form.
    #[arg(long, conflicts_with = "text")]
    pub jsonl: Option<PathBuf>,
    #[arg(long, default_value_os_t = bundled("prosody.json"))]
    pub prosody: PathBuf,
    #[arg(long, default_value_os_t = bundled("tokenizer.json"))]
    pub tokenizer: PathBuf,
}

/// The report as terminal lines: each line of the text, then its tones with `＊`
/// under what breaks the rules, then the reasons.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let head: Vec<String> = [
        r.form.map(|f| f.name().to_string()),
        r.couplet.then(|| "对对子 (couplet)".to_string()),
        r.pattern.clone(),
        r.rhyme_group.as_ref().map(|g| format!("韵 {g}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !head.is_empty() {
        out += &format!("{}\n", head.join(" · "));
    }
    for line in &r.lines {
        let text: String = line.marks.iter().map(|m| m.ch).collect();
        let tones: String = line.marks.iter().map(|m| m.tone.mark()).collect();
        let want: String =
            line.marks.iter().map(|m| if m.key { m.want.map_or('　', |w| w.mark()) } else { '　' }).collect();
        let bad: String = line.marks.iter().map(|m| if m.ok { '　' } else { '＊' }).collect();
        out += &format!("{text}{}   {tones}", line.end);
        if line.marks.iter().any(|m| m.rhyme) {
            out += "  (韵)";
        }
        out += "\n";
        if r.form.is_some() || r.couplet {
            out += &format!(
                "{}{}   {want}  pattern\n",
                "　".repeat(line.marks.len()),
                "　".repeat(line.end.chars().count())
            );
        }
        if line.marks.iter().any(|m| !m.ok) {
            out += &format!("{}{}   {bad}\n", "　".repeat(line.marks.len()), "　".repeat(line.end.chars().count()));
        }
    }
    let reasons: Vec<String> = r
        .lines
        .iter()
        .enumerate()
        .flat_map(|(li, l)| {
            l.marks.iter().enumerate().filter_map(move |(i, m)| {
                m.why.as_ref().map(|w| format!("line {}, character {} ({}): {w}", li + 1, i + 1, m.ch))
            })
        })
        .collect();
    if r.form.is_some() || r.couplet {
        out += &match r.violations {
            0 => "follows the rules\n".to_string(),
            n => format!("{n} against the rules:\n{}\n", reasons.join("\n")),
        };
    } else {
        out += "not a 绝句, 律诗 or couplet by shape (4 or 8 lines, or 2, of 5 or 7 characters): tones only\n";
    }
    out
}

pub fn run(a: CheckArgs) -> Result<()> {
    let tok = PoemTokenizer::from_bytes(&read_capped(&a.tokenizer, MAX_TOKENIZER_BYTES)?)
        .with_context(|| format!("loading {}", a.tokenizer.display()))?;
    let p = crate::engine::load_prosody(&a.prosody, &tok)?;
    if let Some(path) = &a.jsonl {
        return summarize(&p, &tok, path);
    }
    let text = a.text.unwrap_or_default();
    anyhow::ensure!(!text.trim().is_empty(), "the text is empty");
    let n = text.chars().count();
    let max = unmask::tasks::MAX_INPUT_CHARS;
    anyhow::ensure!(n <= max, "the text is too long: {n} characters, at most {max}");
    print!("{}", render(&check(&p, &tok, &text)));
    Ok(())
}

/// Compliance of every text of a JSONL file, by form.
fn summarize(p: &Prosody, tok: &PoemTokenizer, path: &std::path::Path) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Line {
        text: String,
    }
    let text = String::from_utf8(read_capped(path, crate::engine::MAX_PAIRS_BYTES)?)?;
    let mut by_form: std::collections::BTreeMap<String, Compliance> = Default::default();
    for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let l: Line = serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1))?;
        let (n, max) = (l.text.chars().count(), unmask::tasks::MAX_INPUT_CHARS);
        anyhow::ensure!(n <= max, "{}:{}: the text is too long: {n} characters, at most {max}", path.display(), i + 1);
        let r = check(p, tok, &l.text);
        let form = r.form.map_or(if r.couplet { "couplet" } else { "other" }, |f| f.name()).to_string();
        by_form.entry(form).or_default().add(&r);
    }
    println!("| form | poems | follow every rule | key positions in pattern | rhyme positions in the poem's group |");
    println!("|---|---|---|---|---|");
    for (form, c) in by_form.iter().filter(|(_, c)| c.checked > 0) {
        let pct = Compliance::percent;
        println!(
            "| {form} | {} | {:.1}% | {:.1}% | {:.1}% |",
            c.checked,
            pct(c.clean, c.checked),
            pct(c.key_ok, c.key_positions),
            pct(c.rhyme_ok, c.rhyme_positions)
        );
    }
    Ok(())
}
