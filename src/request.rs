//! A request as the page's form holds it and as it travels in a shareable URL or a
//! widget call: task, text, form and sampler settings, with its query-string form.

use crate::sampler::{Remasking, Settings};
use crate::tasks::{PoemForm, Prompt, Task, TaskBuilder, TaskError, MAX_INPUT_CHARS};

/// Everything the form holds; also what a shared link restores.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub task: Task,
    pub text: String,
    pub form: PoemForm,
    /// Whole poems keep their form's tone pattern, one rhyme group and the repeat
    /// rule (`pipeline::verse_constraints`); on unless the user turns it off.
    pub metre: bool,
    /// The rhyme group a poem keeps (a group's name, its last character, or a
    /// character to rhyme with); empty: the model's choice.
    pub rhyme: String,
    /// A poem's tone pattern (`prosody::Pattern` key or name); empty: the one that
    /// fits the pinned characters best.
    pub pattern: String,
    pub params: Settings,
}

impl Request {
    /// The settings this request carries that its task does not use: a rhyme group
    /// or a tone pattern outside a whole poem with metre. What a caller that was
    /// given them explicitly (the CLI's flags) refuses rather than ignore.
    pub fn ignored(&self) -> Vec<&'static str> {
        let verse = self.task == Task::Poem && self.metre;
        let mut out = Vec::new();
        if !verse && !self.rhyme.is_empty() {
            out.push("rhyme");
        }
        if !verse && !self.pattern.is_empty() {
            out.push("pattern");
        }
        out
    }

    /// The request without the settings its task does not use ([`Self::ignored`]):
    /// what the page runs, whose form keeps a poem's rhyme and pattern while
    /// another task is chosen (and shows them only for poems).
    pub fn without_ignored(&self) -> Request {
        let mut r = self.clone();
        for s in self.ignored() {
            match s {
                "rhyme" => r.rhyme.clear(),
                _ => r.pattern.clear(),
            }
        }
        r
    }
}

/// A Han character (CJK unified ideographs, their extensions and compatibility
/// forms): what an acrostic head may be.
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{3134f}')
}

/// The longest `rhyme` value kept from a link.
pub const MAX_RHYME_CHARS: usize = 8;

impl Default for Request {
    fn default() -> Self {
        Request {
            task: Task::Next,
            text: "床前明月光".into(),
            form: PoemForm::WuJue,
            metre: true,
            rhyme: String::new(),
            pattern: String::new(),
            params: Settings::default(),
        }
    }
}

/// The range of every user setting, one table for the link parser, the page's form,
/// the widget, the fuzzer and the tests (the sampler itself checks what any caller
/// passes: `sampler::prepare`). A link's value outside its range is dropped for the
/// default; the form clamps what is typed into it.
pub mod bounds {
    use std::ops::RangeInclusive;

    /// Denoising steps.
    pub const STEPS: RangeInclusive<usize> = 1..=64;
    /// Semi-autoregressive block length (0: one block); no template is longer.
    pub const BLOCK_LENGTH: RangeInclusive<usize> = 0..=64;
    /// Gumbel temperature (0: greedy).
    pub const TEMPERATURE: RangeInclusive<f32> = 0.0..=5.0;
    /// The parallel-decoding threshold's upper end; it must be above 0.
    pub const THRESHOLD_MAX: f32 = 1.0;

    /// Whether `t` is a threshold the sampler accepts: in (0, 1].
    pub fn threshold_ok(t: f32) -> bool {
        t > 0.0 && t <= THRESHOLD_MAX
    }

    /// Whether `t` is a temperature a request may carry (finite, in range).
    pub fn temperature_ok(t: f32) -> bool {
        t.is_finite() && TEMPERATURE.contains(&t)
    }
}

