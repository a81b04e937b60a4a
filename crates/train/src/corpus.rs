//! Corpus pipeline: chinese-poetry JSON → cleaned, simplified texts with sampling
//! weights and a held-out flag (data/corpus/texts.jsonl), the character vocabulary and
//! tokenizer.json, and the famous-couplet eval set.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ferrous_opencc::{config::BuiltinConfig, OpenCC};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Punctuation that ends a line (a clause); the sampler cuts samples only after these.
pub const LINE_END: [char; 6] = ['，', '。', '？', '！', '；', '：'];
/// The line ends that close a sentence: a famous couplet `A，B。` ends with one and
/// starts after one.
pub const SENTENCE_END: [char; 4] = ['。', '？', '！', '；'];
/// Punctuation kept as tokens (`、` is an enumeration comma inside a line).
const KEEP_PUNCT: [char; 7] = ['，', '。', '？', '！', '；', '：', '、'];

#[derive(Deserialize)]
pub struct Mix {
    pub heldout_per_mille: u64,
    pub vocab_cap: usize,
    pub source: Vec<SourceSpec>,
}

#[derive(Deserialize)]
pub struct SourceSpec {
    pub name: String,
    pub files: Vec<String>,
    pub weight: f64,
    #[serde(default)]
    pub anthology: bool,
    #[serde(default)]
    pub rank: Vec<String>,
}

/// Collections a reader meets at school or in the classics, beyond the two anthologies
/// of the first couplet test: the broader famous-couplet set counts every couplet in
/// them as known (`couplets::famous`), and `--canon-boost` weights them up in training.
pub const CANON: [&str; 7] = ["shijing", "lunyu", "sishu", "chuci", "guwenguanzhi", "mengxue-verse", "shuimotangshi"];

/// Whether a text belongs to the [`CANON`] (百家姓, a list of surnames, does not).
pub fn is_canon(source: &str, title: &str) -> bool {
    canon_bit(source, title) != 0
}

/// The bit of a text's [`CANON`] collection (1 << its index; 0: not canon), for
/// boosting some collections of the canon only ([`canon_mask`]).
pub fn canon_bit(source: &str, title: &str) -> u8 {
    match CANON.iter().position(|&c| c == source) {
        Some(i) if title != "百家姓" => 1 << i,
        _ => 0,
    }
}

/// Every collection of the [`CANON`].
pub const ALL_CANON: u8 = (1 << CANON.len()) - 1;

/// The bits of the named [`CANON`] collections (none named: all of them); an unknown
/// name is an error that lists the known ones.
pub fn canon_mask(names: &[String]) -> Result<u8, String> {
    if names.is_empty() {
        return Ok(ALL_CANON);
    }
    names.iter().try_fold(0u8, |mask, name| match CANON.iter().position(|&c| c == name.trim()) {
        Some(i) => Ok(mask | 1 << i),
        None => Err(format!("{name:?} is not a canon collection (one of: {})", CANON.join(", "))),
    })
}

/// One cleaned text as stored in texts.jsonl.
#[derive(Serialize, Deserialize, Clone)]
pub struct Text {
    pub source: String,
    pub title: String,
    pub author: String,
    pub weight: f64,
    pub heldout: bool,
    pub anthology: bool,
    /// Simplified text; lines end with one of [`LINE_END`].
    pub text: String,
}

/// Splits a cleaned text into lines, each keeping its closing punctuation.
pub fn split_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if LINE_END.contains(&c) {
            out.push(&text[start..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Expands `dir/prefix*suffix` (one `*` in the file name) into sorted existing paths.
pub(crate) fn expand(root: &Path, pattern: &str) -> Result<Vec<PathBuf>> {
    let p = root.join(pattern);
    let name = p.file_name().unwrap().to_string_lossy().to_string();
    let Some((pre, suf)) = name.split_once('*') else {
        if !p.exists() {
            bail!("{} is missing", p.display());
        }
        return Ok(vec![p]);
    };
    let dir = p.parent().unwrap();
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| {
            let n = f.file_name().unwrap().to_string_lossy();
            n.len() >= pre.len() + suf.len() && n.starts_with(pre) && n.ends_with(suf)
        })
        .collect();
    // Natural order (poet.tang.1000 after poet.tang.0, …) so text indices are stable.
    v.sort_by_key(|f| {
        let n = f.file_name().unwrap().to_string_lossy().to_string();
        let digits: String = n.chars().filter(|c| c.is_ascii_digit()).collect();
        (digits.parse::<u64>().unwrap_or(u64::MAX), n)
    });
    Ok(v)
}

pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let s = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&s).with_context(|| format!("parsing {}", path.display()))
}

