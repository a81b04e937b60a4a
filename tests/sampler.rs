//! Properties of the unmasking loop (CPU reference; the GPU loop is held identical
//! to it by tests/forward.rs).

mod common;

use common::*;
use unmask::cpu::CpuModel;
use unmask::sampler::{commit, generate_cpu, schedule, CommitRule, Constraints, Remasking, SampleError, SamplerParams};
use unmask::tasks::{PoemForm, TaskBuilder};
use unmask::WeightFormat;

fn setup() -> (CpuModel, Vec<u32>, Vec<usize>) {
    let w = tiny_model(WeightFormat::Q8, 3);
    let tok = test_tokenizer();
    let p = TaskBuilder::new(&tok, &w.config)
        .poem(PoemForm::WuJue, &["床_月__".into(), "".into(), "举头___".into()])
        .unwrap();
    (CpuModel::new(&w), p.tokens, p.masked)
}

fn committed_per_step(history: &[unmask::sampler::StepRecord], start: &[u32], mask: u32) -> Vec<usize> {
    let mut prev = start.iter().filter(|&&t| t == mask).count();
    history
        .iter()
        .map(|h| {
            let now = h.tokens.iter().filter(|&&t| t == mask).count();
            let k = prev - now;
            prev = now;
            k
        })
        .collect()
}

/// The random model with each position's pick made its own (id 8 + position), so
/// that no pick waits on another (the triple guard): the schedule shows as it is.
struct Distinct(CpuModel);

impl unmask::cpu::Forward for Distinct {
    fn config(&self) -> &unmask::ModelConfig {
        &self.0.config
    }
    fn forward_rows(&self, tokens: &[u32], rows: &[usize]) -> Vec<f32> {
        let v = self.0.config.vocab_size;
        let mut out = self.0.forward_rows(tokens, rows);
        for (r, &pos) in rows.iter().enumerate() {
            out[r * v + 8 + pos] += 100.0;
        }
        out
    }
}

#[test]
fn steps_and_tokens_per_step_follow_the_schedule() {
    let (m, prompt, masked) = setup();
    let mask = m.config.mask_id;
    assert!(8 + prompt.len() <= m.config.vocab_size);
    let m = Distinct(m);
    for steps in [1, 3, 7, 15, 64] {
        let p = SamplerParams { steps, ..Default::default() };
        let g = generate_cpu(&m, &prompt, &p, true, |_| true).unwrap();
        let sched = schedule(&prompt, &p, mask);
        assert_eq!(g.steps_run, steps.min(masked.len()), "steps={steps}");
        assert_eq!(sched.iter().sum::<u32>() as usize, masked.len());
        let got: Vec<usize> = committed_per_step(&g.history, &prompt, mask);
        assert_eq!(got, sched.iter().map(|&k| k as usize).collect::<Vec<_>>(), "steps={steps}");
        // Even split, remainder on the first steps.
        assert!(sched.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1), "{sched:?}");
        assert!(!g.tokens.contains(&mask), "masks left after the last step");
    }
}

#[test]
fn prompt_and_pinned_positions_never_change() {
    let (m, prompt, masked) = setup();
    let pin_pos = masked[4];
    let p = SamplerParams { steps: 6, pinned: vec![(pin_pos, 10)], temperature: 1.0, seed: 5, ..Default::default() };
    let g = generate_cpu(&m, &prompt, &p, true, |_| true).unwrap();
    for h in g
        .history
        .iter()
        .chain(std::iter::once(&unmask::sampler::StepRecord { tokens: g.tokens.clone(), confidence: vec![] }))
    {
        for (i, &t) in prompt.iter().enumerate() {
            if t != m.config.mask_id {
                assert_eq!(h.tokens[i], t, "prompt position {i} changed");
            }
        }
        assert_eq!(h.tokens[pin_pos], 10, "pinned position changed");
    }
}

#[test]
fn committed_tokens_stay_committed() {
    let (m, prompt, _) = setup();
    let p = SamplerParams { steps: 9, temperature: 0.7, seed: 3, ..Default::default() };
    let g = generate_cpu(&m, &prompt, &p, true, |_| true).unwrap();
    for w in g.history.windows(2) {
        for i in 0..prompt.len() {
            if w[0].tokens[i] != m.config.mask_id {
                assert_eq!(w[1].tokens[i], w[0].tokens[i], "position {i} was remasked or changed");
            }
        }
    }
}

