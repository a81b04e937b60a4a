//! The prosody data (www/model/prosody.json) and the metre checker, on poems whose
//! scansion is known: 登鹳雀楼 and 春望 follow their patterns, 静夜思 (an old-style
//! quatrain) breaks two key positions, and a couplet is judged by the rules of 对对子.

use unmask::prosody::{check, check_task, Compliance, Prosody, ProsodyError, ProsodyFile, Tone, Why};
use unmask::tasks::{PoemForm, Task};
use unmask::PoemTokenizer;

fn bundled() -> (PoemTokenizer, Vec<u8>) {
    let tok = PoemTokenizer::from_bytes(&std::fs::read("www/model/tokenizer.json").unwrap()).unwrap();
    (tok, std::fs::read("www/model/prosody.json").unwrap())
}

fn tone(p: &Prosody, tok: &PoemTokenizer, c: char) -> Tone {
    p.tone(tok.char_id(c).unwrap())
}

#[test]
fn the_bundled_data_covers_the_vocabulary_and_knows_common_tones() {
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    assert_eq!(p.n_groups(), 106, "the 106 groups of 平水韵");
    let chars: Vec<u32> = (3..tok.vocab_size() as u32).filter(|&id| tok.token(id).chars().count() == 1).collect();
    let known = chars.iter().filter(|&&id| p.tone(id) != Tone::Unknown).count();
    assert!(known * 100 >= chars.len() * 95, "{known} of {} characters have a tone", chars.len());
    for (c, t) in
        [('东', Tone::Level), ('山', Tone::Level), ('月', Tone::Oblique), ('不', Tone::Oblique), ('看', Tone::Either)]
    {
        assert_eq!(tone(&p, &tok, c), t, "{c}");
    }
    // 叠字 the corpus writes may double under the repeat rule; 不不 and 何何 may not.
    let doubles = unmask::sampler::Constraints { doubles: p.doubles().to_vec(), ..Default::default() };
    for (c, may) in
        [('萋', true), ('历', true), ('悠', true), ('日', true), ('不', false), ('何', false), ('之', false)]
    {
        assert_eq!(doubles.may_double(tok.char_id(c).unwrap()), may, "{c}");
    }
    let you = p.groups_of(tok.char_id('楼').unwrap());
    assert!(you.iter().any(|&g| p.group(g).name == "下平十一尤"), "楼 rhymes in 尤");
}

#[test]
fn regulated_poems_follow_their_patterns() {
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    let r = check(&p, &tok, "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。");
    assert_eq!(r.form, Some(PoemForm::WuJue));
    assert_eq!(r.pattern.as_deref(), Some("仄起首句不入韵"));
    assert_eq!(r.rhyme_group.as_deref(), Some("下平十一尤"));
    assert_eq!(r.violations, 0, "{r:#?}");
    let rhymes: Vec<char> = r.lines.iter().flat_map(|l| &l.marks).filter(|m| m.rhyme).map(|m| m.ch).collect();
    assert_eq!(rhymes, ['流', '楼']);
    let r = check(
        &p,
        &tok,
        "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。",
    );
    assert_eq!((r.form, r.violations), (Some(PoemForm::WuLv), 0), "{r:#?}");
    assert_eq!(r.rhyme_group.as_deref(), Some("下平十二侵"));
}

/// A rhyme character used twice (重韵) breaks the rules the generator keeps (and the
/// page's checkbox names), so the checker flags the second one.
#[test]
fn a_rhyme_character_twice_is_flagged() {
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    let r = check(&p, &tok, "白日依山尽，黄河入海流。欲穷千里目，更上一层流。");
    assert_eq!((r.form, r.violations), (Some(PoemForm::WuJue), 1), "{r:#?}");
    assert_eq!(r.lines[3].marks[4].why, Some(Why::RepeatedRhyme { ch: '流', line: 2 }));
    assert!(r.lines[1].marks[4].ok);
    // Blanks (outside the vocabulary) are never faults, however often they come.
    let r = check(&p, &tok, "白日依山_，黄河入海_。欲穷千里_，更上一层_。");
    assert_eq!((r.form, r.violations), (Some(PoemForm::WuJue), 0), "{r:#?}");
    // A repeated character elsewhere in the poem is no fault of rhyme.
    let r = check(&p, &tok, "白日依山尽，黄河入海流。欲穷千里日，更上一层楼。");
    assert_eq!(r.violations, 0, "{r:#?}");
}

