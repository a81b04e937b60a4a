//! Regulated-verse prosody: each vocabulary character's level/oblique tone (平/仄)
//! and 平水韵 rhyme groups (`www/model/prosody.json`, built by `scripts/prosody.sh`),
//! and the metre checker: which standard tone pattern a 绝句 or 律诗 follows, where
//! it breaks it, which rhyme group its rhyme positions share; for a couplet (对对子),
//! whether the second line answers the first.
//!
//! The patterns: four five-character lines, named by tone —
//! A 仄仄平平仄, B 平平仄仄平, C 平平平仄仄, D 仄仄仄平平 — and their seven-character
//! forms (two characters of the opposite tone in front). A quatrain follows from its
//! first line by the rules of 对 (a couplet's lines oppose) and 粘 (a line takes the
//! second tone of the line before): A B C D, C D A B, and with a rhyming first line
//! D B C D, B D A B; a 律诗 is two quatrains, the second starting unrhymed. The key
//! positions are the even ones and the last (一三五不论，二四六分明); lines whose
//! pattern ends 平 rhyme, all in one level rhyme group.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::tasks::{PoemForm, LINE_END};
use crate::tokenizer::PoemTokenizer;

pub const FORMAT: &str = "unmask-prosody";
pub const VERSION: u32 = 1;
/// The largest prosody file accepted (the bundled one is ~60 KB).
pub const MAX_BYTES: usize = 4 << 20;

/// A character's tone class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// 平
    Level,
    /// 仄
    Oblique,
    /// Both readings are attested (多音字): fits either.
    Either,
    /// No data.
    Unknown,
}

impl Tone {
    pub fn mark(self) -> char {
        match self {
            Tone::Level => '平',
            Tone::Oblique => '仄',
            Tone::Either => '中',
            Tone::Unknown => '？',
        }
    }

    fn from_mark(c: char) -> Option<Tone> {
        [Tone::Level, Tone::Oblique, Tone::Either, Tone::Unknown].into_iter().find(|t| t.mark() == c)
    }

    /// Whether a character of this tone may stand where `want` is asked for. A
    /// character without data is not counted against the poem.
    pub fn fits(self, want: Tone) -> bool {
        matches!(self, Tone::Either | Tone::Unknown) || self == want
    }

    pub fn opposite(self) -> Tone {
        match self {
            Tone::Level => Tone::Oblique,
            Tone::Oblique => Tone::Level,
            t => t,
        }
    }
}

/// One 平水韵 group as the file stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// E.g. `下平十一尤`.
    pub name: String,
    /// A level-tone (平声) group: the ones regulated verse rhymes in.
    pub level: bool,
    /// Its characters that are in the vocabulary, in id order.
    pub chars: String,
}

/// The file: a tone mark per vocabulary id (平 仄 中 ？, specials ？) and the groups.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProsodyFile {
    pub format: String,
    pub version: u32,
    pub vocab_size: usize,
    pub tones: String,
    pub groups: Vec<Group>,
    /// The characters that may stand beside themselves in a line under the repeat
    /// rule (叠字 such as 萋萋; not 不不). Empty (files without it): any character.
    #[serde(default)]
    pub doubles: String,
    /// Where the data comes from, and its coverage (informational).
    #[serde(default)]
    pub sources: serde_json::Value,
}

#[derive(Debug, Error, PartialEq)]
pub enum ProsodyError {
    #[error("the prosody file is larger than {} MiB", MAX_BYTES >> 20)]
    TooLarge,
    #[error("the prosody file is not valid: {0}")]
    Json(String),
    #[error("not an Unmask prosody file (format `{0}`, version {1})")]
    Format(String, u32),
    #[error("the prosody file is for {file} ids; the tokenizer has {tokenizer}")]
    Vocab { file: usize, tokenizer: usize },
    #[error("the prosody file has {0} tone marks for {1} ids, or a mark other than 平 仄 中 ？")]
    Tones(usize, usize),
    #[error("rhyme group `{0}` lists {1}, which is not in the vocabulary")]
    Char(String, String),
    #[error("the 叠字 list holds {0}, which is not in the vocabulary")]
    Double(String),
}

/// Tones and rhyme groups by token id.
#[derive(Clone, Debug)]
pub struct Prosody {
    tones: Vec<Tone>,
    groups: Vec<Group>,
    of_id: HashMap<u32, Vec<u16>>,
    /// Sorted ids of `ProsodyFile::doubles`.
    doubles: Vec<u32>,
}

