//! Training samples: whole lines of one text starting at a random line, padded with
//! [PAD] to the sequence length; ~30% cut short so the model learns text can end after
//! any line. Then the LLaDA masking (or next-token targets for the causal twin).

use std::ops::Range;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use unmask::tokenizer::{MASK_ID, PAD_ID};
use unmask::PoemTokenizer;

use crate::corpus::{split_lines, Text};
use crate::model::Batch;
use crate::rng::Rng;

/// A tokenized text: ids and the start offset of every line.
pub struct Doc {
    ids: Vec<u32>,
    line_starts: Vec<usize>,
}

pub struct Dataset {
    docs: std::sync::Arc<Vec<Doc>>,
    /// Each text's sampling weight before any boost, and what [`Dataset::boosted`]
    /// weights up.
    base: std::sync::Arc<Vec<Base>>,
    /// Each text's line in texts.jsonl.
    rows: std::sync::Arc<Vec<usize>>,
    /// Cumulative sampling weights for binary search.
    cum: Vec<f64>,
    /// Ids of the line-ending punctuation (`corpus::LINE_END`).
    line_ends: Vec<u32>,
    /// Ids of the marks that close a sentence (`corpus::SENTENCE_END`), a subset.
    sentence_ends: Vec<u32>,
}

#[derive(Clone, Copy)]
struct Base {
    weight: f64,
    anthology: bool,
    /// `corpus::canon_bit`: the text's canon collection (0: none).
    canon: u8,
    /// The text's weight as one of the famous texts of the canon file
    /// ([`Dataset::with_canon`]; 0: not one of them).
    famous: f64,
}

/// Factors on the sampling weights of groups of texts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Boost {
    /// The anthology texts (corpus `anthology = true`).
    pub anthology: f64,
    /// The canon (`corpus::is_canon`), anthology or not; `None`: no factor of its own
    /// (the canon texts that are anthology texts take `anthology`, the others 1).
    pub canon: Option<f64>,
    /// The canon collections `canon` applies to (`corpus::canon_mask`); the others
    /// are weighted as if they were not canon.
    pub canon_sources: u8,
    /// The texts of the canon file ([`Dataset::with_canon`]) outside the anthologies and
    /// the boosted canon collections: drawn by their famous weight times this instead
    /// of by their corpus weight (`None`: by their corpus weight, as if not listed).
    pub famous: Option<f64>,
}

impl Boost {
    pub const NONE: Boost =
        Boost { anthology: 1.0, canon: None, canon_sources: crate::corpus::ALL_CANON, famous: None };

    /// Which of its factors a text takes: 0 the anthologies', 1 the boosted canon
    /// collections', 2 the famous texts', 3 none (in the order [`Dataset::shares`]
    /// reports them).
    fn group(&self, b: &Base) -> usize {
        match (b.canon & self.canon_sources != 0, self.canon) {
            (true, Some(_)) => 1,
            _ if b.anthology => 0,
            _ if self.famous.is_some() && b.famous > 0.0 => 2,
            _ => 3,
        }
    }

    /// A text's sampling weight under this boost.
    fn weight(&self, b: &Base) -> f64 {
        match self.group(b) {
            0 => b.weight * self.anthology,
            1 => b.weight * self.canon.unwrap_or(1.0),
            2 => b.famous * self.famous.unwrap_or(1.0),
            _ => b.weight,
        }
    }
}

/// Which texts of texts.jsonl a [`Dataset`] draws from.
#[derive(Clone, Copy, Debug)]
pub enum Part {
    /// Everything not held out, sampling weights boosted.
    Train { boost: Boost },
    /// The held-out split (corpus.rs `is_heldout`).
    Heldout,
    /// The anthologies the couplet test comes from (all of them are trained on): a
    /// memorisation probe, not a generalisation measure.
    Anthology,
}

pub const CUT_FRACTION: f64 = 0.3;
/// Share of SFT-style responses that span several consecutive lines instead of one.
pub const MULTI_LINE: f64 = 0.3;
const EPS: f64 = 1e-3;

