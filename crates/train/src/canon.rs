//! The canon: the texts people know, ranked by the corpus's own evidence of fame
//! (`unmask-train canon`, data/corpus/canon.jsonl). Three signals, each reported on
//! its own:
//!
//! - **collection**: the text is one of the famous collections the package ships
//!   ([`COLLECTIONS`]), or the same poem filed again elsewhere in the corpus (at least
//!   half of its lines, and two or more, are lines of the collection);
//! - **rank**: the package's search-popularity data, `Σ ln(1 + hits)` over the four
//!   search engines (Baidu, 360, Bing, Google; `bing_en` counts English pages and is
//!   left out), ranked within its dynasty's file (全唐诗, 全宋诗, 宋词); the top
//!   [`RANK_TOP_PERCENT`] join. The data is keyed by (author, title) and counts hits
//!   for that pair, so a key is used only when it names one poem: a key held by several
//!   different texts of the corpus (陆游 wrote six poems titled 示儿) lends its rank to
//!   none of them, and one poem filed twice (王维's 使至塞上, in two readings) takes it
//!   once, with the best of the key's entries; titles that say nothing (句, 偈颂, one character, no title, a title
//!   shared by [`GENERIC_TITLE_AUTHORS`] or more authors) and unknown authors are
//!   dropped, since their hits count the word, not the poem;
//! - **quotation**: a couplet of the text stands in two or more independent works by
//!   two or more authors (`sentences::quoted_counts`: one poem filed twice does not
//!   count).
//!
//! A text's score (for ordering and for sampling weights) is the sum of one point for a
//! collection, up to one for its rank (1 at the top, 0 at the cut), and up to one for
//! quotation (a third a quoted couplet). Held-out texts never join: the canon is what
//! training weights up.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::corpus::{self, split_lines, Text};

/// A famous collection: its name in the canon file, its book, its files in the package.
pub struct Collection {
    pub name: &'static str,
    pub book: &'static str,
    files: &'static [&'static str],
}

/// The famous collections the package ships (百家姓, a list of surnames, is not one).
pub const COLLECTIONS: [Collection; 14] = [
    Collection { name: "tangshisanbaishou", book: "唐诗三百首", files: &["mengxue/tangshisanbaishou.json"] },
    Collection { name: "qianjiashi", book: "千家诗", files: &["mengxue/qianjiashi.json"] },
    Collection { name: "songci300", book: "宋词三百首", files: &["songci/宋词三百首.json"] },
    Collection { name: "shuimotangshi", book: "水墨唐诗", files: &["shuimotangshi/shuimotangshi.json"] },
    Collection { name: "guwenguanzhi", book: "古文观止", files: &["mengxue/guwenguanzhi.json"] },
    Collection {
        name: "mengxue",
        book: "蒙学",
        files: &[
            "mengxue/sanzijing-new.json",
            "mengxue/qianziwen.json",
            "mengxue/dizigui.json",
            "mengxue/zengguangxianwen.json",
            "mengxue/zhuzijiaxun.json",
            "mengxue/shenglvqimeng.json",
            "mengxue/youxueqionglin.json",
        ],
    },
    Collection { name: "shijing", book: "诗经", files: &["shijing/shijing.json"] },
    Collection { name: "chuci", book: "楚辞", files: &["chuci/chuci.json"] },
    Collection { name: "lunyu", book: "论语", files: &["lunyu/lunyu.json"] },
    Collection {
        name: "sishu",
        book: "四书",
        files: &["sishuwujing/daxue.json", "sishuwujing/zhongyong.json", "sishuwujing/mengzi.json"],
    },
    Collection { name: "nalan", book: "纳兰性德", files: &["nalanxingde/纳兰性德诗集.json"] },
    Collection { name: "caocao", book: "曹操诗集", files: &["caocaoshiji/caocao.json"] },
    Collection { name: "huajianji", book: "花间集", files: &["wudaishici/huajianji/huajianji-*-juan.json"] },
    Collection { name: "nantang", book: "南唐二主词", files: &["wudaishici/nantang/poetrys.json"] },
];

/// The corpus sources with rank data, and their rank files.
const RANKED: [(&str, &str); 3] = [
    ("tang", "rank/poet/poet.tang.rank.*.json"),
    ("song", "rank/poet/poet.song.rank.*.json"),
    ("songci", "rank/ci/ci.song.rank.*.json"),
];
const ENGINES: [&str; 4] = ["baidu", "so360", "bing", "google"];
/// The share of a dynasty's usable rank entries that joins the canon, in percent.
pub const RANK_TOP_PERCENT: f64 = 5.0;
/// A title used by this many authors or more is a word, not a poem's name.
pub const GENERIC_TITLE_AUTHORS: usize = 20;