impl Prosody {
    pub fn from_bytes(bytes: &[u8], tok: &PoemTokenizer) -> Result<Prosody, ProsodyError> {
        if bytes.len() > MAX_BYTES {
            return Err(ProsodyError::TooLarge);
        }
        let f: ProsodyFile = serde_json::from_slice(bytes).map_err(|e| ProsodyError::Json(e.to_string()))?;
        Prosody::from_file(f, tok)
    }

    pub fn from_file(f: ProsodyFile, tok: &PoemTokenizer) -> Result<Prosody, ProsodyError> {
        if f.format != FORMAT || f.version != VERSION {
            return Err(ProsodyError::Format(f.format, f.version));
        }
        if f.vocab_size != tok.vocab_size() {
            return Err(ProsodyError::Vocab { file: f.vocab_size, tokenizer: tok.vocab_size() });
        }
        let tones: Vec<Tone> = f.tones.chars().map_while(Tone::from_mark).collect();
        if tones.len() != f.vocab_size || f.tones.chars().count() != f.vocab_size {
            return Err(ProsodyError::Tones(f.tones.chars().count(), f.vocab_size));
        }
        // Groups list vocabulary tokens exactly (the builder wrote them): look them up
        // directly, not through the normaliser.
        let ids: HashMap<&str, u32> = (0..f.vocab_size as u32).map(|id| (tok.token(id), id)).collect();
        let mut of_id: HashMap<u32, Vec<u16>> = HashMap::new();
        for (g, group) in f.groups.iter().enumerate().take(u16::MAX as usize) {
            for c in group.chars.chars() {
                let id = ids
                    .get(c.encode_utf8(&mut [0; 4]) as &str)
                    .copied()
                    .filter(|&id| id > 2)
                    .ok_or_else(|| ProsodyError::Char(group.name.clone(), crate::tasks::shown(c)))?;
                of_id.entry(id).or_default().push(g as u16);
            }
        }
        let mut doubles = f
            .doubles
            .chars()
            .map(|c| {
                ids.get(c.encode_utf8(&mut [0; 4]) as &str)
                    .copied()
                    .filter(|&id| id > 2)
                    .ok_or_else(|| ProsodyError::Double(crate::tasks::shown(c)))
            })
            .collect::<Result<Vec<u32>, _>>()?;
        doubles.sort_unstable();
        doubles.dedup();
        Ok(Prosody { tones, groups: f.groups, of_id, doubles })
    }

    /// The ids that may stand beside themselves under the repeat rule (sorted; empty:
    /// any), as `sampler::Constraints::doubles` takes them.
    pub fn doubles(&self) -> &[u32] {
        &self.doubles
    }

    pub fn tone(&self, id: u32) -> Tone {
        self.tones.get(id as usize).copied().unwrap_or(Tone::Unknown)
    }

    /// The rhyme groups of an id (indices into [`Self::group`]).
    pub fn groups_of(&self, id: u32) -> &[u16] {
        self.of_id.get(&id).map_or(&[], Vec::as_slice)
    }

    pub fn group(&self, g: u16) -> &Group {
        &self.groups[g as usize]
    }

    pub fn n_groups(&self) -> usize {
        self.groups.len()
    }
}

/// The four five-character line patterns (seven-character: the opposite tone twice in front).
const LINES: [&str; 4] = ["仄仄平平仄", "平平仄仄平", "平平平仄仄", "仄仄仄平平"];
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;

/// The standard patterns of a poem by its first line, as the user picks them: 平起 or
/// 仄起 (the tone of the second character), first line rhyming or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    Ping,
    PingRhymed,
    Ze,
    ZeRhymed,
}

impl Pattern {
    pub const ALL: [Pattern; 4] = [Pattern::Ping, Pattern::PingRhymed, Pattern::Ze, Pattern::ZeRhymed];

    /// The name in URLs, the widget's `pattern` attribute and the CLI's `--pattern`.
    pub fn key(self) -> &'static str {
        match self {
            Pattern::Ping => "ping",
            Pattern::PingRhymed => "ping-rhymed",
            Pattern::Ze => "ze",
            Pattern::ZeRhymed => "ze-rhymed",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Pattern::Ping => "平起首句不入韵",
            Pattern::PingRhymed => "平起首句入韵",
            Pattern::Ze => "仄起首句不入韵",
            Pattern::ZeRhymed => "仄起首句入韵",
        }
    }

    /// The first line's pattern (A–D) for lines of `width` characters.
    fn first_line(self, width: usize) -> usize {
        let (lead, rhymed) = match self {
            Pattern::Ping => (Tone::Level, false),
            Pattern::PingRhymed => (Tone::Level, true),
            Pattern::Ze => (Tone::Oblique, false),
            Pattern::ZeRhymed => (Tone::Oblique, true),
        };
        [A, B, C, D]
            .into_iter()
            .find(|&k| {
                let p = line_pattern(k, width);
                p[1] == lead && (p[width - 1] == Tone::Level) == rhymed
            })
            .expect("each pattern has a first line")
    }
}