#[test]
fn random_and_low_confidence_differ_and_seeds_repeat() {
    let (m, prompt, _) = setup();
    let run = |remasking, seed| {
        let p = SamplerParams { steps: 8, remasking, seed, ..Default::default() };
        generate_cpu(&m, &prompt, &p, true, |_| true).unwrap()
    };
    let a = run(Remasking::LowConfidence, 1);
    let b = run(Remasking::Random, 1);
    assert_ne!(a.history, b.history, "random remasking committed in the same order as low-confidence");
    assert_eq!(run(Remasking::Random, 4), run(Remasking::Random, 4), "same seed, different result");
    assert_ne!(run(Remasking::Random, 4).history, run(Remasking::Random, 5).history, "seed has no effect");
}

#[test]
fn blocks_fill_left_to_right() {
    let (m, prompt, masked) = setup();
    let p = SamplerParams { steps: 12, block_length: 6, ..Default::default() };
    let g = generate_cpu(&m, &prompt, &p, true, |_| true).unwrap();
    let mask = m.config.mask_id;
    for h in &g.history {
        let first_masked = h.tokens.iter().position(|&t| t == mask).unwrap_or(usize::MAX);
        // No position in a later block is committed while an earlier block has masks.
        for &i in &masked {
            if h.tokens[i] != mask && first_masked != usize::MAX {
                assert!(i / 6 <= first_masked / 6, "position {i} committed before block of {first_masked} finished");
            }
        }
    }
}

#[test]
fn threshold_decoding_takes_fewer_steps_at_low_threshold() {
    let (m, prompt, masked) = setup();
    let steps = |th| {
        generate_cpu(&m, &prompt, &SamplerParams { threshold: Some(th), ..Default::default() }, false, |_| true)
            .unwrap()
            .steps_run
    };
    let (strict, loose) = (steps(1.0), steps(0.01));
    assert_eq!(strict, masked.len(), "threshold 1.0 commits one token a step");
    assert!(loose < strict, "a low threshold should commit several tokens a step ({loose} vs {strict})");
}

#[test]
fn callback_can_stop_early() {
    let (m, prompt, _) = setup();
    let mut seen = 0;
    let g = generate_cpu(&m, &prompt, &SamplerParams { steps: 10, ..Default::default() }, false, |_| {
        seen += 1;
        seen < 3
    })
    .unwrap();
    assert_eq!(g.steps_run, 3);
}

#[test]
fn commit_ranks_by_key_with_ties_to_the_left() {
    let mut tokens = vec![0u32, 0, 0, 0, 7];
    let pred = vec![10, 11, 12, 13, 14];
    let prob = vec![0.1, 0.9, 0.5, 0.9, 1.0];
    let rule = CommitRule {
        mask_id: 0,
        block_length: 0,
        k_scheduled: 2,
        threshold: None,
        line: &[],
        last: false,
        steps_left: 0,
    };
    let chosen = commit(&mut tokens, &pred, &prob, &prob, &rule);
    assert_eq!(chosen, vec![1, 3]);
    assert_eq!(tokens, vec![0, 11, 0, 13, 7]);
}

#[test]
fn bad_requests_are_refused() {
    let (m, prompt, _) = setup();
    let run = |tokens: &[u32], p: SamplerParams| generate_cpu(&m, tokens, &p, false, |_| true).unwrap_err();
    assert_eq!(run(&[], SamplerParams::default()), SampleError::Empty);
    assert_eq!(run(&[5, 6], SamplerParams::default()), SampleError::NoMasks);
    assert_eq!(run(&prompt, SamplerParams { steps: 0, ..Default::default() }), SampleError::ZeroSteps);
    assert_eq!(
        run(&prompt, SamplerParams { pinned: vec![(999, 5)], ..Default::default() }),
        SampleError::PinOutOfRange(999)
    );
    // A pin on a prompt character (the first position that is not a mask).
    let kept = (0..prompt.len()).find(|&i| prompt[i] != 0).unwrap();
    assert_eq!(
        run(&prompt, SamplerParams { pinned: vec![(kept, 5)], ..Default::default() }),
        SampleError::PinNotMasked(kept)
    );
    // A pin to a special token, or to an id the request excludes (the engine's
    // punctuation), in a masked slot.
    let slot = (0..prompt.len()).find(|&i| prompt[i] == 0).unwrap();
    for (tok, exclude) in [(1, vec![]), (0, vec![]), (5, vec![5])] {
        assert_eq!(
            run(&prompt, SamplerParams { pinned: vec![(slot, tok)], exclude, ..Default::default() }),
            SampleError::PinNotCharacter(slot)
        );
    }
    assert_eq!(run(&[0, 9999], SamplerParams::default()), SampleError::BadToken(9999));
    assert!(matches!(run(&vec![0; 300], SamplerParams::default()), SampleError::TooLong { .. }));
    assert_eq!(
        run(&prompt, SamplerParams { threshold: Some(1.5), ..Default::default() }),
        SampleError::BadThreshold(1.5)
    );
}