/// One text of the canon, as stored in canon.jsonl.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CanonText {
    /// The text's line in texts.jsonl (0-based).
    pub index: usize,
    pub source: String,
    pub author: String,
    pub title: String,
    pub chars: usize,
    pub score: f64,
    /// The collections it belongs to ([`Collection::name`]).
    pub collections: Vec<String>,
    /// Its rank within its dynasty's usable entries, in percent (0: the top).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rank_percent: Option<f64>,
    /// How many of its couplets are quoted elsewhere.
    pub quoted: usize,
}

fn bare(line: &str) -> &str {
    line.trim_end_matches(corpus::LINE_END)
}

/// The lines that identify a text (3 characters or more, for 三字经; shorter ones
/// recur by chance).
fn key_lines(text: &str) -> Vec<&str> {
    split_lines(text).into_iter().map(bare).filter(|l| l.chars().count() >= 3).collect()
}

/// Whether two texts are one poem filed twice (variant readings, another first line):
/// at least half the key lines of the shorter are lines of the other.
fn same_poem(a: &str, b: &str) -> bool {
    let (la, lb) = (key_lines(a), key_lines(b));
    let (short, long) = if la.len() <= lb.len() { (la, lb) } else { (lb, la) };
    let long: HashSet<&str> = long.into_iter().collect();
    !short.is_empty() && 2 * short.iter().filter(|l| long.contains(*l)).count() >= short.len()
}

/// For each text, the bits of the collections it belongs to (bit i: `collections[i]`):
/// at least half of its key lines, and two or more (or its only one), are lines of the
/// collection.
pub fn collection_bits(texts: &[Text], collections: &[Vec<String>]) -> Vec<u32> {
    let mut of_line: HashMap<&str, u32> = HashMap::new();
    for (i, c) in collections.iter().enumerate() {
        for body in c {
            for l in key_lines(body) {
                *of_line.entry(l).or_default() |= 1 << i;
            }
        }
    }
    texts
        .iter()
        .map(|t| {
            let lines = key_lines(&t.text);
            let mut bits = 0;
            for i in 0..collections.len() {
                let hit = lines.iter().filter(|l| of_line.get(*l).is_some_and(|b| b >> i & 1 == 1)).count();
                if hit >= 2.min(lines.len()) && hit > 0 && 2 * hit >= lines.len() {
                    bits |= 1 << i;
                }
            }
            bits
        })
        .collect()
}

/// One entry of the rank data: (author, title) simplified, and its score.
pub struct RankEntry {
    pub author: String,
    pub title: String,
    pub score: f64,
}

/// `Σ ln(1 + hits)` over [`ENGINES`] (a missing count is 0).
fn rank_score(e: &Value) -> f64 {
    ENGINES.iter().map(|k| e.get(*k).and_then(Value::as_f64).unwrap_or(0.0).max(0.0).ln_1p()).sum()
}

/// Whether an (author, title) pair names a poem well enough for its hits to count it.
fn names_a_poem(author: &str, title: &str) -> bool {
    let t: String = title.chars().filter(|c| !c.is_whitespace()).collect();
    author.chars().count() >= 2
        && !matches!(author, "无名氏" | "不详" | "佚名")
        && t.chars().count() >= 2
        && !t.starts_with('句')
        && !t.contains('偈')
        && !t.contains('颂')
        && !(author.to_string() + &t).contains(['□', '?', '？', '[', ']'])
}

/// Each text's rank within its dynasty, in percent, for the texts that a usable rank
/// entry names alone (module docs).
pub fn rank_percents(texts: &[Text], ranked: &[(&str, Vec<RankEntry>)]) -> HashMap<usize, f64> {
    let mut out = HashMap::new();
    for (source, entries) in ranked {
        // Each key once, with its best entry.
        let mut best: HashMap<(&str, &str), f64> = HashMap::new();
        let mut authors_of: HashMap<&str, HashSet<&str>> = HashMap::new();
        for e in entries {
            let b = best.entry((&e.author, &e.title)).or_insert(f64::NEG_INFINITY);
            *b = b.max(e.score);
            authors_of.entry(&e.title).or_default().insert(&e.author);
        }
        let mut usable: Vec<((&str, &str), f64)> = best
            .into_iter()
            .filter(|((a, t), _)| names_a_poem(a, t) && authors_of[t].len() < GENERIC_TITLE_AUTHORS)
            .collect();
        usable.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        // The texts of the source under each key: one poem (filed once or more) takes
        // the rank, on its first text; different poems take none.
        let mut holders: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for (i, t) in texts.iter().enumerate().filter(|(_, t)| t.source == *source) {
            holders.entry((&t.author, &t.title)).or_default().push(i);
        }
        let n = usable.len().max(1) as f64;
        for (pos, (key, _)) in usable.iter().enumerate() {
            let Some(h) = holders.get(key) else { continue };
            if h.iter().all(|&i| same_poem(&texts[i].text, &texts[h[0]].text)) {
                out.insert(h[0], pos as f64 / n * 100.0);
            }
        }
    }
    out
}