impl std::str::FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Pattern::ALL.into_iter().find(|p| p.key() == s || p.name() == s).ok_or_else(|| {
            let keys: Vec<&str> = Pattern::ALL.iter().map(|p| p.key()).collect();
            format!("unknown pattern `{s}` ({})", keys.join(", "))
        })
    }
}

/// A poem's line patterns from its first line: a quatrain, and the second half of a 律诗.
fn sequence(first: usize, lines: usize) -> Vec<usize> {
    let (q1, q2) = match first {
        A => ([A, B, C, D], [A, B, C, D]),
        C => ([C, D, A, B], [C, D, A, B]),
        D => ([D, B, C, D], [A, B, C, D]),
        _ => ([B, D, A, B], [C, D, A, B]),
    };
    q1.iter().chain(q2.iter()).copied().take(lines).collect()
}

fn line_pattern(kind: usize, width: usize) -> Vec<Tone> {
    let five: Vec<Tone> = LINES[kind].chars().map(|c| Tone::from_mark(c).expect("a tone mark")).collect();
    if width == 5 {
        return five;
    }
    let lead = five[0].opposite();
    [lead, lead].into_iter().chain(five).collect()
}

/// Positions where the tone is required: the even ones and the last.
fn key(pos: usize, width: usize) -> bool {
    pos % 2 == 1 || pos + 1 == width
}

/// One character as the checker sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub ch: char,
    pub tone: Tone,
    /// The tone the pattern asks for here, if the text follows one.
    pub want: Option<Tone>,
    /// A position whose tone the rules fix (not free by 一三五不论).
    pub key: bool,
    /// A rhyme position (the end of a line whose pattern ends 平).
    pub rhyme: bool,
    /// At a rhyme position: in the poem's rhyme group (or without rhyme data).
    pub in_group: bool,
    /// Holds the pattern (or is free), and at a rhyme position is in the poem's group.
    pub ok: bool,
    /// What is wrong, when not ok.
    pub why: Option<Why>,
}

/// What breaks a rule at one character. `Display` says it in English (the CLI); the
/// page says it in the visitor's language.
#[derive(Clone, Debug, PartialEq)]
pub enum Why {
    /// A tone where the pattern asks for another.
    Tone { got: Tone, want: Tone },
    /// A rhyme position outside the poem's level group (`None`: no group found).
    OffRhyme { group: Option<String> },
    /// The first line of a 对对子 ends 平; it ends 仄.
    CoupletFirstEnd,
    /// The answer's tone does not oppose the first line's character `of`.
    CoupletTone { got: Tone, of: char, want: Tone },
    /// The answer repeats the first line's character `ch` at the same position.
    CoupletRepeat { ch: char },
    /// The rhyme character of line `line` (1-based) again (重韵).
    RepeatedRhyme { ch: char, line: usize },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Tone { got, want } => write!(f, "{} where the pattern asks for {}", got.mark(), want.mark()),
            Why::OffRhyme { group } => {
                write!(f, "does not rhyme in {}", group.as_deref().unwrap_or("the poem's group"))
            }
            Why::CoupletFirstEnd => write!(f, "the first line of a couplet ends 仄"),
            Why::CoupletTone { got, of, want } => {
                write!(f, "{} where the answer to {of} needs {}", got.mark(), want.mark())
            }
            Why::CoupletRepeat { ch } => write!(f, "{ch} repeats the first line's character here"),
            Why::RepeatedRhyme { line, .. } => write!(f, "line {line} already rhymes on it (重韵)"),
        }
    }
}

/// A pinned character that breaks the plan's pattern or rhyme (reported, never changed).
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// Position in the template.
    pub at: usize,
    pub ch: char,
    pub why: Why,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.why {
            Why::Tone { .. } => write!(f, "pinned {} is {}", self.ch, self.why),
            why => write!(f, "pinned {} {why}", self.ch),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub marks: Vec<Mark>,
    /// The punctuation that closes it.
    pub end: String,
}

/// What the checker found.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The form, when the text is a 绝句 or 律诗 by shape.
    pub form: Option<PoemForm>,
    /// `couplet` for two lines of 5 or 7 characters.
    pub couplet: bool,
    /// E.g. `仄起首句不入韵`.
    pub pattern: Option<String>,
    /// The level rhyme group shared by the rhyme positions.
    pub rhyme_group: Option<String>,
    pub lines: Vec<Line>,
    pub violations: usize,
}