/// A poem pasted one line a row (or with spaces between lines, or ASCII punctuation)
/// is checked as the same poem.
#[test]
fn a_poem_one_line_a_row_is_the_same_poem() {
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    let typed = check(&p, &tok, "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。");
    for text in [
        "白日依山尽\n黄河入海流\n欲穷千里目\n更上一层楼\n",
        "白日依山尽 黄河入海流 欲穷千里目 更上一层楼",
        "白日依山尽,黄河入海流.欲穷千里目?更上一层楼!",
    ] {
        let r = check(&p, &tok, text);
        assert_eq!((r.form, r.violations, &r.rhyme_group), (typed.form, 0, &typed.rhyme_group), "{text}");
        assert_eq!(r.lines.len(), 4, "{text}");
    }
}

#[test]
fn an_old_style_quatrain_breaks_two_key_positions() {
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    let r = check(&p, &tok, "床前明月光，疑是地上霜。举头望明月，低头思故乡。");
    let bad: Vec<(usize, usize, char)> = r
        .lines
        .iter()
        .enumerate()
        .flat_map(|(li, l)| l.marks.iter().enumerate().filter(|(_, m)| !m.ok).map(move |(i, m)| (li, i, m.ch)))
        .collect();
    assert_eq!(bad, [(1, 3, '上'), (2, 1, '头')]);
    assert_eq!(r.violations, 2);
    // Free positions (一三五不论) are never counted.
    assert!(r.lines.iter().flat_map(|l| l.marks.iter().enumerate()).all(|(i, m)| m.ok || i % 2 == 1 || i == 4));
}

#[test]
fn couplets_answer_by_the_rules_of_dui_duizi() {
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    let r = check(&p, &tok, "两个黄鹂鸣翠柳，一行白鹭上青天。");
    assert!(r.couplet && r.violations == 0, "{r:#?}");
    // The same line twice: every character repeats, the tones do not oppose, and the
    // answer does not end 平.
    let r = check(&p, &tok, "白日依山尽，白日依山尽。");
    assert!(r.lines[1].marks.iter().all(|m| !m.ok), "{r:#?}");
    assert_eq!(r.lines[1].marks[0].why, Some(Why::CoupletRepeat { ch: '白' }));
}

/// Two lines are judged as 对对子 only in the couplet tasks: a previous or next line
/// is one couplet of a poem (床前明月光 ends 平 and 月 / 上 do not oppose, and it is no
/// worse for it), so those results get tones only.
#[test]
fn only_the_couplet_tasks_judge_two_lines_as_dui_dui_zi() {
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    let text = "床前明月光，疑是地上霜。";
    for task in Task::ALL {
        let r = check_task(&p, &tok, text, task);
        let pair = matches!(task, Task::Pair | Task::PairPrev);
        assert_eq!(r.couplet, pair, "{task:?}");
        assert_eq!(r.violations > 0, pair, "{task:?}: {r:#?}");
        assert!(pair || r.lines.iter().flat_map(|l| &l.marks).all(|m| m.want.is_none() && m.tone != Tone::Unknown));
    }
    let r = check_task(&p, &tok, text, Task::Pair);
    assert_eq!(r.lines[0].marks[4].why, Some(Why::CoupletFirstEnd));
    assert_eq!(r.lines[0].marks[4].why.as_ref().unwrap().to_string(), "the first line of a couplet ends 仄");
    // A whole poem is judged in every task.
    let poem = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。";
    assert!(Task::ALL.iter().all(|&t| check_task(&p, &tok, poem, t).form.is_some()));
}