impl Request {
    /// The request as it is run: with a temperature and no seed fixed (seed 0), a
    /// seed drawn by `draw` (so each click samples afresh, and the link made from the
    /// result holds the seed that reproduces it); unchanged otherwise.
    pub fn with_fresh_seed(mut self, draw: impl FnOnce() -> u32) -> Request {
        if self.params.temperature > 0.0 && self.params.seed == 0 {
            self.params.seed = draw().max(1);
        }
        self
    }

    /// Whether the text is what the task takes, so that switching tasks need not run
    /// text written for another: a whole poem takes nothing, or up to one head
    /// character a line (no punctuation, no `_`; five or seven characters are a line
    /// of verse, 床前明月光, not the heads of a 律诗); the line tasks take text without
    /// masks; fill-the-masks takes anything (masks are added to what is there).
    pub fn text_fits(&self) -> bool {
        let text: Vec<char> = self.text.chars().filter(|c| !c.is_whitespace()).collect();
        match self.task {
            Task::Poem => {
                text.len() <= self.form.lines() && !matches!(text.len(), 5 | 7) && text.iter().all(|&c| is_han(c))
            }
            Task::Infill => true,
            _ => !crate::tokenizer::has_blank(&self.text),
        }
    }

    /// The template to sample, or why the input can't be used.
    pub fn prompt(&self, tb: &TaskBuilder) -> Result<Prompt, TaskError> {
        self.task.prompt(tb, &self.text, self.form)
    }

    /// `task=…&text=…&…` (values percent-encoded), only what differs from defaults
    /// besides task and text.
    pub fn to_query(&self) -> String {
        let d = Settings::default();
        let p = &self.params;
        let mut q = vec![("task", self.task.key().to_string()), ("text", self.text.clone())];
        // The form also when another task is chosen: the link keeps the whole form.
        if self.task == Task::Poem || self.form != Request::default().form {
            q.push(("form", self.form.key().into()));
        }
        if !self.metre {
            q.push(("metre", "0".into()));
        }
        if !self.rhyme.is_empty() {
            q.push(("rhyme", self.rhyme.clone()));
        }
        if !self.pattern.is_empty() {
            q.push(("pattern", self.pattern.clone()));
        }
        if p.steps != d.steps {
            q.push(("steps", p.steps.to_string()));
        }
        if p.block_length != 0 {
            q.push(("block", p.block_length.to_string()));
        }
        if p.remasking == Remasking::Random {
            q.push(("remasking", "random".into()));
        }
        if p.temperature != 0.0 {
            q.push(("temperature", p.temperature.to_string()));
        }
        if let Some(t) = p.threshold {
            q.push(("threshold", t.to_string()));
        }
        if p.seed != 0 {
            q.push(("seed", p.seed.to_string()));
        }
        q.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
    }

    /// Parses a query string (with or without `?`); bad values keep defaults
    /// ([`Self::parse_query`] says which).
    pub fn from_query(query: &str) -> Request {
        Self::parse_query(query).0
    }