fn split_lines(text: &str) -> Vec<(Vec<char>, String)> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for c in crate::tasks::mark_line_breaks(text).chars().filter(|c| !c.is_whitespace()) {
        if let Some(end) = crate::tasks::line_mark(c) {
            out.push((std::mem::take(&mut cur), end.to_string()));
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push((cur, String::new()));
    }
    out.retain(|(l, _)| !l.is_empty());
    out
}

/// Checks `text` (any punctuation between lines). Characters outside the vocabulary
/// have tone `Unknown` and never count as violations.
pub fn check(p: &Prosody, tok: &PoemTokenizer, text: &str) -> Report {
    check_shapes(p, tok, text, true)
}

/// [`check`] as the result of `task` is judged: two lines are a 对对子 only in the
/// couplet tasks. A next or previous line makes one couplet (联) of some poem, whose
/// rules depend on the poem around it (床前明月光，疑是地上霜 breaks the 对对子 rules
/// and is no worse for it): tones only.
pub fn check_task(p: &Prosody, tok: &PoemTokenizer, text: &str, task: crate::tasks::Task) -> Report {
    check_shapes(p, tok, text, matches!(task, crate::tasks::Task::Pair | crate::tasks::Task::PairPrev))
}

fn check_shapes(p: &Prosody, tok: &PoemTokenizer, text: &str, couplets: bool) -> Report {
    let lines = split_lines(text);
    let id = |c: char| tok.char_id(c);
    let tone = |c: char| id(c).map_or(Tone::Unknown, |i| p.tone(i));
    let mut report = Report {
        form: None,
        couplet: false,
        pattern: None,
        rhyme_group: None,
        lines: lines
            .iter()
            .map(|(l, end)| Line {
                marks: l
                    .iter()
                    .map(|&ch| Mark {
                        ch,
                        tone: tone(ch),
                        want: None,
                        key: false,
                        rhyme: false,
                        in_group: true,
                        ok: true,
                        why: None,
                    })
                    .collect(),
                end: end.clone(),
            })
            .collect(),
        violations: 0,
    };
    let width = lines.first().map_or(0, |l| l.0.len());
    let even = lines.iter().all(|l| l.0.len() == width);
    match lines.len() {
        // 对对子 come in any length.
        2 if couplets && even && width >= 2 => check_couplet(&mut report, width),
        4 | 8 if even && (width == 5 || width == 7) => check_poem(p, tok, &mut report, width),
        _ => {}
    }
    report.violations = report.lines.iter().flat_map(|l| &l.marks).filter(|m| !m.ok).count();
    report
}

fn check_poem(p: &Prosody, tok: &PoemTokenizer, r: &mut Report, width: usize) {
    let n = r.lines.len();
    r.form = PoemForm::ALL.into_iter().find(|f| f.chars_per_line() == width && f.lines() == n);
    // The pattern the text breaks least at key positions (fewest: earliest in A C D B).
    let misses = |first: usize| -> usize {
        sequence(first, n)
            .iter()
            .zip(&r.lines)
            .map(|(&k, line)| {
                let pat = line_pattern(k, width);
                line.marks.iter().enumerate().filter(|(i, m)| key(*i, width) && !m.tone.fits(pat[*i])).count()
            })
            .sum()
    };
    let first = [A, C, D, B].into_iter().min_by_key(|&f| misses(f)).expect("four patterns");
    let seq = sequence(first, n);
    let p1 = line_pattern(seq[0], width);
    r.pattern = Some(format!("{}起首句{}入韵", p1[1].mark(), if p1[width - 1] == Tone::Level { "" } else { "不" }));
    // The level group most rhyme positions share.
    let ends: Vec<(usize, u32)> = seq
        .iter()
        .enumerate()
        .filter(|(_, &k)| line_pattern(k, width)[width - 1] == Tone::Level)
        .filter_map(|(li, _)| tok.char_id(r.lines[li].marks[width - 1].ch).map(|id| (li, id)))
        .collect();
    let mut votes: HashMap<u16, usize> = HashMap::new();
    for &(_, id) in &ends {
        for &g in p.groups_of(id).iter().filter(|&&g| p.group(g).level) {
            *votes.entry(g).or_default() += 1;
        }
    }
    let group = votes.into_iter().max_by_key(|&(g, v)| (v, std::cmp::Reverse(g))).map(|(g, _)| g);
    r.rhyme_group = group.map(|g| p.group(g).name.clone());
    // The line each rhyme character first closed (a later one again is 重韵).
    let mut rhymed: HashMap<char, usize> = HashMap::new();
    for (li, line) in r.lines.iter_mut().enumerate() {
        let pat = line_pattern(seq[li], width);
        for (i, m) in line.marks.iter_mut().enumerate() {
            m.want = Some(pat[i]);
            m.key = key(i, width);
            if m.key && !m.tone.fits(pat[i]) {
                m.ok = false;
                m.why = Some(Why::Tone { got: m.tone, want: pat[i] });
            }
        }
        let last = &mut line.marks[width - 1];
        if pat[width - 1] == Tone::Level {
            last.rhyme = true;
            let in_group = tok.char_id(last.ch).is_some_and(|id| group.is_some_and(|g| p.groups_of(id).contains(&g)));
            let known = tok.char_id(last.ch).is_some_and(|id| !p.groups_of(id).is_empty());
            last.in_group = in_group || !known;
            if !last.in_group && last.ok {
                last.ok = false;
                last.why = Some(Why::OffRhyme { group: r.rhyme_group.clone() });
            }
            // (Characters outside the vocabulary, blanks among them, are never faults.)
            let first = *rhymed.entry(last.ch).or_insert(li);
            if first != li && last.ok && tok.char_id(last.ch).is_some() {
                last.ok = false;
                last.why = Some(Why::RepeatedRhyme { ch: last.ch, line: first + 1 });
            }
        }
    }
}