#[test]
fn texts_without_a_form_get_tones_only() {
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    let r = check(&p, &tok, "春眠不觉晓，处处闻啼鸟。夜来风雨声。");
    assert_eq!((r.form, r.couplet, r.violations), (None, false, 0));
    assert_eq!(r.lines.len(), 3);
    assert!(r.lines.iter().flat_map(|l| &l.marks).all(|m| m.want.is_none()));
    // Latin text: tones unknown, nothing counted.
    let r = check(&p, &tok, "hi，world。");
    assert!(r.lines.iter().flat_map(|l| &l.marks).all(|m| m.tone == Tone::Unknown));
    let mut c = Compliance::default();
    c.add(&r);
    assert_eq!(c.checked, 0);
}

#[test]
fn bad_prosody_files_are_refused_with_a_reason() {
    let (tok, bytes) = bundled();
    let good: ProsodyFile = serde_json::from_slice(&bytes).unwrap();
    let load = |f: &ProsodyFile| Prosody::from_bytes(&serde_json::to_vec(f).unwrap(), &tok).err();
    let mut f = good.clone();
    f.vocab_size += 1;
    assert!(matches!(load(&f), Some(ProsodyError::Vocab { .. })));
    let mut f = good.clone();
    f.tones = f.tones.replacen('平', "x", 1);
    assert!(matches!(load(&f), Some(ProsodyError::Tones(..))));
    let mut f = good.clone();
    f.tones.pop();
    assert!(matches!(load(&f), Some(ProsodyError::Tones(..))));
    let mut f = good.clone();
    f.groups[0].chars.push('a');
    assert!(matches!(load(&f), Some(ProsodyError::Char(..))));
    let mut f = good.clone();
    f.doubles.push('a');
    assert!(matches!(load(&f), Some(ProsodyError::Double(ref c)) if c.contains('a')));
    // A file from before the 叠字 list loads, and lets any character double.
    let mut f = good.clone();
    f.doubles.clear();
    let old = serde_json::to_value(&f).unwrap();
    let mut old = old.as_object().unwrap().clone();
    old.remove("doubles");
    let p = Prosody::from_bytes(&serde_json::to_vec(&old).unwrap(), &tok).unwrap();
    assert!(p.doubles().is_empty());
    let mut f = good.clone();
    f.format = "other".into();
    assert!(matches!(load(&f), Some(ProsodyError::Format(..))));
    assert!(matches!(Prosody::from_bytes(b"{", &tok), Err(ProsodyError::Json(_))));
    assert_eq!(
        Prosody::from_bytes(&vec![b' '; unmask::prosody::MAX_BYTES + 1], &tok).err(),
        Some(ProsodyError::TooLarge)
    );
}

