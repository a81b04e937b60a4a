//! Fuzz targets for every surface that takes input from outside: the model file,
//! text and pins typed into a task, sampler settings, the page's query string and
//! the evaluation's JSONL file. Each target takes bytes, never panics on its own,
//! and panics (a finding) when an invariant breaks:
//!
//! - `loader`: a file either fails to load with an error, or loads into a model whose
//!   config validates, which writes back to the same bytes, and whose generation
//!   either fills every mask with an allowed id or stops with `NonFinite`.
//! - `text`: a template keeps every character of the prompt at its place, holds masks
//!   exactly where `masked` says, fits the model, and carries no special token; an
//!   error message never echoes an invisible or direction-changing character raw.
//!   The tokenizer's normalisation is idempotent. The metre checker counts exactly
//!   the marks it flags, gives each a reason, and claims a form only for its shape.
//! - `sampler`: any settings and token sequence either are refused by
//!   `sampler::prepare`, or generate a sequence in which nothing but the masks
//!   changed, pins hold, and no special or excluded id appears.
//! - `query`: any query string parses to a request within the page's limits that
//!   survives its own query string.
//! - `pairs`: any JSONL text parses to pairs that survive `to_jsonl`, or to an error
//!   naming a line that exists; the pairs' prompts keep the same template invariants.
//! - `prosody`: any prosody data file either fails to load, or plans every form and
//!   pattern (or says why) with every constrained position left a character to take.
//!
//! `cargo fuzz run TARGET` (fuzz/, libFuzzer) and the stable runner
//! (`cargo run --release -p unmask-fuzz -- run TARGET`) call the same functions.

use std::sync::OnceLock;

use arbitrary::Unstructured;
use unmask::cpu::CpuModel;
use unmask::pairs;
use unmask::prosody::Prosody;
use unmask::request::{bounds, Request};
use unmask::sampler::{self, generate_cpu, Constraints, Remasking, SampleError, SamplerParams};
use unmask::tasks::{PoemForm, Prompt, Task, TaskBuilder, MAX_INPUT_CHARS};
use unmask::tokenizer::Slot;
use unmask::{ExportFormat, ModelConfig, ModelWeights, PoemTokenizer, WeightFormat};

pub mod mutate;
pub mod seeds;

/// A target: bytes in, panics on a broken invariant.
pub type Target = fn(&[u8]);

/// Every target by name (the names of fuzz/fuzz_targets/*.rs and fuzz/corpus/*).
pub const TARGETS: [(&str, Target); 6] = [
    ("loader", loader),
    ("text", text),
    ("sampler", sampler),
    ("query", query),
    ("pairs", pairs),
    ("prosody", prosody_data),
];

/// The shipped tokenizer (8,000 ids): the text targets see the real vocabulary and
/// normaliser.
pub fn tokenizer() -> &'static PoemTokenizer {
    static TOK: OnceLock<PoemTokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        PoemTokenizer::from_bytes(include_bytes!("../../../www/model/tokenizer.json")).expect("shipped tokenizer")
    })
}

/// The ids of the line-end punctuation in the shipped tokenizer.
fn punct_ids() -> Vec<u32> {
    unmask::tasks::LINE_END.iter().filter_map(|&c| tokenizer().char_id(c)).collect()
}

/// The shipped model's config (shifted diffusion, 64 positions) over the tokenizer.
pub fn poem_config() -> &'static ModelConfig {
    static CFG: OnceLock<ModelConfig> = OnceLock::new();
    CFG.get_or_init(|| ModelConfig { shifted: true, ..ModelConfig::poem(tokenizer().vocab_size()) })
}

/// The smallest model the format allows, for fast loads and passes: one layer,
/// 32 wide, a 40-id vocabulary, 16 positions.
pub fn micro_config(causal: bool) -> ModelConfig {
    ModelConfig {
        vocab_size: 40,
        d_model: 32,
        n_layers: 1,
        n_heads: 2,
        d_ff: 32,
        max_seq_len: 16,
        causal,
        shifted: !causal,
        ..ModelConfig::poem(40)
    }
}

