//! The tasks people ask for, each as a template of tokens and masks: next line,
//! previous line, infill and whole poems with pinned characters. [`Task`] is the one
//! list of them that the CLI, the page, the widget and the tests read. A template is
//! as long as its text (no padding), plus one `[PAD]` for a shifted model (see
//! [`TaskBuilder`]).

use thiserror::Error;

use crate::config::ModelConfig;
use crate::tokenizer::{PoemTokenizer, Slot, TokenizerError, UnknownChar};

/// Punctuation that ends a line (clause) of verse.
pub const LINE_END: [char; 7] = ['，', '。', '？', '！', '；', '：', '、'];
/// Characters a template may hold at most, leaving nothing out silently.
pub const MAX_INPUT_CHARS: usize = 200;

/// The line-end mark `c` stands for, ASCII punctuation read as its full-width form.
pub(crate) fn line_mark(c: char) -> Option<char> {
    let mut buf = [0u8; 4];
    let full = crate::tokenizer::PUNCT_TO_FULL
        .iter()
        .find(|(from, _)| *from == c.encode_utf8(&mut buf) as &str)
        .and_then(|(_, to)| to.chars().next())
        .unwrap_or(c);
    LINE_END.contains(&full).then_some(full)
}

/// Whitespace between two characters (or masks) separates lines: poems are written
/// one line a row, or with a space between lines, and the tokenizer alone would run
/// such lines together. The first character of each such run of whitespace becomes
/// the mark a poem has there — `。` after a line that answers a `，`, `，` otherwise —
/// and the rest stays for the tokenizer to drop, so positions in messages still
/// count the text as typed. Whitespace beside punctuation or at either end is left.
pub fn mark_line_breaks(text: &str) -> String {
    let verse = |c: char| c.is_alphanumeric() || matches!(c, '_' | '＿' | '[' | ']');
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut last_mark = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_whitespace() {
            last_mark = line_mark(c).or(last_mark);
            out.push(c);
            i += 1;
            continue;
        }
        let end = (i..chars.len()).find(|&j| !chars[j].is_whitespace()).unwrap_or(chars.len());
        let between = i > 0 && verse(chars[i - 1]) && chars.get(end).is_some_and(|&n| verse(n));
        if between {
            let mark = if last_mark == Some('，') { '。' } else { '，' };
            last_mark = Some(mark);
            out.push(mark);
            out.extend(&chars[i + 1..end]);
        } else {
            out.extend(&chars[i..end]);
        }
        i = end;
    }
    out
}

#[derive(Debug, Error)]
pub enum TaskError {
    #[error("the text is empty")]
    Empty,
    #[error("the text is too long: {len} characters, at most {max}")]
    TooManyChars { len: usize, max: usize },
    #[error("too long for the model: the text with its masks and punctuation takes {len} positions, the model handles {max}")]
    TooLong { len: usize, max: usize },
    #[error("no `_` in the text: mark the characters to fill with `_` (or ＿, [MASK])")]
    NoMasks,
    #[error("not in the model's vocabulary: {}", describe_unknown(.0))]
    Unknown(Vec<UnknownChar>),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// A pinned line of a whole poem (or an acrostic head) holds punctuation: every
    /// position of a line is a character slot, the form places the punctuation.
    #[error(
        "line {line} of the poem holds the punctuation '{ch}': give characters only (the form places the punctuation)"
    )]
    PunctuationInLine { line: usize, ch: char },
    /// The line before / 对对子 needs a line to start the text, not punctuation.
    #[error("the text starts with punctuation")]
    StartsWithPunctuation,
    /// The next line needs characters before the text's last punctuation.
    #[error("the text has no characters before its punctuation")]
    NoLineBeforePunctuation,
    /// A pinned line of a whole poem longer than the form's lines.
    #[error("line {line} has more than {max} characters")]
    LineTooLong { line: usize, max: usize },
    /// More pinned lines (or acrostic head characters) than the form has lines.
    #[error("{} has {} lines, got {got}", .form.name(), .form.lines())]
    TooManyLines { form: PoemForm, got: usize },
}

fn describe_unknown(u: &[UnknownChar]) -> String {
    let list = u.iter().map(|c| format!("{} (character {})", shown(c.ch), c.char_index + 1)).collect::<Vec<_>>();
    let hint = if u.iter().any(|c| crate::tokenizer::is_blank(c.ch)) {
        "; `_` marks a character to fill only in the fill-masks task (infill)"
    } else {
        ""
    };
    format!("{}{hint}", list.join(", "))
}

