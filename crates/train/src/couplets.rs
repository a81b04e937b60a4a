//! The eval sets (ARCHITECTURE.md, "Couplet evaluation" and "Poem evaluation"):
//!
//! - the famous-couplet set: consecutive lines `A，B。` of one sentence from 唐诗三百首 /
//!   千家诗 that the whole corpus pins down — A is followed by B wherever it occurs and B
//!   preceded by A — so exact match is a fair score in both directions;
//! - the broader famous-couplet set ([`famous`]): the same from the whole corpus, known
//!   by the canon or by quotation, in a dev half and a test half;
//! - the real-poem sets: the anthologies' 绝句 and 律诗, and held-out ones no model has
//!   read, the references the verse measures of generated poems (`unmask eval-poems`)
//!   are compared with.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::corpus::{split_lines, Text};
use crate::sentences::{bare, is_quotation, Sentences};
use unmask::pairs::Pair as Couplet;
use unmask::tasks::PoemForm;

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

/// Books named in a couplet's `source`.
fn book(source: &str) -> &str {
    match source {
        "shijing" => "诗经",
        "lunyu" => "论语",
        "sishu" => "四书",
        "chuci" => "楚辞",
        "guwenguanzhi" => "古文观止",
        "mengxue-verse" => "蒙学",
        "shuimotangshi" => "水墨唐诗",
        "tangshisanbaishou" => "唐诗三百首",
        "qianjiashi" => "千家诗",
        "tang" => "全唐诗",
        "song" => "全宋诗",
        "songci" => "全宋词",
        "wudai" => "五代诗词",
        "yuanqu" => "元曲",
        other => other,
    }
}

/// The broader famous-couplet set (ARCHITECTURE.md, "Couplet evaluation"): a sentence
/// `A，B。` (equal lines of 4–7 characters) that the corpus pins down as [`extract`]
/// does, outside `exclude` (the first set), and known by the corpus's own evidence:
///
/// - **canon**: it stands in one of the [`crate::corpus::CANON`] collections (诗经, 论语, 四书, 楚辞,
///   古文观止, 蒙学, 水墨唐诗), or
/// - **quoted**: it stands in two or more independent works by two or more authors —
///   works whose other lines differ (no pair of lines alike in 60% of their positions,
///   which catches one poem filed twice under variant readings or authors), a bare
///   fragment (句) not counting as a work — and not only in Buddhist 偈/颂, which hand
///   their formulas around.
///
/// The package's search-rank data would be the obvious popularity signal, but it is
/// keyed by (author, title) and counts hits for the title: its top texts are
/// fragments titled 句 and poems titled 月 or 梅 (docs/campaign.md).
pub fn famous(texts: &[Text], vocab: &HashSet<char>, exclude: &[Couplet]) -> Vec<Couplet> {
    let excluded: HashSet<(&str, &str)> = exclude.iter().map(|c| (c.first.as_str(), c.second.as_str())).collect();
    let s = Sentences::new(texts, vocab);
    let mut out = Vec::new();
    for &key @ (a, c) in &s.order {
        if excluded.contains(&key) || !s.pinned(key) {
            continue;
        }
        let found = &s.occ[&key];
        let canon = found.iter().find(|&&i| crate::corpus::is_canon(&texts[i].source, &texts[i].title));
        let works = s.independent_works(key);
        let source = if let Some(&i) = canon {
            format!("{} · {}", book(&texts[i].source), texts[i].title)
        } else if is_quotation(texts, &works) {
            let t = &texts[works[0]];
            format!("{} · {} · {} (in {} works)", book(&t.source), t.author, t.title, works.len())
        } else {
            continue;
        };
        out.push(Couplet { first: a.to_string(), second: c.to_string(), source });
    }
    out
}

/// At most this many couplets of one text enter the canon set (long prose would
/// fill it otherwise), and at most this many each half.
pub const CANON_SET_PER_TEXT: usize = 2;
pub const CANON_SET_HALF: usize = 2000;

