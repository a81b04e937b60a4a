//! The character tokenizer: one id per character, traditional input simplified,
//! unknown characters reported, masks parsed.

mod common;

use common::*;
use unmask::tasks::{PoemForm, TaskBuilder, TaskError};
use unmask::tokenizer::{PoemTokenizer, Slot, TokenizerError, MASK_ID, PAD_ID, UNK_ID};

#[test]
fn one_token_per_character_and_round_trip() {
    let tok = test_tokenizer();
    let e = tok.encode("床前明月光，疑是地上霜。").unwrap();
    assert_eq!(e.slots.len(), 12);
    assert!(e.unknown.is_empty());
    assert_eq!(tok.decode(&e.ids(MASK_ID)), "床前明月光，疑是地上霜。");
}

#[test]
fn traditional_ascii_punctuation_and_spaces_are_normalised() {
    let tok = test_tokenizer();
    let a = tok.encode("舉頭望明月, 低頭思故鄉.").unwrap();
    let b = tok.encode("举头望明月，低头思故乡。").unwrap();
    // 舉 and 低 are not in the test vocabulary: reported, the rest normalised.
    assert_eq!(a.unknown.iter().map(|u| u.ch).collect::<String>(), "舉低");
    assert_eq!(a.unknown[0].char_index, 0);
    assert_eq!(tok.decode(&a.ids(MASK_ID)), "□头望明月，□头思故乡。");
    assert_eq!(b.unknown.iter().map(|u| u.ch).collect::<String>(), "低");
}

#[test]
fn latin_text_is_reported_not_dropped() {
    let tok = test_tokenizer();
    let e = tok.encode("明月 hi").unwrap();
    let unk: Vec<(usize, char)> = e.unknown.iter().map(|u| (u.char_index, u.ch)).collect();
    assert_eq!(unk, vec![(3, 'h'), (4, 'i')]);
}

#[test]
fn masks_are_parsed_in_all_spellings() {
    let tok = test_tokenizer();
    let e = tok.encode_template("床_明[MASK]光＿").unwrap();
    assert_eq!(e.slots.iter().filter(|s| **s == Slot::Mask).count(), 3);
    assert_eq!(e.slots.len(), 6);
    let e = tok.encode_template("x_").unwrap();
    assert_eq!(e.unknown[0].char_index, 0);
}

#[test]
fn json_round_trip_keeps_ids_and_normaliser() {
    let tok = test_tokenizer();
    let back = PoemTokenizer::from_bytes(tok.to_json().as_bytes()).unwrap();
    assert_eq!(back.encode("靜夜思").unwrap(), tok.encode("静夜思").unwrap());
    assert_eq!(back.vocab_size(), tok.vocab_size());
    assert_eq!((back.token(MASK_ID), back.token(PAD_ID), back.token(UNK_ID)), ("[MASK]", "[PAD]", "[UNK]"));
    assert!(PoemTokenizer::from_bytes(b"{}").is_err());
}

