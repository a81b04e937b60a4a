//! The page's state as plain Rust (no browser types), so it is unit-tested natively.
//! The request itself (task, text, settings, URL form) is the library's
//! [`unmask::request::Request`].

pub use unmask::request::{bounds, Request};
pub use unmask::tasks::Task;

use crate::i18n::Lang;

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
            let committed_at =
                (prompt[i] == mask_id).then(|| history.iter().position(|h| h.tokens[i] != mask_id)).flatten();
            let confidence = committed_at.filter(|&c| c <= s).map(|c| history[c].confidence[i]);
            Cell { text: tok.decode(&[tokens[i]]), confidence, masked, fresh: committed_at == Some(s) }
        })
        .collect()
}

/// Which backend a page asks for: `?backend=cpu`, `?backend=webgpu`, else the faster
/// one as measured ([`Engine::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Auto,
    Cpu,
    Gpu,
}

impl Choice {
    /// The link's `backend`.
    pub fn from_query(query: &str) -> Choice {
        match query.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("backend=")) {
            Some("cpu") => Choice::Cpu,
            Some("webgpu") => Choice::Gpu,
            _ => Choice::Auto,
        }
    }

    /// The link's value for it (none for the default).
    pub fn key(self) -> Option<&'static str> {
        match self {
            Choice::Auto => None,
            Choice::Cpu => Some("cpu"),
            Choice::Gpu => Some("webgpu"),
        }
    }
}

/// The page's URL query: the request (when there is one to share), then the page's own
/// settings a link must keep — the compare view, a backend the link chose, the language
/// (`lang`: the value to write, if any).
pub fn page_query(req: Option<&Request>, lang: Option<&str>, compare: bool, backend: Choice) -> String {
    let mut q: Vec<String> = req.map(|r| r.to_query()).into_iter().collect();
    if compare {
        q.push("view=compare".into());
    }
    if let Some(b) = backend.key() {
        q.push(format!("backend={b}"));
    }
    if let Some(l) = lang {
        q.push(format!("lang={l}"));
    }
    format!("?{}", q.join("&"))
}

/// The page's language: the link's `lang`, else the visitor's saved choice, else the
/// first of the browser's languages (`navigator.languages`) that is Chinese or
/// English, else Chinese only for a Chinese browser — English otherwise.
pub fn choose_lang(query: &str, saved: Option<&str>, browser: &[String]) -> Lang {
    let from = |v: &str| match v {
        "en" => Some(Lang::En),
        "zh" => Some(Lang::Zh),
        _ => None,
    };
    let link = query.trim_start_matches('?').split('&').filter_map(|kv| kv.strip_prefix("lang=")).find_map(from);
    link.or_else(|| saved.and_then(from))
        .or_else(|| {
            browser.iter().find_map(|l| {
                let l = l.to_ascii_lowercase();
                if l.starts_with("zh") {
                    Some(Lang::Zh)
                } else if l.starts_with("en") {
                    Some(Lang::En)
                } else {
                    None
                }
            })
        })
        .unwrap_or(if browser.is_empty() { Lang::Zh } else { Lang::En })
}

/// The `lang` value for a code.
pub fn lang_key(l: Lang) -> &'static str {
    match l {
        Lang::En => "en",
        Lang::Zh => "zh",
    }
}