/// The pipeline samples every mask as a character slot: punctuation is excluded from
/// what it generates (a random model would otherwise write `，` inside lines).
#[test]
fn the_pipeline_never_puts_punctuation_in_a_mask() {
    let tok = test_tokenizer();
    let w = tiny_model(WeightFormat::Q8, 11);
    let prompt = TaskBuilder::new(&tok, &w.config).poem(PoemForm::WuJue, &[]).unwrap();
    let eng = unmask::engine::Engine::cpu(test_tokenizer(), w);
    let punct: Vec<u32> = "，。？！".chars().map(|c| tok.char_id(c).unwrap()).collect();
    let p = eng.prepare_prompt(prompt.clone(), &unmask::sampler::Settings::default()).params;
    assert!(punct.iter().all(|id| p.exclude.contains(id)), "{:?}", p.exclude);
    for seed in 0..8 {
        let p = unmask::sampler::Settings { temperature: 2.0, seed, ..Default::default() };
        let g = pollster::block_on(eng.run(&eng.prepare_prompt(prompt.clone(), &p), false)).unwrap().generation;
        for &i in &prompt.masked {
            assert!(
                !punct.contains(&g.tokens[i]),
                "seed {seed}: punctuation generated at {i}: {}",
                tok.decode(&g.tokens)
            );
        }
    }
}

/// The pipeline refuses what it would ignore or overwrite, for every caller (the
/// widget's attributes, links): a rhyme or a pattern outside a poem with metre, a
/// position pinned to two characters. The page runs its form without them.
#[test]
fn the_pipeline_refuses_settings_it_would_ignore() {
    use unmask::engine::EngineError;
    use unmask::request::Request;
    let w = tiny_model(WeightFormat::Q8, 11);
    let eng = unmask::engine::Engine::cpu(test_tokenizer(), w);
    let next = Request { task: unmask::tasks::Task::Next, text: "床前明月光".into(), ..Default::default() };
    let with_rhyme = Request { rhyme: "光".into(), ..next.clone() };
    assert!(matches!(eng.prepare(&with_rhyme), Err(EngineError::Ignored("rhyme"))));
    let with_pattern = Request { pattern: "ping".into(), ..next.clone() };
    assert!(matches!(eng.prepare(&with_pattern), Err(EngineError::Ignored("pattern"))));
    assert_eq!(with_rhyme.without_ignored(), next);
    assert!(eng.prepare(&with_rhyme.without_ignored()).is_ok());
    let poem =
        Request { task: unmask::tasks::Task::Poem, text: String::new(), rhyme: "光".into(), ..Default::default() };
    assert!(poem.ignored().is_empty() && poem.without_ignored() == poem);
    assert_eq!(Request { metre: false, ..poem }.ignored(), ["rhyme"]);
    let mut pins = next.clone();
    pins.text = "床前__光".into();
    pins.task = unmask::tasks::Task::Infill;
    pins.params.pinned = vec![(3, 20), (3, 21)];
    assert!(matches!(eng.prepare(&pins), Err(EngineError::Sample(SampleError::PinConflict(3)))));
}

#[test]
fn constraints_are_checked_before_sampling() {
    use unmask::sampler::{prepare, Constraints};
    let cfg = unmask::ModelConfig::tiny(40);
    let m = cfg.mask_id;
    let tokens = vec![5, m, m, 6];
    let with = |classes: Vec<Vec<u32>>, at: Vec<u8>| SamplerParams {
        constraints: Constraints { classes, at, ..Default::default() },
        ..Default::default()
    };
    assert!(matches!(prepare(&tokens, &with(vec![vec![7]], vec![0, 1]), &cfg), Err(SampleError::BadConstraints(_))));
    assert!(matches!(
        prepare(&tokens, &with(vec![vec![7]], vec![0, 2, 0, 0]), &cfg),
        Err(SampleError::BadConstraints(_))
    ));
    assert_eq!(prepare(&tokens, &with(vec![vec![99]], vec![0, 1, 0, 0]), &cfg), Err(SampleError::BadToken(99)));
    // The repeat rule's limits: a line and the rhyme positions together, and the lines.
    let lines = |line: Vec<u8>| {
        let t = vec![m; line.len()];
        prepare(
            &t,
            &SamplerParams { constraints: Constraints { line, ..Default::default() }, ..Default::default() },
            &cfg,
        )
    };
    let rh = unmask::sampler::RHYME;
    let limit = unmask::sampler::MAX_LINE;
    assert!(lines(vec![1; limit]).is_ok());
    assert!(lines([vec![1; limit - 1], vec![2 | rh]].concat()).is_ok());
    assert!(matches!(lines([vec![1; limit], vec![2 | rh]].concat()), Err(SampleError::BadConstraints(_))));
    assert!(lines((1..=limit as u8).collect()).is_ok());
    assert!(matches!(lines((1..=limit as u8 + 1).collect()), Err(SampleError::BadConstraints(_))));
    // A class that leaves nothing at a masked position is refused, naming it.
    let all: Vec<u32> = (3..40).collect();
    assert_eq!(
        prepare(&tokens, &with(vec![all.clone()], vec![0, 0, 1, 0]), &cfg),
        Err(SampleError::NothingAllowedAt(2))
    );
    // ... but not where the position is not masked.
    assert!(prepare(&tokens, &with(vec![all], vec![1, 0, 0, 0]), &cfg).is_ok());
}