/// A raw text before cleaning: (title, author, paragraphs).
struct Raw {
    title: String,
    author: String,
    paragraphs: Vec<String>,
}

pub(crate) fn str_of(v: &Value, keys: &[&str]) -> String {
    keys.iter().find_map(|k| v.get(*k).and_then(|x| x.as_str())).unwrap_or("").trim().to_string()
}

/// Walks any of the package's layouts: an object with a string array under
/// `paragraphs`/`para`/`content` (or a string `content`) is one text; otherwise we
/// descend only into arrays and `content` — never into notes, abstracts, prefaces,
/// comments or prologues, which are modern annotations, not literature.
fn walk(v: &Value, out: &mut Vec<Raw>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
        Value::Object(o) => {
            for key in ["paragraphs", "para", "content"] {
                let paragraphs: Option<Vec<String>> = match o.get(key) {
                    Some(Value::Array(a)) if !a.is_empty() && a.iter().all(|x| x.is_string()) => {
                        Some(a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                    }
                    Some(Value::String(s)) if key == "content" => Some(vec![s.clone()]),
                    _ => None,
                };
                if let Some(paragraphs) = paragraphs {
                    out.push(Raw {
                        title: str_of(v, &["title", "chapter", "rhythmic"]),
                        author: str_of(v, &["author"]),
                        paragraphs,
                    });
                    return;
                }
            }
            if let Some(c) = o.get("content") {
                walk(c, out);
            }
        }
        _ => {}
    }
}