/// The request a shared link asks for: one with text (a link with only settings, or
/// none, opens the empty form).
pub fn shared_request(query: &str) -> Option<Request> {
    let has_text =
        query.trim_start_matches('?').split('&').any(|kv| kv.strip_prefix("text=").is_some_and(|v| !v.is_empty()));
    let r = Request::from_query(query);
    (has_text && !r.text.trim().is_empty()).then_some(r)
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[test]
    fn the_page_query_keeps_view_backend_and_language() {
        let r = Request::from_query("?task=prev&text=%E7%96%91%E6%98%AF%E5%9C%B0%E4%B8%8A%E9%9C%9C&seed=7");
        let q = page_query(Some(&r), Some("en"), true, Choice::Cpu);
        assert!(q.starts_with("?task=prev&text="), "{q}");
        assert!(q.ends_with("&seed=7&view=compare&backend=cpu&lang=en"), "{q}");
        assert_eq!(Request::from_query(&q), r);
        assert_eq!(page_query(None, None, false, Choice::Auto), "?");
        assert_eq!(page_query(None, Some("en"), false, Choice::Auto), "?lang=en");
        assert_eq!(page_query(None, Some("zh"), false, Choice::Auto), "?lang=zh");
        for c in [Choice::Auto, Choice::Cpu, Choice::Gpu] {
            assert_eq!(Choice::from_query(&page_query(None, None, false, c)), c);
        }
        assert_eq!(Choice::from_query("?backend=tpu"), Choice::Auto);
        assert_eq!(shared_request(&q), Some(r));
        assert_eq!(shared_request("?lang=en&task=next&temperature=1.5"), None);
        assert_eq!(shared_request("?task=next&text=%20"), None);
    }

    /// The link first, then the saved choice, then the browser's languages in order.
    #[test]
    fn the_language_follows_the_link_the_saved_choice_then_the_browser() {
        let b = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(choose_lang("", None, &b(&["en-US", "en"])), Lang::En);
        assert_eq!(choose_lang("", None, &b(&["zh-CN"])), Lang::Zh);
        assert_eq!(choose_lang("", None, &b(&["fr-FR", "zh-TW", "en"])), Lang::Zh, "the first we have");
        assert_eq!(choose_lang("", None, &b(&["ja"])), Lang::En);
        assert_eq!(choose_lang("", None, &[]), Lang::Zh);
        assert_eq!(choose_lang("", Some("zh"), &b(&["en-US"])), Lang::Zh);
        assert_eq!(choose_lang("?task=next&lang=en", Some("zh"), &b(&["zh-CN"])), Lang::En);
        assert_eq!(choose_lang("?lang=zh", None, &b(&["en-US"])), Lang::Zh);
        assert_eq!(choose_lang("?lang=xx", None, &b(&["en-US"])), Lang::En);
    }
}

/// Edit by remasking: the result's text with the marked characters (indices in
/// characters) turned into `_`, the infill template that regenerates just those with
/// the rest pinned. Punctuation is never masked.
pub fn remask_template(text: &str, marked: &[usize]) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| if marked.contains(&i) && !unmask::tasks::LINE_END.contains(&c) { '_' } else { c })
        .collect()
}

#[cfg(test)]
mod remask_tests {
    #[test]
    fn marked_characters_become_masks_and_punctuation_stays() {
        let t = "床前明月光，疑是地上霜。";
        assert_eq!(super::remask_template(t, &[7, 8, 5]), "床前明月光，疑__上霜。");
        assert_eq!(super::remask_template(t, &[]), t);
        assert_eq!(super::remask_template(t, &[99]), t);
    }
}

/// A result as verse is printed: one row per sentence (a couplet, `…，…。`), each row
/// keeping its punctuation, so a 律诗 reads as four rows, not a string that wraps
/// mid-line. The rows joined give the text back.
pub fn verse_rows(text: &str) -> Vec<&str> {
    split_after(text, ends_row)
}

/// Whether `c` closes a row of verse (a sentence: `。？！；`).
pub fn ends_row(c: char) -> bool {
    matches!(c, '。' | '？' | '！' | '；')
}

/// The lines of a row, each with its closing punctuation.
pub fn verse_lines(row: &str) -> Vec<&str> {
    split_after(row, |c| unmask::tasks::LINE_END.contains(&c))
}

