//! The character tokenizer: one id per character, traditional input simplified,
//! unknown characters reported, masks parsed.

mod common;

use common::*;
use unmask::tasks::{PoemForm, TaskBuilder, TaskError};
use unmask::tokenizer::{PoemTokenizer, Slot, MASK_ID, PAD_ID, UNK_ID};

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
    assert!(matches!(tb.next_line(""), Err(TaskError::Empty)));
    assert!(matches!(tb.next_line("   "), Err(TaskError::Empty)));
    assert!(matches!(tb.infill("床前明月光"), Err(TaskError::NoMasks)));
    assert!(matches!(tb.next_line("hello"), Err(TaskError::Unknown(u)) if u.len() == 5));
    assert!(matches!(tb.infill(&"明_".repeat(30)), Err(TaskError::TooLong { .. })));
    assert!(matches!(tb.next_line(&"明".repeat(500)), Err(TaskError::TooLong { .. })));
}