/// Reads a source's rank files, keys simplified like the corpus's titles.
fn read_rank(dist: &Path, pattern: &str, cc: &ferrous_opencc::OpenCC) -> Result<Vec<RankEntry>> {
    let mut out = Vec::new();
    for f in corpus::expand(dist, pattern)? {
        if let Value::Array(a) = corpus::read_json(&f)? {
            for e in a {
                out.push(RankEntry {
                    author: cc.convert(&corpus::str_of(&e, &["author"])),
                    title: cc.convert(&corpus::str_of(&e, &["title", "rhythmic"])),
                    score: rank_score(&e),
                });
            }
        }
    }
    Ok(out)
}

/// The canon of `texts` (texts.jsonl, in order) from the package at `dist`, by text
/// index, and a report of its size and of what each signal contributes.
pub fn build(dist: &Path, texts: &[Text], vocab: &HashSet<char>) -> Result<(Vec<CanonText>, String)> {
    let cc = corpus::t2s_converter()?;
    let mut bodies = Vec::new();
    for c in &COLLECTIONS {
        let mix = corpus::Mix {
            heldout_per_mille: 0,
            vocab_cap: 0,
            source: vec![corpus::SourceSpec {
                name: c.name.into(),
                files: c.files.iter().map(|s| s.to_string()).collect(),
                weight: 1.0,
                anthology: false,
                rank: Vec::new(),
            }],
        };
        bodies.push(corpus::load_texts(dist, &mix)?.into_iter().map(|t| t.text).collect());
    }
    let bits = collection_bits(texts, &bodies);
    let mut ranked = Vec::new();
    for (source, pattern) in RANKED {
        ranked.push((source, read_rank(dist, pattern, &cc)?));
    }
    let ranks = rank_percents(texts, &ranked);
    let quoted = crate::sentences::quoted_counts(texts, vocab);

    let mut canon = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        if t.heldout {
            continue;
        }
        let collections: Vec<String> =
            (0..COLLECTIONS.len()).filter(|k| bits[i] >> k & 1 == 1).map(|k| COLLECTIONS[k].name.to_string()).collect();
        let rank = ranks.get(&i).copied().filter(|&p| p < RANK_TOP_PERCENT);
        let q = quoted.get(&i).copied().unwrap_or(0);
        if collections.is_empty() && rank.is_none() && q == 0 {
            continue;
        }
        let score = (!collections.is_empty()) as u8 as f64
            + rank.map_or(0.0, |p| 1.0 - p / RANK_TOP_PERCENT)
            + (q.min(3) as f64) / 3.0;
        canon.push(CanonText {
            index: i,
            source: t.source.clone(),
            author: t.author.clone(),
            title: t.title.clone(),
            chars: t.text.chars().count(),
            score: (score * 1000.0).round() / 1000.0,
            collections,
            rank_percent: rank.map(|p| (p * 1000.0).round() / 1000.0),
            quoted: q,
        });
    }
    let report = report(texts, &canon);
    Ok((canon, report))
}