/// The canon famous-couplet set: sentences of canon texts (`canon::build`) that the
/// corpus pins down, outside `exclude` (the first set), at most [`CANON_SET_PER_TEXT`]
/// a text (the lowest by hash), split by [`is_dev`], [`CANON_SET_HALF`] a half drawn
/// from the books in turn; `source` is "period · book · author · title". Returns (dev, test).
pub fn canon_set(
    texts: &[Text],
    vocab: &HashSet<char>,
    canon: &[crate::canon::CanonText],
    exclude: &[Couplet],
) -> (Vec<Couplet>, Vec<Couplet>) {
    let excluded: HashSet<(&str, &str)> = exclude.iter().map(|c| (c.first.as_str(), c.second.as_str())).collect();
    let s = Sentences::new(texts, vocab);
    let hash = |a: &str, c: &str| crate::corpus::fnv(&format!("{a}，{c}"));
    let mut per_text: HashMap<usize, Vec<(u64, &str, &str)>> = HashMap::new();
    let in_canon: HashMap<usize, &crate::canon::CanonText> = canon.iter().map(|c| (c.index, c)).collect();
    for &key @ (a, c) in &s.order {
        if excluded.contains(&key) || !s.pinned(key) {
            continue;
        }
        // The sentence (each once in `order`) belongs to its first canon text.
        if let Some(&i) = s.occ[&key].iter().find(|i| in_canon.contains_key(i)) {
            per_text.entry(i).or_default().push((hash(a, c), a, c));
        }
    }
    // Grouped by book (a collection, or the source of a text known by rank or
    // quotation alone), each group in hash order.
    let mut groups: std::collections::BTreeMap<&str, Vec<(u64, Couplet)>> = Default::default();
    for (i, mut v) in per_text {
        v.sort();
        let t = in_canon[&i];
        let book = match t.collections.first() {
            Some(name) => crate::canon::COLLECTIONS.iter().find(|c| c.name == name).map_or("", |c| c.book),
            None => book(&t.source),
        };
        for (h, a, c) in v.into_iter().take(CANON_SET_PER_TEXT) {
            let source = format!("{} · {book} · {} · {}", period(t), t.author, t.title);
            groups.entry(book).or_default().push((h, Couplet { first: a.to_string(), second: c.to_string(), source }));
        }
    }
    // Each half takes the groups in turn, so that a small collection is heard as much
    // as the 12k ranked Song poems (until it runs out).
    let mut halves = (Vec::new(), Vec::new());
    for g in groups.values_mut() {
        g.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.first.cmp(&y.1.first)));
    }
    for dev in [true, false] {
        let mut queues: Vec<std::collections::VecDeque<&Couplet>> =
            groups.values().map(|g| g.iter().map(|x| &x.1).filter(|c| is_dev(c) == dev).collect()).collect();
        let half = if dev { &mut halves.0 } else { &mut halves.1 };
        while half.len() < CANON_SET_HALF && queues.iter().any(|q| !q.is_empty()) {
            for q in queues.iter_mut() {
                if let Some(c) = q.pop_front() {
                    if half.len() < CANON_SET_HALF {
                        half.push(c.clone());
                    }
                }
            }
        }
    }
    halves
}

/// A canon text's period, from its collection or source.
fn period(t: &crate::canon::CanonText) -> &'static str {
    let c = t.collections.first().map(String::as_str);
    match c.unwrap_or(t.source.as_str()) {
        "shijing" | "chuci" | "lunyu" | "sishu" => "先秦",
        "caocao" => "汉魏",
        "tangshisanbaishou" | "shuimotangshi" | "tang" => "唐",
        "huajianji" | "nantang" | "wudai" => "五代",
        "qianjiashi" => "唐宋",
        "songci300" | "song" | "songci" => "宋",
        "yuanqu" => "元",
        "nalan" => "清",
        "guwenguanzhi" => "古文",
        "mengxue" | "mengxue-verse" => "蒙学",
        _ => "其他",
    }
}

/// The half of the broader set used to choose checkpoints and recipes (`true`), or the
/// half reported only at the end: a stable hash of the couplet.
pub fn is_dev(c: &Couplet) -> bool {
    // A high bit: FNV-1a's lowest bit is only the parity of the bytes.
    crate::corpus::fnv(&format!("{}，{}", c.first, c.second)) >> 40 & 1 == 0
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
    let anthology = texts.iter().filter(|t| t.source == "tangshisanbaishou" || t.source == "qianjiashi");
    regular(anthology, vocab)
        .map(|(t, form)| {
            let book = if t.source == "qianjiashi" { "千家诗" } else { "唐诗三百首" };
            RealPoem { form, text: t.text.clone(), source: format!("{book} · {}", t.title) }
        })
        .collect()
}

