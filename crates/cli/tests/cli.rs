//! The CLI end to end on a small random model written to a temporary folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use unmask::{ExportFormat, ModelConfig, ModelWeights, PoemTokenizer, WeightFormat};

const CHARS: &str = "，。？！床前明月光疑是地上霜举头望低思故乡春眠不觉晓处闻啼鸟夜来风雨声花落知多少";

fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    setup_kind(dir, false)
}

fn setup_kind(dir: &Path, causal: bool) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let chars: Vec<char> = CHARS.chars().collect();
    let tok = PoemTokenizer::build(&chars, &[('頭', '头')]).unwrap();
    let mut cfg = ModelConfig::tiny(tok.vocab_size());
    cfg.max_seq_len = 64;
    cfg.causal = causal;
    let w = ModelWeights::random(cfg, ExportFormat { blocks: WeightFormat::Q8, embeddings: WeightFormat::Q8 }, 1);
    let (m, t) = (dir.join("m.safetensors"), dir.join("tokenizer.json"));
    std::fs::write(&m, w.to_bytes()).unwrap();
    std::fs::write(&t, tok.to_json()).unwrap();
    (m, t)
}

fn unmask(args: &[&str], m: &Path, t: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_unmask"))
        .args(args)
        .arg("--model")
        .arg(m)
        .arg("--tokenizer")
        .arg(t)
        .env("UNMASK_TEST", "1")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Runs the CLI on the bundled model and data (no --model / --tokenizer).
fn bundled(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_unmask")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn gpu_available() -> bool {
    std::env::var("UNMASK_SKIP_GPU").as_deref() != Ok("1")
}

#[test]
fn generate_next_and_previous_line_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup(dir.path());
    let backends: &[&str] = if gpu_available() { &["cpu", "gpu"] } else { &["cpu"] };
    let mut outs = Vec::new();
    for b in backends {
        let (ok, out, err) = unmask(&["generate", "--mode", "next", "床前明月光", "--backend", b], &m, &t);
        assert!(ok, "{err}");
        let line = out.lines().last().unwrap().to_string();
        assert!(line.starts_with("床前明月光，") && line.chars().count() == 12, "{line}");
        outs.push(line);
        let (ok, out, err) = unmask(
            &["generate", "--mode", "prev", "疑是地上霜", "--backend", b, "--show-steps", "--steps", "3"],
            &m,
            &t,
        );
        assert!(ok, "{err}");
        assert_eq!(out.lines().filter(|l| l.starts_with("step")).count(), 3, "{out}");
        assert!(out.lines().last().unwrap().ends_with("，疑是地上霜。"), "{out}");
    }
    if outs.len() == 2 {
        assert_eq!(outs[0], outs[1], "greedy CPU and GPU disagree");
    }
}