#[test]
fn task_templates_have_the_right_shape() {
    let tok = test_tokenizer();
    let cfg = tiny_config(false);
    let tb = TaskBuilder::new(&tok, &cfg);
    let p = tb.next_line("床前明月光").unwrap();
    assert_eq!(tok.decode(&p.tokens), "床前明月光，＿＿＿＿＿。");
    assert_eq!(p.tokens.len(), 12, "a prompt is the text's own length, no padding");
    assert_eq!(p.masked, vec![6, 7, 8, 9, 10]);
    let p = tb.previous_line("疑是地上霜").unwrap();
    assert_eq!(tok.decode(&p.tokens), "＿＿＿＿＿，疑是地上霜。");
    let p = tb.previous_line("春眠不觉晓，处处闻啼鸟。").unwrap();
    assert_eq!(tok.decode(&p.tokens), "＿＿＿＿＿。春眠不觉晓，处处闻啼鸟。");
    let p = tb.next_line("床前明月光，疑是地上霜。").unwrap();
    assert_eq!(tok.decode(&p.tokens), "床前明月光，疑是地上霜。＿＿＿＿＿，");
    let p = tb.acrostic(PoemForm::WuJue, "春夜").unwrap();
    assert_eq!(tok.decode(&p.tokens), "春＿＿＿＿，夜＿＿＿＿。＿＿＿＿＿，＿＿＿＿＿。");
    // Every position of a poem's line is a character slot: punctuation in a pinned
    // line or an acrostic head (as typed, or ASCII normalised) is refused by line.
    assert!(matches!(tb.acrostic(PoemForm::WuJue, "春。"), Err(TaskError::PunctuationInLine { line: 2, ch: '。' })));
    assert!(matches!(
        tb.poem(PoemForm::WuJue, &["春_,__".into()]),
        Err(TaskError::PunctuationInLine { line: 1, ch: '，' })
    ));
    assert!(matches!(tb.next_line(""), Err(TaskError::Empty)));
    assert!(matches!(tb.next_line("   "), Err(TaskError::Empty)));
    assert!(matches!(tb.next_line("，"), Err(TaskError::NoLineBeforePunctuation)));
    assert!(matches!(tb.previous_line("，床前"), Err(TaskError::StartsWithPunctuation)));
    assert!(matches!(tb.pair("。床前", false), Err(TaskError::StartsWithPunctuation)));
    assert!(matches!(tb.infill("床前明月光"), Err(TaskError::NoMasks)));
    assert!(matches!(tb.next_line("hello"), Err(TaskError::Unknown(u)) if u.len() == 5));
    assert!(matches!(tb.infill(&"明_".repeat(30)), Err(TaskError::TooLong { .. })));
    assert!(matches!(tb.next_line(&"明".repeat(500)), Err(TaskError::TooManyChars { len: 500, max: 200 })));
    // Within the character limit but past the model's positions: said in positions.
    let e = tb.next_line(&"明".repeat(199)).unwrap_err();
    assert!(e.to_string().contains("positions"), "{e}");
}

/// A poem pasted one line a row, or with spaces between its lines, keeps its lines:
/// the break becomes the mark a poem has there, not a longer line.
#[test]
fn line_breaks_and_spaces_between_lines_separate_lines() {
    let tok = test_tokenizer();
    let cfg = tiny_config(false);
    let tb = TaskBuilder::new(&tok, &cfg);
    let p = tb.next_line("床前明月光\n疑是地上霜").unwrap();
    assert_eq!(tok.decode(&p.tokens), "床前明月光，疑是地上霜。＿＿＿＿＿，");
    let p = tb.next_line("床前明月光，疑是地上霜").unwrap();
    assert_eq!(tok.decode(&p.tokens), "床前明月光，疑是地上霜。＿＿＿＿＿，", "a couplet's end is a 。");
    let p = tb.next_line("  床前明月光 \r\n\u{3000}疑是地上霜  ").unwrap();
    assert_eq!(tok.decode(&p.tokens), "床前明月光，疑是地上霜。＿＿＿＿＿，");
    let p = tb.previous_line("春眠不觉晓 处处闻啼鸟").unwrap();
    assert_eq!(tok.decode(&p.tokens), "＿＿＿＿＿。春眠不觉晓，处处闻啼鸟");
    let p = tb.infill("床前明月光\n疑是地上_").unwrap();
    assert_eq!(tok.decode(&p.tokens), "床前明月光，疑是地上＿");
    // Beside punctuation a break adds nothing.
    let p = tb.next_line("床前明月光，\n疑是地上霜。\n").unwrap();
    assert_eq!(tok.decode(&p.tokens), "床前明月光，疑是地上霜。＿＿＿＿＿，");
    // An acrostic head's spaces are not lines.
    let p = tb.acrostic(PoemForm::WuJue, "春 夜").unwrap();
    assert_eq!(tok.decode(&p.tokens), "春＿＿＿＿，夜＿＿＿＿。＿＿＿＿＿，＿＿＿＿＿。");
    // Positions in messages still count the text as typed.
    let e = tb.next_line("床前  明x").unwrap_err();
    assert!(matches!(e, TaskError::Unknown(ref u) if u[0].char_index == 5), "{e:?}");
}

