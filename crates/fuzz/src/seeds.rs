//! The seed corpus, written by `unmask-fuzz seeds` into fuzz/corpus/<target>/: small
//! valid inputs of every kind and a few near-valid ones. The fuzzers start from
//! these; the corpus test replays them on every CI run.

use unmask::request::Request;
use unmask::sampler::{Remasking, Settings};
use unmask::tasks::{PoemForm, Task};
use unmask::WeightFormat;

use crate::micro_model;

/// A model file as written before the digests existed (which still loads): the
/// header without `data_sha256` and `header_sha256`, so mutated weights and
/// headers reach the loader's other checks and the forward pass.
pub fn without_digest(file: &[u8]) -> Vec<u8> {
    unmask::format::rewrite_metadata(file, |m| {
        m.remove(unmask::format::DIGEST_KEY);
        m.remove(unmask::format::HEADER_DIGEST_KEY);
    })
    .expect("a model file has a header")
}

fn text_seed(sel: u8, s: &str) -> Vec<u8> {
    let mut v = vec![sel];
    v.extend_from_slice(s.as_bytes());
    v
}

/// Settings bytes as `crate::sampler` reads them: flags (bit 0 causal, 1 random
/// remasking, 2 threshold, 3/4 raw floats), steps, block length, temperature
/// (plain, raw), threshold (plain, raw), seed, pin count, exclusion count, pins,
/// exclusions, tokens (≥ 200 = a mask).
fn sampler_seed(i: u8, r: &mut unmask::rng::SplitMix64) -> Vec<u8> {
    let n = 4 + usize::from(i);
    let tokens: Vec<u8> = (0..n).map(|j| if j % 3 == 1 { 255 } else { 3 + (r.next_u64() % 37) as u8 }).collect();
    let masked: Vec<u8> = (0..n as u8).filter(|j| j % 3 == 1).collect();
    let pins: Vec<(u8, u8)> = masked.iter().take(usize::from(i % 3)).map(|&j| (j, 5 + j)).collect();
    let exclude: Vec<u8> = (0..i % 5).map(|k| 3 + k).collect();
    let mut b = vec![i & 7, 4 + i, 0, if i % 4 == 3 { 8 } else { 0 }, 64];
    b.extend(0f32.to_le_bytes());
    b.push(200);
    b.extend(0.5f32.to_le_bytes());
    b.extend(u32::from(i).to_le_bytes());
    b.extend([pins.len() as u8, exclude.len() as u8]);
    b.extend(pins.iter().flat_map(|&(p, t)| [p, t]));
    b.extend(&exclude);
    b.extend(tokens);
    b
}

/// (target, file name, bytes) of every seed.
pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let formats = [WeightFormat::Q8, WeightFormat::Q4, WeightFormat::F32, WeightFormat::F16];
    for (i, f) in formats.into_iter().enumerate() {
        for causal in [false, true] {
            let file = micro_model(causal, f, i as u64 + 1).to_bytes();
            let kind = if causal { "causal" } else { "diffusion" };
            out.push(("loader", format!("{kind}-{f:?}.safetensors").to_lowercase(), file.clone()));
            out.push(("loader", format!("{kind}-{f:?}-nodigest.safetensors").to_lowercase(), without_digest(&file)));
        }
    }
    let texts: [(u8, &str); 19] = [
        (0, "床前明月光"),
        (0, "床前明月光，疑是地上霜。"),
        (1, "疑是地上霜"),
        (1, "低頭思故鄉。"),
        (2, "床前_月光，疑是＿上霜。"),
        (2, "[MASK][MASK]明月光"),
        (3, "春夏秋冬"),
        (0x13, ""),
        (0x34, "春___\n__明__\n\n____望"),
        (4, "白日依山尽\n黄河入海流\n欲穷千里目\n更上一层楼"),
        (5, "床前　明月光 ，疑是地上霜！"),
        (5, "[PAD]床前[UNK]"),
        (0, "床\u{202e}前明月光"),
        (2, "________________________________________________________________"),
        (5, "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"),
        (5, "两个黄鹂鸣翠柳，一行白鹭上青天。"),
        (6, "白日依山尽"),
        (7, "黄河入海流。"),
        (0x16, "风声，雨声"),
    ];
    for (i, (sel, s)) in texts.iter().enumerate() {
        out.push(("text", format!("text-{i:02}"), text_seed(*sel, s)));
    }
    let mut r = unmask::rng::SplitMix64::new(7);
    for i in 0..12u8 {
        out.push(("sampler", format!("settings-{i:02}"), sampler_seed(i, &mut r)));
    }
    let requests = [
        Request::default(),
        Request { task: Task::Prev, text: "疑是地上霜".into(), ..Default::default() },
        Request {
            task: Task::Poem,
            text: "春夜".into(),
            form: PoemForm::QiLv,
            metre: false,
            rhyme: "阳".into(),
            pattern: "ping".into(),
            params: Settings {
                steps: 32,
                block_length: 8,
                remasking: Remasking::Random,
                temperature: 0.8,
                threshold: Some(0.9),
                seed: 42,
                ..Default::default()
            },
        },
    ];
    for (i, q) in requests.iter().enumerate() {
        out.push(("query", format!("request-{i}"), q.to_query().into_bytes()));
    }
    out.push(("query", "odd".into(), b"?task=infill&text=%E5%BA%8A%+1_&steps=-3&temperature=1e39&seed=x&&=".to_vec()));
    let couplets = include_str!("../../../eval/couplets.jsonl");
    out.push(("pairs", "couplets".into(), couplets.lines().take(4).collect::<Vec<_>>().join("\n").into_bytes()));
    out.push(("pairs", "bad-line".into(), b"{\"first\":\"a\",\"second\":\"b\"}\n\n{\"first\":1}\n".to_vec()));
    out.push(("pairs", "unknown-chars".into(), "{\"first\":\"hello\",\"second\":\"世界\"}".as_bytes().to_vec()));
    // Prosody data: the shipped file; one level group only (every plan rhymes in it);
    // that group's characters all marked 仄 (no plan can rhyme); tones all 平.
    let bundled = include_bytes!("../../../www/model/prosody.json");
    out.push(("prosody", "bundled.json".into(), bundled.to_vec()));
    let file: unmask::prosody::ProsodyFile = serde_json::from_slice(bundled).expect("shipped prosody");
    let mut one = file.clone();
    let level = one.groups.iter().position(|g| g.level).expect("a level group");
    one.groups = vec![one.groups[level].clone()];
    out.push(("prosody", "one-group.json".into(), serde_json::to_vec(&one).expect("serialises")));
    let tok = crate::tokenizer();
    let mut off = one.clone();
    let rhymes: Vec<u32> = off.groups[0].chars.chars().filter_map(|c| tok.char_id(c)).collect();
    off.tones =
        off.tones.chars().enumerate().map(|(id, t)| if rhymes.contains(&(id as u32)) { '仄' } else { t }).collect();
    out.push(("prosody", "group-all-oblique.json".into(), serde_json::to_vec(&off).expect("serialises")));
    let mut flat = file;
    flat.tones = flat.tones.replace('仄', "平");
    out.push(("prosody", "tones-all-level.json".into(), serde_json::to_vec(&flat).expect("serialises")));
    out
}
