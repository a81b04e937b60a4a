//! The corpus's sentences `A，B。` and where each stands: what the famous-couplet
//! sets (`couplets`) and the canon's quotation signal (`canon`) are both read from.

use std::collections::{HashMap, HashSet};

use crate::corpus::{split_lines, Text};

/// A line without its closing punctuation.
pub(crate) fn bare(line: &str) -> &str {
    line.trim_end_matches(crate::corpus::LINE_END)
}

/// Share of equal characters at equal positions (0 when the lengths differ).
fn likeness(a: &str, b: &str) -> f64 {
    let (n, m) = (a.chars().count(), b.chars().count());
    if n != m || n == 0 {
        return 0.0;
    }
    a.chars().zip(b.chars()).filter(|(x, y)| x == y).count() as f64 / n as f64
}

/// Every sentence `A，B。` of the corpus (equal lines of 4–7 characters in the
/// vocabulary) with the texts it stands in, and every line that follows or precedes
/// one of its lines anywhere: what the broader sets and the quotation signal are read from.
pub(crate) struct Sentences<'a> {
    /// Each text's lines (with their punctuation) and bare lines.
    pub(crate) lines: Vec<(Vec<&'a str>, Vec<&'a str>)>,
    /// The sentences in corpus order of their first occurrence.
    pub(crate) order: Vec<(&'a str, &'a str)>,
    /// The texts each sentence stands in, in corpus order, each once.
    pub(crate) occ: HashMap<(&'a str, &'a str), Vec<usize>>,
    pub(crate) next: HashMap<&'a str, HashSet<&'a str>>,
    pub(crate) prev: HashMap<&'a str, HashSet<&'a str>>,
}

impl<'a> Sentences<'a> {
    pub(crate) fn new(texts: &'a [Text], vocab: &HashSet<char>) -> Sentences<'a> {
        let lines: Vec<(Vec<&str>, Vec<&str>)> = texts
            .iter()
            .map(|t| {
                let raw = split_lines(&t.text);
                let bare_lines = raw.iter().map(|l| bare(l)).collect();
                (raw, bare_lines)
            })
            .collect();
        let mut order: Vec<(&str, &str)> = Vec::new();
        let mut occ: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for (i, (raw, b)) in lines.iter().enumerate() {
            for j in 1..raw.len() {
                let (a, c) = (b[j - 1], b[j]);
                let n = a.chars().count();
                if !raw[j - 1].ends_with('，')
                    || !raw[j].ends_with(crate::corpus::SENTENCE_END)
                    || !(4..=7).contains(&n)
                    || c.chars().count() != n
                    || !a.chars().chain(c.chars()).all(|ch| vocab.contains(&ch))
                {
                    continue;
                }
                let e = occ.entry((a, c)).or_default();
                if e.is_empty() {
                    order.push((a, c));
                }
                if e.last() != Some(&i) {
                    e.push(i);
                }
            }
        }
        let firsts: HashSet<&str> = occ.keys().map(|k| k.0).collect();
        let seconds: HashSet<&str> = occ.keys().map(|k| k.1).collect();
        let mut next: HashMap<&str, HashSet<&str>> = HashMap::new();
        let mut prev: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (_, b) in &lines {
            for (j, l) in b.iter().enumerate() {
                if firsts.contains(l) {
                    next.entry(l).or_default().insert(b.get(j + 1).copied().unwrap_or(""));
                }
                if seconds.contains(l) {
                    prev.entry(l).or_default().insert(if j == 0 { "" } else { b[j - 1] });
                }
            }
        }
        Sentences { lines, order, occ, next, prev }
    }

    /// Whether the corpus pins the sentence down: A is followed by B wherever it
    /// occurs and B preceded by A, so exact match is a fair score both ways.
    pub(crate) fn pinned(&self, (a, c): (&str, &str)) -> bool {
        self.next[a].len() == 1 && self.prev[c].len() == 1
    }

    /// The independent works among the texts that hold the sentence: texts whose other
    /// lines differ from every earlier work's (no pair alike in 60% of their positions,
    /// which catches one poem filed twice under variant readings or authors); a bare
    /// fragment (nothing but the sentence) is no work.
    pub(crate) fn independent_works(&self, key @ (a, c): (&str, &str)) -> Vec<usize> {
        let others =
            |i: usize| -> Vec<&str> { self.lines[i].1.iter().copied().filter(|l| *l != a && *l != c).collect() };
        let mut works: Vec<usize> = Vec::new();
        for &i in &self.occ[&key] {
            let mine = others(i);
            if !mine.is_empty()
                && !works.iter().any(|&w| others(w).iter().any(|x| mine.iter().any(|y| likeness(x, y) >= 0.6)))
            {
                works.push(i);
            }
        }
        works
    }
}

/// Whether independent works (`Sentences::independent_works`) make a quotation: two
/// or more, by two or more authors, not only Buddhist 偈/颂 (which hand their formulas
/// around).
pub(crate) fn is_quotation(texts: &[Text], works: &[usize]) -> bool {
    let authors: HashSet<&str> = works.iter().map(|&i| texts[i].author.as_str()).collect();
    works.len() >= 2
        && authors.len() >= 2
        && works.iter().any(|&i| !texts[i].title.contains('偈') && !texts[i].title.contains('颂'))
}

/// For each text that holds a quoted sentence ([`is_quotation`]), how many it holds:
/// the quotation signal of the canon (`canon::build`). Every text that holds one
/// counts, the quoting ones too: the corpus does not say which came first.
pub fn quoted_counts(texts: &[Text], vocab: &HashSet<char>) -> HashMap<usize, usize> {
    let s = Sentences::new(texts, vocab);
    let mut out: HashMap<usize, usize> = HashMap::new();
    for key in &s.order {
        let found = &s.occ[key];
        if found.len() >= 2 && is_quotation(texts, &s.independent_works(*key)) {
            for &i in found {
                *out.entry(i).or_default() += 1;
            }
        }
    }
    out
}