/// `text` cut after every character `end` accepts (kept with the piece before it).
fn split_after(text: &str, end: impl Fn(char) -> bool) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if end(c) {
            let to = i + c.len_utf8();
            out.push(&text[start..to]);
            start = to;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod verse_tests {
    use super::{verse_lines, verse_rows};

    #[test]
    fn a_row_splits_into_its_lines() {
        assert_eq!(verse_lines("春潮带雨晚来急，野渡无人舟自横。"), vec!["春潮带雨晚来急，", "野渡无人舟自横。"]);
        assert_eq!(verse_lines("床前_"), vec!["床前_"]);
        assert_eq!(verse_lines(""), Vec::<&str>::new());
    }

    #[test]
    fn a_lushi_is_four_rows_and_they_join_back() {
        let t = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。";
        let rows = verse_rows(t);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1], "感时花溅泪，恨别鸟惊心。");
        assert_eq!(rows.concat(), t);
        assert_eq!(verse_rows("疑是地上霜"), vec!["疑是地上霜"]);
        assert_eq!(verse_rows("何处？春风！"), vec!["何处？", "春风！"]);
        assert!(verse_rows("").is_empty());
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
            StepRecord {
                tokens: vec![id('床'), id('前'), m, id('是'), id('。'), pad, pad],
                confidence: vec![-1.0, -1.0, 0.2, 0.9, -1.0, -1.0, -1.0],
            },
            StepRecord {
                tokens: vec![id('床'), id('前'), id('地'), id('是'), id('。'), pad, pad],
                confidence: vec![-1.0, -1.0, 0.4, -1.0, -1.0, -1.0, -1.0],
            },
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

/// The results a visitor has seen: the one shown, those before it (undo) and those
/// after it (redo, after an undo).
#[derive(Clone, Debug, PartialEq)]
pub struct History<T> {
    past: Vec<T>,
    current: Option<T>,
    future: Vec<T>,
}

impl<T> Default for History<T> {
    fn default() -> Self {
        History { past: Vec::new(), current: None, future: Vec::new() }
    }
}

impl<T> History<T> {
    pub fn current(&self) -> Option<&T> {
        self.current.as_ref()
    }

    /// Shows `t`: the one shown goes to the undo list, and what could be redone is
    /// gone (a new result starts a new branch).
    pub fn show(&mut self, t: T) {
        if let Some(prev) = self.current.replace(t) {
            self.past.push(prev);
        }
        self.future.clear();
    }

    /// Back one result (`back`) or forward one; whether there was one to go to.
    pub fn step(&mut self, back: bool) -> bool {
        let (from, to) = if back { (&mut self.past, &mut self.future) } else { (&mut self.future, &mut self.past) };
        let Some(t) = from.pop() else { return false };
        if let Some(cur) = self.current.replace(t) {
            to.push(cur);
        }
        true
    }

    pub fn can_undo(&self) -> bool {
        !self.past.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.future.is_empty()
    }
}

/// Candidates best first by `score` (higher is better; ties keep their order).
pub fn best_first<T>(v: &mut [T], score: impl Fn(&T) -> f64) {
    v.sort_by(|a, b| score(b).total_cmp(&score(a)));
}

#[cfg(test)]
mod history_tests {
    use super::*;

    #[test]
    fn undo_and_redo_walk_the_results_and_a_new_one_drops_the_redo_list() {
        let mut h = History::default();
        assert!(!h.step(true) && !h.step(false) && h.current().is_none());
        for r in ["a", "b", "c"] {
            h.show(r);
        }
        assert_eq!((h.current(), h.can_undo(), h.can_redo()), (Some(&"c"), true, false));
        assert!(h.step(true) && h.step(true));
        assert_eq!((h.current(), h.can_undo(), h.can_redo()), (Some(&"a"), false, true));
        assert!(!h.step(true), "nothing before the first");
        assert!(h.step(false));
        assert_eq!(h.current(), Some(&"b"));
        // A new result after an undo: c cannot be redone any more, b can be undone to.
        h.show("d");
        assert_eq!((h.current(), h.can_redo()), (Some(&"d"), false));
        assert!(h.step(true));
        assert_eq!(h.current(), Some(&"b"));
        assert!(h.step(true));
        assert_eq!(h.current(), Some(&"a"));
    }

    #[test]
    fn candidates_rank_best_first_and_ties_keep_their_order() {
        let mut v = vec![("a", -2.0), ("b", -0.5), ("c", -2.0), ("e", -0.1)];
        best_first(&mut v, |x| x.1);
        let names: Vec<&str> = v.iter().map(|x| x.0).collect();
        assert_eq!(names, ["e", "b", "a", "c"]);
    }
}