#[test]
fn poem_constraints_fix_tones_and_one_rhyme_group_and_report_pinned_conflicts() {
    use unmask::prosody::{find_group, poem_constraints, Choice, Pattern};
    use unmask::tasks::TaskBuilder;
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    let cfg = unmask::ModelConfig { shifted: true, ..unmask::ModelConfig::poem(tok.vocab_size()) };
    let tb = TaskBuilder::new(&tok, &cfg);
    // A given group: every rhyme position allows only its characters, key positions their tone.
    let prompt = tb.poem(PoemForm::WuJue, &[]).unwrap();
    let you = find_group(&p, &tok, "尤").unwrap();
    assert_eq!(find_group(&p, &tok, "下平十一尤"), Some(you));
    assert_eq!(find_group(&p, &tok, "楼"), Some(you), "a character: rhyme with it");
    assert_eq!(find_group(&p, &tok, "月"), None, "月 has no level group");
    assert_eq!(find_group(&p, &tok, "楼楼"), None);
    let free = Choice::default();
    let (c, plan) = poem_constraints(
        &p,
        &tok,
        &prompt.tokens,
        PoemForm::WuJue,
        Choice { group: Some(you), ..free },
        |_| unreachable!(),
    )
    .unwrap();
    assert_eq!((plan.rhyme_group.as_deref(), plan.group_from), (Some("下平十一尤"), "given"));
    assert!(plan.conflicts.is_empty());
    let at = |line: usize, i: usize| line * 6 + i;
    assert_eq!(c.at[at(1, 4)], 3, "line 2 ends on the rhyme");
    assert_eq!(c.at[at(0, 0)], 0, "first positions are free");
    // The rhyme positions form one set of the repeat rule (no 重韵), each in its line too.
    for (k, &l) in c.line.iter().enumerate() {
        assert_eq!(l & unmask::sampler::RHYME != 0, c.at[k] == 3, "position {k}: rhyme set {l:#x}, class {}", c.at[k]);
    }
    assert_eq!(c.line[at(1, 4)] & !unmask::sampler::RHYME, 2, "a rhyme position stays in its line");
    let lou = tok.char_id('楼').unwrap();
    assert!(!c.excluded_at(at(1, 4)).contains(&lou) && c.excluded_at(at(1, 4)).contains(&tok.char_id('月').unwrap()));
    // A rhyme position is a key one too: 梦 is listed under 上平一东 but reads 仄 in the
    // tone data, so it may not rhyme there; 风 may.
    let dong = find_group(&p, &tok, "东").unwrap();
    let (c, _) = poem_constraints(
        &p,
        &tok,
        &prompt.tokens,
        PoemForm::WuJue,
        Choice { group: Some(dong), ..free },
        |_| unreachable!(),
    )
    .unwrap();
    assert_eq!(tone(&p, &tok, '梦'), Tone::Oblique);
    let ex = c.excluded_at(at(1, 4));
    assert!(ex.contains(&tok.char_id('梦').unwrap()) && !ex.contains(&tok.char_id('风').unwrap()));
    assert!((3..tok.vocab_size() as u32).filter(|id| !ex.contains(id)).all(|id| p.tone(id).fits(Tone::Level)));
    // Without a group, the model's preference decides: rows that put all mass on 楼.
    let v = tok.vocab_size();
    let lou_rows = |rows: &[usize]| -> Vec<f32> {
        rows.iter().flat_map(|_| (0..v).map(|id| if id as u32 == lou { 10.0 } else { 0.0 })).collect()
    };
    let (_, plan) = poem_constraints(&p, &tok, &prompt.tokens, PoemForm::WuJue, free, lou_rows).unwrap();
    assert_eq!((plan.rhyme_group.as_deref(), plan.group_from), (Some("下平十一尤"), "model"));
    // Sampled (a temperature): seeds draw different groups, by the model's scores.
    let drawn: std::collections::HashSet<Option<String>> = (1..40)
        .map(|seed| {
            poem_constraints(
                &p,
                &tok,
                &prompt.tokens,
                PoemForm::WuJue,
                Choice { seed, temperature: 1.0, ..free },
                |r| vec![0.0; r.len() * v],
            )
        })
        .map(|r| r.unwrap().1.rhyme_group)
        .collect();
    assert!(drawn.len() > 5, "flat scores and a temperature give many groups: {drawn:?}");
    // A pinned rhyme character sets the group. Lines 1 and 2 oppose at position 2 in
    // every pattern, so two pinned level characters there cannot both fit: one is
    // reported (and kept).
    let pinned = tb.poem(PoemForm::WuJue, &["_山___".into(), "_河__流".into()]).unwrap();
    let (c, plan) = poem_constraints(&p, &tok, &pinned.tokens, PoemForm::WuJue, free, |_| unreachable!()).unwrap();
    assert_eq!(plan.group_from, "pinned");
    assert_eq!(c.at[at(1, 4)], 0, "a pinned position is not constrained");
    assert_eq!(plan.conflicts.len(), 1, "{:?}", plan.conflicts);
    assert!(['山', '河'].contains(&plan.conflicts[0].ch), "{:?}", plan.conflicts);
    // A chosen pattern is kept whatever is pinned; its name is the plan's, in both widths.
    for form in [PoemForm::WuJue, PoemForm::QiLv] {
        let prompt = tb.poem(form, &[]).unwrap();
        for pat in Pattern::ALL {
            let choice = Choice { pattern: Some(pat), group: Some(you), ..free };
            let (_, plan) = poem_constraints(&p, &tok, &prompt.tokens, form, choice, |_| unreachable!()).unwrap();
            assert_eq!(plan.pattern, pat.name(), "{form:?}");
        }
    }
    let choice = Choice { pattern: Some(Pattern::Ping), ..free };
    let (_, plan) = poem_constraints(&p, &tok, &pinned.tokens, PoemForm::WuJue, choice, |_| unreachable!()).unwrap();
    assert_eq!(plan.pattern, "平起首句不入韵");
    assert!(!plan.conflicts.is_empty(), "pinned 山 and 河 against 平起: {:?}", plan.conflicts);
}