/// Non-adjacent repeats of one character within a line of the repeat rule.
fn repeats(tokens: &[u32], line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        for j in i + 2..tokens.len() {
            if line[i] != 0 && line[i] == line[j] && tokens[i] == tokens[j] {
                out.push((i, j));
            }
        }
    }
    out
}

/// A random model's picks clash at nearly every step, so the rule's every path runs:
/// picks banned by the line, clashes waiting a step, the carry and the cleanup steps.
#[test]
fn the_repeat_rule_allows_doubled_characters_but_no_repeat_in_a_line() {
    let (m, prompt, _) = setup();
    // Lines of the 五绝 template: 5 characters and their punctuation (no id).
    let line: Vec<u8> = (0..prompt.len()).map(|i| if i % 6 == 5 || i >= 24 { 0 } else { (i / 6 + 1) as u8 }).collect();
    let masks = prompt.iter().filter(|&&t| t == 0).count();
    let c = Constraints { line: line.clone(), ..Default::default() };
    let base = |steps| SamplerParams { steps, constraints: c.clone(), ..Default::default() };
    let free = generate_cpu(&m, &prompt, &SamplerParams { steps: masks, ..Default::default() }, false, |_| true);
    assert!(!repeats(&free.unwrap().tokens, &line).is_empty(), "the random model repeats without the rule");
    for p in [
        base(masks),
        SamplerParams { threshold: Some(0.5), ..base(masks) },
        SamplerParams { temperature: 1.0, seed: 3, ..base(masks) },
    ] {
        let g = generate_cpu(&m, &prompt, &p, false, |_| true).unwrap();
        assert!(!g.tokens.contains(&0), "{p:?}: masks left");
        assert_eq!(repeats(&g.tokens, &line), vec![], "{p:?}: a character repeats in its line");
        // Pinned characters are kept, and may repeat what the user gave.
        assert_eq!((g.tokens[0], g.tokens[2]), (prompt[0], prompt[2]));
    }
    // Fewer steps than masks: clashes wait, the carry and the cleanup finish the text.
    let g = generate_cpu(&m, &prompt, &base(4), false, |_| true).unwrap();
    assert!(!g.tokens.contains(&0), "masks left after the cleanup steps");
    assert_eq!(g.steps_run, 4 + unmask::sampler::CLEANUP_STEPS.min(g.steps_run - 4));
}

/// The rhyme set: a random model rhymes on one character again and again without it
/// (the ends of lines 2 and 4 of the 五绝 template); with it, never, while the lines
/// keep their own rule.
#[test]
fn the_rhyme_positions_never_share_a_character() {
    use unmask::sampler::RHYME;
    let (m, prompt, _) = setup();
    let line: Vec<u8> = (0..prompt.len()).map(|i| if i % 6 == 5 || i >= 24 { 0 } else { (i / 6 + 1) as u8 }).collect();
    let rhyme_pos = [4, 10, 16, 22];
    let mut with_rhyme = line.clone();
    for &k in &rhyme_pos {
        with_rhyme[k] |= RHYME;
    }
    let masks = prompt.iter().filter(|&&t| t == 0).count();
    let rhymes = |tokens: &[u32]| -> Vec<u32> { rhyme_pos.iter().map(|&k| tokens[k]).collect() };
    let distinct = |v: &[u32]| v.iter().collect::<std::collections::HashSet<_>>().len();
    let mut repeated_without = 0;
    for seed in 1..=8 {
        let p = |line: &[u8]| SamplerParams {
            steps: masks,
            temperature: 1.0,
            seed,
            constraints: Constraints { line: line.to_vec(), ..Default::default() },
            ..Default::default()
        };
        let free = generate_cpu(&m, &prompt, &p(&line), false, |_| true).unwrap();
        repeated_without += usize::from(distinct(&rhymes(&free.tokens)) < rhyme_pos.len());
        let g = generate_cpu(&m, &prompt, &p(&with_rhyme), false, |_| true).unwrap();
        assert!(!g.tokens.contains(&0), "seed {seed}: masks left");
        assert_eq!(distinct(&rhymes(&g.tokens)), rhyme_pos.len(), "seed {seed}: {:?}", rhymes(&g.tokens));
        assert_eq!(repeats(&g.tokens, &line), vec![], "seed {seed}: a character repeats in its line");
    }
    assert!(repeated_without > 0, "the random model never repeats a rhyme: the test shows nothing");
}

