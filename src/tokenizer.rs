//! One token per character through a Hugging Face `tokenizer.json` (WordLevel model,
//! per-character pre-tokenizer), so Python `tokenizers` loads the same file.
//!
//! Normalisation lives in the file itself: a `Replace` per traditional character
//! whose simplified form is in the vocabulary, ASCII punctuation to full width, and
//! whitespace removed. Masks in user text (`_`, `＿`, `[MASK]`) are parsed here,
//! outside the tokenizer, so they can never collide with poem characters.

use std::collections::HashMap;

use thiserror::Error;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::normalizers::{replace::Replace, NormalizerWrapper, Sequence};
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

/// Special tokens, always the first ids in this order.
pub const SPECIAL_TOKENS: [&str; 3] = ["[MASK]", "[PAD]", "[UNK]"];

pub const MASK_ID: u32 = 0;
pub const PAD_ID: u32 = 1;
pub const UNK_ID: u32 = 2;

/// Whether `c` marks a character to generate in a template (`_` or `＿`; `[MASK]`
/// does too, see [`has_blank`]).
pub fn is_blank(c: char) -> bool {
    c == '_' || c == '＿'
}

/// Whether `text` has a blank for the model to fill: `_`, `＿` or `[MASK]`.
pub fn has_blank(text: &str) -> bool {
    text.contains(is_blank) || text.contains(SPECIAL_TOKENS[0])
}

/// ASCII / half-width punctuation people type, mapped to the full-width forms poems use.
pub const PUNCT_TO_FULL: [(&str, &str); 8] =
    [(",", "，"), (".", "。"), ("?", "？"), ("!", "！"), (";", "；"), (":", "："), ("､", "、"), ("｡", "。")];

#[derive(Debug, Error)]
pub enum TokenizerError {
    #[error("tokenizer.json could not be read: {0}")]
    Load(String),
    #[error("tokenizer.json lacks the special token {0}")]
    MissingSpecial(&'static str),
    #[error("tokenizer.json's vocabulary is damaged: {0}")]
    Ids(String),
    #[error("tokenizer failed: {0}")]
    Encode(String),
    #[error(
        "`{token}` (at character {}) is a control token, not text; to leave a character for the model, type `_`",
        .char_index + 1
    )]
    SpecialText { token: &'static str, char_index: usize },
}

/// A character the vocabulary does not have, with its position in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownChar {
    /// Index (in characters) into the text the caller passed.
    pub char_index: usize,
    pub ch: char,
}

/// One slot of an encoded template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Token(u32),
    Mask,
}

/// The result of encoding user text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    pub slots: Vec<Slot>,
    pub unknown: Vec<UnknownChar>,
}

impl Encoded {
    pub fn ids(&self, mask_id: u32) -> Vec<u32> {
        self.slots.iter().map(|s| if let Slot::Token(t) = s { *t } else { mask_id }).collect()
    }
}

/// The project's tokenizer: a wrapped `tokenizers::Tokenizer` plus id tables.
pub struct PoemTokenizer {
    inner: Tokenizer,
    id_to_char: Vec<String>,
    /// `char_id` answers, memoised: each miss runs the whole normaliser (thousands of
    /// replace rules), and task templates ask for the same punctuation many times.
    char_ids: std::sync::Mutex<HashMap<char, Option<u32>>>,
}