/// 对对子 templates and constraints: the answer opposes the given line's tone at the
/// key positions, never repeats its character at the same place, and keeps the
/// given punctuation; both ways.
#[test]
fn pair_constraints_oppose_the_given_line() {
    use unmask::pipeline::verse_constraints;
    use unmask::prosody::{pair_constraints, VerseError};
    use unmask::request::Request;
    use unmask::tasks::{Task, TaskBuilder};
    let (tok, bytes) = bundled();
    let p = Prosody::from_bytes(&bytes, &tok).unwrap();
    let cfg = unmask::ModelConfig { shifted: true, ..unmask::ModelConfig::poem(tok.vocab_size()) };
    let tb = TaskBuilder::new(&tok, &cfg);
    for (before, text) in [(false, "白日依山尽"), (true, "黄河入海流。"), (false, "风声，雨声")] {
        let prompt = tb.pair(text, before).unwrap();
        let (c, plan) = pair_constraints(&p, &tok, &prompt);
        assert_eq!(plan.pattern, "对对子");
        let given: Vec<char> = text.trim_end_matches('。').chars().collect();
        let n = given.len();
        let answer_at = if before { 0 } else { n + 1 };
        for (i, &g) in given.iter().enumerate() {
            let at = answer_at + i;
            if unmask::tasks::LINE_END.contains(&g) {
                assert_eq!(prompt.tokens[at], tok.char_id(g).unwrap(), "{text}: punctuation kept at {i}");
                continue;
            }
            assert_eq!(prompt.tokens[at], 0, "{text}: a mask at {i}");
            let gid = tok.char_id(g).unwrap();
            assert!(c.excluded_at(at).contains(&gid), "{text}: {g} may not answer itself at {i}");
            assert_eq!(c.line[at], 1, "the repeat rule over the answer");
        }
        assert_eq!(c.line.iter().filter(|&&l| l > 0).count(), prompt.masked.len());
    }
    // 尽 (仄) at the end of 白日依山尽: the answer's last character is 平; at position 2
    // 日 (仄) asks for 平 too, and 白 (the first, not key) leaves it free.
    let prompt = tb.pair("白日依山尽", false).unwrap();
    let (c, _) = pair_constraints(&p, &tok, &prompt);
    let tone_ok = |pos: usize, ch: char| !c.excluded_at(pos).contains(&tok.char_id(ch).unwrap());
    assert!(tone_ok(10, '流') && !tone_ok(10, '月'), "the last answers 仄 with 平");
    assert!(tone_ok(7, '河') && !tone_ok(7, '海'), "key position 2 answers 日 with 平");
    assert!(tone_ok(6, '月') && tone_ok(6, '黄'), "position 1 is free");
    // 仄起平收 whatever was given: a second line ends 平 even after a first ending 平,
    // and a first line ends 仄 even before a second ending 仄.
    for (text, before, at, ok, bad) in [("寥落古行宫", false, 10, '红', '月'), ("白日依山尽", true, 4, '月', '流')]
    {
        let prompt = tb.pair(text, before).unwrap();
        let (c, _) = pair_constraints(&p, &tok, &prompt);
        let ex = c.excluded_at(at);
        assert!(!ex.contains(&tok.char_id(ok).unwrap()) && ex.contains(&tok.char_id(bad).unwrap()), "{text}");
    }
    // Through a request (the front ends' one path): pairs always, poems with metre,
    // and poems without it the repeat rule alone, with no plan.
    let model = unmask::cpu::CpuModel::new(&unmask::ModelWeights::random(
        cfg.clone(),
        unmask::ExportFormat { blocks: unmask::WeightFormat::Q8, embeddings: unmask::WeightFormat::Q8 },
        1,
    ));
    let req = |task, metre| {
        let text = if task == Task::Poem { "春夏" } else { "白日依山尽" };
        Request { task, text: text.into(), metre, ..Default::default() }
    };
    for (task, metre, some) in
        [(Task::Pair, false, true), (Task::PairPrev, true, true), (Task::Next, true, false), (Task::Poem, true, true)]
    {
        let r = req(task, metre);
        let prompt = r.prompt(&tb).unwrap();
        let got = verse_constraints(Some(&p), &tok, &model, &r, &prompt).unwrap();
        assert_eq!(got.is_some(), some, "{task:?} metre {metre}");
        assert!(got.is_none_or(|(_, plan)| plan.is_some()), "{task:?} metre {metre}: a plan");
    }
    let free = req(Task::Poem, false);
    let prompt = free.prompt(&tb).unwrap();
    let (c, plan) = verse_constraints(Some(&p), &tok, &model, &free, &prompt).unwrap().expect("the repeat rule");
    assert!(plan.is_none() && c.classes.is_empty() && c.at.is_empty());
    // 五绝: four lines of five characters, each its own set; punctuation in none.
    let want: Vec<u8> = (1..=4u8).flat_map(|l| [l; 5].into_iter().chain([0])).collect();
    assert_eq!(&c.line[..24], &want[..]);
    assert!(c.line[24..].iter().all(|&l| l == 0));
    let bad = Request { task: Task::Poem, text: String::new(), rhyme: "月".into(), ..Default::default() };
    let prompt = bad.prompt(&tb).unwrap();
    let e = verse_constraints(Some(&p), &tok, &model, &bad, &prompt).unwrap_err();
    assert!(e.to_string().contains("unknown rhyme group `月`"), "{e}");
    // Without the tone data: a poem keeps the repeat rule, 对对子 says what is missing.
    let metred = req(Task::Poem, true);
    let prompt = metred.prompt(&tb).unwrap();
    let (c, plan) = verse_constraints(None, &tok, &model, &metred, &prompt).unwrap().expect("the repeat rule");
    assert!(plan.is_none() && c.classes.is_empty() && c.line.iter().any(|&l| l != 0));
    let pair = req(Task::Pair, false);
    let prompt = pair.prompt(&tb).unwrap();
    assert_eq!(verse_constraints(None, &tok, &model, &pair, &prompt), Err(VerseError::NoProsody));
}