/// Size of the canon in texts and characters, what each signal brings (and brings
/// alone), and the share of each corpus source it takes.
pub fn report(texts: &[Text], canon: &[CanonText]) -> String {
    let chars: usize = canon.iter().map(|c| c.chars).sum();
    let mut s = format!("canon: {} texts, {} characters\n", canon.len(), chars);
    type Signal = (&'static str, fn(&CanonText) -> bool);
    let signals: [Signal; 3] = [
        ("collection", |c| !c.collections.is_empty()),
        ("rank", |c| c.rank_percent.is_some()),
        ("quotation", |c| c.quoted > 0),
    ];
    for (k, (name, has)) in signals.iter().enumerate() {
        let with: Vec<&CanonText> = canon.iter().filter(|c| has(c)).collect();
        let alone = with.iter().filter(|c| signals.iter().enumerate().all(|(j, (_, h))| j == k || !h(c))).count();
        let ch: usize = with.iter().map(|c| c.chars).sum();
        s += &format!("  {name:<10} {:>6} texts {:>8} chars ({alone} texts by it alone)\n", with.len(), ch);
    }
    for c in &COLLECTIONS {
        let n = canon.iter().filter(|t| t.collections.iter().any(|x| x == c.name)).count();
        s += &format!("  {} {}: {n} texts\n", c.book, c.name);
    }
    let mut per: std::collections::BTreeMap<&str, (usize, usize, usize, usize)> = Default::default();
    for t in texts {
        let e = per.entry(&t.source).or_default();
        e.0 += 1;
        e.1 += t.text.chars().count();
    }
    for c in canon {
        let e = per.get_mut(c.source.as_str()).expect("a canon text's source is a corpus source");
        e.2 += 1;
        e.3 += c.chars;
    }
    s += "  by source: texts in the canon / all (characters)\n";
    for (k, (n, ch, cn, cch)) in per {
        s += &format!(
            "    {k:<18} {cn:>6} / {n:<7} ({:>5.1}% of texts, {:>5.1}% of characters)\n",
            100.0 * cn as f64 / n.max(1) as f64,
            100.0 * cch as f64 / ch.max(1) as f64
        );
    }
    s
}

/// Reads canon.jsonl.
pub fn read(path: &Path) -> Result<Vec<CanonText>> {
    use anyhow::Context;
    let s = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    s.lines().map(|l| serde_json::from_str(l).with_context(|| format!("{}: a bad line", path.display()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(source: &str, author: &str, title: &str, body: &str) -> Text {
        Text {
            source: source.into(),
            title: title.into(),
            author: author.into(),
            weight: 1.0,
            heldout: false,
            anthology: false,
            text: body.into(),
        }
    }

    /// A poem of a collection filed again in 全唐诗 belongs to it; a poem that borrows
    /// one line of it does not.
    #[test]
    fn a_collection_takes_its_poems_wherever_they_are_filed() {
        let coll = vec![vec!["床前明月光，疑是地上霜。举头望明月，低头思故乡。".to_string()]];
        let texts = vec![
            text("tang", "李白", "静夜思", "床前明月光，疑是地上霜。举头望山月，低头思故乡。"),
            text("song", "某", "偶题", "床前明月光，窗外有青山。闲来无一事，独坐到天明。"),
        ];
        assert_eq!(collection_bits(&texts, &coll), vec![1, 0]);
    }

    /// A key held by two different poems, an unknown author and a title that is one
    /// word lend no rank; one poem filed twice takes it once, and a key filed twice in
    /// the rank data counts once, with its best entry.
    #[test]
    fn a_rank_is_lent_only_to_the_one_poem_it_names() {
        let texts = vec![
            text("tang", "王维", "使至塞上", "单车欲问边，属国过居延。征蓬出汉塞，归雁入胡天。"),
            text("tang", "王维", "使至塞上", "衔命辞天阙，单车欲问边。征蓬出汉塞，归雁入胡天。"),
            text("tang", "陆游", "示儿", "死去元知万事空，但悲不见九州同。"),
            text("tang", "陆游", "示儿", "另有一首诗，不是那一首。"),
            text("tang", "张三", "月", "明月照高楼，流光正徘徊。"),
            text("tang", "李白", "赠汪伦", "李白乘舟将欲行，忽闻岸上踏歌声。"),
            text("tang", "杜牧", "山行", "远上寒山石径斜，白云生处有人家。"),
            text("tang", "无名氏", "无题诗", "一首无名诗，不知谁人作。"),
        ];
        let e = |a: &str, t: &str, s: f64| RankEntry { author: a.into(), title: t.into(), score: s };
        let ranked = vec![(
            "tang",
            vec![
                e("张三", "月", 99.0),
                e("王维", "使至塞上", 50.0),
                e("陆游", "示儿", 40.0),
                e("杜牧", "山行", 20.0),
                e("杜牧", "山行", 45.0),
                e("李白", "赠汪伦", 30.0),
                e("无名氏", "无题诗", 20.0),
            ],
        )];
        let r = rank_percents(&texts, &ranked);
        // Usable, best first: 使至塞上 50, 山行 45, 示儿 40, 赠汪伦 30.
        let want: HashMap<usize, f64> = [(0, 0.0), (6, 25.0), (5, 75.0)].into_iter().collect();
        assert_eq!(r, want);
    }

    /// 三字经's lines of three characters identify it too.
    #[test]
    fn short_lines_identify_a_primer() {
        let coll = vec![vec!["人之初，性本善。性相近，习相远。".to_string()]];
        let texts = vec![text("mengxue-verse", "王应麟", "三字经", "人之初，性本善。性相近，习相远。")];
        assert_eq!(collection_bits(&texts, &coll), vec![1]);
    }

    #[test]
    fn the_canon_file_round_trips() {
        let c = CanonText {
            index: 3,
            source: "tang".into(),
            author: "王维".into(),
            title: "使至塞上".into(),
            chars: 48,
            score: 1.5,
            collections: vec![],
            rank_percent: Some(2.5),
            quoted: 0,
        };
        let line = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<CanonText>(&line).unwrap(), c);
    }
}