    /// Parses a query string (with or without `?`), with the values it could not
    /// take: each such key keeps its default (a text or rhyme longer than its limit
    /// is cut), and the page says so while the widget refuses. Keys that are not a
    /// request's (`lang`, `view`, another site's) are left to their readers.
    pub fn parse_query(query: &str) -> (Request, Vec<Rejected>) {
        let mut r = Request::default();
        let mut bad = Vec::new();
        let rejected = |key: &str, value: &str, why: Refusal| {
            let value: String = value.chars().take(Rejected::VALUE_CHARS).collect();
            Rejected { key: key.into(), value, why }
        };
        for pair in query.trim_start_matches('?').split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v);
            let range = |r: std::ops::RangeInclusive<usize>| format!("{}–{}", r.start(), r.end());
            match k {
                "task" => match Task::from_key(&v) {
                    Some(t) => r.task = t,
                    None => bad.push(rejected(k, &v, Refusal::Takes(keys(Task::ALL.iter().map(|t| t.key()))))),
                },
                "text" => {
                    let n = v.chars().count();
                    if n > MAX_INPUT_CHARS {
                        bad.push(rejected(k, &v, Refusal::TooLong { chars: n, max: MAX_INPUT_CHARS }));
                    }
                    r.text = v.chars().take(MAX_INPUT_CHARS).collect();
                }
                "form" => match v.parse() {
                    Ok(f) => r.form = f,
                    Err(_) => bad.push(rejected(k, &v, Refusal::Takes(keys(PoemForm::ALL.iter().map(|f| f.key()))))),
                },
                "metre" => match v.as_str() {
                    "0" | "false" | "off" => r.metre = false,
                    "" | "1" | "true" | "on" => r.metre = true,
                    _ => bad.push(rejected(k, &v, Refusal::Takes("0, 1".into()))),
                },
                "rhyme" => {
                    let given = v.trim();
                    let n = given.chars().count();
                    if n > MAX_RHYME_CHARS {
                        bad.push(rejected(k, given, Refusal::TooLong { chars: n, max: MAX_RHYME_CHARS }));
                    }
                    // Trimmed after the cut too: a cut can end on a space, which the
                    // link would lose.
                    r.rhyme = given.chars().take(MAX_RHYME_CHARS).collect::<String>().trim_end().into();
                }
                "pattern" => match v.parse::<crate::prosody::Pattern>() {
                    Ok(p) => r.pattern = p.key().to_string(),
                    Err(_) if v.is_empty() => r.pattern.clear(),
                    Err(_) => bad.push(rejected(
                        k,
                        &v,
                        Refusal::Takes(keys(crate::prosody::Pattern::ALL.iter().map(|p| p.key()))),
                    )),
                },
                "steps" => match v.parse().ok().filter(|s| bounds::STEPS.contains(s)) {
                    Some(s) => r.params.steps = s,
                    None => bad.push(rejected(k, &v, Refusal::Takes(range(bounds::STEPS)))),
                },
                "block" => match v.parse().ok().filter(|b| bounds::BLOCK_LENGTH.contains(b)) {
                    Some(b) => r.params.block_length = b,
                    None => bad.push(rejected(k, &v, Refusal::Takes(range(bounds::BLOCK_LENGTH)))),
                },
                "remasking" => match v.parse() {
                    Ok(m) => r.params.remasking = m,
                    Err(_) => bad.push(rejected(k, &v, Refusal::Takes("low-confidence, random".into()))),
                },
                "temperature" => match v.parse().ok().filter(|&t| bounds::temperature_ok(t)) {
                    Some(t) => r.params.temperature = t,
                    None => bad.push(rejected(
                        k,
                        &v,
                        Refusal::Takes(format!("{}–{}", bounds::TEMPERATURE.start(), bounds::TEMPERATURE.end())),
                    )),
                },
                "threshold" => match v.parse().ok().filter(|&t| bounds::threshold_ok(t)) {
                    Some(t) => r.params.threshold = Some(t),
                    None => bad.push(rejected(k, &v, Refusal::Takes(format!("(0, {}]", bounds::THRESHOLD_MAX)))),
                },
                "seed" => match v.parse() {
                    Ok(s) => r.params.seed = s,
                    Err(_) => bad.push(rejected(k, &v, Refusal::Takes(format!("0–{}", u32::MAX)))),
                },
                _ => {}
            }
        }
        // A link without text gets the default text only where its task takes it
        // (`?task=poem&form=qilv` is a free 七律, not an acrostic on 床前明月光).
        let has_text = query.trim_start_matches('?').split('&').any(|p| p.split('=').next() == Some("text"));
        if !has_text && !r.text_fits() {
            r.text.clear();
        }
        (r, bad)
    }
}

/// A value a link or a widget's attribute gave that its request could not take
/// ([`Request::parse_query`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    pub key: String,
    /// The value as given, cut to [`Rejected::VALUE_CHARS`] characters for messages.
    pub value: String,
    pub why: Refusal,
}