/// Beside a written character of its line a pick may repeat it (叠字) only when the
/// character may double: any, without a list; those of `doubles` with one.
#[test]
fn only_characters_that_may_double_stand_beside_themselves() {
    use unmask::sampler::repeats_at;
    let m = 0;
    let line = vec![1u8, 1, 1, 1, 0, 2, 2];
    // 5 _ 6 _ | 7 _ : position 1 sits beside 5 and 6, 3 beside 6, 6 beside 7.
    let tokens = vec![5, m, 6, m, 9, 7, m];
    let any = Constraints { line: line.clone(), ..Default::default() };
    let sorted = |mut v: Vec<u32>| {
        v.sort();
        v
    };
    assert_eq!(sorted(repeats_at(&tokens, &any, m, 1)), Vec::<u32>::new());
    assert_eq!(sorted(repeats_at(&tokens, &any, m, 3)), vec![5], "5 is two away");
    let listed = Constraints { doubles: vec![6, 7], ..any.clone() };
    assert!(listed.may_double(6) && !listed.may_double(5));
    assert_eq!(sorted(repeats_at(&tokens, &listed, m, 1)), vec![5], "5 may not double, 6 may");
    assert_eq!(sorted(repeats_at(&tokens, &listed, m, 3)), vec![5]);
    assert_eq!(sorted(repeats_at(&tokens, &listed, m, 6)), Vec::<u32>::new());
    // A neighbour in another line (or none) is no 叠字 of this one.
    let other = Constraints { doubles: vec![99], line: vec![1, 1, 2, 2, 0, 3, 3], ..Default::default() };
    assert_eq!(sorted(repeats_at(&tokens, &other, m, 1)), vec![5], "6 is in line 2");
    assert_eq!(sorted(repeats_at(&tokens, &other, m, 3)), vec![6]);
    // In a whole generation by a random model: no pair of a character that may not
    // double, however the steps fall.
    let (model, prompt, _) = setup();
    let line: Vec<u8> = (0..prompt.len()).map(|i| if i % 6 == 5 || i >= 24 { 0 } else { (i / 6 + 1) as u8 }).collect();
    let masks = prompt.iter().filter(|&&t| t == 0).count();
    let even: Vec<u32> = (0..model.config.vocab_size as u32).step_by(2).collect();
    let c = Constraints { line: line.clone(), doubles: even, ..Default::default() };
    for p in [
        SamplerParams { steps: masks, constraints: c.clone(), ..Default::default() },
        SamplerParams { steps: 4, temperature: 1.0, seed: 5, constraints: c.clone(), ..Default::default() },
        SamplerParams { threshold: Some(0.3), constraints: c.clone(), ..Default::default() },
    ] {
        let g = generate_cpu(&model, &prompt, &p, false, |_| true).unwrap();
        for i in 1..g.tokens.len() {
            let (a, b) = (g.tokens[i - 1], g.tokens[i]);
            let generated = prompt[i - 1] == 0 || prompt[i] == 0;
            if generated && line[i] != 0 && line[i] == line[i - 1] && a == b {
                assert!(a % 2 == 0, "{p:?}: {a} {a} at {i}, which may not double");
            }
        }
    }
}

/// A pick may not finish a copy of another written line of as many positions; a
/// line still open elsewhere, or different elsewhere, bans nothing.
#[test]
fn no_pick_finishes_a_copy_of_a_line() {
    use unmask::sampler::{copies_at, repeats_at};
    let m = 0;
    let line = vec![1u8, 1, 1, 0, 2, 2, 2, 0, 3, 3, 3, 0, 4, 4, 0];
    let c = Constraints { line, ..Default::default() };
    // Line 2 is line 1 (5 6 7) but for position 5; line 3 is 5 8 7; line 4 is shorter.
    let tokens = vec![5, 6, 7, 9, 5, m, 7, 9, 5, 8, 7, 9, 5, 7, 9];
    let mut banned = copies_at(&tokens, &c, m, 5);
    banned.sort();
    assert_eq!(banned, vec![6, 8]);
    assert!(repeats_at(&tokens, &c, m, 5).contains(&6), "the repeat rule bans the copies too");
    // A line with another open position bans no copy yet.
    let mut open = tokens.clone();
    open[4] = m;
    assert_eq!(copies_at(&open, &c, m, 5), Vec::<u32>::new());
    // Nor does a line that differs elsewhere.
    let mut other = tokens.clone();
    other[6] = 10;
    assert_eq!(copies_at(&other, &c, m, 5), Vec::<u32>::new());
}