pub fn micro_model(causal: bool, format: WeightFormat, seed: u64) -> ModelWeights {
    let embeddings = if format == WeightFormat::Q4 { WeightFormat::Q8 } else { format };
    ModelWeights::random(micro_config(causal), ExportFormat { blocks: format, embeddings }, seed)
}

/// Invisible and direction-changing characters: a message shows them as U+XXXX.
fn invisible(c: char) -> bool {
    c.is_control() || matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0xFFF9..=0xFFFB)
}

fn check_message(what: &str, msg: &str) {
    assert!(!msg.is_empty(), "{what}: empty error message");
    assert!(!msg.chars().any(invisible), "{what}: message echoes an invisible character raw: {msg:?}");
}

// ---------------------------------------------------------------------------------
// loader

pub fn loader(data: &[u8]) {
    load_and_generate(data);
    // The same header signed again, so a mutation of the tensor table or the config
    // reaches the checks after the header's digest.
    if let Some(signed) = unmask::format::sign_header(data).filter(|s| s != data) {
        load_and_generate(&signed);
    }
}

fn load_and_generate(data: &[u8]) {
    let Ok(w) = ModelWeights::from_bytes(data) else { return };
    let c = &w.config;
    c.validate().unwrap_or_else(|e| panic!("a loaded model's config does not validate: {e}"));
    let bytes = w.to_bytes();
    let again = ModelWeights::from_bytes(&bytes).unwrap_or_else(|e| panic!("a loaded model does not reload: {e}"));
    // Bytes, not values: a weight may be NaN.
    assert!(again.to_bytes() == bytes, "a loaded model changes when written and read again");
    // A model that loads generates, or says its scores are not finite.
    let n = c.max_seq_len.min(4);
    let prompt = vec![c.mask_id; n];
    let p = SamplerParams { steps: 2, ..Default::default() };
    let model = CpuModel::new(&w);
    match generate_cpu(&model, &prompt, &p, false, |_| true) {
        Ok(g) => {
            for &t in &g.tokens {
                assert!((t as usize) < c.vocab_size && !sampler::banned(c, t), "generated id {t}");
            }
        }
        Err(SampleError::NonFinite | SampleError::NothingAllowed) => {}
        Err(e) => panic!("a loaded model cannot generate: {e}"),
    }
}

// ---------------------------------------------------------------------------------
// prosody

/// A prosody data file: loads or errs; data that loads plans every form and
/// pattern, or says why, and leaves every constrained position of a plan at least
/// one character it may take (else the sampler would blame the model).
pub fn prosody_data(data: &[u8]) {
    use unmask::prosody::{poem_constraints, Choice, Pattern};
    let tok = tokenizer();
    let Ok(p) = Prosody::from_bytes(data, tok) else { return };
    let cfg = poem_config();
    let (tb, v) = (TaskBuilder::new(tok, cfg), cfg.vocab_size);
    for form in PoemForm::ALL {
        let prompt = tb.poem(form, &[]).expect("an empty poem's template");
        for pattern in [None].into_iter().chain(Pattern::ALL.map(Some)) {
            let choice = Choice { pattern, group: None, seed: 1, temperature: 0.0 };
            let rows = |at: &[usize]| vec![0.0f32; at.len() * v];
            match poem_constraints(&p, tok, &prompt.tokens, form, choice, rows) {
                Ok((c, _)) => {
                    for (i, &k) in c.at.iter().enumerate().filter(|(_, &k)| k > 0) {
                        let banned = &c.classes[usize::from(k) - 1];
                        assert!(banned.len() < v - 3, "{form:?} {pattern:?}: nothing allowed at {i} (class {k})");
                    }
                }
                Err(why) => assert!(!why.is_empty(), "{form:?} {pattern:?}: an empty reason"),
            }
        }
    }
    check_metre_with(&p, "床前明月光，疑是地上霜。举头望明月，低头思故乡。");
}

// ---------------------------------------------------------------------------------
// text