/// 对对子: the second line opposes the first at key positions, the first ends 仄 and
/// the second 平, and no character repeats at the same position.
fn check_couplet(r: &mut Report, width: usize) {
    r.couplet = true;
    let first: Vec<(char, Tone)> = r.lines[0].marks.iter().map(|m| (m.ch, m.tone)).collect();
    let (l1, l2) = r.lines.split_at_mut(1);
    let last = width - 1;
    for (i, m) in l1[0].marks.iter_mut().enumerate() {
        m.key = i == last;
        if i == last {
            m.want = Some(Tone::Oblique);
            if !m.tone.fits(Tone::Oblique) {
                m.ok = false;
                m.why = Some(Why::CoupletFirstEnd);
            }
        }
    }
    for (i, m) in l2[0].marks.iter_mut().enumerate() {
        m.key = key(i, width);
        let (ch1, t1) = first[i];
        let want = if i == last { Tone::Level } else { t1.opposite() };
        if m.key && matches!(want, Tone::Level | Tone::Oblique) {
            m.want = Some(want);
            if !m.tone.fits(want) {
                m.ok = false;
                m.why = Some(Why::CoupletTone { got: m.tone, of: ch1, want });
            }
        }
        if m.ch == ch1 {
            m.ok = false;
            m.why = Some(Why::CoupletRepeat { ch: m.ch });
        }
    }
}

/// How far a set of checked texts keeps the rules (the poems among them: texts the
/// checker found a form or couplet in).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Compliance {
    /// Texts with a form (or couplets).
    pub checked: usize,
    /// Of those, with no violation at all.
    pub clean: usize,
    /// Key positions (tone fixed by the pattern) and how many hold it.
    pub key_positions: usize,
    pub key_ok: usize,
    /// Rhyme positions and how many are in the poem's group.
    pub rhyme_positions: usize,
    pub rhyme_ok: usize,
}

impl Compliance {
    pub fn add(&mut self, r: &Report) {
        if r.form.is_none() && !r.couplet {
            return;
        }
        self.checked += 1;
        self.clean += usize::from(r.violations == 0);
        for m in r.lines.iter().flat_map(|l| &l.marks) {
            let tone_ok = m.want.is_none_or(|w| m.tone.fits(w));
            if m.key {
                self.key_positions += 1;
                self.key_ok += usize::from(tone_ok);
            }
            if m.rhyme {
                self.rhyme_positions += 1;
                self.rhyme_ok += usize::from(m.in_group);
            }
        }
    }

    pub fn percent(a: usize, b: usize) -> f64 {
        100.0 * a as f64 / b.max(1) as f64
    }
}

/// How a constrained text was planned: the pattern, the rhyme group and how it was
/// chosen, and the pinned characters that break the pattern (reported, never changed).
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// E.g. `仄起首句不入韵`, or `对对子`.
    pub pattern: String,
    /// The level group every rhyme position keeps (poems only).
    pub rhyme_group: Option<String>,
    /// `given`, `pinned` (from a pinned rhyme character) or `model`.
    pub group_from: &'static str,
    /// Pinned characters against the pattern.
    pub conflicts: Vec<Conflict>,
}