/// A pick may not write, beside a written neighbour in its line, a run of two
/// characters the text holds twice (江南 … 江南 … 江南); once is allowed, and so is a
/// run whose neighbour is still masked.
#[test]
fn no_pick_writes_a_run_a_third_time() {
    use unmask::sampler::{repeats_at, runs_at};
    let m = 0;
    let line = vec![1u8, 1, 1, 0, 2, 2, 2, 0, 3, 3, 3, 0, 4, 4, 4, 0];
    let c = Constraints { line, ..Default::default() };
    // 5 6 twice (lines 1 and 2), 7 8 once (line 1 … and 9 8 in line 2).
    let tokens = vec![5, 6, 7, 9, 5, 6, 8, 9, 5, m, 7, m, m, 6, m, 9];
    // After 5: not 6; before 6 (position 12): not 5.
    assert_eq!(runs_at(&tokens, &c, m, 9), vec![6]);
    assert_eq!(runs_at(&tokens, &c, m, 12), vec![5]);
    assert!(repeats_at(&tokens, &c, m, 9).contains(&6), "the repeat rule bans the runs too");
    // Position 14 follows 6: 6 7 and 6 8 are each held once, so nothing is banned.
    assert_eq!(runs_at(&tokens, &c, m, 14), Vec::<u32>::new());
    // A run held once bans nothing; punctuation and other sets are no neighbours.
    let mut once = tokens.clone();
    once[4] = 10;
    assert_eq!(runs_at(&once, &c, m, 9), Vec::<u32>::new());
    assert_eq!(runs_at(&tokens, &Constraints::default(), m, 9), Vec::<u32>::new());
    let mut apart = c.clone();
    apart.line[8] = 5;
    assert_eq!(runs_at(&tokens, &apart, m, 9), Vec::<u32>::new());
}

/// Picks of one step that would together finish a copy of a line or write a run a
/// third time: the better one is taken, the other waits (not on the last step).
#[test]
fn picks_of_one_step_make_no_copy_or_third_run_together() {
    let m = 0;
    let line = [1u8, 1, 0, 2, 2, 0, 3, 3, 0, 4, 4, 0];
    // Lines 1 and 2 hold 20 21 (pinned); line 3 picks it again, line 4 something else.
    let tokens = vec![20, 21, 9, 20, 21, 9, m, m, 9, m, m, 9];
    let pred = vec![20, 21, 9, 20, 21, 9, 20, 21, 9, 30, 31, 9];
    let rule = CommitRule {
        mask_id: m,
        block_length: 0,
        k_scheduled: 4,
        threshold: None,
        line: &line,
        last: false,
        steps_left: 0,
    };
    for (better, waits) in [(6, 7), (7, 6)] {
        let mut key = vec![0.5f32; 12];
        key[better] = 0.9;
        let mut t = tokens.clone();
        let mut want: Vec<usize> = vec![better, 9, 10];
        want.sort();
        assert_eq!(commit(&mut t, &pred, &key, &key, &rule), want, "{better} is better");
        assert_eq!(t[waits], m);
        // On the last step nothing waits.
        let mut t = tokens.clone();
        let last = CommitRule { last: true, ..rule };
        assert_eq!(commit(&mut t, &pred, &key, &key, &last), vec![6, 7, 9, 10]);
    }
}

#[test]
fn a_clash_waits_for_the_better_pick_and_doubles_commit_together() {
    let line = [1u8; 5];
    let key = vec![0.8, 0.5, 0.1, 0.9, 0.2];
    let rule = CommitRule {
        mask_id: 0,
        block_length: 0,
        k_scheduled: 3,
        threshold: None,
        line: &line,
        last: false,
        steps_left: 0,
    };
    // 0 and 1 pick 9 side by side (a 叠字 or not): 1 waits a step for 0, the better,
    // so that its pick sees 0 written and judges the pair (`Constraints::doubles`).
    let mut tokens = vec![0u32; 5];
    assert_eq!(commit(&mut tokens, &[9, 9, 4, 5, 6], &key, &key, &rule), vec![0, 3, 4]);
    // 0, 1 and 3 pick 9: 3 is best, 0 and 1 are not next to it and wait.
    let mut tokens = vec![0u32; 5];
    let pred = vec![9, 9, 4, 9, 5];
    assert_eq!(commit(&mut tokens, &pred, &key, &key, &rule), vec![2, 3, 4]);
    // On the last step nothing waits.
    let mut tokens = vec![0u32; 5];
    let last = CommitRule { last: true, k_scheduled: 5, ..rule };
    assert_eq!(commit(&mut tokens, &pred, &key, &key, &last), vec![0, 1, 2, 3, 4]);
    // Rhyme positions clash across lines: 0 (line 1) and 3 (line 2) both pick 9, 3
    // is better, 0 waits; 1 picks 9 too, in neither 3's line nor the rhyme set, but
    // beside 0, which is better: it waits as well, and the rest commit.
    let r = unmask::sampler::RHYME;
    let line = [1 | r, 1, 1, 2 | r, 2];
    let rule = CommitRule { line: &line, ..rule };
    let mut tokens = vec![0u32; 5];
    assert_eq!(commit(&mut tokens, &[9, 9, 4, 9, 5], &key, &key, &rule), vec![2, 3, 4]);
}