impl Dataset {
    pub fn load(path: &std::path::Path, tok: &PoemTokenizer, part: Part) -> Result<Dataset> {
        let s = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let mut docs = Vec::new();
        let mut base = Vec::new();
        // Direct table: tok.char_id runs the whole normalizer per call (far too slow
        // for 20M characters), and texts are already normalised.
        let table: std::collections::HashMap<char, u32> = (3..tok.vocab_size() as u32)
            .filter_map(|id| {
                let mut cs = tok.token(id).chars();
                match (cs.next(), cs.next()) {
                    (Some(c), None) => Some((c, id)),
                    _ => None,
                }
            })
            .collect();
        let mut rows = Vec::new();
        for (row, line) in s.lines().enumerate() {
            let t: Text = serde_json::from_str(line)?;
            let keep = match part {
                Part::Train { .. } => !t.heldout,
                Part::Heldout => t.heldout,
                Part::Anthology => t.anthology,
            };
            if !keep {
                continue;
            }
            let mut ids = Vec::new();
            let mut line_starts = Vec::new();
            for l in split_lines(&t.text) {
                line_starts.push(ids.len());
                // Characters are tokens; one outside the vocabulary becomes [UNK].
                ids.extend(l.chars().map(|c| table.get(&c).copied().unwrap_or(unmask::tokenizer::UNK_ID)));
            }
            base.push(Base {
                weight: t.weight,
                anthology: t.anthology,
                canon: crate::corpus::canon_bit(&t.source, &t.title),
                famous: 0.0,
            });
            rows.push(row);
            docs.push(Doc { ids, line_starts });
        }
        let ids_of = |cs: &[char]| cs.iter().filter_map(|c| table.get(c).copied()).collect();
        let (line_ends, sentence_ends) = (ids_of(&crate::corpus::LINE_END), ids_of(&crate::corpus::SENTENCE_END));
        let boost = match part {
            Part::Train { boost } => boost,
            Part::Heldout | Part::Anthology => Boost::NONE,
        };
        let mut set = Dataset::new(docs, base, (line_ends, sentence_ends), boost);
        set.rows = std::sync::Arc::new(rows);
        Ok(set)
    }

    /// Texts with their base weights and groups, sampled with `boost`; `ends`: the ids
    /// of the line-ending marks and of the sentence-closing ones.
    fn new(docs: Vec<Doc>, base: Vec<Base>, ends: (Vec<u32>, Vec<u32>), boost: Boost) -> Dataset {
        let rows = (0..docs.len()).collect();
        let set = Dataset {
            rows: std::sync::Arc::new(rows),
            docs: std::sync::Arc::new(docs),
            base: std::sync::Arc::new(base),
            cum: Vec::new(),
            line_ends: ends.0,
            sentence_ends: ends.1,
        };
        set.boosted(boost)
    }

    /// The same texts (shared, not copied) sampled with `boost` instead.
    pub fn boosted(&self, boost: Boost) -> Dataset {
        let mut total = 0.0;
        let cum = self
            .base
            .iter()
            .map(|b| {
                total += boost.weight(b);
                total
            })
            .collect();
        Dataset {
            rows: self.rows.clone(),
            docs: self.docs.clone(),
            base: self.base.clone(),
            cum,
            line_ends: self.line_ends.clone(),
            sentence_ends: self.sentence_ends.clone(),
        }
    }

    /// The same texts with the famous texts of the canon file marked (`canon::build`),
    /// sampled with `boost`: a famous text's own weight is `max(chars, 32) / 64 ×
    /// score` — by its length, as corpus weights are, times its evidence of fame, and
    /// not by its source's weight (the 全宋诗 are weighted down as a whole, not its
    /// famous poems).
    pub fn with_canon(&self, canon: &[crate::canon::CanonText], boost: Boost) -> Dataset {
        let of_row: std::collections::HashMap<usize, &crate::canon::CanonText> =
            canon.iter().map(|c| (c.index, c)).collect();
        let base = self
            .base
            .iter()
            .zip(self.rows.iter())
            .map(|(b, row)| Base {
                famous: of_row.get(row).map_or(0.0, |c| c.chars.max(32) as f64 / 64.0 * c.score),
                ..*b
            })
            .collect();
        Dataset { base: std::sync::Arc::new(base), ..self.boosted(Boost::NONE) }.boosted(boost)
    }