#[test]
fn poem_with_acrostic_and_pins() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup(dir.path());
    let (ok, out, err) =
        unmask(&["generate", "--mode", "poem", "春夜", "--form", "wujue", "--backend", "cpu", "--pin", "4=月"], &m, &t);
    assert!(ok, "{err}");
    let poem: Vec<char> = out.trim().chars().collect();
    assert_eq!(poem.len(), 24, "{out}");
    assert_eq!((poem[0], poem[4], poem[6]), ('春', '月', '夜'), "{out}");
    // The bundled tone data is not this tokenizer's: the poem is written free, and
    // says so; 对对子 cannot be.
    assert!(err.contains("the poem is written without them"), "{err}");
    let (ok, _, err) = unmask(&["generate", "--mode", "pair", "春夜", "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("对对子 needs the tone data"), "{err}");
}

/// Regulated verse with the bundled model and data: a poem in a chosen pattern and
/// rhyme, 对对子 both ways, each checked under the result; a bad choice in words.
#[test]
fn regulated_verse_and_couplets_with_the_bundled_model() {
    let run = bundled;
    let poem = ["generate", "--mode", "poem", "--form", "qijue", "--backend", "cpu", "--temperature", "0.8"];
    let (ok, out, err) = run(&[&poem[..], &["--seed", "4", "--pattern", "ze-rhymed", "--rhyme", "光"]].concat());
    assert!(ok, "{err}");
    assert_eq!(out.trim().chars().count(), 32, "{out}");
    assert!(err.contains("仄起首句入韵 · 韵 下平七阳 (given)"), "{err}");
    assert!(err.contains("七言绝句 · 仄起首句入韵 · 韵 下平七阳") && err.contains("follows the rules"), "{err}");
    for (mode, given) in [("pair", "白日依山尽"), ("pair-prev", "黄河入海流")] {
        let (ok, out, err) = run(&["generate", "--mode", mode, given, "--backend", "cpu"]);
        assert!(ok, "{err}");
        let text = out.trim();
        assert!(text.chars().count() == 12 && text.contains(given), "{text}");
        assert!(err.contains("对对子 (couplet)") && err.contains("follows the rules"), "{mode}: {err}");
    }
    // A pinned character against the chosen pattern is kept and reported.
    let (ok, out, err) = run(&[&poem[..], &["--pattern", "ping", "--pin", "1=月", "--rhyme", "东"]].concat());
    assert!(ok, "{err}");
    assert_eq!(out.trim().chars().nth(1), Some('月'), "{out}");
    assert!(err.contains("position 1: pinned 月 is 仄 where the pattern asks for 平"), "{err}");
    let (ok, _, err) = run(&[&poem[..], &["--pattern", "sideways"]].concat());
    assert!(!ok && err.contains("unknown pattern `sideways`"), "{err}");
    let (ok, _, err) = run(&[&poem[..], &["--rhyme", "月"]].concat());
    assert!(!ok && err.contains("unknown rhyme group `月`"), "{err}");
}

#[test]
fn eval_prints_json_accuracies() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup(dir.path());
    let pairs = dir.path().join("pairs.jsonl");
    std::fs::write(
        &pairs,
        "{\"first\":\"床前明月光\",\"second\":\"疑是地上霜\",\"source\":\"唐诗三百首 · 李白 · 静夜思\"}\n\n\
         {\"first\":\"举头望明月\",\"second\":\"低头思故乡\",\"source\":\"千家诗 · 静夜思\"}\n\
         {\"first\":\"疑是地上霜\",\"second\":\"举头望明月\",\"source\":\"唐诗三百首 · 李白 · 静夜思\"}\n",
    )
    .unwrap();
    let (ok, out, err) = unmask(&["eval", "--pairs", pairs.to_str().unwrap(), "--json", "--backend", "cpu"], &m, &t);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["n"], 3);
    for k in ["forward", "reversal"] {
        let x = v[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{k} = {x}");
    }
    // Scores per book (the first field of the source), which add up to the total.
    assert_eq!(v["books"], serde_json::json!([{"book": "唐诗三百首", "n": 2}, {"book": "千家诗", "n": 1}]));
    for task in v["tasks"].as_array().unwrap() {
        let by_book: Vec<u64> =
            task["correct_by_book"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        assert_eq!(by_book.len(), 2);
        assert_eq!(by_book.iter().sum::<u64>(), task["correct"].as_u64().unwrap(), "{task}");
        // Every line recalled whole counts all its characters (the lines here are all
        // five long), so the graded measure is never below the exact one.
        let (exact, chars) = (task["accuracy"].as_f64().unwrap(), task["char_accuracy"].as_f64().unwrap());
        assert!((exact..=1.0).contains(&chars), "{task}");
        // Per book, weighted by its pairs (all lines five long), they make the total.
        let by_book: Vec<f64> =
            task["char_accuracy_by_book"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(by_book.len(), 2);
        assert!(((by_book[0] * 2.0 + by_book[1]) / 3.0 - chars).abs() < 1e-9, "{task}");
    }
    let (ok, out, err) = unmask(&["eval", "--pairs", pairs.to_str().unwrap(), "--backend", "cpu"], &m, &t);
    assert!(ok && out.contains("by book") && out.contains("千家诗"), "{out}{err}");
    std::fs::write(&pairs, "{\"first\": 1}\n").unwrap();
    let (ok, _, err) = unmask(&["eval", "--pairs", pairs.to_str().unwrap(), "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("pairs.jsonl:1"), "{err}");
}

#[test]
fn autoregressive_model_eval_reports_plain_and_beam_reversal() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup_kind(dir.path(), true);
    let pairs = dir.path().join("pairs.jsonl");
    std::fs::write(
        &pairs,
        "{\"first\":\"床前明月光\",\"second\":\"疑是地上霜\"}\n{\"first\":\"举头望明月\",\"second\":\"低头思故乡\"}\n",
    )
    .unwrap();
    let (ok, out, err) = unmask(
        &["eval", "--pairs", pairs.to_str().unwrap(), "--json", "--backend", "cpu", "--beam", "1", "--beam", "3"],
        &m,
        &t,
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["causal"], true);
    let tasks = v["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 4, "{out}");
    // Left to right: one forward pass per character; beam W over 5 characters:
    // 1 + 4·W extensions + W candidates scored.
    let passes: Vec<f64> = tasks.iter().map(|t| t["forward_passes"].as_f64().unwrap()).collect();
    assert_eq!(passes, vec![5.0, 5.0, 6.0, 1.0 + 12.0 + 3.0], "{out}");
    // Width 1 is the plain left-to-right answer.
    assert_eq!(tasks[1]["correct"], tasks[2]["correct"]);
    let (ok, out, err) =
        unmask(&["generate", "--mode", "prev", "疑是地上霜", "--backend", "cpu", "--beam", "4"], &m, &t);
    assert!(ok, "{err}");
    assert!(out.trim().ends_with("，疑是地上霜。") && err.contains("beam 4, 21 forward passes"), "{out}{err}");
    // --beam needs an autoregressive model.
    let (m2, _) = setup(dir.path());
    let (ok, _, err) =
        unmask(&["eval", "--pairs", pairs.to_str().unwrap(), "--backend", "cpu", "--beam", "2"], &m2, &t);
    assert!(!ok && err.contains("autoregressive"), "{err}");
}

#[test]
fn bad_input_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup(dir.path());
    let (ok, _, err) = unmask(&["generate", "--mode", "next", "hello", "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("not in the model's vocabulary") && err.contains("'h'"), "{err}");
    let (ok, _, err) = unmask(&["generate", "--mode", "next", "", "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("empty"), "{err}");
    let (ok, _, err) = unmask(&["generate", "--mode", "infill", "床前明月光", "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("no `_`"), "{err}");
    let bytes = std::fs::read(&m).unwrap();
    std::fs::write(&m, &bytes[..bytes.len() / 2]).unwrap();
    let (ok, _, err) = unmask(&["generate", "床前明月光", "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("loading model"), "{err}");
}

#[test]
fn bench_prints_every_backend_and_the_gpu_counters() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup(dir.path());
    // Table rows: the backend, then figures.
    let row = |out: &str, backend: &str| {
        let is_row = |l: &&str| {
            let mut w = l.split_whitespace();
            w.next() == Some(backend) && w.next().is_some_and(|v| v.parse::<f64>().is_ok())
        };
        out.lines().filter(is_row).count()
    };
    // Without the GPU: the fast CPU path and the reference, for both cases, and JSON.
    let json = dir.path().join("bench.json");
    let (ok, out, err) =
        unmask(&["bench", "--reps", "1", "--steps", "2", "--no-gpu", "--json-out", json.to_str().unwrap()], &m, &t);
    assert!(ok, "{err}");
    assert!(out.contains("fast path with the") && row(&out, "cpu") == 2 && row(&out, "cpu-ref") == 2, "{out}");
    // The best kernel's other SIMD kernels are timed beside it (AVX2 beside AVX-512).
    use unmask::fast::Isa;
    let others: Vec<Isa> = Isa::available().into_iter().filter(|&i| i != Isa::Scalar && i != Isa::detect()).collect();
    for i in &others {
        assert_eq!(row(&out, &format!("cpu-{}", i.name())), 2, "{out}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["results"].as_array().unwrap().len(), 2 * (2 + others.len()), "{report}");
    assert!(report["results"].as_array().unwrap().iter().all(|r| r["forward_ms"].as_f64().unwrap() > 0.0));
    // Absurd counts are refused before anything runs.
    let (ok, _, err) = unmask(&["bench", "--reps", "100000"], &m, &t);
    assert!(!ok && err.contains("--reps"), "{err}");
    if !gpu_available() {
        return;
    }
    let (ok, out, err) = unmask(&["bench", "--reps", "1", "--steps", "4"], &m, &t);
    assert!(ok, "{err}");
    assert!(out.contains("adapter:") && row(&out, "gpu") == 2 && out.contains("dispatches"), "{out}");
}

/// Inputs from the probe that used to crash, hang or answer wrongly with success.
#[test]
fn hostile_files_and_flags_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup(dir.path());
    // A device that never ends is refused at the cap, not read until memory runs out.
    let (ok, _, err) = unmask(&["generate", "床前明月光", "--backend", "cpu"], Path::new("/dev/zero"), &t);
    assert!(!ok && err.contains("larger than"), "{err}");
    let (ok, _, err) = unmask(&["eval", "--pairs", "/dev/zero", "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("larger than"), "{err}");
    // Every pair skipped is an error, not "0.0% (0/0)" with success.
    let pairs = dir.path().join("pairs.jsonl");
    std::fs::write(&pairs, "{\"first\":\"hello\",\"second\":\"world\"}\n").unwrap();
    let (ok, _, err) = unmask(&["eval", "--pairs", pairs.to_str().unwrap(), "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("skipped"), "{err}");
    // Special-token text is refused, not taken as tokens.
    let (ok, _, err) = unmask(&["generate", "--mode", "next", "床前[PAD]月光", "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("`[PAD]`"), "{err}");
    // A pin on a prompt character is refused.
    let (ok, _, err) =
        unmask(&["generate", "--mode", "next", "床前明月光", "--pin", "1=月", "--backend", "cpu"], &m, &t);
    assert!(!ok && err.contains("only masked positions"), "{err}");
    // An absurd beam width on a causal model is an error, not an allocation abort.
    let (ma, ta) = setup_kind(&dir.path().join("ar"), true);
    for w in ["1000000000000", "18446744073709551615"] {
        let (ok, _, err) =
            unmask(&["generate", "--mode", "prev", "疑是地上霜", "--beam", w, "--backend", "cpu"], &ma, &ta);
        assert!(!ok && err.contains("too large"), "{w}: {err}");
    }
}

/// A model file whose weights overflow (a finite norm weight of 3e38) makes every
/// score NaN: each backend and task says so and fails, instead of printing `□□□□□`
/// (GPU) or a normal-looking line (CPU) with success.
#[test]
fn a_model_whose_scores_overflow_is_an_error_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let chars: Vec<char> = CHARS.chars().collect();
    let tok = PoemTokenizer::build(&chars, &[]).unwrap();
    let backends: &[&str] = if gpu_available() { &["cpu", "gpu"] } else { &["cpu"] };
    for causal in [false, true] {
        let mut cfg = ModelConfig::tiny(tok.vocab_size());
        cfg.causal = causal;
        let mut w =
            ModelWeights::random(cfg, ExportFormat { blocks: WeightFormat::Q8, embeddings: WeightFormat::Q8 }, 1);
        w.norm.iter_mut().for_each(|x| *x = 3e38);
        let (m, t) = (dir.path().join("m.safetensors"), dir.path().join("tokenizer.json"));
        std::fs::write(&m, w.to_bytes()).unwrap();
        std::fs::write(&t, tok.to_json()).unwrap();
        for b in backends {
            let mut tasks = vec![vec!["generate", "--mode", "next", "床前明月光", "--backend", b]];
            if causal {
                tasks.push(vec!["generate", "--mode", "prev", "疑是地上霜", "--beam", "4", "--backend", b]);
            }
            for args in tasks {
                let (ok, out, err) = unmask(&args, &m, &t);
                assert!(!ok && err.contains("non-finite"), "causal {causal} {args:?}: ok {ok}, {out} {err}");
            }
        }
    }
}

/// A model whose vocabulary is only the special tokens has nothing to write: every
/// task says so (it used to panic in the poem path of a causal model).
#[test]
fn a_vocabulary_of_special_tokens_only_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let tok = PoemTokenizer::build(&[], &[]).unwrap();
    for causal in [false, true] {
        let mut cfg = ModelConfig::tiny(tok.vocab_size());
        cfg.causal = causal;
        let w = ModelWeights::random(cfg, ExportFormat { blocks: WeightFormat::Q8, embeddings: WeightFormat::Q8 }, 1);
        let (m, t) = (dir.path().join("m.safetensors"), dir.path().join("tokenizer.json"));
        std::fs::write(&m, w.to_bytes()).unwrap();
        std::fs::write(&t, tok.to_json()).unwrap();
        for args in [
            &["generate", "--mode", "poem", "--backend", "cpu"][..],
            &["generate", "--mode", "infill", "_", "--backend", "cpu"][..],
        ] {
            let (ok, out, err) = unmask(args, &m, &t);
            assert!(!ok && !err.contains("panicked"), "causal {causal} {args:?}: ok {ok}, {out} {err}");
            assert!(err.contains("no character"), "causal {causal} {args:?}: {err}");
        }
    }
}

#[test]
fn eval_reports_feed_the_plot_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (m, t) = setup(&d.join("diff"));
    let (ma, _) = setup_kind(&d.join("ar"), true);
    let pairs = d.join("pairs.jsonl");
    std::fs::write(&pairs, "{\"first\":\"床前明月光\",\"second\":\"疑是地上霜\"}\n").unwrap();
    let p = pairs.to_str().unwrap();
    let (de, ae) = (d.join("diff.json"), d.join("ar.json"));
    let (ok, _, err) = unmask(&["eval", "--pairs", p, "--backend", "cpu", "--json-out", de.to_str().unwrap()], &m, &t);
    assert!(ok, "{err}");
    let (ok, _, err) =
        unmask(&["eval", "--pairs", p, "--backend", "cpu", "--beam", "2", "--json-out", ae.to_str().unwrap()], &ma, &t);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&ae).unwrap()).unwrap();
    let keys: Vec<&str> = report["tasks"].as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["forward", "reversal", "reversal_beam2"]);
    assert_eq!(report["weights"], "q8");
    assert_eq!(report["model_bytes"].as_u64().unwrap(), std::fs::metadata(&ma).unwrap().len());

    // A resumed run's log repeats the steps after its checkpoint: the later rows win.
    let log = d.join("log.csv");
    let mut csv = String::from("step,loss,lr,tokens_per_s,elapsed_s,heldout_loss\n");
    for s in 1..=120 {
        csv += &format!("{s},{},1e-4,1000,{s}.0,{}\n", 2.0 - s as f64 / 200.0, if s % 50 == 0 { "6.1" } else { "" });
    }
    csv += "100,0.5,1e-4,1000,1.0,6.0\n";
    std::fs::write(&log, csv).unwrap();
    let lineage = d.join("lineage.json");
    let lin = |recall_run: &str| {
        serde_json::json!({
            "runs": [
                {"name": "twin", "objective": "next-token", "tokens": 1000, "heldout": 5.4},
                {"name": "seg", "objective": "masked", "tokens_per_step": 100, "log": log, "heldout_at": [[10, 6.3]], "heldout": 6.2}
            ],
            "recall": [
                {"run": "twin", "eval": ae},
                {"run": recall_run, "step": 50, "forward": 0.5, "reversal": 0.25},
                {"run": "seg", "eval": de}
            ],
            "reversal": {"diffusion": de, "autoregressive": ae, "published": [{"name": "LLaDA 8B Instruct", "forward": 0.518, "reversal": 0.456}]},
            "sizes": [de, de]
        })
        .to_string()
    };
    std::fs::write(&lineage, lin("seg")).unwrap();
    let plot = |out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_unmask"))
            .args(["plot", "--lineage", lineage.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = plot(&d.join("charts"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let svg = |name: &str| std::fs::read_to_string(d.join("charts").join(name)).unwrap();
    for name in ["training.svg", "recall.svg", "reversal.svg", "sizes.svg"] {
        let s = svg(name);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"), "{name}: {s}");
    }
    let pct = |x: &serde_json::Value| format!("{:.1}", x.as_f64().unwrap() * 100.0);
    let diff: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&de).unwrap()).unwrap();
    let rev = svg("reversal.svg");
    for v in [&diff["forward"], &diff["reversal"], &report["tasks"][2]["accuracy"]] {
        assert!(
            rev.contains(&format!(">{}<", pct(v))) || rev.contains(&format!(">\n{}\n<", pct(v))),
            "{} missing",
            pct(v)
        );
    }
    assert!(rev.contains("51.8") && rev.contains("45.6") && rev.contains("LLaDA 8B Instruct"));
    assert!(
        svg("training.svg").matches("training loss, mean of 50 steps").count() == 1
            && svg("training.svg").contains("diffusion: held-out LLaDA loss")
            && svg("training.svg").contains("twin: held-out next-token NLL")
    );
    assert!(svg("recall.svg").contains(">50.0<") || svg("recall.svg").contains("50.0"));

    // A recall point naming a run the lineage lacks is a clear error.
    std::fs::write(&lineage, lin("nope")).unwrap();
    let out = plot(&d.join("charts2"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("\"nope\""), "{err}");
}

#[test]
fn eval_poems_measures_generated_against_real_poems() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup(&dir.path().join("diff"));
    let (ma, _) = setup_kind(&dir.path().join("ar"), true);
    let real = dir.path().join("poems.jsonl");
    // One real poem with a loop (a line repeated), one without.
    std::fs::write(
        &real,
        "{\"form\":\"wujue\",\"text\":\"床前明月光，疑是地上霜。举头望明月，低头思故乡。\"}\n\
         {\"form\":\"wujue\",\"text\":\"春眠不觉晓，处处闻啼鸟。春眠不觉晓，花落知多少。\"}\n",
    )
    .unwrap();
    let heldout = dir.path().join("poems-heldout.jsonl");
    std::fs::write(&heldout, "{\"form\":\"wujue\",\"text\":\"白日依山尽，黄河入海流。欲穷千里目，更上一层楼。\"}\n")
        .unwrap();
    // The corpus trained on holds the first real poem; the held-out poem's text is
    // there too, but held out, so its lines do not count as recited.
    let corpus = dir.path().join("texts.jsonl");
    std::fs::write(
        &corpus,
        "{\"text\":\"床前明月光，疑是地上霜。举头望明月，低头思故乡。\",\"heldout\":false}\n\
         {\"text\":\"白日依山尽，黄河入海流。欲穷千里目，更上一层楼。\",\"heldout\":true}\n",
    )
    .unwrap();
    let json = dir.path().join("report.json");
    let (ok, out, err) = unmask(
        &[
            "eval-poems",
            "--corpus",
            corpus.to_str().unwrap(),
            "--backend",
            "cpu",
            "--count",
            "3",
            "--form",
            "wujue",
            "--real",
            real.to_str().unwrap(),
            "--heldout",
            heldout.to_str().unwrap(),
            "--ar-model",
            ma.to_str().unwrap(),
            "--json-out",
            json.to_str().unwrap(),
            "--raw",
        ],
        &m,
        &t,
    );
    assert!(ok, "{err}");
    assert!(out.contains("wujue") && out.contains("ratio"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // The model alone, then as the page writes a poem with the rules off: the repeat
    // rule (no prosody data needed), under which no line is written twice.
    let rules: Vec<&str> = v["forms"].as_array().unwrap().iter().map(|f| f["rules"].as_str().unwrap()).collect();
    assert_eq!(rules, ["none", "repeat"]);
    let f = &v["forms"][1];
    assert_eq!(f["generated"]["repeated_line"], 0.0);
    assert_eq!(f["form"], "wujue");
    assert_eq!(f["generated"]["poems"], 3);
    // The sampler never puts punctuation in a character slot.
    assert_eq!(f["generated"]["punct_in_slots"], 0.0);
    assert_eq!(f["real"]["repeated_line"], 0.5);
    assert_eq!(f["real"]["looped"], 0.5);
    assert_eq!(f["real"]["recited"], 0.5);
    assert_eq!(f["heldout"]["recited"], 0.0);
    // The ratio is over the held-out poems' NLL; over the anthology's beside it.
    assert_eq!(f["heldout"]["poems"], 1);
    let nll = |k: &str| f[k]["ar_nll"].as_f64().unwrap();
    let (g, r, h) = (nll("generated"), nll("real"), nll("heldout"));
    assert!(g > 0.0 && r > 0.0 && h > 0.0 && r != h, "{f}");
    assert!((f["nll_ratio"].as_f64().unwrap() - g / h).abs() < 1e-9, "{f}");
    assert!((f["nll_ratio_anthology"].as_f64().unwrap() - g / r).abs() < 1e-9, "{f}");
    for e in f["examples"].as_array().unwrap() {
        assert_eq!(e.as_str().unwrap().chars().count(), 24, "{e}");
    }
    // Constraints need prosody data for this model's vocabulary: the bundled file is
    // for the bundled tokenizer, not this one, and --metre says so.
    let (ok, _, err) = unmask(
        &[
            "eval-poems",
            "--backend",
            "cpu",
            "--count",
            "1",
            "--form",
            "wujue",
            "--no-twin",
            "--metre",
            "--real",
            real.to_str().unwrap(),
            "--heldout",
            heldout.to_str().unwrap(),
        ],
        &m,
        &t,
    );
    assert!(!ok && err.contains("prosody"), "{err}");
    // A real-poem file without the form asked for is a clear error.
    let (ok, _, err) = unmask(
        &[
            "eval-poems",
            "--backend",
            "cpu",
            "--form",
            "qilv",
            "--real",
            real.to_str().unwrap(),
            "--heldout",
            heldout.to_str().unwrap(),
            "--no-twin",
        ],
        &m,
        &t,
    );
    assert!(!ok && err.contains("no qilv poems"), "{err}");
}

/// The README's charts are what `unmask plot` draws from the committed lineage file:
/// regenerate them (`cargo run --release -p unmask-cli -- plot`) after changing it.
#[test]
fn committed_charts_match_the_lineage_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_unmask"))
        .current_dir(&root)
        .args(["plot", "--out", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["training.svg", "recall.svg", "reversal.svg", "sizes.svg"] {
        let fresh = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let committed = std::fs::read_to_string(root.join("docs/charts").join(name)).unwrap();
        assert!(fresh == committed, "docs/charts/{name} is stale: run `unmask plot`");
    }
}

/// `unmask check`: the metre checker on the bundled prosody data.
#[test]
fn check_marks_tones_pattern_and_rhyme() {
    let run = bundled;
    let (ok, out, err) = run(&["check", "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"]);
    assert!(ok, "{err}");
    assert!(out.contains("五言绝句 · 仄起首句不入韵 · 韵 下平十一尤") && out.contains("follows the rules"), "{out}");
    assert!(out.contains("白日依山尽，   仄仄平平仄"), "{out}");
    let (ok, out, _) = run(&["check", "床前明月光，疑是地上霜。举头望明月，低头思故乡。"]);
    assert!(ok && out.contains("2 against the rules") && out.contains("line 2, character 4 (上)"), "{out}");
    let (ok, _, err) = run(&["check", "  "]);
    assert!(!ok && err.contains("empty"), "{err}");
    let (ok, _, err) = run(&["check", "床前", "--prosody", "/dev/zero"]);
    assert!(!ok && err.contains("larger than"), "{err}");
}

/// Flags the request would not use are refused, not ignored: a rhyme or a pattern
/// outside a poem with metre, and a position pinned to two characters (the last
/// one used to win without a word).
#[test]
fn flags_that_would_be_ignored_or_overwritten_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup(dir.path());
    for (args, says) in [
        (
            &["generate", "--backend", "cpu", "--mode", "next", "床前明月光", "--rhyme", "光"][..],
            "--rhyme has no effect outside --mode poem",
        ),
        (
            &["generate", "--backend", "cpu", "--mode", "infill", "床前_月光", "--pattern", "ping"][..],
            "--pattern has no effect outside --mode poem",
        ),
        (
            &["generate", "--backend", "cpu", "--mode", "poem", "--no-metre", "--form", "wujue", "", "--rhyme", "光"][..],
            "--rhyme has no effect with --no-metre",
        ),
        (
            &["generate", "--backend", "cpu", "--mode", "infill", "床前__光", "--pin", "3=月", "--pin", "3=光"][..],
            "position 3 is pinned to two different characters",
        ),
    ] {
        let (ok, _, err) = unmask(args, &m, &t);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
    }
    // A bad sampler flag is refused before the verse plan is printed.
    let (ok, _, err) =
        unmask(&["generate", "--backend", "cpu", "--mode", "poem", "--form", "wujue", "", "--steps", "0"], &m, &t);
    assert!(!ok && err.contains("steps") && err.lines().count() <= 2, "{err}");
    // The same character twice is one pin.
    let (ok, out, err) = unmask(
        &["generate", "--backend", "cpu", "--mode", "infill", "床前__光", "--pin", "3=月", "--pin", "3=月"],
        &m,
        &t,
    );
    assert!(ok && out.contains("床前") && out.contains('月'), "{out}{err}");
}

/// `eval` says why pairs were skipped (a 201-character line is too long, not
/// "outside the vocabulary"), and `--limit` stops reading at its pairs (a broken
/// line after them used to fail the run); `check --jsonl` bounds each text as
/// `check TEXT` does.
#[test]
fn eval_and_check_name_the_real_reason_and_read_only_what_they_use() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = setup(dir.path());
    let long = "床".repeat(201);
    let pairs = dir.path().join("pairs.jsonl");
    std::fs::write(&pairs, format!("{{\"first\":\"{long}\",\"second\":\"疑是地上霜\"}}\n")).unwrap();
    let p = pairs.to_str().unwrap();
    let (ok, _, err) = unmask(&["eval", "--backend", "cpu", "--pairs", p], &m, &t);
    assert!(!ok && err.contains("1: the text is too long") && !err.contains("vocabulary"), "{err}");
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        "{\"first\":\"床前明月光\",\"second\":\"疑是地上霜\"}\n{\"first\":\"举头望明月\",\"second\":\"低头思故乡\"}\nnot json\n",
    )
    .unwrap();
    let q = mixed.to_str().unwrap();
    let (ok, out, err) = unmask(&["eval", "--backend", "cpu", "--pairs", q, "--limit", "2"], &m, &t);
    assert!(ok && out.contains("pairs     2"), "{out}{err}");
    let (ok, _, err) = unmask(&["eval", "--backend", "cpu", "--pairs", q], &m, &t);
    assert!(!ok && err.contains(":3:"), "{err}");
    let texts = dir.path().join("texts.jsonl");
    std::fs::write(&texts, format!("{{\"text\":\"{}\"}}\n", "床".repeat(1_000_000))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_unmask"))
        .args(["check", "--jsonl", texts.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("1: the text is too long: 1000000 characters"), "{err}");
}