/// A level rhyme group by name (`下平十一尤`), by the last character of its name
/// (`尤`), or by any character in it (`光`: rhyme with 光, 下平七阳).
pub fn find_group(p: &Prosody, tok: &PoemTokenizer, name: &str) -> Option<u16> {
    let name = name.trim();
    let by_name = (0..p.groups.len() as u16).find(|&g| {
        let gr = p.group(g);
        gr.level && (gr.name == name || gr.name.chars().last().is_some_and(|c| name.chars().eq([c])))
    });
    let mut chars = name.chars();
    let by_char = match (chars.next(), chars.next()) {
        (Some(c), None) => tok.char_id(c).and_then(|id| p.groups_of(id).iter().copied().find(|&g| p.group(g).level)),
        _ => None,
    };
    by_name.or(by_char)
}

/// Why a request's verse constraints could not be made.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum VerseError {
    #[error("unknown rhyme group `{0}`: give a level group (上平一东 … 下平十五咸), its last character, or a character to rhyme with")]
    UnknownGroup(String),
    #[error("{0}")]
    Template(String),
    #[error("对对子 needs the tone data (prosody.json), which is not loaded")]
    NoProsody,
}

/// The constraints a request's template is sampled under, and how regulated verse
/// planned them: a whole poem with `metre` on keeps its form's tone pattern, one rhyme
/// group (`rhyme`, else the model's choice) and the repeat rule; with `metre` off, or
/// without the tone data `p`, the repeat rule alone (no loops, whatever the rules: 叠字
/// stay allowed, those of the data's list where it is loaded), without a plan; 对对子
/// always keeps the couplet rules (an error without the data). Other tasks get none.
pub fn request_constraints(
    p: Option<&Prosody>,
    tok: &PoemTokenizer,
    model: &dyn crate::cpu::Forward,
    req: &crate::request::Request,
    prompt: &crate::tasks::Prompt,
) -> Result<Option<(crate::sampler::Constraints, Option<Plan>)>, VerseError> {
    use crate::tasks::Task;
    let doubles = p.map(|p| p.doubles.clone()).unwrap_or_default();
    // (One branch runs: the list moves into its constraints.)
    let with_doubles = move |(c, plan): (crate::sampler::Constraints, Option<Plan>)| {
        Some((crate::sampler::Constraints { doubles, ..c }, plan))
    };
    match (req.task, p) {
        (Task::Poem, Some(p)) if req.metre => {
            let group = match req.rhyme.trim() {
                "" => None,
                name => Some(find_group(p, tok, name).ok_or_else(|| VerseError::UnknownGroup(name.into()))?),
            };
            let pattern = match req.pattern.trim() {
                "" => None,
                name => Some(name.parse().map_err(VerseError::Template)?),
            };
            let rows = |at: &[usize]| model.forward_rows(&prompt.tokens, at);
            let choice = Choice { pattern, group, seed: req.params.seed, temperature: req.params.temperature };
            let (c, plan) =
                poem_constraints(p, tok, &prompt.tokens, req.form, choice, rows).map_err(VerseError::Template)?;
            Ok(with_doubles((c, Some(plan))))
        }
        (Task::Poem, _) => {
            let line = poem_lines(&prompt.tokens, req.form).map_err(VerseError::Template)?;
            Ok(with_doubles((crate::sampler::Constraints { line, ..Default::default() }, None)))
        }
        (Task::Pair | Task::PairPrev, Some(p)) => {
            let (c, plan) = pair_constraints(p, tok, prompt);
            Ok(with_doubles((c, Some(plan))))
        }
        (Task::Pair | Task::PairPrev, None) => Err(VerseError::NoProsody),
        _ => Ok(None),
    }
}