/// Control-token text typed by a user is refused with its position, in plain text and
/// in templates alike (`[MASK]` in a template is the documented mask mark).
#[test]
fn special_token_text_is_refused_not_taken_as_tokens() {
    let tok = test_tokenizer();
    for (text, token, at) in
        [("[MASK][MASK]", "[MASK]", 0), ("床前[PAD]月光", "[PAD]", 2), ("床前明月[UNK]", "[UNK]", 4)]
    {
        match tok.encode(text) {
            Err(TokenizerError::SpecialText { token: t, char_index }) => {
                assert_eq!((t, char_index), (token, at), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let e = tok.encode_template("床前[MASK]月光").unwrap();
    assert_eq!(e.slots.iter().filter(|s| **s == Slot::Mask).count(), 1);
    assert!(matches!(
        tok.encode_template("床_[PAD]"),
        Err(TokenizerError::SpecialText { token: "[PAD]", char_index: 2 })
    ));
    let msg = tok.encode("床前[PAD]月光").unwrap_err().to_string();
    assert!(msg.contains("`[PAD]` (at character 3)"), "{msg}");
}

/// A huge pin or acrostic head is refused by its length before it is tokenized.
#[test]
fn oversized_pins_are_refused_before_tokenizing() {
    let tok = test_tokenizer();
    let cfg = tiny_config(false);
    let tb = TaskBuilder::new(&tok, &cfg);
    let long = "明".repeat(100_000);
    assert!(matches!(
        tb.poem(PoemForm::WuJue, std::slice::from_ref(&long)),
        Err(TaskError::LineTooLong { line: 1, max: 5 })
    ));
    assert!(matches!(tb.acrostic(PoemForm::WuJue, &long), Err(TaskError::TooManyChars { len: 100_000, .. })));
    assert!(matches!(tb.poem(PoemForm::WuJue, &[long.clone(), "明".repeat(6)]), Err(TaskError::LineTooLong { .. })));
    assert!(matches!(
        tb.poem(PoemForm::WuJue, &[String::new(), "明".repeat(6)]),
        Err(TaskError::LineTooLong { line: 2, max: 5 })
    ));
    assert!(matches!(
        tb.acrostic(PoemForm::WuJue, "春夏秋冬明"),
        Err(TaskError::TooManyLines { form: PoemForm::WuJue, got: 5 })
    ));
    assert!(matches!(tb.poem(PoemForm::WuJue, &vec![String::new(); 5]), Err(TaskError::TooManyLines { got: 5, .. })));
}

/// Messages name invisible and bidi-control characters by code point (a raw U+202E
/// reverses the rest of the terminal line), and `_` outside infill gets a hint.
#[test]
fn unknown_characters_are_shown_safely_with_hints() {
    let tok = test_tokenizer();
    let cfg = tiny_config(false);
    let tb = TaskBuilder::new(&tok, &cfg);
    let e = tb.next_line("床前\u{202E}明月\u{200B}光").unwrap_err().to_string();
    assert!(e.contains("U+202E (character 3)") && e.contains("U+200B (character 6)"), "{e}");
    assert!(!e.contains('\u{202E}') && !e.contains('\u{200B}'), "{e}");
    let e = tb.next_line("床前_月光").unwrap_err().to_string();
    assert!(e.contains("'_' (character 3)") && e.contains("infill"), "{e}");
}

/// A tokenizer.json whose ids do not run 0..n once each is refused at load, with
/// the entry named: an id remapped past the vocabulary used to make infill write
/// four characters for five masks, and one remapped onto another character's id
/// to swap input characters silently.
#[test]
fn a_vocabulary_with_bad_ids_is_refused_at_load() {
    let good = test_tokenizer().to_json();
    let json: serde_json::Value = serde_json::from_str(&good).unwrap();
    let vocab = json["model"]["vocab"].as_object().unwrap();
    let (ch, id) = vocab.iter().find(|(_, v)| v.as_u64() == Some(20)).map(|(k, v)| (k.clone(), v.clone())).unwrap();
    let other = vocab.iter().find(|(_, v)| v.as_u64() == Some(21)).map(|(k, _)| k.clone()).unwrap();
    assert!(PoemTokenizer::from_bytes(good.as_bytes()).is_ok());
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut j = json.clone();
        edit(&mut j);
        PoemTokenizer::from_bytes(j.to_string().as_bytes())
    };
    let refused = |r: Result<PoemTokenizer, TokenizerError>| match r {
        Err(TokenizerError::Ids(why)) => why,
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("accepted"),
    };
    let past = refused(with(&|j| j["model"]["vocab"][&ch] = 4_000_000_000u64.into()));
    assert!(past.contains("4000000000") && past.contains(&ch), "{past}");
    let shared = refused(with(&|j| j["model"]["vocab"][&other] = id.clone()));
    assert!(shared.contains("share id 20"), "{shared}");
    // A missing entry leaves a gap: the last id is past the end.
    let gap = refused(with(&|j| {
        j["model"]["vocab"].as_object_mut().unwrap().remove(&ch);
    }));
    assert!(gap.contains("past the"), "{gap}");
}

/// A tokenizer that is valid on its own but whose ids mean other characters than the
/// model's (two characters swapped) loads, and only the vocabulary digest the model
/// file records tells them apart: the pair is refused, naming both digests, and the
/// digest survives the file's round trip and its header check.
#[test]
fn a_tokenizer_that_disagrees_with_the_model_file_is_refused() {
    use unmask::engine::{check_pair, EngineError};
    let tok = test_tokenizer();
    let json: serde_json::Value = serde_json::from_str(&tok.to_json()).unwrap();
    let vocab = json["model"]["vocab"].as_object().unwrap();
    let name = |id: u64| vocab.iter().find(|(_, v)| v.as_u64() == Some(id)).map(|(k, _)| k.clone()).unwrap();
    let (a, b) = (name(20), name(21));
    let mut swapped = json.clone();
    swapped["model"]["vocab"][&a] = 21.into();
    swapped["model"]["vocab"][&b] = 20.into();
    let swapped = PoemTokenizer::from_bytes(swapped.to_string().as_bytes()).expect("a valid tokenizer on its own");
    assert_ne!(swapped.vocab_digest(), tok.vocab_digest());
    // Formatting is not content: the same vocabulary written pretty has the same digest.
    let pretty = serde_json::to_string_pretty(&json).unwrap();
    assert_eq!(PoemTokenizer::from_bytes(pretty.as_bytes()).unwrap().vocab_digest(), tok.vocab_digest());

    let model = tiny_model(unmask::WeightFormat::Q8, 3);
    // Without a recorded digest the swap cannot be seen (files from before it).
    assert!(check_pair(&model, &swapped).is_ok());
    let mut stamped = model.clone();
    stamped.vocab_sha256 = Some(tok.vocab_digest());
    let back = unmask::ModelWeights::from_bytes(&stamped.to_bytes()).unwrap();
    assert_eq!(back.vocab_sha256.as_deref(), Some(tok.vocab_digest().as_str()));
    assert!(check_pair(&back, &tok).is_ok());
    match check_pair(&back, &swapped) {
        Err(e @ EngineError::VocabDigest { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&swapped.vocab_digest()) && msg.contains(&tok.vocab_digest()), "{msg}");
        }
        other => panic!("expected a vocabulary digest mismatch, got {other:?}"),
    }
    // A digest that is not one is refused at load, naming the key.
    let bad = unmask::format::rewrite_metadata(&back.to_bytes(), |m| {
        m.insert(unmask::format::VOCAB_DIGEST_KEY.into(), "not-a-digest".into());
    })
    .and_then(|f| unmask::format::sign_header(&f))
    .unwrap();
    let err = unmask::ModelWeights::from_bytes(&bad).unwrap_err().to_string();
    assert!(err.contains("vocab_sha256") && err.contains("not-a-digest"), "{err}");
}
