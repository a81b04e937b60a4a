//! The one way a request becomes a text, for every front end (the CLI's generate and
//! eval commands, the page, the widget): [`Engine::prepare`] turns a [`Request`]
//! (what the user set) into a [`Prepared`] generation (the template, the sampler
//! parameters derived for it, the verse plan), [`Engine::run`] generates it and
//! [`Engine::outcome`] reads the result (the text, the answer, the metre checker's
//! report, the model's score). Front ends add only how they drive the backend (the
//! page yields between CPU steps and recovers from a lost GPU, then calls
//! [`Engine::outcome`]).

use crate::engine::{Engine, EngineError};
use crate::prosody::{self, Choice, Plan, Prosody, Report, VerseError};
use crate::request::Request;
use crate::sampler::{Constraints, Generation, SamplerParams, Settings};
use crate::tasks::{answer, Prompt, Task, TaskBuilder, LINE_END};
use crate::tokenizer::PoemTokenizer;

/// A generation ready to run: its template and the parameters it samples with.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub prompt: Prompt,
    /// The user's settings plus what the template derives: the tokenizer's
    /// punctuation excluded (every mask of a template is a character slot, the
    /// template holds the punctuation itself) and the verse constraints.
    pub params: SamplerParams,
    /// How regulated verse planned the constraints (poems with metre, 对对子).
    pub plan: Option<Plan>,
    /// The request's task, whose rules the metre checker reads the text by (`None`
    /// for a bare template: no report).
    pub task: Option<Task>,
}

/// What a generation gave, as every front end shows it.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub generation: Generation,
    /// The whole text, decoded.
    pub text: String,
    /// The generated characters alone, in order.
    pub answer: String,
    /// The metre checker's report on `text` (`None` without prosody data).
    pub metre: Option<Report>,
    /// The model's own score: the mean log-probability of the generated characters
    /// when each was unmasked (nats; nearer 0 is surer). Needs the step history.
    pub score: Option<f64>,
}

impl Engine {
    /// `prompt` sampled with the user's `settings`: the punctuation excluded.
    pub fn prepare_prompt(&self, prompt: Prompt, settings: &Settings) -> Prepared {
        let mut params = settings.sampler();
        for id in LINE_END.iter().filter_map(|&c| self.tokenizer.char_id(c)) {
            if !params.exclude.contains(&id) {
                params.exclude.push(id);
            }
        }
        Prepared { prompt, params, plan: None, task: None }
    }

    /// A request's template, its parameters and its verse constraints
    /// ([`verse_constraints`], planned with the request's pins in place, so that a
    /// pinned character that breaks the pattern is reported).
    pub fn prepare(&self, req: &Request) -> Result<Prepared, EngineError> {
        // Before anything is planned (the verse plan reads the pins). A setting the
        // task would not use is refused, not ignored.
        req.params.check()?;
        if let Some(s) = req.ignored().first() {
            return Err(EngineError::Ignored(s));
        }
        let prompt = req.prompt(&TaskBuilder::new(&self.tokenizer, &self.weights.config)).map_err(EngineError::Task)?;
        let mut pinned = prompt.clone();
        for &(i, id) in &req.params.pinned {
            if let Some(t) = pinned.tokens.get_mut(i) {
                *t = id;
            }
        }
        let verse = verse_constraints(self.prosody.as_ref(), &self.tokenizer, self.cpu_model(), req, &pinned)
            .map_err(EngineError::Verse)?;
        let mut prepared = self.prepare_prompt(prompt, &req.params);
        prepared.task = Some(req.task);
        if let Some((c, plan)) = verse {
            prepared.params.constraints = c;
            prepared.plan = plan;
        }
        Ok(prepared)
    }

    /// Generates `prepared` on the current backend and reads the result.
    pub async fn run(&self, prepared: &Prepared, history: bool) -> Result<Outcome, EngineError> {
        let g = self.generate(&prepared.prompt.tokens, &prepared.params, history).await?;
        Ok(self.outcome(prepared, g))
    }

    /// The text, answer, metre report and score of a generation of `prepared`.
    pub fn outcome(&self, prepared: &Prepared, generation: Generation) -> Outcome {
        let text = self.tokenizer.decode(&generation.tokens);
        let metre = self
            .prosody
            .as_ref()
            .zip(prepared.task)
            .map(|(p, task)| prosody::check_task(p, &self.tokenizer, &text, task));
        Outcome {
            answer: answer(&self.tokenizer, &prepared.prompt, &generation.tokens),
            metre,
            score: score(&prepared.prompt.tokens, &generation, self.weights.config.mask_id),
            text,
            generation,
        }
    }
}

/// Mean `ln p` of the masked positions at the step each was committed (`None`
/// without a history).
fn score(prompt: &[u32], g: &Generation, mask_id: u32) -> Option<f64> {
    if g.history.is_empty() {
        return None;
    }
    let logp: Vec<f64> = (0..prompt.len())
        .filter(|&i| prompt[i] == mask_id)
        .filter_map(|i| g.history.iter().position(|h| h.tokens[i] != mask_id).map(|s| g.history[s].confidence[i]))
        .map(|p| f64::from(p.max(1e-9)).ln())
        .collect();
    Some(logp.iter().sum::<f64>() / logp.len().max(1) as f64)
}

/// The constraints a request's template is sampled under, and how regulated verse
/// planned them: a whole poem with `metre` on keeps its form's tone pattern, one rhyme
/// group (`rhyme`, else the model's choice) and the repeat rule; with `metre` off, or
/// without the tone data `p`, the repeat rule alone (no loops, whatever the rules: 叠字
/// stay allowed, those of the data's list where it is loaded), without a plan; 对对子
/// always keeps the couplet rules (an error without the data). Other tasks get none.
pub fn verse_constraints(
    p: Option<&Prosody>,
    tok: &PoemTokenizer,
    model: &dyn crate::cpu::Forward,
    req: &Request,
    prompt: &Prompt,
) -> Result<Option<(Constraints, Option<Plan>)>, VerseError> {
    let doubles = p.map(|p| p.doubles().to_vec()).unwrap_or_default();
    // (One branch runs: the list moves into its constraints.)
    let with_doubles = move |(c, plan): (Constraints, Option<Plan>)| Some((Constraints { doubles, ..c }, plan));
    match (req.task, p) {
        (Task::Poem, Some(p)) if req.metre => {
            let group = match req.rhyme.trim() {
                "" => None,
                name => Some(prosody::find_group(p, tok, name).ok_or_else(|| VerseError::UnknownGroup(name.into()))?),
            };
            let pattern = match req.pattern.trim() {
                "" => None,
                name => Some(name.parse().map_err(VerseError::Template)?),
            };
            let rows = |at: &[usize]| model.forward_rows(&prompt.tokens, at);
            let choice = Choice { pattern, group, seed: req.params.seed, temperature: req.params.temperature };
            let (c, plan) = prosody::poem_constraints(p, tok, &prompt.tokens, req.form, choice, rows)
                .map_err(VerseError::Template)?;
            Ok(with_doubles((c, Some(plan))))
        }
        (Task::Poem, _) => {
            let line = prosody::poem_lines(&prompt.tokens, req.form).map_err(VerseError::Template)?;
            Ok(with_doubles((Constraints { line, ..Default::default() }, None)))
        }
        (Task::Pair | Task::PairPrev, Some(p)) => {
            let (c, plan) = prosody::pair_constraints(p, tok, prompt);
            Ok(with_doubles((c, Some(plan))))
        }
        (Task::Pair | Task::PairPrev, None) => Err(VerseError::NoProsody),
        _ => Ok(None),
    }
}
