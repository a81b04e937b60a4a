//! The standard tone patterns of 绝句 and 律诗, line by line.

use super::*;

/// The four five-character line patterns (seven-character: the opposite tone twice in front).
pub(super) const LINES: [&str; 4] = ["仄仄平平仄", "平平仄仄平", "平平平仄仄", "仄仄仄平平"];
pub(super) const A: usize = 0;
pub(super) const B: usize = 1;
pub(super) const C: usize = 2;
pub(super) const D: usize = 3;

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
    pub(super) fn first_line(self, width: usize) -> usize {
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
pub(super) fn sequence(first: usize, lines: usize) -> Vec<usize> {
    let (q1, q2) = match first {
        A => ([A, B, C, D], [A, B, C, D]),
        C => ([C, D, A, B], [C, D, A, B]),
        D => ([D, B, C, D], [A, B, C, D]),
        _ => ([B, D, A, B], [C, D, A, B]),
    };
    q1.iter().chain(q2.iter()).copied().take(lines).collect()
}

pub(super) fn line_pattern(kind: usize, width: usize) -> Vec<Tone> {
    let five: Vec<Tone> = LINES[kind].chars().map(|c| Tone::from_mark(c).expect("a tone mark")).collect();
    if width == 5 {
        return five;
    }
    let lead = five[0].opposite();
    [lead, lead].into_iter().chain(five).collect()
}

/// Positions where the tone is required: the even ones and the last.
pub(super) fn key(pos: usize, width: usize) -> bool {
    pos % 2 == 1 || pos + 1 == width
}
