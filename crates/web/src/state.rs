//! The page's state as plain Rust (no browser types), so it is unit-tested natively:
//! the task, the settings and how both travel in a shareable URL.

use unmask::sampler::{Remasking, SamplerParams};
use unmask::tasks::{PoemForm, Prompt, TaskBuilder, TaskError};

/// What the user asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Next,
    Prev,
    Infill,
    Poem,
}

impl Task {
    pub const ALL: [Task; 4] = [Task::Next, Task::Prev, Task::Infill, Task::Poem];

    pub fn key(self) -> &'static str {
        match self {
            Task::Next => "next",
            Task::Prev => "prev",
            Task::Infill => "infill",
            Task::Poem => "poem",
        }
    }

    pub fn from_key(s: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.key() == s)
    }
}

pub const FORMS: [(PoemForm, &str); 4] =
    [(PoemForm::WuJue, "wujue"), (PoemForm::QiJue, "qijue"), (PoemForm::WuLv, "wulv"), (PoemForm::QiLv, "qilv")];

pub fn form_key(f: PoemForm) -> &'static str {
    FORMS.iter().find(|(x, _)| *x == f).map(|(_, k)| *k).unwrap_or("wujue")
}

/// Everything the form holds; also what a shared link restores.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub task: Task,
    pub text: String,
    pub form: PoemForm,
    pub params: SamplerParams,
}

impl Default for Request {
    fn default() -> Self {
        Request { task: Task::Next, text: "床前明月光".into(), form: PoemForm::WuJue, params: SamplerParams::default() }
    }
}

/// Upper bounds the page accepts for settings (the sampler itself checks the rest).
pub const MAX_STEPS: usize = 64;

impl Request {
    /// The template to sample, or why the input can't be used.
    pub fn prompt(&self, tb: &TaskBuilder) -> Result<Prompt, TaskError> {
        match self.task {
            Task::Next => tb.next_line(&self.text),
            Task::Prev => tb.previous_line(&self.text),
            Task::Infill => tb.infill(&self.text),
            Task::Poem if self.text.trim().is_empty() => tb.poem(self.form, &[]),
            Task::Poem => tb.acrostic(self.form, &self.text),
        }
    }