/// The characters that would be the third identical one in a row: two written
/// neighbours on one side, or one on each; masks and the text's ends are no
/// neighbours.
#[test]
fn triples_at_bans_the_third_of_a_row() {
    use unmask::sampler::triples_at;
    let m = 0;
    // 0 1 2 3 4 5 6 7 8 9
    // 5 5 _ 5 6 _ 6 _ 7 7
    let tokens = vec![5, 5, m, 5, 6, m, 6, m, 7, 7];
    assert_eq!(triples_at(&tokens, m, 2), vec![5], "5 5 _ and 5 _ 5");
    assert_eq!(triples_at(&tokens, m, 5), vec![6], "6 _ 6");
    assert_eq!(triples_at(&tokens, m, 7), vec![7], "_ 7 7");
    // A double beside a different character, a mask between, or the text's end: none.
    assert_eq!(triples_at(&[5, 6, m, 7, 8], m, 2), Vec::<u32>::new());
    assert_eq!(triples_at(&[5, m, m, 5], m, 1), Vec::<u32>::new());
    assert_eq!(triples_at(&[m, 4], m, 0), Vec::<u32>::new());
    // Both sides at once: two ids.
    assert_eq!(triples_at(&[4, 4, m, 8, 8], m, 2), vec![4, 8]);
}

/// Two picks of one step that would make a triple together: the better is taken, the
/// other waits a step (in any task, without constraints); on the last step both go.
#[test]
fn picks_of_one_step_make_no_triple_together() {
    let m = 0;
    let tokens = vec![9, m, m, 4];
    let pred = vec![9, 9, 9, 4];
    let rule = CommitRule {
        mask_id: m,
        block_length: 0,
        k_scheduled: 2,
        threshold: None,
        line: &[],
        last: false,
        steps_left: 0,
    };
    for (better, waits) in [(1, 2), (2, 1)] {
        let mut key = vec![0.5f32; 4];
        key[better] = 0.9;
        let mut t = tokens.clone();
        assert_eq!(commit(&mut t, &pred, &key, &key, &rule), vec![better], "{better} is better");
        assert_eq!(t[waits], m);
        let mut t = tokens.clone();
        assert_eq!(commit(&mut t, &pred, &key, &key, &CommitRule { last: true, ..rule }), vec![1, 2]);
    }
}

/// A model that wants one character everywhere (id 7), else one of five by position.
struct Stuck(unmask::ModelConfig);