/// Why a value was not taken.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// Not one the key takes: the default is used. What it takes (names or a
    /// range), in no language in particular.
    Takes(String),
    /// Longer than the key's limit: cut to `max` characters.
    TooLong { chars: usize, max: usize },
}

impl Rejected {
    /// The longest value a message quotes.
    pub const VALUE_CHARS: usize = 24;
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.why {
            Refusal::Takes(t) => write!(f, "{}={}: {} takes {t}", self.key, self.value, self.key),
            Refusal::TooLong { chars, max } => write!(f, "{} has {chars} characters, more than {max}", self.key),
        }
    }
}

/// Names as a message lists them.
fn keys<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// Percent-encodes everything but unreserved ASCII (UTF-8 bytes).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Decodes `%XX` and `+`; invalid sequences are kept as they are.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                // Two hex digits exactly (`%+1` is not an escape).
                let digit = |c: u8| (c as char).to_digit(16);
                let hex = digit(b[i + 1]).zip(digit(b[i + 2])).map(|(hi, lo)| (hi * 16 + lo) as u8);
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trip_keeps_everything() {
        let mut r = Request {
            task: Task::Poem,
            text: "春夏秋冬".into(),
            form: PoemForm::QiLv,
            metre: false,
            rhyme: "尤".into(),
            pattern: "ze-rhymed".into(),
            ..Default::default()
        };
        r.params = Settings {
            steps: 24,
            block_length: 8,
            remasking: Remasking::Random,
            temperature: 0.7,
            threshold: Some(0.9),
            seed: 42,
            pinned: vec![],
        };
        let q = r.to_query();
        assert!(q.starts_with("task=poem&text=%E6%98%A5"), "{q}");
        assert_eq!(Request::from_query(&format!("?{q}")), r);
    }

    #[test]
    fn sampling_without_a_fixed_seed_draws_one_and_the_link_keeps_it() {
        let warm = Request { params: Settings { temperature: 0.8, ..Default::default() }, ..Default::default() };
        let run = warm.clone().with_fresh_seed(|| 77);
        assert_eq!(run.params.seed, 77);
        assert!(run.to_query().contains("seed=77"), "{}", run.to_query());
        // A fixed seed, or greedy decoding, is left alone.
        let fixed = Request { params: Settings { seed: 5, ..warm.params.clone() }, ..Default::default() };
        assert_eq!(fixed.with_fresh_seed(|| 77).params.seed, 5);
        assert_eq!(Request::default().with_fresh_seed(|| 77).params.seed, 0);
        // A draw of 0 would mean "fresh" again in the link: never used.
        assert_eq!(warm.with_fresh_seed(|| 0).params.seed, 1);
    }

    #[test]
    fn bad_query_values_fall_back_to_defaults() {
        let r = Request::from_query(
            "task=bogus&steps=100000&block=65&temperature=NaN&threshold=7&seed=x&text=%E6%9C%88%ZZ",
        );
        let d = Request::default();
        assert_eq!(
            (r.task, r.params.steps, r.params.block_length, r.params.temperature, r.params.threshold, r.params.seed),
            (d.task, d.params.steps, 0, 0.0, None, 0)
        );
        assert_eq!(r.text, "月%ZZ");
    }

    /// A link's value the request cannot take is reported with what its key takes,
    /// not dropped without a word; a link without problems has none.
    #[test]
    fn parse_query_reports_every_value_it_could_not_take() {
        let (r, bad) = Request::parse_query(
            "?task=bogus&steps=100000&block=65&temperature=NaN&threshold=7&seed=x&form=sonnet&metre=maybe&pattern=abab&remasking=best&lang=en",
        );
        let keys: Vec<&str> = bad.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(
            keys,
            ["task", "steps", "block", "temperature", "threshold", "seed", "form", "metre", "pattern", "remasking"]
        );
        assert_eq!(r, Request::default(), "every bad value keeps its default");
        assert_eq!(bad[1].to_string(), "steps=100000: steps takes 1–64");
        assert_eq!(bad[0].why, Refusal::Takes("next, prev, infill, poem, pair, pair-prev".into()));
        let long = "月".repeat(MAX_INPUT_CHARS + 5);
        let (r, bad) = Request::parse_query(&format!("text={}&rhyme={}", encode(&long), encode("一二三四五六七八九")));
        assert_eq!(r.text.chars().count(), MAX_INPUT_CHARS);
        assert_eq!(r.rhyme, "一二三四五六七八");
        assert_eq!(bad[0].why, Refusal::TooLong { chars: MAX_INPUT_CHARS + 5, max: MAX_INPUT_CHARS });
        assert_eq!(bad[0].value.chars().count(), Rejected::VALUE_CHARS);
        assert_eq!(bad[1].why, Refusal::TooLong { chars: 9, max: MAX_RHYME_CHARS });
        let good = Request { task: Task::Poem, rhyme: "东".into(), metre: false, ..Default::default() };
        assert_eq!(Request::parse_query(&good.to_query()), (good, vec![]));
        assert!(!Request::from_query("metre=false").metre, "false is off, as 0 is");
    }

    #[test]
    fn decode_handles_plus_and_truncated_escapes() {
        assert_eq!(decode("a+b%2"), "a b%2");
        assert_eq!(decode("%E6%9C%88"), "月");
    }

    /// Only `%` + two hex digits is an escape: a sign is not a digit.
    #[test]
    fn decode_keeps_escapes_that_are_not_two_hex_digits() {
        assert_eq!(decode("%+1"), "% 1");
        assert_eq!(decode("%-1x"), "%-1x");
        assert_eq!(decode("%4g%41"), "%4gA");
    }

    /// What each task takes: acrostic heads for a poem (a line, punctuation or masks
    /// are not), text without masks for the line tasks; a link without text gets the
    /// default only where it fits.
    #[test]
    fn text_fits_what_the_task_takes() {
        let fits = |task, text: &str, form| Request { task, text: text.into(), form, ..Default::default() }.text_fits();
        assert!(fits(Task::Poem, "", PoemForm::WuJue));
        assert!(fits(Task::Poem, "春夏秋冬", PoemForm::WuJue));
        assert!(fits(Task::Poem, "春 夏 秋", PoemForm::WuJue));
        assert!(!fits(Task::Poem, "床前明月光", PoemForm::WuJue), "5 heads for 4 lines");
        assert!(!fits(Task::Poem, "床前明月光", PoemForm::QiLv), "a line of verse, not heads");
        assert!(fits(Task::Poem, "春花秋月夏冬", PoemForm::QiLv));
        assert!(!fits(Task::Poem, "举头_，", PoemForm::QiLv), "punctuation and masks are no heads");
        assert!(fits(Task::Next, "床前明月光", PoemForm::WuJue));
        assert!(!fits(Task::Next, "举头望明_，低头思故_。", PoemForm::WuJue));
        assert!(fits(Task::Infill, "床前明月光", PoemForm::WuJue));
        let r = Request::from_query("?task=poem&form=qilv");
        assert_eq!((r.task, r.form, r.text.as_str()), (Task::Poem, PoemForm::QiLv, ""));
        assert_eq!(Request::from_query("?task=poem").text, "");
        assert_eq!(Request::from_query("?task=prev").text, Request::default().text);
        // Text a link gives is kept, fitting or not: the page says what is wrong with it.
        assert_eq!(
            Request::from_query("?task=poem&text=%E5%BA%8A%E5%89%8D%E6%98%8E%E6%9C%88%E5%85%89").text,
            "床前明月光"
        );
    }

    #[test]
    fn every_task_and_form_round_trips_through_the_query() {
        for task in Task::ALL {
            for form in PoemForm::ALL {
                let r = Request { task, form, text: "月".into(), ..Default::default() };
                let back = Request::from_query(&r.to_query());
                assert_eq!(back.task, task);
                if task == Task::Poem {
                    assert_eq!(back.form, form);
                }
            }
        }
    }
}
