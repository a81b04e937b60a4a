//! The planner: the per-position constraints a whole poem or a 对对子 is sampled
//! under (tone classes, one rhyme group, the repeat rule's lines). The request
//! pipeline (`crate::pipeline`) calls it; it calls nothing of the pipeline.

use super::check::Conflict;
use super::pattern::*;
use super::*;

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
    if rhyme.len() >= (v as usize).saturating_sub(3) {
        return Err(format!(
            "the prosody data's rhyme group {} has no character with a level (平) tone: nothing can rhyme in it",
            p.group(g).name
        ));
    }
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