/// A character as a message shows it: invisible and direction-changing ones (which
/// would scramble a terminal line or a page) by their code point.
pub fn shown(c: char) -> String {
    if invisible(c) {
        format!("U+{:04X}", c as u32)
    } else {
        format!("'{c}'")
    }
}

/// A control, zero-width or direction-changing character: messages name it by code point.
pub fn invisible(c: char) -> bool {
    c.is_control() || matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0xFFF9..=0xFFFB)
}

/// What a user asks for. Adding a task is one variant here, its arms below (key,
/// symbol, template) and its UI strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Task {
    /// The line after the text.
    Next,
    /// The line before the text.
    Prev,
    /// Fill the `_` (or ＿, [MASK]) in the text.
    Infill,
    /// A whole poem of a form; the text (optional) is an acrostic head.
    Poem,
    /// 对对子: the line that answers the text (its second line), under the couplet
    /// rules (`prosody::pair_constraints`).
    Pair,
    /// 对对子 the other way: the first line, given the second.
    PairPrev,
}

impl Task {
    pub const ALL: [Task; 6] = [Task::Next, Task::Prev, Task::Infill, Task::Poem, Task::Pair, Task::PairPrev];

    /// The name in URLs, the widget's `mode` attribute and the CLI's `--mode`.
    pub fn key(self) -> &'static str {
        match self {
            Task::Next => "next",
            Task::Prev => "prev",
            Task::Infill => "infill",
            Task::Poem => "poem",
            Task::Pair => "pair",
            Task::PairPrev => "pair-prev",
        }
    }

    /// A one-character mark for lists (the page's examples).
    pub fn symbol(self) -> &'static str {
        match self {
            Task::Next => "→",
            Task::Prev => "←",
            Task::Infill => "_",
            Task::Poem => "❖",
            Task::Pair => "⇉",
            Task::PairPrev => "⇇",
        }
    }

    pub fn from_key(s: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.key() == s)
    }

    /// The template for `text` (`form` is read by [`Task::Poem`] only).
    pub fn prompt(self, tb: &TaskBuilder, text: &str, form: PoemForm) -> Result<Prompt, TaskError> {
        match self {
            Task::Next => tb.next_line(text),
            Task::Prev => tb.previous_line(text),
            Task::Infill => tb.infill(text),
            Task::Poem if text.trim().is_empty() => tb.poem(form, &[]),
            Task::Poem => tb.acrostic(form, text),
            Task::Pair => tb.pair(text, false),
            Task::PairPrev => tb.pair(text, true),
        }
    }
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Task::from_key(s).ok_or_else(|| {
            let keys: Vec<&str> = Task::ALL.iter().map(|t| t.key()).collect();
            format!("unknown task `{s}` ({})", keys.join(", "))
        })
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// The classical forms: characters a line × lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoemForm {
    /// 五言绝句
    WuJue,
    /// 七言绝句
    QiJue,
    /// 五言律诗
    WuLv,
    /// 七言律诗
    QiLv,
}

impl PoemForm {
    pub const ALL: [PoemForm; 4] = [PoemForm::WuJue, PoemForm::QiJue, PoemForm::WuLv, PoemForm::QiLv];

    /// The name in URLs, the widget's `form` attribute and the CLI's `--form`.
    pub fn key(self) -> &'static str {
        match self {
            Self::WuJue => "wujue",
            Self::QiJue => "qijue",
            Self::WuLv => "wulv",
            Self::QiLv => "qilv",
        }
    }

    pub fn chars_per_line(self) -> usize {
        match self {
            Self::WuJue | Self::WuLv => 5,
            Self::QiJue | Self::QiLv => 7,
        }
    }
    pub fn lines(self) -> usize {
        match self {
            Self::WuJue | Self::QiJue => 4,
            Self::WuLv | Self::QiLv => 8,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::WuJue => "五言绝句",
            Self::QiJue => "七言绝句",
            Self::WuLv => "五言律诗",
            Self::QiLv => "七言律诗",
        }
    }
}

impl std::str::FromStr for PoemForm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let alias = match s {
            "5x4" => Some(Self::WuJue),
            "7x4" => Some(Self::QiJue),
            "5x8" => Some(Self::WuLv),
            "7x8" => Some(Self::QiLv),
            _ => None,
        };
        alias
            .or_else(|| Self::ALL.into_iter().find(|f| f.key() == s || f.name() == s))
            .ok_or_else(|| format!("unknown form `{s}` (wujue, qijue, wulv, qilv)"))
    }
}