/// 对对子 (a template from `TaskBuilder::pair`): each answer character takes the tone
/// opposite to the given line's at the same place at the even positions, never the
/// given line's character there, and no character twice in the answer (the repeat
/// rule); where the given character's tone is 中 or unknown, any tone goes. The last
/// character follows 仄起平收 whatever was given: a second line ends 平, a first line
/// 仄 (as the checker's couplet rules ask).
pub fn pair_constraints(
    p: &Prosody,
    tok: &PoemTokenizer,
    prompt: &crate::tasks::Prompt,
) -> (crate::sampler::Constraints, Plan) {
    let punct: Vec<u32> = LINE_END.iter().filter_map(|&c| tok.char_id(c)).collect();
    let t = &prompt.tokens;
    let mask = crate::tokenizer::MASK_ID;
    let given: Vec<usize> =
        (0..t.len()).filter(|&i| t[i] != mask && !punct.contains(&t[i]) && t[i] != crate::tokenizer::PAD_ID).collect();
    let width = prompt.masked.len();
    // The answer is the first line when its masks come before the given characters.
    let answer_first = prompt.masked.first() < given.first();
    let v = p.tones.len() as u32;
    // One class per distinct (tone wanted, given character).
    let mut kinds: Vec<(Tone, u32)> = Vec::new();
    let mut at = vec![0u8; t.len()];
    let mut line = vec![0u8; t.len()];
    for (i, (&a, &g)) in prompt.masked.iter().zip(&given).enumerate() {
        line[a] = 1;
        let tone = p.tone(t[g]);
        let want = match tone {
            _ if i + 1 == width => {
                if answer_first {
                    Tone::Oblique
                } else {
                    Tone::Level
                }
            }
            Tone::Level | Tone::Oblique if key(i, width) => tone.opposite(),
            _ => Tone::Unknown,
        };
        let k = kinds.iter().position(|&x| x == (want, t[g])).unwrap_or_else(|| {
            kinds.push((want, t[g]));
            kinds.len() - 1
        });
        at[a] = k as u8 + 1;
    }
    let classes = kinds
        .iter()
        .map(|&(want, ch)| {
            (3..v)
                .filter(|&id| {
                    id == ch || (want != Tone::Unknown && !matches!(p.tone(id), x if x == want || x == Tone::Either))
                })
                .collect()
        })
        .collect();
    let plan = Plan { pattern: "对对子".into(), rhyme_group: None, group_from: "", conflicts: Vec::new() };
    (crate::sampler::Constraints { classes, at, line, doubles: Vec::new() }, plan)
}

/// What the user chose of a poem's rules (`None`: decided as [`poem_constraints`]
/// says), and the request's seed and temperature for the model's rhyme choice.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Choice {
    pub pattern: Option<Pattern>,
    pub group: Option<u16>,
    pub seed: u32,
    pub temperature: f32,
}

/// The repeat rule's `Constraints::line` words of a whole poem's template of `form`:
/// its n-th line's characters are line n + 1, its punctuation and padding 0.
pub fn poem_lines(tokens: &[u32], form: PoemForm) -> Result<Vec<u8>, String> {
    let (width, n) = (form.chars_per_line(), form.lines());
    if tokens.len() < n * (width + 1) {
        return Err(format!("the template is too short for a {}", form.name()));
    }
    let mut line = vec![0u8; tokens.len()];
    for l in 0..n {
        line[l * (width + 1)..][..width].fill(l as u8 + 1);
    }
    Ok(line)
}

