//! Golden test: the committed model, fixed seed, greedy — its output is pinned in
//! tests/golden/expected.json, and the GPU, the CPU reference and the fast CPU path
//! (every kernel this machine has) must all produce it.
//! After retraining, refresh the file with `UNMASK_BLESS=1 cargo test --test golden`.

mod common;

use std::collections::BTreeMap;

use common::*;
use pollster::block_on;
use unmask::cpu::CpuModel;
use unmask::gpu::GpuModel;
use unmask::sampler::{generate_cpu, Settings};
use unmask::tasks::{answer, PoemForm, Prompt, TaskBuilder};
use unmask::{ModelWeights, PoemTokenizer};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn cases(tb: &TaskBuilder) -> Vec<(String, Prompt)> {
    vec![
        ("next 床前明月光".into(), tb.next_line("床前明月光").unwrap()),
        ("prev 疑是地上霜".into(), tb.previous_line("疑是地上霜").unwrap()),
        ("next 白日依山尽".into(), tb.next_line("白日依山尽").unwrap()),
        ("prev 处处闻啼鸟".into(), tb.previous_line("处处闻啼鸟").unwrap()),
        ("infill 两个黄鹂鸣翠柳，一行白鹭上青_。".into(), tb.infill("两个黄鹂鸣翠柳，一行白鹭上青_。").unwrap()),
        ("acrostic qijue 春夏秋冬".into(), tb.acrostic(PoemForm::QiJue, "春夏秋冬").unwrap()),
    ]
}

#[test]
fn committed_model_output_is_pinned_on_cpu_and_gpu() {
    let model = std::fs::read(format!("{ROOT}/www/model/poem.safetensors")).expect("the bundled model");
    let w = ModelWeights::from_bytes(&model).expect("the bundled model loads");
    let tok = PoemTokenizer::from_bytes(&std::fs::read(format!("{ROOT}/www/model/tokenizer.json")).unwrap()).unwrap();
    let tb = TaskBuilder::new(&tok, &w.config);
    let cpu = CpuModel::new(&w);
    // As every front end samples: the pipeline's exclusions (punctuation) included.
    let eng = unmask::engine::Engine::cpu(
        PoemTokenizer::from_bytes(&std::fs::read(format!("{ROOT}/www/model/tokenizer.json")).unwrap()).unwrap(),
        w.clone(),
    );
    let settings = Settings { steps: 16, seed: 0, ..Default::default() };
    let p = eng.prepare_prompt(tb.next_line("月").unwrap(), &settings).params;
    let mut got = BTreeMap::new();
    for (name, prompt) in cases(&tb) {
        let g = generate_cpu(&cpu, &prompt.tokens, &p, false, |_| true).unwrap();
        got.insert(name, answer(&tok, &prompt, &g.tokens));
    }
    let path = format!("{ROOT}/tests/golden/expected.json");
    if std::env::var("UNMASK_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let expected: BTreeMap<String, String> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(got, expected, "CPU output of the committed model changed");
    for isa in unmask::fast::Isa::available() {
        let fast = unmask::fast::FastModel::with_isa(&w, isa);
        for (name, prompt) in cases(&tb) {
            let g = generate_cpu(&fast, &prompt.tokens, &p, false, |_| true).unwrap();
            assert_eq!(
                answer(&tok, &prompt, &g.tokens),
                expected[&name],
                "fast CPU ({}) output for `{name}`",
                isa.name()
            );
        }
    }
    let Some(ctx) = gpu() else { return };
    let gpu = GpuModel::new(ctx, &w).unwrap();
    for (name, prompt) in cases(&tb) {
        let g = block_on(gpu.generate(&prompt.tokens, &p, false)).unwrap();
        assert_eq!(answer(&tok, &prompt, &g.tokens), expected[&name], "GPU output for `{name}`");
    }
}