/// A ready-to-sample template.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    /// (T) ids with `mask_id` where characters are to be generated; T is the text's
    /// own length (no padding: the model attends to exactly these positions, as it
    /// was trained with padding hidden from attention), plus one `[PAD]` for a
    /// shifted model (see `finish`).
    pub tokens: Vec<u32>,
    /// Positions of the masks, in order (what the caller reads the answer from).
    pub masked: Vec<usize>,
}

/// Builds templates for one model + tokenizer.
pub struct TaskBuilder<'a> {
    pub tok: &'a PoemTokenizer,
    pub cfg: &'a ModelConfig,
}

impl<'a> TaskBuilder<'a> {
    pub fn new(tok: &'a PoemTokenizer, cfg: &'a ModelConfig) -> Self {
        TaskBuilder { tok, cfg }
    }

    fn encode(&self, text: &str, masks_allowed: bool) -> Result<Vec<Slot>, TaskError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TaskError::Empty);
        }
        let n = text.chars().count();
        if n > MAX_INPUT_CHARS {
            return Err(TaskError::TooManyChars { len: n, max: MAX_INPUT_CHARS });
        }
        let text = mark_line_breaks(text);
        let enc = if masks_allowed { self.tok.encode_template(&text)? } else { self.tok.encode(&text)? };
        if !enc.unknown.is_empty() {
            return Err(TaskError::Unknown(enc.unknown));
        }
        if enc.slots.is_empty() {
            return Err(TaskError::Empty);
        }
        Ok(enc.slots)
    }

    fn id(&self, c: char) -> u32 {
        self.tok.char_id(c).unwrap_or(self.cfg.unk_id)
    }

    /// The line-end punctuation a slot holds, if any.
    fn line_end(&self, s: &Slot) -> Option<char> {
        match s {
            Slot::Token(t) => LINE_END.into_iter().find(|&c| self.tok.char_id(c) == Some(*t)),
            Slot::Mask => None,
        }
    }

    fn is_line_end(&self, s: &Slot) -> bool {
        self.line_end(s).is_some()
    }

    fn finish(&self, slots: Vec<Slot>) -> Result<Prompt, TaskError> {
        let max = self.cfg.max_seq_len;
        if slots.len() > max {
            return Err(TaskError::TooLong { len: slots.len(), max });
        }
        let mut tokens: Vec<u32> =
            slots.iter().map(|s| if let Slot::Token(t) = s { *t } else { self.cfg.mask_id }).collect();
        let masked: Vec<usize> = (0..tokens.len()).filter(|&i| slots[i] == Slot::Mask).collect();
        if masked.is_empty() {
            return Err(TaskError::NoMasks);
        }
        // A shifted diffusion model reads position j−1 at row j, so the last position
        // is only read through a trailing [PAD] (in training, where windows are padded,
        // the last character is read the same way; a full-length window drops it, as
        // here).
        if self.cfg.shifted && !self.cfg.causal && tokens.len() < max {
            tokens.push(self.cfg.pad_id);
        }
        Ok(Prompt { tokens, masked })
    }

    /// Given one line (or more), the next line: as many masks as the last line has
    /// characters, closed with `。` after a `，` and with `，` otherwise. A last line
    /// without its mark gets the one a poem has there: `。` when the line before it
    /// ends with `，` (the text ends a couplet), `，` otherwise.
    pub fn next_line(&self, text: &str) -> Result<Prompt, TaskError> {
        let mut slots = self.encode(text, false)?;
        let ends = slots.last().is_some_and(|s| self.is_line_end(s));
        if !ends {
            let before = slots.iter().rev().find_map(|s| self.line_end(s));
            slots.push(Slot::Token(self.id(if before == Some('，') { '。' } else { '，' })));
        }
        let body = &slots[..slots.len() - 1];
        let n = body.iter().rev().take_while(|s| !self.is_line_end(s)).count();
        if n == 0 {
            return Err(TaskError::NoLineBeforePunctuation);
        }
        let closer = if slots.last() == Some(&Slot::Token(self.id('，'))) { '。' } else { '，' };
        slots.extend(std::iter::repeat_n(Slot::Mask, n));
        slots.push(Slot::Token(self.id(closer)));
        self.finish(slots)
    }

    /// Given one line (or more), the line before it, as long as the first line.
    pub fn previous_line(&self, text: &str) -> Result<Prompt, TaskError> {
        let mut slots = self.encode(text, false)?;
        let n = slots.iter().take_while(|s| !self.is_line_end(s)).count();
        if n == 0 {
            return Err(TaskError::StartsWithPunctuation);
        }
        let first_end = slots.get(n).copied();
        if first_end.is_none() {
            slots.push(Slot::Token(self.id('。')));
        }
        let closer = if first_end == Some(Slot::Token(self.id('，'))) { '。' } else { '，' };
        let mut out: Vec<Slot> = std::iter::repeat_n(Slot::Mask, n).collect();
        out.push(Slot::Token(self.id(closer)));
        out.extend(slots);
        self.finish(out)
    }

    /// Any text with `_` (or `＿`, `[MASK]`) where characters are to be filled.
    pub fn infill(&self, text: &str) -> Result<Prompt, TaskError> {
        let slots = self.encode(text, true)?;
        self.finish(slots)
    }

    /// A whole poem of `form`. `pins` holds, per line, an optional string of the same
    /// length as the line where `_` (or any mask mark) leaves a character free; an
    /// acrostic is `pins = ["春_____", "眠_____", …]` or use [`Self::acrostic`].
    pub fn poem(&self, form: PoemForm, pins: &[String]) -> Result<Prompt, TaskError> {
        let (w, lines) = (form.chars_per_line(), form.lines());
        if pins.len() > lines {
            return Err(TaskError::TooManyLines { form, got: pins.len() });
        }
        let mut slots = Vec::new();
        for li in 0..lines {
            let line: Vec<Slot> = match pins.get(li).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => vec![Slot::Mask; w],
                Some(p) => {
                    // Bounded before tokenizing: a pin is one line (a `[MASK]` is 6 characters).
                    let n = p.chars().count();
                    if n > 6 * w {
                        return Err(TaskError::LineTooLong { line: li + 1, max: w });
                    }
                    let mut s = self.tok.encode_template(p)?;
                    if !s.unknown.is_empty() {
                        return Err(TaskError::Unknown(s.unknown));
                    }
                    // (As typed or as normalised: ASCII `,` is `，` by now.)
                    if let Some(ch) = s.slots.iter().find_map(|slot| self.line_end(slot)) {
                        return Err(TaskError::PunctuationInLine { line: li + 1, ch });
                    }
                    if s.slots.len() > w {
                        return Err(TaskError::LineTooLong { line: li + 1, max: w });
                    }
                    s.slots.resize(w, Slot::Mask);
                    s.slots
                }
            };
            slots.extend(line);
            slots.push(Slot::Token(self.id(if li % 2 == 0 { '，' } else { '。' })));
        }
        self.finish(slots)
    }

    /// 对对子: the text is one line; the template holds it and a line of masks with
    /// the same punctuation inside, the masks after it (`before = false`: the text is
    /// the first line) or before it. Line-end punctuation at the text's end is dropped.
    pub fn pair(&self, text: &str, before: bool) -> Result<Prompt, TaskError> {
        let mut given = self.encode(text, false)?;
        while given.last().is_some_and(|s| self.is_line_end(s)) {
            given.pop();
        }
        if given.first().is_some_and(|s| self.is_line_end(s)) {
            return Err(TaskError::StartsWithPunctuation);
        }
        if given.is_empty() {
            return Err(TaskError::Empty);
        }
        let answer: Vec<Slot> = given.iter().map(|s| if self.is_line_end(s) { *s } else { Slot::Mask }).collect();
        let (first, second) = if before { (answer, given) } else { (given, answer) };
        let mut slots = first;
        slots.push(Slot::Token(self.id('，')));
        slots.extend(second);
        slots.push(Slot::Token(self.id('。')));
        self.finish(slots)
    }

    /// A poem whose lines start with the characters of `head` (藏头诗).
    pub fn acrostic(&self, form: PoemForm, head: &str) -> Result<Prompt, TaskError> {
        let n = head.trim().chars().count();
        if n > MAX_INPUT_CHARS {
            return Err(TaskError::TooManyChars { len: n, max: MAX_INPUT_CHARS });
        }
        // (Spaces between the head's characters are not lines.)
        let head: Vec<char> = head.chars().filter(|c| !c.is_whitespace()).collect();
        if head.len() > form.lines() {
            return Err(TaskError::TooManyLines { form, got: head.len() });
        }
        let pins: Vec<String> = head.iter().map(|c| format!("{c}{}", "_".repeat(form.chars_per_line() - 1))).collect();
        self.poem(form, &pins)
    }
}

/// The generated characters of a finished generation, at the prompt's mask positions.
pub fn answer(tok: &PoemTokenizer, prompt: &Prompt, tokens: &[u32]) -> String {
    let ids: Vec<u32> = prompt.masked.iter().map(|&i| tokens[i]).collect();
    tok.decode(&ids)
}