/// The checks every template satisfies, whatever the task.
pub fn check_prompt(what: &str, p: &Prompt, cfg: &ModelConfig) {
    let t = &p.tokens;
    assert!(t.len() <= cfg.max_seq_len, "{what}: {} positions for a {}-position model", t.len(), cfg.max_seq_len);
    assert!(!p.masked.is_empty(), "{what}: a template without masks");
    let masks: Vec<usize> = (0..t.len()).filter(|&i| t[i] == cfg.mask_id).collect();
    assert_eq!(masks, p.masked, "{what}: `masked` is not where the masks are");
    // A shifted diffusion model reads the last character through one trailing [PAD],
    // added whenever there is room for it.
    let shifted = cfg.shifted && !cfg.causal;
    if shifted && t.len() < cfg.max_seq_len {
        assert_eq!(t.last(), Some(&cfg.pad_id), "{what}: a shifted model's template ends in [PAD]");
    }
    let body = text_part(t, cfg);
    for (i, &id) in body.iter().enumerate() {
        assert!((id as usize) < cfg.vocab_size, "{what}: id {id} at {i}");
        assert!(id == cfg.mask_id || !sampler::banned(cfg, id), "{what}: special id {id} at {i}");
    }
}

/// The template without the trailing [PAD] of a shifted model.
fn text_part<'t>(t: &'t [u32], cfg: &ModelConfig) -> &'t [u32] {
    match t.split_last() {
        Some((&last, body)) if last == cfg.pad_id && cfg.shifted && !cfg.causal => body,
        _ => t,
    }
}

fn ids(slots: &[Slot], mask_id: u32) -> Vec<u32> {
    slots.iter().map(|s| if let Slot::Token(t) = s { *t } else { mask_id }).collect()
}

/// A task's template for `text`, checked: the prompt's characters stay where the
/// task puts them.
pub fn check_task(task: Task, text: &str, form: PoemForm) {
    let (tok, cfg) = (tokenizer(), poem_config());
    let tb = TaskBuilder::new(tok, cfg);
    let what = format!("{task} {text:?}");
    let p = match task.prompt(&tb, text, form) {
        Ok(p) => p,
        Err(e) => return check_message(&what, &e.to_string()),
    };
    check_prompt(&what, &p, cfg);
    let trimmed = text.trim();
    // Whitespace between lines is read as their mark (`tasks::mark_line_breaks`).
    let lined = unmask::tasks::mark_line_breaks(trimmed);
    let plain = || tok.encode(&lined).map(|e| e.ids(cfg.mask_id)).expect("the task encoded it");
    match task {
        Task::Next => {
            let given = plain();
            assert_eq!(p.tokens[..given.len()], given[..], "{what}: prompt changed");
        }
        Task::Prev => {
            let given = plain();
            let n = p.masked.len();
            assert_eq!(p.masked, (0..n).collect::<Vec<_>>(), "{what}: the masks lead");
            assert_eq!(p.tokens[n + 1..n + 1 + given.len()], given[..], "{what}: prompt changed");
        }
        Task::Infill => {
            let given = tok.encode_template(&lined).map(|e| ids(&e.slots, cfg.mask_id)).expect("encoded");
            assert_eq!(p.tokens[..given.len()], given[..], "{what}: template changed");
        }
        Task::Poem => {
            let (w, lines) = (form.chars_per_line(), form.lines());
            assert_eq!(text_part(&p.tokens, cfg).len(), lines * (w + 1), "{what}: not the form's length");
            // A head character starts its line; `_` (or a character the normaliser
            // drops) leaves the line free; spaces between head characters are skipped.
            for (li, c) in trimmed.chars().filter(|c| !c.is_whitespace()).enumerate() {
                let slots = tok.encode_template(&c.to_string()).expect("the head encoded").slots;
                let want = match slots.as_slice() {
                    [Slot::Token(id)] => *id,
                    [] | [Slot::Mask] => cfg.mask_id,
                    more => panic!("{what}: head character {c:?} is {} slots", more.len()),
                };
                assert_eq!(p.tokens[li * (w + 1)], want, "{what}: head character {li} not at its line");
            }
        }
        Task::Pair | Task::PairPrev => {
            // The given line whole (less its closing punctuation), the answer the same
            // shape with masks for characters.
            let given = plain();
            let punct = punct_ids();
            let n = given.iter().rposition(|t| !punct.contains(t)).map_or(0, |i| i + 1);
            let given = &given[..n];
            let at = if task == Task::Pair { 0 } else { n + 1 };
            let answer = if task == Task::Pair { n + 1 } else { 0 };
            assert_eq!(p.tokens[at..at + n], given[..], "{what}: prompt changed");
            for (i, &g) in given.iter().enumerate() {
                let want = if punct.contains(&g) { g } else { cfg.mask_id };
                assert_eq!(p.tokens[answer + i], want, "{what}: the answer's shape differs at {i}");
            }
        }
    }
}