impl PoemTokenizer {
    /// Builds the tokenizer for a vocabulary (in id order after the specials) and a
    /// traditional→simplified character table. Entries mapping to characters outside
    /// the vocabulary are dropped (they would only produce `[UNK]` anyway).
    pub fn build(chars: &[char], t2s: &[(char, char)]) -> Result<Self, TokenizerError> {
        let mut vocab: HashMap<String, u32> = HashMap::new();
        for (i, s) in SPECIAL_TOKENS.iter().enumerate() {
            vocab.insert(s.to_string(), i as u32);
        }
        for &c in chars {
            let n = vocab.len() as u32;
            vocab.entry(c.to_string()).or_insert(n);
        }
        let model = WordLevel::builder()
            .vocab(vocab.clone().into_iter().collect())
            .unk_token(SPECIAL_TOKENS[2].into())
            .build()
            .map_err(|e| TokenizerError::Load(e.to_string()))?;
        let err = |e: tokenizers::Error| TokenizerError::Load(e.to_string());
        let mut norms: Vec<NormalizerWrapper> =
            vec![Replace::new(tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()), "")
                .map_err(err)?
                .into()];
        for (from, to) in PUNCT_TO_FULL {
            norms.push(Replace::new(from, to).map_err(err)?.into());
        }
        let mut table: Vec<(char, char)> =
            t2s.iter().copied().filter(|(t, s)| t != s && vocab.contains_key(&s.to_string())).collect();
        table.sort();
        table.dedup_by_key(|p| p.0);
        for (t, s) in table {
            norms.push(Replace::new(t.to_string(), s.to_string()).map_err(err)?.into());
        }
        let mut tok = Tokenizer::new(model);
        tok.with_normalizer(Some(Sequence::new(norms)));
        tok.with_pre_tokenizer(Some(
            Split::new(SplitPattern::Regex(".".into()), SplitDelimiterBehavior::Isolated, false).map_err(err)?,
        ));
        tok.with_decoder(Some(Fuse::new()));
        tok.add_special_tokens(&SPECIAL_TOKENS.map(|s| AddedToken::from(s, true)));
        Self::from_tokenizer(tok)
    }

    /// Loads a `tokenizer.json`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenizerError> {
        let tok = Tokenizer::from_bytes(bytes).map_err(|e| TokenizerError::Load(e.to_string()))?;
        Self::from_tokenizer(tok)
    }

    fn from_tokenizer(inner: Tokenizer) -> Result<Self, TokenizerError> {
        for (i, s) in SPECIAL_TOKENS.iter().enumerate() {
            if inner.token_to_id(s) != Some(i as u32) {
                return Err(TokenizerError::MissingSpecial(s));
            }
        }
        // The ids must be exactly 0..n, each once: an id past the end (a damaged
        // file) or one shared by two tokens would silently write or read other
        // characters than the model means.
        let vocab = inner.get_vocab(true);
        let n = vocab.len();
        let mut id_to_char: Vec<Option<String>> = vec![None; n];
        let mut entries: Vec<(String, u32)> = vocab.into_iter().collect();
        entries.sort();
        for (s, id) in entries {
            match id_to_char.get_mut(id as usize) {
                None => return Err(TokenizerError::Ids(format!("{s:?} has id {id}, past the {n} entries"))),
                Some(Some(other)) => return Err(TokenizerError::Ids(format!("{other:?} and {s:?} share id {id}"))),
                Some(slot) => *slot = Some(s),
            }
        }
        let id_to_char = id_to_char.into_iter().map(Option::unwrap_or_default).collect();
        Ok(PoemTokenizer { inner, id_to_char, char_ids: Default::default() })
    }

    /// The `tokenizer.json` text.
    pub fn to_json(&self) -> String {
        self.inner.to_string(false).expect("tokenizer serializes")
    }

    pub fn vocab_size(&self) -> usize {
        self.id_to_char.len()
    }

    /// SHA-256 (lowercase hex) of the vocabulary: every id's token in id order, one a
    /// line. A model file records the one it was trained with (`vocab_sha256`), so a
    /// tokenizer whose ids mean other characters is refused, however its file is
    /// formatted. The normaliser (punctuation and traditional forms) is not covered:
    /// it changes what is typed, not what an id means.
    pub fn vocab_digest(&self) -> String {
        crate::format::sha256_hex(self.id_to_char.join("\n").as_bytes())
    }

    /// Encodes plain text (no masks), reporting characters outside the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Encoded, TokenizerError> {
        self.encode_segment(text, 0)
    }

    fn encode_segment(&self, text: &str, char_base: usize) -> Result<Encoded, TokenizerError> {
        if text.is_empty() {
            return Ok(Encoded::default());
        }
        let enc = self.inner.encode(text, false).map_err(|e| TokenizerError::Encode(e.to_string()))?;
        let mut out = Encoded::default();
        for (&id, &(start, end)) in enc.get_ids().iter().zip(enc.get_offsets()) {
            // `[MASK]`, `[PAD]` and `[UNK]` typed as text match the special tokens:
            // never let user text smuggle control tokens into a template.
            let piece = text.get(start..end).unwrap_or("");
            if let Some(token) = SPECIAL_TOKENS.iter().find(|t| **t == piece) {
                let char_index = char_base + text[..start].chars().count();
                return Err(TokenizerError::SpecialText { token, char_index });
            }
            out.slots.push(Slot::Token(id));
            if id == UNK_ID {
                let char_index = text[..start.min(text.len())].chars().count();
                let ch = text[start.min(text.len())..].chars().next().unwrap_or('\u{fffd}');
                out.unknown.push(UnknownChar { char_index: char_base + char_index, ch });
            }
        }
        Ok(out)
    }

    /// Encodes text in which `_`, `＿` or `[MASK]` stand for characters to generate.
    pub fn encode_template(&self, text: &str) -> Result<Encoded, TokenizerError> {
        let mut out = Encoded::default();
        let mut seg = String::new();
        let mut seg_start = 0usize; // char index where `seg` starts
        let mut idx = 0usize; // char index of the cursor
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let mask_len = if rest.starts_with(SPECIAL_TOKENS[0]) {
                SPECIAL_TOKENS[0].len()
            } else if is_blank(c) {
                1
            } else {
                0
            };
            if mask_len > 0 {
                let e = self.encode_segment(&seg, seg_start)?;
                out.slots.extend(e.slots);
                out.unknown.extend(e.unknown);
                out.slots.push(Slot::Mask);
                seg.clear();
                idx += mask_len;
                seg_start = idx;
                rest = &rest[if mask_len == 6 { 6 } else { c.len_utf8() }..];
            } else {
                seg.push(c);
                idx += 1;
                rest = &rest[c.len_utf8()..];
            }
        }
        let e = self.encode_segment(&seg, seg_start)?;
        out.slots.extend(e.slots);
        out.unknown.extend(e.unknown);
        Ok(out)
    }

    /// The id of a single character after normalisation, if it is in the vocabulary.
    pub fn char_id(&self, c: char) -> Option<u32> {
        if let Some(hit) = self.char_ids.lock().ok().and_then(|m| m.get(&c).copied()) {
            return hit;
        }
        let id = match self.encode(&c.to_string()).ok()?.slots.as_slice() {
            [Slot::Token(id)] if *id != UNK_ID => Some(*id),
            _ => None,
        };
        if let Ok(mut m) = self.char_ids.lock() {
            m.insert(c, id);
        }
        id
    }

    /// Text of the ids for display: `[MASK]` as `＿`, `[UNK]` as `□`, `[PAD]` dropped.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .map(|&id| match id {
                MASK_ID => "＿",
                PAD_ID => "",
                UNK_ID => "□",
                _ => self.id_to_char.get(id as usize).map(String::as_str).unwrap_or("□"),
            })
            .collect()
    }

    /// The token string of one id (specials by name).
    pub fn token(&self, id: u32) -> &str {
        self.id_to_char.get(id as usize).map(String::as_str).unwrap_or("[UNK]")
    }
}
