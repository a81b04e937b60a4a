//! The eval sets drawn from the two anthologies. The famous-couplet set
//! (ARCHITECTURE.md, "Couplet evaluation"): consecutive lines `A，B。` of one sentence
//! from 唐诗三百首 / 千家诗 that the whole corpus pins down — A is followed by B wherever
//! it occurs and B preceded by A — so exact match is a fair score in both directions.
//! The real-poem set: the anthologies' 绝句 and 律诗, the reference the verse measures
//! of generated poems (`unmask eval-poems`) are compared with.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::corpus::{split_lines, Text};
use unmask::pairs::Pair as Couplet;
use unmask::tasks::PoemForm;

fn bare(line: &str) -> &str {
    line.trim_end_matches(crate::corpus::LINE_END)
}

pub fn extract(texts: &[Text], vocab: &HashSet<char>) -> Vec<Couplet> {
    // Candidates from the two anthologies.
    let mut cands: Vec<Couplet> = Vec::new();
    let mut seen = HashSet::new();
    for t in texts.iter().filter(|t| t.source == "tangshisanbaishou" || t.source == "qianjiashi") {
        let lines = split_lines(&t.text);
        // Regular verse (every line 5 or 7 characters): couplets are lines (2k, 2k+1)
        // whatever the punctuation (静夜思 has a comma after 霜 in this edition).
        // Otherwise: a comma-type break inside a sentence, the sentence closed by B.
        let regular = lines.len().is_multiple_of(2)
            && lines.iter().all(|l| bare(l).chars().count() == bare(lines[0]).chars().count());
        for (i, w) in lines.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            let sentence = a.ends_with('，') && (b.ends_with('。') || b.ends_with('？') || b.ends_with('！'));
            if !(if regular { i % 2 == 0 } else { sentence }) {
                continue;
            }
            let (fa, fb) = (bare(a), bare(b));
            let n = fa.chars().count();
            if (n != 5 && n != 7) || fb.chars().count() != n {
                continue;
            }
            if !fa.chars().chain(fb.chars()).all(|c| vocab.contains(&c)) {
                continue;
            }
            if seen.insert((fa.to_string(), fb.to_string())) {
                let book = if t.source == "qianjiashi" { "千家诗" } else { "唐诗三百首" };
                let author = t.author.trim_start_matches(['（', '(']);
                let author = author.rsplit(['）', ')']).next().unwrap_or(author);
                cands.push(Couplet {
                    first: fa.to_string(),
                    second: fb.to_string(),
                    source: format!("{book} · {} · {}", author.trim(), t.title),
                });
            }
        }
    }
    // Every successor / predecessor of the candidate lines anywhere in the corpus.
    let firsts: HashSet<&str> = cands.iter().map(|c| c.first.as_str()).collect();
    let seconds: HashSet<&str> = cands.iter().map(|c| c.second.as_str()).collect();
    let mut next: HashMap<String, HashSet<String>> = HashMap::new();
    let mut prev: HashMap<String, HashSet<String>> = HashMap::new();
    for t in texts {
        let lines: Vec<&str> = split_lines(&t.text).into_iter().map(bare).collect();
        for (i, l) in lines.iter().enumerate() {
            if firsts.contains(l) {
                next.entry(l.to_string()).or_default().insert(lines.get(i + 1).unwrap_or(&"").to_string());
            }
            if seconds.contains(l) {
                let p = if i == 0 { "" } else { lines[i - 1] };
                prev.entry(l.to_string()).or_default().insert(p.to_string());
            }
        }
    }
    cands.into_iter().filter(|c| next[&c.first].len() == 1 && prev[&c.second].len() == 1).collect()
}

#[derive(Serialize)]
pub struct RealPoem {
    pub form: &'static str,
    pub text: String,
    pub source: String,
}

/// Every regular poem of the anthologies in one of the page's forms (4 or 8 lines of 5
/// or 7 characters, `，` and `。` alternating, all characters in the vocabulary), once.
pub fn poems(texts: &[Text], vocab: &HashSet<char>) -> Vec<RealPoem> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in texts.iter().filter(|t| t.source == "tangshisanbaishou" || t.source == "qianjiashi") {
        let lines = split_lines(&t.text);
        let Some(form) = PoemForm::ALL
            .into_iter()
            .find(|f| f.lines() == lines.len() && lines.iter().all(|l| bare(l).chars().count() == f.chars_per_line()))
        else {
            continue;
        };
        let alternating = lines.iter().enumerate().all(|(i, l)| l.ends_with(if i % 2 == 0 { '，' } else { '。' }));
        if alternating
            && t.text.chars().all(|c| vocab.contains(&c) || c == '，' || c == '。')
            && seen.insert(t.text.clone())
        {
            let book = if t.source == "qianjiashi" { "千家诗" } else { "唐诗三百首" };
            out.push(RealPoem { form: form.key(), text: t.text.clone(), source: format!("{book} · {}", t.title) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(source: &str, anthology: bool, body: &str) -> Text {
        Text {
            source: source.into(),
            title: "t".into(),
            author: "a".into(),
            weight: 1.0,
            heldout: false,
            anthology,
            text: body.into(),
        }
    }

    #[test]
    fn the_couplet_set_keeps_couplets_the_corpus_pins_down() {
        let texts = vec![
            text("tangshisanbaishou", true, "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"),
            // 欲穷千里目 is followed by another line elsewhere: ambiguous, left out.
            text("tang", false, "欲穷千里目，何处是归程。"),
        ];
        let vocab: HashSet<char> = texts.iter().flat_map(|t| t.text.chars()).collect();
        let got = extract(&texts, &vocab);
        let pairs: Vec<(&str, &str)> = got.iter().map(|c| (c.first.as_str(), c.second.as_str())).collect();
        assert_eq!(pairs, [("白日依山尽", "黄河入海流")]);
    }
}