/// A poem with per-line pins, checked: pinned characters at their places.
pub fn check_poem_pins(form: PoemForm, pins: &[String]) {
    let (tok, cfg) = (tokenizer(), poem_config());
    let what = format!("poem {form:?} {pins:?}");
    let p = match TaskBuilder::new(tok, cfg).poem(form, pins) {
        Ok(p) => p,
        Err(e) => return check_message(&what, &e.to_string()),
    };
    check_prompt(&what, &p, cfg);
    let w = form.chars_per_line();
    let punct = punct_ids();
    for (li, pin) in pins.iter().enumerate() {
        let slots = tok.encode_template(pin.trim()).expect("encoded").slots;
        for (j, s) in slots.iter().enumerate() {
            if let Slot::Token(id) = s {
                assert!(!punct.contains(id), "{what}: punctuation pinned into a character slot of line {li}");
                assert_eq!(p.tokens[li * (w + 1) + j], *id, "{what}: pin of line {li} moved");
            }
        }
    }
}

/// Normalising is idempotent: what a text encodes to, decoded and encoded again, is
/// the same ids.
pub fn check_tokenizer(text: &str) {
    let tok = tokenizer();
    for templated in [false, true] {
        let enc = if templated { tok.encode_template(text) } else { tok.encode(text) };
        let Ok(enc) = enc else { continue };
        if !enc.unknown.is_empty() {
            continue;
        }
        let first = ids(&enc.slots, 0);
        let shown = tok.decode(&first).replace('＿', "_");
        let again = if templated { tok.encode_template(&shown) } else { tok.encode(&shown) };
        let again = again.unwrap_or_else(|e| panic!("{text:?} → {shown:?} does not encode: {e}"));
        assert_eq!(ids(&again.slots, 0), first, "{text:?} → {shown:?} encodes differently");
    }
}

/// The bundled prosody data over the shipped tokenizer.
pub fn prosody() -> &'static Prosody {
    static P: OnceLock<Prosody> = OnceLock::new();
    P.get_or_init(|| {
        Prosody::from_bytes(include_bytes!("../../../www/model/prosody.json"), tokenizer()).expect("bundled prosody")
    })
}

/// The metre checker on any text: every character it keeps is marked, violations are
/// the marks that are not ok, and a form is only claimed for lines of equal length.
pub fn check_metre(text: &str) {
    check_metre_with(prosody(), text);
}

fn check_metre_with(p: &Prosody, text: &str) {
    let r = unmask::prosody::check(p, tokenizer(), text);
    let marks: Vec<_> = r.lines.iter().flat_map(|l| &l.marks).collect();
    assert_eq!(r.violations, marks.iter().filter(|m| !m.ok).count(), "{text:?}: violation count");
    assert!(marks.iter().all(|m| m.ok || m.why.is_some()), "{text:?}: a violation without a reason");
    if let Some(f) = r.form {
        assert_eq!(r.lines.len(), f.lines(), "{text:?}: {f:?} with {} lines", r.lines.len());
        assert!(r.lines.iter().all(|l| l.marks.len() == f.chars_per_line()), "{text:?}: uneven lines for {f:?}");
    }
}