    /// Shares of the sampling weight of the anthologies, the boosted canon
    /// collections, the famous texts and the rest (for the trainer's log).
    pub fn shares(&self, boost: Boost) -> [f64; 4] {
        let mut out = [0.0; 4];
        for b in self.base.iter() {
            out[boost.group(b)] += boost.weight(b);
        }
        let total: f64 = out.iter().sum();
        out.map(|x| x / total.max(f64::MIN_POSITIVE))
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// The characters of each line of a sample (punctuation and padding excluded).
    pub fn lines_of(&self, seq: &[u32]) -> Vec<Range<usize>> {
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, &id) in seq.iter().enumerate() {
            if id == PAD_ID {
                if i > start {
                    lines.push(start..i);
                }
                return lines;
            }
            if self.line_ends.contains(&id) {
                if i > start {
                    lines.push(start..i);
                }
                start = i + 1;
            }
        }
        if start < seq.len() {
            lines.push(start..seq.len());
        }
        lines
    }

    /// The "response" of an SFT-style sample (see `diffusion_batch`): one random line
    /// or, with probability `MULTI_LINE`, a random run of two or more consecutive
    /// lines; empty (a plain LLaDA sample) when the window has no line.
    pub fn response(&self, seq: &[u32], rng: &mut Rng) -> Vec<Range<usize>> {
        let lines = self.lines_of(seq);
        if lines.is_empty() {
            return Vec::new();
        }
        if lines.len() >= 2 && rng.f64() < MULTI_LINE {
            let n = 2 + rng.below(lines.len() - 1);
            let first = rng.below(lines.len() - n + 1);
            return lines[first..first + n].to_vec();
        }
        vec![lines[rng.below(lines.len())].clone()]
    }

    pub fn tokens(&self) -> usize {
        self.docs.iter().map(|d| d.ids.len()).sum()
    }

    /// One padded sample of length `t` starting at a random line.
    pub fn sample(&self, rng: &mut Rng, t: usize) -> Vec<u32> {
        self.sample_window(rng, t, Window::Any)
    }

    /// One padded sample of length `t` of the kind `w`, from a text drawn by weight.
    pub fn sample_window(&self, rng: &mut Rng, t: usize, w: Window) -> Vec<u32> {
        let x = rng.f64() * self.cum.last().copied().unwrap_or(0.0);
        let di = self.cum.partition_point(|&c| c <= x).min(self.docs.len() - 1);
        let doc = &self.docs[di];
        let n_lines = doc.line_starts.len();
        let first = match w {
            Window::Any => rng.below(n_lines),
            Window::Poem => 0,
            // A couplet is two lines of which the second closes a sentence: from an
            // even line in regular verse (its odd lines end with 。), and wherever such
            // a pair sits in prose and ci — where the famous couplets of the canon are,
            // whatever the parity of their line. A text without one: its first line.
            Window::Couplet => {
                let line_end = |k: usize| doc.ids[doc.line_starts.get(k + 1).copied().unwrap_or(doc.ids.len()) - 1];
                let starts: Vec<usize> =
                    (1..n_lines).filter(|&k| self.sentence_ends.contains(&line_end(k))).map(|k| k - 1).collect();
                if starts.is_empty() {
                    0
                } else {
                    starts[rng.below(starts.len())]
                }
            }
        };
        let max_lines = if let Window::Couplet = w { 2 } else { usize::MAX };
        // Whole lines that fit.
        let start = doc.line_starts[first];
        let mut ends: Vec<usize> = Vec::new();
        for k in first + 1..=n_lines.min(first.saturating_add(max_lines)) {
            let end = if k == n_lines { doc.ids.len() } else { doc.line_starts[k] };
            if end - start > t {
                break;
            }
            ends.push(end);
        }
        let end = if ends.is_empty() {
            start + t.min(doc.ids.len() - start) // a single line longer than t (prose)
        } else if matches!(w, Window::Any) && ends.len() > 2 && rng.f64() < CUT_FRACTION {
            ends[1 + rng.below(ends.len() - 2)] // 2 ..= n−1 lines
        } else {
            *ends.last().unwrap()
        };
        let mut out: Vec<u32> = doc.ids[start..end].to_vec();
        out.resize(t, PAD_ID);
        out
    }
}