    /// `task=…&text=…&…` (values percent-encoded), only what differs from defaults
    /// besides task and text.
    pub fn to_query(&self) -> String {
        let d = SamplerParams::default();
        let p = &self.params;
        let mut q = vec![("task", self.task.key().to_string()), ("text", self.text.clone())];
        if self.task == Task::Poem {
            q.push(("form", form_key(self.form).into()));
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

    /// Parses a query string (with or without `?`); unknown or bad values keep defaults.
    pub fn from_query(query: &str) -> Request {
        let mut r = Request::default();
        for pair in query.trim_start_matches('?').split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v);
            match k {
                "task" => r.task = Task::from_key(&v).unwrap_or(r.task),
                "text" => r.text = v.chars().take(unmask::tasks::MAX_INPUT_CHARS).collect(),
                "form" => r.form = v.parse().unwrap_or(r.form),
                "steps" => r.params.steps = v.parse().ok().filter(|s| (1..=MAX_STEPS).contains(s)).unwrap_or(r.params.steps),
                "block" => r.params.block_length = v.parse().unwrap_or(0),
                "remasking" => r.params.remasking = v.parse().unwrap_or_default(),
                "temperature" => r.params.temperature = v.parse().ok().filter(|t: &f32| t.is_finite() && *t >= 0.0 && *t <= 5.0).unwrap_or(0.0),
                "threshold" => r.params.threshold = v.parse().ok().filter(|t: &f32| *t > 0.0 && *t <= 1.0),
                "seed" => r.params.seed = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        r
    }
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
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
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

/// One cell of the denoising view.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    /// Probability when the cell was committed (None for prompt characters and masks).
    pub confidence: Option<f32>,
    pub masked: bool,
    /// Committed at the step being shown.
    pub fresh: bool,
}

/// The cells of step `s` (0-based) of a history, up to the template's end (PAD dropped).
pub fn cells(
    tok: &unmask::PoemTokenizer,
    prompt: &[u32],
    history: &[unmask::sampler::StepRecord],
    s: usize,
    mask_id: u32,
    pad_id: u32,
) -> Vec<Cell> {
    let end = prompt.iter().rposition(|&t| t != pad_id).map(|i| i + 1).unwrap_or(0);
    let tokens = history.get(s).map(|h| h.tokens.as_slice()).unwrap_or(prompt);
    (0..end)
        .map(|i| {
            let masked = tokens[i] == mask_id;
            // The step at which position i was committed, and its confidence then.
            let committed_at = (prompt[i] == mask_id)
                .then(|| history.iter().position(|h| h.tokens[i] != mask_id))
                .flatten();
            let confidence = committed_at.filter(|&c| c <= s).map(|c| history[c].confidence[i]);
            Cell { text: tok.decode(&[tokens[i]]), confidence, masked, fresh: committed_at == Some(s) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trip_keeps_everything() {
        let mut r = Request { task: Task::Poem, text: "春夏秋冬".into(), form: PoemForm::QiLv, ..Default::default() };
        r.params = SamplerParams { steps: 24, block_length: 8, remasking: Remasking::Random, temperature: 0.7, threshold: Some(0.9), seed: 42, pinned: vec![] };
        let q = r.to_query();
        assert!(q.starts_with("task=poem&text=%E6%98%A5"), "{q}");
        assert_eq!(Request::from_query(&format!("?{q}")), r);
    }

    #[test]
    fn bad_query_values_fall_back_to_defaults() {
        let r = Request::from_query("task=bogus&steps=100000&temperature=NaN&threshold=7&seed=x&text=%E6%9C%88%ZZ");
        let d = Request::default();
        assert_eq!((r.task, r.params.steps, r.params.temperature, r.params.threshold, r.params.seed), (d.task, d.params.steps, 0.0, None, 0));
        assert_eq!(r.text, "月%ZZ");
    }

    #[test]
    fn decode_handles_plus_and_truncated_escapes() {
        assert_eq!(decode("a+b%2"), "a b%2");
        assert_eq!(decode("%E6%9C%88"), "月");
    }
}

#[cfg(test)]
mod cell_tests {
    use super::*;
    use unmask::sampler::StepRecord;

    #[test]
    fn cells_colour_only_generated_characters_up_to_the_shown_step() {
        let chars: Vec<char> = "床前明月光，。疑是地上霜".chars().collect();
        let tok = unmask::PoemTokenizer::build(&chars, &[]).unwrap();
        let id = |c: char| tok.char_id(c).unwrap();
        let (m, pad) = (0, 1);
        let prompt = vec![id('床'), id('前'), m, m, id('。'), pad, pad];
        let history = vec![
            StepRecord { tokens: vec![id('床'), id('前'), m, id('是'), id('。'), pad, pad], confidence: vec![-1.0, -1.0, 0.2, 0.9, -1.0, -1.0, -1.0] },
            StepRecord { tokens: vec![id('床'), id('前'), id('地'), id('是'), id('。'), pad, pad], confidence: vec![-1.0, -1.0, 0.4, -1.0, -1.0, -1.0, -1.0] },
        ];
        let c0 = cells(&tok, &prompt, &history, 0, m, pad);
        assert_eq!(c0.len(), 5, "PAD is not shown");
        assert_eq!(c0.iter().map(|c| c.confidence).collect::<Vec<_>>(), vec![None, None, None, Some(0.9), None]);
        assert!(c0[2].masked && c0[3].fresh && !c0[0].fresh);
        let c1 = cells(&tok, &prompt, &history, 1, m, pad);
        assert_eq!(c1.iter().map(|c| c.confidence).collect::<Vec<_>>(), vec![None, None, Some(0.4), Some(0.9), None]);
        assert_eq!(c1.iter().map(|c| c.text.as_str()).collect::<String>(), "床前地是。");
    }
}