pub fn text(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let s = String::from_utf8_lossy(rest);
    let form = PoemForm::ALL[(sel >> 4) as usize % PoemForm::ALL.len()];
    // 0-3 and 6-7: the six tasks in `Task::ALL` order (对对子 both ways last).
    match sel % 8 {
        4 => check_poem_pins(form, &s.split('\n').map(str::to_string).collect::<Vec<_>>()),
        5 => {
            check_tokenizer(&s);
            check_metre(&s);
        }
        k => check_task(Task::ALL[usize::from(if k < 4 { k } else { k - 2 })], &s, form),
    }
}

// ---------------------------------------------------------------------------------
// sampler

fn micro_cpu(causal: bool) -> &'static CpuModel {
    static M: OnceLock<[CpuModel; 2]> = OnceLock::new();
    &M.get_or_init(|| {
        [
            CpuModel::new(&micro_model(false, WeightFormat::Q8, 1)),
            CpuModel::new(&micro_model(true, WeightFormat::Q4, 2)),
        ]
    })[usize::from(causal)]
}

/// Settings and tokens from fuzz bytes: a fixed-size head of settings (each float
/// either a plain value in range or, by a flag bit, any 32 bits at all), then up to 8
/// pins, 48 excluded ids and 3 constraint classes, then the tokens (whose bytes also
/// give each position's class) — so most inputs reach generation.
fn settings(data: &[u8], cfg: &ModelConfig) -> arbitrary::Result<(Vec<u32>, SamplerParams)> {
    let mut u = Unstructured::new(data);
    let flags: u8 = u.arbitrary()?;
    let steps: u16 = u.arbitrary()?;
    let block: u8 = u.arbitrary()?;
    let (plain_t, raw_t, plain_th, raw_th): (u8, f32, u8, f32) =
        (u.arbitrary()?, u.arbitrary()?, u.arbitrary()?, u.arbitrary()?);
    let seed: u32 = u.arbitrary()?;
    let (n_pins, n_ex) = (u.arbitrary::<u8>()? % 9, u.arbitrary::<u8>()? % 49);
    let v = cfg.vocab_size as u32;
    let mut pins = Vec::new();
    for _ in 0..n_pins {
        pins.push((u.arbitrary::<u8>()?, u32::from(u.arbitrary::<u8>()?) % (v + 4)));
    }
    let exclude = (0..n_ex).map(|_| u.arbitrary::<u8>().map(|t| u32::from(t) % (v + 4))).collect::<Result<_, _>>()?;
    // Flag bits 5–6: up to three constraint classes of up to 40 ids each.
    let mut classes = Vec::new();
    for _ in 0..(flags >> 5) & 3 {
        let n = u.arbitrary::<u8>()? % 41;
        classes.push((0..n).map(|_| u.arbitrary::<u8>().map(|t| u32::from(t) % (v + 2))).collect::<Result<_, _>>()?);
    }
    // Bytes ≥ 200 are masks, the rest ids (some beyond the vocabulary).
    let rest_bytes = u.take_rest();
    let tokens: Vec<u32> =
        rest_bytes.iter().map(|&b| if b >= 200 { cfg.mask_id } else { u32::from(b) % (v + 8) }).collect();
    let n = tokens.len() + 2; // pins a little past the end too
    let at: Vec<u8> = match classes.len() {
        0 => Vec::new(),
        k => rest_bytes.iter().map(|&b| b % (k as u8 + 1)).collect(),
    };
    // Flag bit 7: the repeat rule over two lines and a rhyme set (from the bytes).
    let line: Vec<u8> = if flags & 128 != 0 {
        rest_bytes.iter().map(|&b| (b % 3) | if b & 64 != 0 { unmask::sampler::RHYME } else { 0 }).collect()
    } else {
        Vec::new()
    };
    let p = SamplerParams {
        steps: usize::from(steps),
        block_length: usize::from(block) % 40,
        remasking: if flags & 2 != 0 { Remasking::Random } else { Remasking::LowConfidence },
        temperature: if flags & 8 != 0 { raw_t } else { f32::from(plain_t) / 64.0 },
        threshold: (flags & 4 != 0).then(|| if flags & 16 != 0 { raw_th } else { (f32::from(plain_th) + 1.0) / 256.0 }),
        pinned: pins.into_iter().map(|(i, t)| (usize::from(i) % n, t)).collect(),
        exclude,
        // With the repeat rule and an odd seed, only even ids may stand as 叠字.
        constraints: Constraints {
            doubles: if !line.is_empty() && seed & 1 == 1 { (0..v).step_by(2).collect() } else { Vec::new() },
            classes,
            at,
            line,
        },
        seed,
    };
    Ok((tokens, p))
}