/// Degenerate data is refused at load and the message blames the file: tones all
/// one class, an empty rhyme group, no level group, more groups than 16-bit
/// indices hold (used to be cut silently). Before, a poem on such data failed with
/// "no character the model may generate satisfies the constraints", blaming the
/// model.
#[test]
fn degenerate_prosody_data_is_refused_naming_the_file() {
    let (tok, bytes) = bundled();
    let good: ProsodyFile = serde_json::from_slice(&bytes).unwrap();
    let load = |edit: &dyn Fn(&mut ProsodyFile)| {
        let mut f = good.clone();
        edit(&mut f);
        Prosody::from_file(f, &tok)
    };
    assert!(load(&|_| {}).is_ok());
    let all_level = load(&|f| f.tones = f.tones.replace('仄', "平"));
    assert!(matches!(all_level, Err(ProsodyError::DegenerateTones { oblique: 0, .. })), "{all_level:?}");
    let all_oblique = load(&|f| f.tones = f.tones.replace('平', "仄"));
    assert!(matches!(all_oblique, Err(ProsodyError::DegenerateTones { level: 0, .. })), "{all_oblique:?}");
    let empty = load(&|f| f.groups[3].chars.clear());
    assert_eq!(empty.unwrap_err(), ProsodyError::EmptyGroup(good.groups[3].name.clone()));
    let no_level = load(&|f| f.groups.iter_mut().for_each(|g| g.level = false));
    assert_eq!(no_level.unwrap_err(), ProsodyError::NoLevelGroup);
    let many = load(&|f| {
        let g = f.groups[0].clone();
        f.groups.resize(unmask::prosody::MAX_GROUPS + 1, g);
    });
    assert_eq!(many.unwrap_err(), ProsodyError::TooManyGroups(unmask::prosody::MAX_GROUPS + 1));
    assert!(ProsodyError::NoLevelGroup.to_string().contains("prosody file"));
}