/// Which part of a text a training window holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Whole lines from a random line on, ~30% cut short (`CUT_FRACTION`).
    Any,
    /// The text from its first line, as many whole lines as fit: a whole poem.
    Poem,
    /// Two consecutive lines, the second closing a sentence: the couplet test's shape.
    Couplet,
}

/// LLaDA masking: per sequence t ~ U(0,1], p = (1−ε)t + ε; each character masked with
/// prob p; weight 1/p on masked positions; normalised by the number of characters.
/// `[PAD]` is never masked or scored: every task on the page fixes the length, the
/// sampler never emits `[PAD]`, and a prompt's padding is always visible, so training
/// sees padding exactly as inference does and spends no gradient on predicting it. If `t_fixed` is given
/// (eval), sequence i uses that t. A sequence with a span in `spans` is an SFT-style
/// sample (LLaDA's supervised fine-tuning): only the spans (whole lines, the "response")
/// is masked, with the same p, and the rest of the window is the visible prompt —
/// the conditional the page asks for (a line given its neighbours).
pub fn diffusion_batch(
    seqs: &[Vec<u32>],
    rng: &mut Rng,
    t_fixed: Option<&[f64]>,
    per_sequence: bool,
    spans: &[Vec<Range<usize>>],
    dev: &Device,
) -> Result<Batch> {
    let (b, t) = (seqs.len(), seqs[0].len());
    let norm = seqs.iter().flatten().filter(|&&id| id != PAD_ID).count().max(1) as f64;
    let (mut input, mut rows, mut targets, mut weights) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, s) in seqs.iter().enumerate() {
        let tt = t_fixed.map(|f| f[i]).unwrap_or_else(|| 1.0 - rng.f64()); // (0, 1]
        let p = (1.0 - EPS) * tt + EPS;
        let first = weights.len();
        let span: &[Range<usize>] = spans.get(i).map(Vec::as_slice).unwrap_or(&[]);
        for (j, &id) in s.iter().enumerate() {
            if id != PAD_ID && (span.is_empty() || span.iter().any(|r| r.contains(&j))) && rng.f64() < p {
                input.push(MASK_ID);
                rows.push((i * t + j) as u32);
                targets.push(id);
                weights.push((1.0 / (p * norm)) as f32);
            } else {
                input.push(id);
            }
        }
        if per_sequence {
            // Same expectation as 1/(p·n) (E[#masked] = p·n for n characters) but each
            // sequence weighs exactly 1/B: a low-t sequence with one masked token no longer gets a
            // 1/p-sized gradient spike.
            let n = (weights.len() - first) as f32;
            for w in &mut weights[first..] {
                *w = 1.0 / (n * b as f32);
            }
        }
    }
    if rows.is_empty() {
        // Keep the graph valid: score position 0 with zero weight.
        rows.push(0);
        targets.push(seqs[0][0]);
        weights.push(0.0);
    }
    let k = rows.len();
    Ok(Batch {
        input: Tensor::from_vec(input, (b, t), dev)?,
        rows: Tensor::from_vec(rows, k, dev)?,
        targets: Tensor::from_vec(targets, k, dev)?,
        weights: Tensor::from_vec(weights, k, dev)?,
    })
}