impl unmask::cpu::Forward for Stuck {
    fn config(&self) -> &unmask::ModelConfig {
        &self.0
    }
    fn forward_rows(&self, tokens: &[u32], rows: &[usize]) -> Vec<f32> {
        let v = self.0.vocab_size;
        let mut out = randn(rows.len() * v, tokens.len() as u64, 1.0);
        for (r, &pos) in rows.iter().enumerate() {
            out[r * v + 7] = 20.0;
            out[r * v + 8 + pos % 5] = 10.0;
        }
        out
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Whatever the block length, the mask count, the steps, the threshold and the
    /// repeat rule, a generation fills every mask: the picks that waited (here
    /// often: the model wants one character everywhere) are finished within the
    /// loop's steps, in later blocks too.
    #[test]
    fn every_generation_fills_every_mask(
        masks in 1usize..=39,
        block_length in 0usize..=9,
        steps in 1usize..=64,
        threshold in proptest::option::of(0.05f32..=1.0),
        line in 0usize..=7,
        temperature in proptest::prop_oneof![proptest::strategy::Just(0.0f32), 0.1f32..=2.0],
    ) {
        let m = Stuck(tiny_config(false));
        let mask = m.0.mask_id;
        let prompt = [vec![12], vec![mask; masks]].concat();
        let constraints = if line == 0 {
            Constraints::default()
        } else {
            Constraints { line: (0..prompt.len()).map(|i| (i / (line + 1) + 1) as u8).collect(), ..Default::default() }
        };
        let p = SamplerParams { steps, block_length, threshold, temperature, seed: 5, constraints, ..Default::default() };
        let g = generate_cpu(&m, &prompt, &p, false, |_| true).unwrap();
        proptest::prop_assert!(!g.tokens.contains(&mask), "{:?}: masks left: {:?}", p, g.tokens);
        proptest::prop_assert!(g.steps_run <= unmask::sampler::max_steps(&prompt, &p.for_model(&m.0), mask));
    }
}

/// The reproducer: 60 masks in blocks of 4 with 16 steps left 12 masks at the end
/// (a step commits in the first unfinished block only, and the last step could
/// finish one block), and wrote 我我我 where the forced last step committed two picks
/// side by side. Now every block is finished, without a triple: on the last steps a
/// pick that would make one waits for a spare step and is picked again.
#[test]
fn blocks_left_behind_by_waiting_picks_are_finished() {
    let m = Stuck(tiny_config(false));
    let mask = m.0.mask_id;
    let triple = |t: &[u32]| t.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]);
    for (masks, block_length) in [(39, 4), (39, 5), (39, 6), (39, 7), (30, 4), (39, 1), (39, 2), (39, 3), (39, 8)] {
        let prompt = [vec![12], vec![mask; masks]].concat();
        let p = SamplerParams { steps: 16, block_length, ..Default::default() };
        let g = generate_cpu(&m, &prompt, &p, false, |_| true).unwrap();
        assert!(!g.tokens.contains(&mask), "{masks} masks, blocks of {block_length}: {:?}", g.tokens);
        assert!(!triple(&g.tokens), "{masks} masks, blocks of {block_length}: {:?}", g.tokens);
    }
}

/// On a last step a pick that would make a triple with a better one taken before it
/// waits while the budget has a step to spare for each block with masks, and commits
/// when it has none (so the loop still fills every mask).
#[test]
fn a_triple_on_a_last_step_waits_only_for_a_spare_step() {
    let m = 0;
    let tokens = vec![9, m, m, 4];
    let pred = vec![9, 9, 9, 4];
    let key = vec![0.5, 0.9, 0.5, 0.5];
    let rule = CommitRule {
        mask_id: m,
        block_length: 0,
        k_scheduled: 2,
        threshold: None,
        line: &[],
        last: true,
        steps_left: 1,
    };
    let mut t = tokens.clone();
    assert_eq!(commit(&mut t, &pred, &key, &key, &rule), vec![1], "one block with masks, one step to spare");
    let mut t = tokens.clone();
    assert_eq!(commit(&mut t, &pred, &key, &key, &CommitRule { steps_left: 0, ..rule }), vec![1, 2]);
    // Two blocks with masks and one step left: none to spare.
    let tokens = vec![9, m, m, 4, m, 5];
    let pred = vec![9, 9, 9, 4, 6, 5];
    let key = vec![0.5, 0.9, 0.5, 0.5, 0.5, 0.5];
    let mut t = tokens.clone();
    let rule = CommitRule { block_length: 4, ..rule };
    assert_eq!(commit(&mut t, &pred, &key, &key, &rule), vec![1, 2]);
    let mut t = tokens.clone();
    assert_eq!(commit(&mut t, &pred, &key, &key, &CommitRule { steps_left: 2, ..rule }), vec![1]);
}

/// A model that wants one character everywhere writes it twice in a row (叠字 stay),
/// never three times, in every mode of the loop, and still fills every mask.
#[test]
fn no_generation_writes_a_character_three_times_in_a_row() {
    let m = Stuck(tiny_config(false));
    let mask = m.0.mask_id;
    let prompt = [vec![12], vec![mask; 11]].concat();
    let triple = |t: &[u32]| t.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]);
    for p in [
        SamplerParams { steps: 11, ..Default::default() },
        SamplerParams { steps: 4, ..Default::default() },
        SamplerParams { threshold: Some(0.5), ..Default::default() },
        SamplerParams { steps: 11, temperature: 1.0, seed: 9, ..Default::default() },
        SamplerParams { steps: 11, block_length: 4, ..Default::default() },
    ] {
        let g = generate_cpu(&m, &prompt, &p, false, |_| true).unwrap();
        assert!(!g.tokens.contains(&mask), "{p:?}: masks left: {:?}", g.tokens);
        assert!(!triple(&g.tokens), "{p:?}: {:?}", g.tokens);
        assert!(g.tokens.windows(2).any(|w| w[0] == 7 && w[1] == 7), "{p:?}: no 叠字 of 7: {:?}", g.tokens);
    }
}
