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
    unambiguous(cands.into_iter().map(|c| (c, 0.0)).collect(), texts).into_iter().map(|c| c.0).collect()
}

/// The candidates (with a popularity each) that the whole corpus pins down: A always
/// followed by B, B always preceded by A; each couplet once (its first occurrence),
/// with the number of texts it occurs in.
fn unambiguous(cands: Vec<(Couplet, f64)>, all: &[Text]) -> Vec<(Couplet, f64, usize)> {
    let mut seen = HashSet::new();
    let mut out: Vec<(Couplet, f64)> =
        cands.into_iter().filter(|(c, _)| seen.insert((c.first.clone(), c.second.clone()))).collect();
    let firsts: HashSet<&str> = out.iter().map(|c| c.0.first.as_str()).collect();
    let seconds: HashSet<&str> = out.iter().map(|c| c.0.second.as_str()).collect();
    let mut next: HashMap<String, HashSet<String>> = HashMap::new();
    let mut prev: HashMap<String, HashSet<String>> = HashMap::new();
    let mut times: HashMap<String, usize> = HashMap::new();
    for t in all {
        let lines: Vec<&str> = split_lines(&t.text).into_iter().map(bare).collect();
        for (i, l) in lines.iter().enumerate() {
            if firsts.contains(l) {
                let b = lines.get(i + 1).unwrap_or(&"");
                next.entry(l.to_string()).or_default().insert(b.to_string());
                *times.entry(format!("{l}，{b}")).or_default() += 1;
            }
            if seconds.contains(l) {
                let p = if i == 0 { "" } else { lines[i - 1] };
                prev.entry(l.to_string()).or_default().insert(p.to_string());
            }
        }
    }
    out.retain(|c| next[&c.0.first].len() == 1 && prev[&c.0.second].len() == 1);
    out.into_iter()
        .map(|(c, w)| {
            let n = times.get(&format!("{}，{}", c.first, c.second)).copied().unwrap_or(1);
            (c, w, n)
        })
        .collect()
}

/// The classics taken whole into the second set (no rank files; all of them famous).
const CLASSICS: [&str; 2] = ["shijing", "lunyu"];