pub fn sampler(data: &[u8]) {
    let model = micro_cpu(data.first().is_some_and(|f| f & 1 != 0));
    let cfg = &model.config;
    let Ok((tokens, p)) = settings(data, cfg) else { return };
    let p = p.for_model(cfg);
    let what = format!("{tokens:?} {p:?}");
    let prepared = sampler::prepare(&tokens, &p, cfg);
    match generate_cpu(model, &tokens, &p, true, |_| true) {
        Err(e) => {
            // Compared as text: `BadTemperature(NaN)` is not equal to itself.
            let want = prepared.as_ref().err().map(ToString::to_string);
            assert_eq!(want, Some(e.to_string()), "{what}: an error prepare did not give");
            check_message(&what, &e.to_string());
        }
        Ok(g) => {
            let start = prepared.unwrap_or_else(|e| panic!("{what}: generated although prepare says {e}"));
            assert_eq!(g.tokens.len(), tokens.len(), "{what}: length changed");
            assert!(g.steps_run <= sampler::max_steps(&start, &p, cfg.mask_id), "{what}: too many steps");
            assert_eq!(g.history.len(), g.steps_run, "{what}: one history row per step");
            for (i, (&t, &s)) in g.tokens.iter().zip(&start).enumerate() {
                if s != cfg.mask_id {
                    assert_eq!(t, s, "{what}: position {i} was not masked but changed");
                } else {
                    assert!(!sampler::banned(cfg, t) && !p.exclude.contains(&t), "{what}: id {t} generated at {i}");
                    assert!(!p.constraints.excluded_at(i).contains(&t), "{what}: id {t} of an excluded class at {i}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// query

pub fn query(data: &[u8]) {
    let q = String::from_utf8_lossy(data);
    let r = Request::from_query(&q);
    let what = format!("{q:?} → {r:?}");
    let p = &r.params;
    assert!(r.text.chars().count() <= MAX_INPUT_CHARS, "{what}: text over the limit");
    assert!(r.rhyme.chars().count() <= unmask::request::MAX_RHYME_CHARS, "{what}: rhyme over the limit");
    assert!(bounds::STEPS.contains(&p.steps), "{what}: steps");
    assert!(bounds::BLOCK_LENGTH.contains(&p.block_length), "{what}: block length");
    assert!(bounds::temperature_ok(p.temperature), "{what}: temperature");
    assert!(p.threshold.is_none_or(bounds::threshold_ok), "{what}: threshold");
    assert!(p.pinned.is_empty(), "{what}: pins from a URL");
    let back = Request::from_query(&r.to_query());
    assert_eq!(back, r, "{what}: does not survive its own query string {}", r.to_query());
    assert_eq!(unmask::request::decode(&unmask::request::encode(&r.text)), r.text, "{what}: text encoding");
}

// ---------------------------------------------------------------------------------
// pairs

pub fn pairs(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match pairs::parse(&text) {
        Err(e @ pairs::PairsError::Line { line, .. }) => {
            assert!(line >= 1 && line <= text.lines().count(), "{e}: no such line");
            check_message("pairs", &e.to_string().replace(['\n', '\t', '\r'], " "));
        }
        Ok(ps) => {
            assert!(ps.len() <= text.lines().count(), "more pairs than lines");
            assert_eq!(pairs::parse(&pairs::to_jsonl(&ps)).as_ref(), Ok(&ps), "pairs do not survive to_jsonl");
            for p in ps.iter().take(4) {
                check_task(Task::Next, &p.first, PoemForm::WuJue);
                check_task(Task::Prev, &p.second, PoemForm::WuJue);
            }
        }
    }
}