/// The regular poems of the held-out split (`corpus::is_heldout`) that share no line
/// with a text trained on (one poem filed twice, once on each side of the split, would
/// otherwise be known to the models): real verse no model here has read, the reference
/// of the twin's NLL ratio in `unmask eval-poems`.
pub fn heldout_poems(texts: &[Text], vocab: &HashSet<char>) -> Vec<RealPoem> {
    let trained: HashSet<&str> =
        texts.iter().filter(|t| !t.heldout).flat_map(|t| split_lines(&t.text)).map(bare).collect();
    let unseen = texts.iter().filter(|t| t.heldout && !split_lines(&t.text).iter().any(|l| trained.contains(bare(l))));
    regular(unseen, vocab)
        .map(|(t, form)| RealPoem {
            form,
            text: t.text.clone(),
            source: format!("{} · {} · {}", book(&t.source), t.author, t.title),
        })
        .collect()
}

/// The texts in one of the page's forms (4 or 8 lines of 5 or 7 characters, `，` and
/// `。` alternating, all characters in the vocabulary), each text once, with the form.
fn regular<'a>(
    texts: impl Iterator<Item = &'a Text>,
    vocab: &'a HashSet<char>,
) -> impl Iterator<Item = (&'a Text, &'static str)> {
    let mut seen = HashSet::new();
    texts.filter_map(move |t| {
        let lines = split_lines(&t.text);
        let form = PoemForm::ALL.into_iter().find(|f| {
            f.lines() == lines.len() && lines.iter().all(|l| bare(l).chars().count() == f.chars_per_line())
        })?;
        let alternating = lines.iter().enumerate().all(|(i, l)| l.ends_with(if i % 2 == 0 { '，' } else { '。' }));
        (alternating
            && t.text.chars().all(|c| vocab.contains(&c) || c == '，' || c == '。')
            && seen.insert(t.text.clone()))
        .then_some((t, form.key()))
    })
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

    fn by(source: &str, author: &str, title: &str, body: &str) -> Text {
        Text { author: author.into(), title: title.into(), ..text(source, false, body) }
    }

    #[test]
    fn the_broader_set_keeps_canon_and_quoted_couplets_only() {
        let texts = vec![
            // Canon: every sentence of the 诗经 counts.
            by("shijing", "", "关雎", "关关雎鸠，在河之洲。窈窕淑女，君子好逑。"),
            // Quoted: a line pair in two different works by two authors.
            by("tang", "王维", "终南别业", "中岁颇好道，晚家南山陲。行到水穷处，坐看云起时。"),
            by("song", "某甲", "偶题", "春来无事做，闲步过前溪。行到水穷处，坐看云起时。"),
            // One poem filed twice under variant readings and two authors: not a quote.
            by("tang", "钱起", "江行", "坠露晓犹浓，秋花不易逢。涉江虽已晚，高树搴芙蓉。"),
            by("tang", "钱珝", "江行", "垂露晚犹浓，清风不易逢。涉江虽已晚，高树搴芙蓉。"),
            // Only in Buddhist verse: a formula, not a quote.
            by("song", "释甲", "偈颂二首", "山高石头大，水阔浪花多。一二三四五，五四三二一。"),
            by("song", "释乙", "颂古三首", "门前松柏老，屋后竹林深。一二三四五，五四三二一。"),
            // A bare fragment (句) does not count as a work.
            by("song", "某乙", "晚眺", "独上高楼望，青山万里长。落日孤城闭，寒云古渡遥。"),
            by("song", "某丙", "句", "落日孤城闭，寒云古渡遥。"),
        ];
        let vocab: HashSet<char> = texts.iter().flat_map(|t| t.text.chars()).collect();
        let first_set =
            [Couplet { first: "窈窕淑女".into(), second: "君子好逑".into(), source: String::new() }];
        let got = famous(&texts, &vocab, &first_set);
        let pairs: Vec<(&str, &str, &str)> =
            got.iter().map(|c| (c.first.as_str(), c.second.as_str(), c.source.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("关关雎鸠", "在河之洲", "诗经 · 关雎"),
                ("行到水穷处", "坐看云起时", "全唐诗 · 王维 · 终南别业 (in 2 works)"),
            ]
        );
    }

    #[test]
    fn real_poems_are_regular_and_held_out_ones_unseen() {
        let held = |body: &str| Text { heldout: true, ..by("tang", "某", "题", body) };
        let texts = vec![
            text("tangshisanbaishou", true, "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"),
            // Not regular: three lines.
            text("tangshisanbaishou", true, "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁。"),
            held("春风吹野草，细雨润花枝。独坐思归客，孤灯照影时。"),
            // Held out, but one of its lines is in a text trained on: known, left out.
            held("秋水连天碧，寒山映日红。欲穷千里目，长啸大江东。"),
            // Trained on: never a held-out poem.
            by("tang", "某", "又", "江南三月雨，塞北一天霜。何处无芳草，春归不可量。"),
        ];
        let vocab: HashSet<char> = texts.iter().flat_map(|t| t.text.chars()).collect();
        let anthology: Vec<&str> = poems(&texts, &vocab).iter().map(|p| p.form).collect();
        assert_eq!(anthology, ["wujue"]);
        let unseen = heldout_poems(&texts, &vocab);
        assert_eq!(unseen.len(), 1);
        assert!(unseen[0].text.starts_with("春风") && unseen[0].form == "wujue", "{}", unseen[0].text);
    }

    #[test]
    fn the_broader_set_splits_in_two_halves_by_couplet() {
        let all: Vec<Couplet> = (0..2000)
            .map(|i| Couplet { first: format!("甲{i}"), second: format!("乙{i}"), source: format!("s{}", i % 3) })
            .collect();
        let dev = all.iter().filter(|c| is_dev(c)).count();
        assert!((900..1100).contains(&dev), "{dev} of 2000 in the dev half");
        // The source plays no part: a couplet stays in its half whatever book it is filed under.
        let moved = Couplet { source: "elsewhere".into(), ..all[7].clone() };
        assert_eq!(is_dev(&moved), is_dev(&all[7]));
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

    /// The canon set takes the pinned sentences of canon texts only, outside the first
    /// set, each once, at most two a text, each with its period and book; quotation
    /// counts every text that holds a quoted sentence, and one poem filed twice is no quote.
    #[test]
    fn the_canon_set_and_the_quotation_signal() {
        let texts = vec![
            by("tang", "王维", "使至塞上", "单车欲问边，属国过居延。征蓬出汉塞，归雁入胡天。大漠孤烟直，长河落日圆。"),
            by("song", "某甲", "偶题", "春来无事做，闲步过前溪。大漠孤烟直，长河落日圆。"),
            by("song", "某乙", "又题", "春来无事做，闲步过前溪。窗前一片云，门外几株柳。"),
            by("tang", "钱起", "江行", "坠露晓犹浓，秋花不易逢。"),
            by("tang", "钱起（一作刘）", "江行", "坠露晓犹浓，秋花不易逢。"),
        ];
        let vocab: HashSet<char> = texts.iter().flat_map(|t| t.text.chars()).collect();
        let q = crate::sentences::quoted_counts(&texts, &vocab);
        assert_eq!(q.get(&0), Some(&1));
        assert_eq!(q.get(&1), Some(&2));
        assert_eq!(q.get(&2), Some(&1));
        assert_eq!(q.get(&3), None, "a fragment filed twice is not quoted");
        let canon = vec![crate::canon::CanonText {
            index: 0,
            source: "tang".into(),
            author: "王维".into(),
            title: "使至塞上".into(),
            chars: 36,
            score: 0.9,
            collections: vec![],
            rank_percent: Some(0.5),
            quoted: 1,
        }];
        let first =
            [Couplet { first: "单车欲问边".into(), second: "属国过居延".into(), source: String::new() }];
        let (dev, test) = canon_set(&texts, &vocab, &canon, &first);
        let mut got: Vec<(String, String)> =
            dev.iter().chain(&test).map(|c| (c.first.clone(), c.source.clone())).collect();
        got.sort();
        // 单车欲问边 is in the first set; 征蓬 and 大漠 are the two a text may give.
        assert_eq!(
            got,
            [
                ("大漠孤烟直".to_string(), "唐 · 全唐诗 · 王维 · 使至塞上".to_string()),
                ("征蓬出汉塞".to_string(), "唐 · 全唐诗 · 王维 · 使至塞上".to_string())
            ]
        );
    }
}