/// Removes bracketed annotations (`（一作：…）`, `[…]`, …) including nested ones.
fn strip_annotations(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' | '（' | '[' | '［' | '【' | '〔' | '{' | '｛' => depth += 1,
            ')' | '）' | ']' | '］' | '】' | '〕' | '}' | '｝' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Cleans one paragraph (already simplified): drops quotes and annotations, maps
/// half-width punctuation to full width, turns inner spaces (弟子规 style) into `，`.
/// Returns None when a character we cannot represent remains (□ for lost characters,
/// Latin, digits): a line with a hole would teach wrong line lengths.
fn clean_paragraph(p: &str, alternate_end: char) -> Option<String> {
    let p = strip_annotations(p);
    let mut s = String::new();
    let mut pending_space = false;
    for c in p.chars() {
        let c = match c {
            ',' => '，',
            '.' | '｡' => '。',
            '?' => '？',
            '!' => '！',
            ';' => '；',
            ':' => '：',
            '·' | '・' => continue,
            c => c,
        };
        if c.is_whitespace() || c == '\u{3000}' {
            pending_space = !s.is_empty();
            continue;
        }
        if matches!(c, '“' | '”' | '‘' | '’' | '「' | '」' | '『' | '』' | '《' | '》' | '〈' | '〉' | '"' | '\'')
        {
            continue;
        }
        if pending_space && !s.ends_with(|e| KEEP_PUNCT.contains(&e)) && is_cjk(c) {
            s.push('，');
        }
        pending_space = false;
        if is_cjk(c) || KEEP_PUNCT.contains(&c) {
            // Collapse doubled punctuation left behind by removed annotations.
            if KEEP_PUNCT.contains(&c) && (s.is_empty() || s.ends_with(|e| KEEP_PUNCT.contains(&e))) {
                continue;
            }
            s.push(c);
        } else if c == '—' || c == '…' || c == '-' {
            continue;
        } else {
            return None;
        }
    }
    if s.is_empty() {
        return None;
    }
    if !s.ends_with(|e| LINE_END.contains(&e)) {
        // Paragraph without final punctuation (千字文 items, 纳兰 stanzas).
        s.push(if s.contains(|e| LINE_END.contains(&e)) { '。' } else { alternate_end });
    }
    Some(s)
}

pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    h
}

/// The held-out split, defined in code: a stable hash of (source name, text index).
pub fn is_heldout(source: &str, index: usize, per_mille: u64) -> bool {
    fnv(&format!("{source}#{index}")) % 1000 < per_mille
}

/// Popularity boost from the rank files' Baidu hit counts, by percentile in the source.
fn rank_boosts(root: &Path, patterns: &[String]) -> Result<HashMap<(String, String), f64>> {
    let mut hits: Vec<((String, String), f64)> = Vec::new();
    for pat in patterns {
        for f in expand(root, pat)? {
            if let Value::Array(a) = read_json(&f)? {
                for e in a {
                    let key = (str_of(&e, &["author"]), str_of(&e, &["title", "rhythmic"]));
                    hits.push((key, e.get("baidu").and_then(|x| x.as_f64()).unwrap_or(0.0)));
                }
            }
        }
    }
    let mut sorted: Vec<f64> = hits.iter().map(|h| h.1).collect();
    sorted.sort_by(|a, b| b.partial_cmp(a).unwrap());
    let at = |q: f64| sorted.get((sorted.len() as f64 * q) as usize).copied().unwrap_or(f64::MAX);
    let (p05, p2, p10) = (at(0.005), at(0.02), at(0.10));
    let mut out = HashMap::new();
    for (k, h) in hits {
        let b = if h >= p05 {
            6.0
        } else if h >= p2 {
            3.0
        } else if h >= p10 {
            1.5
        } else {
            1.0
        };
        let e = out.entry(k).or_insert(1.0f64);
        *e = e.max(b);
    }
    Ok(out)
}

pub fn t2s_converter() -> Result<OpenCC> {
    OpenCC::from_config(BuiltinConfig::T2s).map_err(|e| anyhow::anyhow!("opencc: {e}"))
}

/// Reads every source of the mix and returns cleaned, weighted texts.
pub fn load_texts(root: &Path, mix: &Mix) -> Result<Vec<Text>> {
    let cc = t2s_converter()?;
    let mut texts = Vec::new();
    let mut anthology_lines: HashSet<String> = HashSet::new();
    for src in &mix.source {
        let boosts = rank_boosts(root, &src.rank)?;
        let mut raws = Vec::new();
        for pat in &src.files {
            for f in expand(root, pat)? {
                walk(&read_json(&f)?, &mut raws);
            }
        }
        let (mut n, mut boosted) = (0usize, 0usize);
        for (index, raw) in raws.into_iter().enumerate() {
            let boost = boosts.get(&(raw.author.clone(), raw.title.clone())).copied().unwrap_or(1.0);
            let mut body = String::new();
            for (i, p) in raw.paragraphs.iter().enumerate() {
                let simp = cc.convert(p);
                // Drop only the damaged paragraph, keep the rest of the text.
                if let Some(s) = clean_paragraph(&simp, if i % 2 == 0 { '，' } else { '。' }) {
                    body.push_str(&s);
                }
            }
            let chars = body.chars().count();
            if chars < 4 {
                continue;
            }
            if src.anthology {
                anthology_lines.extend(split_lines(&body).iter().map(|l| l.to_string()));
            }
            n += 1;
            boosted += (boost > 1.0) as usize;
            texts.push(Text {
                source: src.name.clone(),
                title: cc.convert(&raw.title),
                author: cc.convert(&raw.author),
                weight: src.weight * boost * (chars.max(32) as f64 / 64.0),
                heldout: !src.anthology && is_heldout(&src.name, index, mix.heldout_per_mille),
                anthology: src.anthology,
                text: body,
            });
        }
        eprintln!("  {:<18} {:>7} texts ({} popularity-boosted)", src.name, n, boosted);
    }
    // A held-out text that shares a line with an anthology poem (the same famous poem in
    // 全唐诗) would leak the eval couplets out of training: keep it in training.
    for t in texts.iter_mut().filter(|t| t.heldout) {
        if split_lines(&t.text).iter().any(|l| anthology_lines.contains(*l)) {
            t.heldout = false;
        }
    }
    Ok(texts)
}

/// Vocabulary: characters by frequency in the training texts (ties by code point).
pub fn build_vocab(texts: &[Text], cap: usize) -> (Vec<char>, f64) {
    let mut freq: HashMap<char, u64> = HashMap::new();
    for t in texts.iter().filter(|t| !t.heldout) {
        for c in t.text.chars() {
            *freq.entry(c).or_default() += 1;
        }
    }
    let total: u64 = freq.values().sum();
    let mut v: Vec<(char, u64)> = freq.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // Punctuation first so its ids are stable whatever the corpus.
    let mut chars: Vec<char> = KEEP_PUNCT.to_vec();
    for (c, _) in &v {
        if chars.len() + unmask::tokenizer::SPECIAL_TOKENS.len() >= cap {
            break;
        }
        if !chars.contains(c) {
            chars.push(*c);
        }
    }
    let set: HashSet<char> = chars.iter().copied().collect();
    let covered: u64 = v.iter().filter(|(c, _)| set.contains(c)).map(|x| x.1).sum();
    (chars, covered as f64 / total.max(1) as f64)
}

/// Single-character traditional→simplified pairs: every CJK code point through OpenCC.
pub fn t2s_table(cc: &OpenCC) -> Vec<(char, char)> {
    let mut out = Vec::new();
    for cp in 0x3400u32..=0x9FFF {
        let Some(c) = char::from_u32(cp) else { continue };
        let s = cc.convert(&c.to_string());
        let mut it = s.chars();
        if let (Some(d), None) = (it.next(), it.next()) {
            if d != c {
                out.push((c, d));
            }
        }
    }
    out
}
