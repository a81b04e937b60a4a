//! The metre checker: which pattern a text follows and where it breaks it, its
//! rhyme group, the 对对子 rules; and compliance over many texts.

use super::pattern::*;
use super::*;

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
