//! The couplet evaluation's file format (`eval/couplets.jsonl`): one JSON object per
//! line, `{"first": A, "second": B, "source": …}`, where B follows A in a poem.
//! Written by the trainer's corpus command, read by `unmask eval`.

use serde::{Deserialize, Serialize};

/// One couplet: the line `first` is followed by `second`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub first: String,
    pub second: String,
    /// Where it comes from (book · poet · title); optional.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PairsError {
    #[error("line {line}: not a {{\"first\", \"second\"}} object ({reason})")]
    Line { line: usize, reason: String },
}

/// Every pair of a JSONL text; blank lines are skipped, any other line that is not
/// a pair is an error naming its line number (1-based).
pub fn parse(text: &str) -> Result<Vec<Pair>, PairsError> {
    parse_first(text, usize::MAX)
}

/// The first `limit` pairs of `text`: the lines after them are not read.
pub fn parse_first(text: &str, limit: usize) -> Result<Vec<Pair>, PairsError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(limit)
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| PairsError::Line { line: i + 1, reason: e.to_string() }))
        .collect()
}

/// The JSONL text of `pairs`, one object per line (what `parse` reads back).
pub fn to_jsonl(pairs: &[Pair]) -> String {
    pairs.iter().map(|p| serde_json::to_string(p).expect("a pair of strings serialises") + "\n").collect()
}