/// Per-position constraints for a whole-poem template of `form` (as
/// `TaskBuilder::poem` builds it, pins included): `pattern`, or the one that fits
/// the pinned characters best, its tone at every key position (平 allows 平 and 中, 仄 allows
/// 仄 and 中; characters without data are left out), and one level rhyme group at
/// every rhyme position — `group` if given, else the group of a pinned rhyme
/// character, else the one the model puts most probability on at the rhyme positions
/// (`rows(positions)` returns the model's logits there, row by row), or with a
/// temperature > 0 one drawn by those scores with the seed
/// (so each seed may rhyme differently, as each seed writes differently).
pub fn poem_constraints(
    p: &Prosody,
    tok: &PoemTokenizer,
    tokens: &[u32],
    form: PoemForm,
    choice: Choice,
    rows: impl FnOnce(&[usize]) -> Vec<f32>,
) -> Result<(crate::sampler::Constraints, Plan), String> {
    let Choice { pattern, group, seed, temperature } = choice;
    let (width, n) = (form.chars_per_line(), form.lines());
    if tokens.len() < n * (width + 1) {
        return Err(format!("the template is too short for a {}", form.name()));
    }
    let mask = crate::tokenizer::MASK_ID;
    let pos = |line: usize, i: usize| line * (width + 1) + i;
    let pinned_tone = |at: usize| (tokens[at] != mask).then(|| p.tone(tokens[at]));
    // The pattern that pinned characters break least at key positions.
    let misses = |first: usize| -> usize {
        let seq = sequence(first, n);
        (0..n)
            .flat_map(|l| (0..width).map(move |i| (l, i)))
            .filter(|&(l, i)| {
                key(i, width) && pinned_tone(pos(l, i)).is_some_and(|t| !t.fits(line_pattern(seq[l], width)[i]))
            })
            .count()
    };
    let first = match pattern {
        Some(p) => p.first_line(width),
        None => [A, C, D, B].into_iter().min_by_key(|&f| misses(f)).expect("four patterns"),
    };
    let seq = sequence(first, n);
    let p1 = line_pattern(seq[0], width);
    let pattern = format!("{}起首句{}入韵", p1[1].mark(), if p1[width - 1] == Tone::Level { "" } else { "不" });
    let rhyme_lines: Vec<usize> = (0..n).filter(|&l| line_pattern(seq[l], width)[width - 1] == Tone::Level).collect();
    let rhyme_pos: Vec<usize> = rhyme_lines.iter().map(|&l| pos(l, width - 1)).collect();
    let level_groups =
        |id: u32| -> Vec<u16> { p.groups_of(id).iter().copied().filter(|&g| p.group(g).level).collect() };
    let (g, from) = match group {
        Some(g) => (g, "given"),
        None => match rhyme_pos
            .iter()
            .find(|&&at| tokens[at] != mask)
            .and_then(|&at| level_groups(tokens[at]).first().copied())
        {
            Some(g) => (g, "pinned"),
            None => {
                let v = p.tones.len();
                let open: Vec<usize> = rhyme_pos.iter().copied().filter(|&at| tokens[at] == mask).collect();
                let logits = rows(&open);
                // Per row, each group's share of the probability, in one pass over the ids.
                let mut score = vec![0f64; p.groups.len()];
                for row in logits.chunks(v) {
                    let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                    let mut total = 0f64;
                    let mut mass = vec![0f64; p.groups.len()];
                    for (id, &x) in row.iter().enumerate() {
                        let e = f64::from((x - max).exp());
                        total += e;
                        for &g in p.groups_of(id as u32) {
                            mass[g as usize] += e;
                        }
                    }
                    for (s, m) in score.iter_mut().zip(&mass) {
                        *s += (m / total).max(1e-30).ln();
                    }
                }
                // Per rhyme position the log share; their mean is the group's score, and
                // a Gumbel draw at the temperature samples a group in proportion.
                let n = open.len().max(1) as f64;
                let noisy = |g: usize| {
                    let s = score[g] / n;
                    if temperature > 0.0 {
                        s + f64::from(temperature) * f64::from(crate::rng::gumbel(seed, u32::MAX, u32::MAX, g as u32))
                    } else {
                        s
                    }
                };
                let best =
                    (0..p.groups.len()).filter(|&g| p.groups[g].level).max_by(|&a, &b| noisy(a).total_cmp(&noisy(b)));
                (best.ok_or("no level rhyme group")? as u16, "model")
            }
        },
    };
    let v = p.tones.len() as u32;
    let not = |keep: &dyn Fn(u32) -> bool| -> Vec<u32> { (3..v).filter(|&id| !keep(id)).collect() };
    let level = not(&|id| matches!(p.tone(id), Tone::Level | Tone::Either));
    let oblique = not(&|id| matches!(p.tone(id), Tone::Oblique | Tone::Either));
    // A rhyme position is also a key one: a character of the level group whose tone
    // data says 仄 (another reading) would rhyme but break the pattern.
    let rhyme = not(&|id| p.groups_of(id).contains(&g) && matches!(p.tone(id), Tone::Level | Tone::Either));
    let mut at = vec![0u8; tokens.len()];
    let mut conflicts = Vec::new();
    for (l, &kind) in seq.iter().enumerate() {
        let pat = line_pattern(kind, width);
        for (i, &want) in pat.iter().enumerate() {
            let k = pos(l, i);
            let rhymes = rhyme_pos.contains(&k);
            if let Some(t) = pinned_tone(k) {
                let ch = tok.token(tokens[k]).chars().next().unwrap_or('?');
                if key(i, width) && !t.fits(want) {
                    conflicts.push(Conflict { at: k, ch, why: Why::Tone { got: t, want } });
                } else if rhymes && !p.groups_of(tokens[k]).contains(&g) {
                    conflicts.push(Conflict { at: k, ch, why: Why::OffRhyme { group: Some(p.group(g).name.clone()) } });
                }
                continue;
            }
            at[k] = if rhymes {
                3
            } else if key(i, width) {
                if want == Tone::Level {
                    1
                } else {
                    2
                }
            } else {
                0
            };
        }
    }
    let plan = Plan { pattern, rhyme_group: Some(p.group(g).name.clone()), group_from: from, conflicts };
    // The repeat rule in every line, and across the rhyme positions (no 重韵).
    let mut line = poem_lines(tokens, form)?;
    for &k in &rhyme_pos {
        line[k] |= crate::sampler::RHYME;
    }
    Ok((crate::sampler::Constraints { classes: vec![level, oblique, rhyme], at, line, doubles: Vec::new() }, plan))
}