/// Next-token batch for the causal twin: row j predicts token j. The model itself
/// reads its input shifted right by one behind a `[MASK]` start token
/// (`ModelConfig::causal`), so row j sees tokens 0..j−1 and every character, the first
/// included, is scored; `[PAD]` is not (as in `diffusion_batch`), so both twins'
/// losses are nats per character.
pub fn causal_batch(seqs: &[Vec<u32>], dev: &Device) -> Result<Batch> {
    let (b, t) = (seqs.len(), seqs[0].len());
    let input: Vec<u32> = seqs.iter().flatten().copied().collect();
    let rows: Vec<u32> = (0..(b * t) as u32).filter(|&r| input[r as usize] != PAD_ID).collect();
    let rows = if rows.is_empty() { vec![0] } else { rows };
    let targets: Vec<u32> = rows.iter().map(|&r| input[r as usize]).collect();
    let w = if input[rows[0] as usize] == PAD_ID { 0.0 } else { 1.0 / rows.len() as f32 };
    let k = rows.len();
    Ok(Batch {
        input: Tensor::from_vec(input, (b, t), dev)?,
        rows: Tensor::from_vec(rows, k, dev)?,
        targets: Tensor::from_vec(targets, k, dev)?,
        weights: Tensor::from_vec(vec![w; k], k, dev)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SFT-style samples mask only inside whole lines (one, or a run of consecutive
    /// ones); the rest is prompt.
    #[test]
    fn response_spans_mask_whole_lines_only() -> Result<()> {
        let ds = Dataset::new(vec![], vec![], (vec![3, 4], vec![4]), Boost::NONE);
        let seq: Vec<u32> = vec![10, 11, 12, 3, 13, 14, 15, 4, 16, 17, 4, PAD_ID, PAD_ID];
        let seqs = vec![seq.clone(); 400];
        let mut rng = Rng::new(5);
        let spans: Vec<_> = seqs.iter().map(|s| ds.response(s, &mut rng)).collect();
        let lines = [0..3, 4..7, 8..10];
        let runs: Vec<Vec<Range<usize>>> = vec![
            vec![lines[0].clone()],
            vec![lines[1].clone()],
            vec![lines[2].clone()],
            lines[0..2].to_vec(),
            lines[1..3].to_vec(),
            lines.to_vec(),
        ];
        for s in &spans {
            assert!(runs.contains(s), "{s:?} is not a run of whole lines");
        }
        for r in &runs {
            assert!(spans.contains(r), "{r:?} never chosen");
        }
        let b = diffusion_batch(&seqs, &mut rng, Some(&vec![1.0; 400]), true, &spans, &Device::Cpu)?;
        let input = b.input.to_vec2::<u32>()?;
        for (row, span) in input.iter().zip(&spans) {
            for (j, &id) in row.iter().enumerate() {
                // t = 1: the whole response is masked, nothing else.
                assert_eq!(id == MASK_ID, span.iter().any(|r| r.contains(&j)), "position {j} of span {span:?}");
            }
        }
        Ok(())
    }

    /// Poem windows start at the first line, couplet windows hold two lines of which
    /// the second closes a sentence, and neither is cut short.
    #[test]
    fn windows_hold_what_their_kind_says() {
        // Four lines of 2 characters + punctuation: ids 10.., ends 3 (，) and 4 (。).
        let ids = vec![10, 11, 3, 12, 13, 4, 14, 15, 3, 16, 17, 4];
        let ds = Dataset::new(
            vec![Doc { ids: ids.clone(), line_starts: vec![0, 3, 6, 9] }],
            vec![Base { weight: 1.0, anthology: false, canon: 0, famous: 0.0 }],
            (vec![3, 4], vec![4]),
            Boost::NONE,
        );
        let mut rng = Rng::new(9);
        let pad = |v: &[u32]| {
            let mut v = v.to_vec();
            v.resize(16, PAD_ID);
            v
        };
        for _ in 0..50 {
            assert_eq!(ds.sample_window(&mut rng, 16, Window::Poem), pad(&ids));
            let c = ds.sample_window(&mut rng, 16, Window::Couplet);
            assert!(c == pad(&ids[0..6]) || c == pad(&ids[6..12]), "{c:?}");
        }
        assert_eq!(ds.lines_of(&pad(&ids[0..6])), vec![0..2, 3..5]);
        // Prose: 3 lines then 2 then 2 (，，。，。，。): the couplets that close a
        // sentence start at lines 1, 3 and 5, whatever their parity.
        let prose = vec![10, 3, 11, 3, 12, 4, 13, 3, 14, 4, 15, 3, 16, 4];
        let ds = Dataset::new(
            vec![Doc { ids: prose.clone(), line_starts: (0..7).map(|k| 2 * k).collect() }],
            vec![Base { weight: 1.0, anthology: false, canon: 0, famous: 0.0 }],
            (vec![3, 4], vec![4]),
            Boost::NONE,
        );
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            let c = ds.sample_window(&mut rng, 16, Window::Couplet);
            let at = prose.windows(4).position(|w| w == &c[..4]).expect("a window of the text");
            assert!([2, 6, 10].contains(&at), "couplet from offset {at}: {c:?}");
            seen.insert(at);
        }
        assert_eq!(seen.len(), 3);
    }

    /// Each boost multiplies only its group's weights (a canon text that is also an
    /// anthology text takes the canon factor when there is one and its collection is
    /// among the boosted ones), and a reweighted copy
    /// samples by its own boost while sharing the texts.
    #[test]
    fn boosted_sets_draw_each_group_by_its_own_weight() {
        let doc = |id| Doc { ids: vec![id, 3], line_starts: vec![0] };
        let base = |anthology, canon| Base { weight: 1.0, anthology, canon, famous: 0.0 };
        // 10 plain, 11 anthology, 12 canon (collection 0), 13 canon (collection 1) and anthology.
        let plain = Dataset::new(
            vec![doc(10), doc(11), doc(12), doc(13)],
            vec![base(false, 0), base(true, 0), base(false, 1), base(true, 2)],
            (vec![3], vec![3]),
            Boost::NONE,
        );
        let shares = |ds: &Dataset| {
            let mut rng = Rng::new(4);
            let mut n = [0usize; 4];
            for _ in 0..40_000 {
                n[(ds.sample(&mut rng, 2)[0] - 10) as usize] += 1;
            }
            n.map(|k| k as f64 / 40_000.0)
        };
        let near = |got: [f64; 4], want: [f64; 4]| {
            assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 0.015), "shares {got:?}, want {want:?}")
        };
        near(shares(&plain), [0.25; 4]);
        let anthology = plain.boosted(Boost { anthology: 3.0, ..Boost::NONE });
        assert!(std::sync::Arc::ptr_eq(&plain.docs, &anthology.docs));
        near(shares(&anthology), [1.0 / 8.0, 3.0 / 8.0, 1.0 / 8.0, 3.0 / 8.0]);
        near(
            shares(&plain.boosted(Boost { anthology: 3.0, canon: Some(4.0), ..Boost::NONE })),
            [1.0, 3.0, 4.0, 4.0].map(|x| x / 12.0),
        );
        // The canon factor for collection 0 only: collection 1 is weighted as an
        // anthology text again.
        near(
            shares(&plain.boosted(Boost { anthology: 3.0, canon: Some(4.0), canon_sources: 1, famous: None })),
            [1.0, 3.0, 4.0, 3.0].map(|x| x / 11.0),
        );
    }

    /// A famous text of the canon file is drawn by its length times its score times the
    /// famous boost, not by its corpus weight; the anthologies keep their own factor,
    /// and without a famous boost the canon file changes nothing.
    #[test]
    fn famous_texts_are_drawn_by_their_fame() {
        let doc = |id| Doc { ids: vec![id, 3], line_starts: vec![0] };
        let base = |weight, anthology| Base { weight, anthology, canon: 0, famous: 0.0 };
        // 10 plain (a 全宋诗 poem, weighted down), 11 plain, 12 anthology.
        let plain = Dataset::new(
            vec![doc(10), doc(11), doc(12)],
            vec![base(0.1, false), base(1.0, false), base(1.0, true)],
            (vec![3], vec![3]),
            Boost::NONE,
        );
        let famous = |index, score| crate::canon::CanonText {
            index,
            source: "song".into(),
            author: "a".into(),
            title: "t".into(),
            chars: 64,
            score,
            collections: vec![],
            rank_percent: None,
            quoted: 0,
        };
        let canon = [famous(0, 2.0), famous(2, 1.0)];
        let boost = Boost { famous: Some(3.0), ..Boost::NONE };
        let listed = plain.with_canon(&canon, boost);
        // 10: 1 × 2 × 3 = 6; 11: 1; 12: an anthology text, 1.
        assert_eq!(listed.shares(boost), [1.0 / 8.0, 0.0, 6.0 / 8.0, 1.0 / 8.0]);
        let mut rng = Rng::new(5);
        let n = (0..8000).filter(|_| listed.sample(&mut rng, 2)[0] == 10).count();
        assert!((n as f64 / 8000.0 - 0.75).abs() < 0.02, "{n}");
        let unboosted = plain.with_canon(&canon, Boost::NONE);
        assert_eq!(unboosted.cum, plain.cum);
    }

    /// Canon collections are named as the corpus names them; none named means all,
    /// an unknown name is refused with the known ones, and 百家姓 is never canon.
    #[test]
    fn canon_sources_name_collections() {
        use crate::corpus::{canon_bit, canon_mask, ALL_CANON, CANON};
        assert_eq!(canon_mask(&[]), Ok(ALL_CANON));
        let two = canon_mask(&["shijing".into(), "mengxue-verse".into()]).unwrap();
        assert_eq!(two.count_ones(), 2);
        assert_ne!(two & canon_bit("shijing", "关雎"), 0);
        assert_ne!(two & canon_bit("mengxue-verse", "千字文"), 0);
        assert_eq!(two & canon_bit("guwenguanzhi", "郑伯克段于鄢"), 0);
        assert_eq!(canon_bit("mengxue-verse", "百家姓"), 0);
        assert_eq!(canon_bit("tang", "静夜思"), 0);
        let err = canon_mask(&["shijng".into()]).unwrap_err();
        assert!(err.contains("shijng") && CANON.iter().all(|c| err.contains(c)), "{err}");
    }

    /// Padding stays visible and unscored in both objectives, and the weights make the
    /// loss a mean over characters: at t = 1 every character is masked and each
    /// sequence's weights sum to 1/B (per-sequence) or to its share of the characters.
    #[test]
    fn padding_is_never_masked_or_scored() -> Result<()> {
        let seqs = vec![vec![10, 11, 12, PAD_ID, PAD_ID, PAD_ID], vec![13, 14, 15, 16, 17, PAD_ID]];
        for per_sequence in [false, true] {
            let b = diffusion_batch(&seqs, &mut Rng::new(2), Some(&[1.0, 1.0]), per_sequence, &[], &Device::Cpu)?;
            let input = b.input.to_vec2::<u32>()?;
            for (row, s) in input.iter().zip(&seqs) {
                for (&got, &id) in row.iter().zip(s) {
                    assert_eq!(got, if id == PAD_ID { PAD_ID } else { MASK_ID });
                }
            }
            let rows = b.rows.to_vec1::<u32>()?;
            assert_eq!(rows, vec![0, 1, 2, 6, 7, 8, 9, 10]);
            let w = b.weights.to_vec1::<f32>()?;
            let sum: f32 = w.iter().sum();
            assert!((sum - 1.0).abs() < 1e-3, "weights sum to {sum} (t = 1 → p ≈ 1)");
            if per_sequence {
                assert!((w[0] * 3.0 - 0.5).abs() < 1e-6 && (w[3] * 5.0 - 0.5).abs() < 1e-6);
            }
        }
        let c = causal_batch(&seqs, &Device::Cpu)?;
        assert_eq!(c.rows.to_vec1::<u32>()?, vec![0, 1, 2, 6, 7, 8, 9, 10]);
        assert_eq!(c.targets.to_vec1::<u32>()?, vec![10, 11, 12, 13, 14, 15, 16, 17]);
        assert!(c.weights.to_vec1::<f32>()?.iter().all(|&w| (w - 1.0 / 8.0).abs() < 1e-7));
        Ok(())
    }
}
