//! Regulated-verse prosody: each vocabulary character's level/oblique tone (平/仄)
//! and 平水韵 rhyme groups (`www/model/prosody.json`, built by `scripts/prosody.sh`;
//! this file), the standard patterns ([`pattern`]), the metre checker ([`check`]): which standard tone pattern a 绝句 or 律诗 follows, where
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

mod check;
mod pattern;
mod plan;

pub use check::{check, check_task, Compliance, Conflict, Line, Mark, Report, Why};
pub use pattern::Pattern;
pub use plan::{find_group, pair_constraints, poem_constraints, poem_lines, Choice, Plan, VerseError};

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
    #[error("the prosody file has {0} rhyme groups; at most {MAX_GROUPS} are allowed")]
    TooManyGroups(usize),
    #[error("rhyme group `{0}` of the prosody file has no character in the vocabulary")]
    EmptyGroup(String),
    #[error("the prosody file has no level (平) rhyme group with characters: a poem cannot rhyme")]
    NoLevelGroup,
    #[error(
        "the prosody file's tones are degenerate: {level} characters marked 平 and {oblique} marked 仄 of {chars}; each must mark at least 1 in {MIN_TONE_SHARE}"
    )]
    DegenerateTones { level: usize, oblique: usize, chars: usize },
}

/// The most rhyme groups a prosody file may hold (group indices are 16-bit).
pub const MAX_GROUPS: usize = u16::MAX as usize;

/// Each of 平 and 仄 must mark at least one character in this many (the 平水韵
/// data marks about two in five 平): a file whose tones are all one class would
/// make every tone pattern unsatisfiable, and the sampler blame the model.
pub const MIN_TONE_SHARE: usize = 20;

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
        let chars = tones.len().saturating_sub(3);
        let count = |t: Tone| tones.iter().filter(|&&x| x == t).count();
        let (level, oblique) = (count(Tone::Level), count(Tone::Oblique));
        if level * MIN_TONE_SHARE < chars || oblique * MIN_TONE_SHARE < chars {
            return Err(ProsodyError::DegenerateTones { level, oblique, chars });
        }
        if f.groups.len() > MAX_GROUPS {
            return Err(ProsodyError::TooManyGroups(f.groups.len()));
        }
        if let Some(g) = f.groups.iter().find(|g| g.chars.is_empty()) {
            return Err(ProsodyError::EmptyGroup(g.name.clone()));
        }
        if !f.groups.iter().any(|g| g.level) {
            return Err(ProsodyError::NoLevelGroup);
        }
        // Groups list vocabulary tokens exactly (the builder wrote them): look them up
        // directly, not through the normaliser.
        let ids: HashMap<&str, u32> = (0..f.vocab_size as u32).map(|id| (tok.token(id), id)).collect();
        let mut of_id: HashMap<u32, Vec<u16>> = HashMap::new();
        for (g, group) in f.groups.iter().enumerate() {
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