/// The second famous-couplet set (`eval/famous-dev.jsonl`, `eval/famous-test.jsonl`),
/// from the whole corpus outside the two anthologies: the couplets of the most
/// searched short poems — the top 0.5% by search popularity of the Tang poems, Song
/// poems and Song ci (the package's rank files; a text's popularity boost is its
/// sampling weight over its source's weight and its length factor, see
/// `corpus::load_texts`) with at most 8 lines, since a famous 绝句 or 律诗 is known
/// whole — and the couplets of the 诗经 and the 论语 that other texts quote (found in
/// two texts or more). Lines `A，B。` of one sentence, 4 to 9 characters each and of
/// equal length, in the vocabulary, not in the first set, and pinned down by the whole
/// corpus as the first set is. Most quoted first, then by the text's popularity, ties
/// by a hash of the couplet; at most `max`; split by that hash into a half to choose
/// checkpoints and recipes on and a half reported only at the end.
pub fn famous(
    texts: &[Text],
    vocab: &HashSet<char>,
    mix: &crate::corpus::Mix,
    first_set: &[Couplet],
    max: usize,
) -> (Vec<Couplet>, Vec<Couplet>) {
    let src_weight: HashMap<&str, f64> = mix.source.iter().map(|s| (s.name.as_str(), s.weight)).collect();
    let ranked: HashSet<&str> = mix.source.iter().filter(|s| !s.rank.is_empty()).map(|s| s.name.as_str()).collect();
    let boost = |t: &Text| {
        if CLASSICS.contains(&t.source.as_str()) {
            return 6.0;
        }
        let len = t.text.chars().count().max(32) as f64 / 64.0;
        t.weight / (src_weight.get(t.source.as_str()).copied().unwrap_or(1.0) * len)
    };
    let famous_text = |t: &Text| {
        let short = split_lines(&t.text).len() <= 8;
        !t.anthology
            && (CLASSICS.contains(&t.source.as_str())
                || (ranked.contains(t.source.as_str()) && boost(t) >= 5.9 && short))
    };
    let known: HashSet<(&str, &str)> = first_set.iter().map(|c| (c.first.as_str(), c.second.as_str())).collect();
    let mut cands = Vec::new();
    for t in texts.iter().filter(|t| famous_text(t)) {
        let lines = split_lines(&t.text);
        for w in lines.windows(2) {
            let sentence =
                w[0].ends_with('，') && (w[1].ends_with('。') || w[1].ends_with('？') || w[1].ends_with('！'));
            let (a, b) = (bare(w[0]), bare(w[1]));
            let n = a.chars().count();
            if sentence
                && (4..=9).contains(&n)
                && b.chars().count() == n
                && a.chars().chain(b.chars()).all(|c| vocab.contains(&c))
                && !known.contains(&(a, b))
            {
                let source = format!("{} · {} · {}", t.source, t.author, t.title);
                cands.push((Couplet { first: a.into(), second: b.into(), source }, boost(t)));
            }
        }
    }
    let mut found = unambiguous(cands, texts);
    let classic = |c: &Couplet| CLASSICS.iter().any(|s| c.source.starts_with(&format!("{s} ·")));
    found.retain(|c| c.2 >= 2 || !classic(&c.0));
    let hash = |c: &Couplet| crate::corpus::fnv(&format!("{}，{}。", c.first, c.second));
    found.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.total_cmp(&a.1)).then(hash(&a.0).cmp(&hash(&b.0))));
    let (mut dev, mut test) = (Vec::new(), Vec::new());
    for (c, _, _) in found.into_iter().take(max) {
        if hash(&c) % 2 == 0 {
            dev.push(c);
        } else {
            test.push(c);
        }
    }
    (dev, test)
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

    fn text(source: &str, anthology: bool, weight: f64, body: &str) -> Text {
        Text {
            source: source.into(),
            title: "t".into(),
            author: "a".into(),
            weight,
            heldout: false,
            anthology,
            text: body.into(),
        }
    }

    fn vocab(texts: &[Text]) -> HashSet<char> {
        texts.iter().flat_map(|t| t.text.chars()).collect()
    }

    #[test]
    fn the_first_set_keeps_couplets_the_corpus_pins_down() {
        let texts = vec![
            text("tangshisanbaishou", true, 1.0, "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"),
            // 欲穷千里目 is followed by another line elsewhere: ambiguous, left out.
            text("tang", false, 1.0, "欲穷千里目，何处是归程。"),
        ];
        let got = extract(&texts, &vocab(&texts));
        assert_eq!(
            got.iter().map(|c| (c.first.as_str(), c.second.as_str())).collect::<Vec<_>>(),
            [("白日依山尽", "黄河入海流")]
        );
    }

    #[test]
    fn the_second_set_takes_popular_short_poems_and_quoted_classics_and_splits_in_two() {
        let mix: crate::corpus::Mix = toml::from_str(
            "heldout_per_mille = 10\nvocab_cap = 100\n\
             [[source]]\nname = \"tang\"\nfiles = []\nweight = 1.0\nrank = [\"r\"]\n\
             [[source]]\nname = \"shijing\"\nfiles = []\nweight = 10.0\n\
             [[source]]\nname = \"guwenguanzhi\"\nfiles = []\nweight = 2.0\nanthology = true\n",
        )
        .unwrap();
        // Weights as `load_texts` makes them: source weight × boost × max(chars, 32) / 64.
        let texts = vec![
            text("tang", false, 6.0 * 0.5, "小时不识月，呼作白玉盘。又疑瑶台镜，飞在青云端。"),
            text("tang", false, 1.0 * 0.5, "春风吹野草，秋雨落寒山。"),
            text("shijing", false, 10.0 * 0.5, "关关雎鸠，在河之洲。窈窕淑女，君子好逑。"),
            text("guwenguanzhi", true, 2.0 * 0.5, "关关雎鸠，在河之洲。"),
        ];
        let (dev, test) = famous(&texts, &vocab(&texts), &mix, &[], 100);
        let mut all: Vec<(String, String)> =
            dev.iter().chain(&test).map(|c| (c.first.clone(), c.second.clone())).collect();
        all.sort();
        // The popular poem's couplets, and the classic's quoted one; not the unpopular
        // poem, not the classic's unquoted couplet.
        let want = [("又疑瑶台镜", "飞在青云端"), ("关关雎鸠", "在河之洲"), ("小时不识月", "呼作白玉盘")];
        let mut want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        want.sort();
        assert_eq!(all, want);
        // The halves by hash: the same split every time, nothing in both.
        let (dev2, _) = famous(&texts, &vocab(&texts), &mix, &[], 100);
        assert_eq!(dev, dev2);
        assert!(dev.iter().all(|c| !test.contains(c)));
        // A couplet of the first set is not in the second.
        let first =
            vec![Couplet { first: "小时不识月".into(), second: "呼作白玉盘".into(), source: String::new() }];
        let (d, t) = famous(&texts, &vocab(&texts), &mix, &first, 100);
        assert_eq!(d.len() + t.len(), 2);
    }
}
