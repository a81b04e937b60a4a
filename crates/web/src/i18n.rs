//! UI text in English and Chinese.

use unmask::prosody::VerseError;
use unmask::prosody::{Conflict, Why};
use unmask::request::{Refusal, Rejected, Request};
use unmask::tasks::{invisible, shown, Task, TaskError};
use unmask::tokenizer::TokenizerError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

/// The name of a task in `lang`: a new [`Task`] variant does not compile until it
/// has one.
pub fn task_label(lang: Lang, task: Task) -> &'static str {
    pick(
        lang,
        match task {
            Task::Next => ("Next line", "下一句"),
            Task::Prev => ("Previous line", "上一句"),
            Task::Infill => ("Fill masks", "填空"),
            Task::Poem => ("Whole poem", "整首诗"),
            Task::Pair => ("Couplet: answer a line", "对对子：对下联"),
            Task::PairPrev => ("Couplet: the first line", "对对子：对上联"),
        },
    )
}

/// The note under the text when switching tasks set the text aside: it was written
/// for `from` and is not what `to` takes.
pub fn text_set_aside(lang: Lang, text: &str, from: Task, to: Task) -> String {
    let short: String = text.chars().take(12).collect();
    let more = if text.chars().count() > 12 { "…" } else { "" };
    let (f, tl) = (task_label(lang, from), task_label(lang, to));
    match (lang, to) {
        (Lang::En, Task::Poem) => format!(
            "“{short}{more}” is kept for {f}: a whole poem takes nothing, or one head character a line (acrostic). Back in {f}, it returns."
        ),
        (Lang::Zh, Task::Poem) => {
            format!("「{short}{more}」留给「{f}」：整首诗不用输入，或每句一个开头的字（藏头诗）。回到「{f}」即可取回。")
        }
        (Lang::En, _) => format!("“{short}{more}” is kept for {f}: {tl} takes a line without _. Back in {f}, it returns."),
        (Lang::Zh, _) => format!("「{short}{more}」留给「{f}」：「{tl}」要的是不带 _ 的一句。回到「{f}」即可取回。"),
    }
}

/// Link values the page could not take ([`Request::parse_query`]), in one sentence:
/// each with what its key takes; defaults stand in for them.
pub fn link_rejected(lang: Lang, bad: &[Rejected]) -> String {
    let items = rejected_items(lang, bad, false);
    match lang {
        Lang::En => {
            format!("This link has values the page cannot use: {}. Defaults stand in for them.", items.join("; "))
        }
        Lang::Zh => format!("链接里有页面用不了的值：{}。已改用默认值。", items.join("；")),
    }
}

/// The widget's refusal of attribute values its request cannot take.
pub fn widget_rejected(lang: Lang, bad: &[Rejected]) -> String {
    let items = rejected_items(lang, bad, true);
    match lang {
        Lang::En => format!("not generated: {}", items.join("; ")),
        Lang::Zh => format!("未生成：{}", items.join("；")),
    }
}

/// Each rejected value with what its key takes (`refused`: nothing was cut).
fn rejected_items(lang: Lang, bad: &[Rejected], refused: bool) -> Vec<String> {
    bad.iter()
        .map(|b| match (&b.why, lang) {
            (Refusal::Takes(t), Lang::En) => format!("{}={} ({} takes {t})", b.key, b.value, b.key),
            (Refusal::Takes(t), Lang::Zh) => format!("{}={}（{} 可取 {t}）", b.key, b.value, b.key),
            (Refusal::TooLong { chars, max }, Lang::En) if refused => {
                format!("{} has {chars} characters (at most {max})", b.key)
            }
            (Refusal::TooLong { chars, max }, Lang::En) => format!("{} has {chars} characters (cut to {max})", b.key),
            (Refusal::TooLong { chars, max }, Lang::Zh) if refused => {
                format!("{} 有 {chars} 个字（最多 {max} 个）", b.key)
            }
            (Refusal::TooLong { chars, max }, Lang::Zh) => format!("{} 有 {chars} 个字（只保留前 {max} 个）", b.key),
        })
        .collect()
}

/// Link settings the link's task does not use ([`Request::ignored`]): kept in the
/// form for a whole poem, not used by `task`.
pub fn link_unused(lang: Lang, req: &Request, unused: &[&str]) -> String {
    let items: Vec<String> = unused
        .iter()
        .map(|&k| match k {
            "rhyme" => format!("rhyme={}", req.rhyme),
            _ => format!("pattern={}", req.pattern),
        })
        .collect();
    let (task, poem) = (task_label(lang, req.task), task_label(lang, Task::Poem));
    match (lang, req.task == Task::Poem) {
        (Lang::En, true) => {
            format!("{} applies only with metre on: turn metre on to use it.", items.join(", "))
        }
        (Lang::Zh, true) => format!("{} 只在开启格律时有效：开启格律即可用上。", items.join("、")),
        (Lang::En, false) => format!(
            "{} applies only to a whole poem with metre: {task} does not use it. It is kept for {poem}.",
            items.join(", ")
        ),
        (Lang::Zh, false) => {
            format!("{} 只用于整首诗（开启格律）：「{task}」用不到它，已留给「{poem}」。", items.join("、"))
        }
    }
}

/// The two backends' times on a couplet, as the status bar shows them.
pub fn measured(lang: Lang, cpu_ms: f64, gpu_ms: f64) -> String {
    match lang {
        Lang::En => format!("a couplet: CPU {cpu_ms:.0} ms, WebGPU {gpu_ms:.0} ms"),
        Lang::Zh => format!("写一联：CPU {cpu_ms:.0} 毫秒，WebGPU {gpu_ms:.0} 毫秒"),
    }
}

/// What to type for a task, in `lang`.
pub fn task_hint(lang: Lang, task: Task) -> &'static str {
    pick(
        lang,
        match task {
            Task::Next => ("Type a line; the model writes the line after it.", "输入一句，模型写出下一句。"),
            Task::Prev => ("Type a line; the model writes the line before it.", "输入一句，模型写出上一句。"),
            Task::Infill => ("Type text with _ where characters are missing.", "输入文字，用 _ 表示要填的字。"),
            Task::Poem => {
                ("Optional: characters to start each line with (acrostic).", "可选：每句开头的字（藏头诗）。")
            }
            Task::Pair => (
                "Type the first line of a couplet; the model answers it: opposite tones, no character in the same place.",
                "输入上联，模型对出下联：平仄相对，同位不重字。",
            ),
            Task::PairPrev => (
                "Type the second line of a couplet; the model writes the first line it answers.",
                "输入下联，模型对出上联。",
            ),
        },
    )
}

fn pick(lang: Lang, pair: (&'static str, &'static str)) -> &'static str {
    match lang {
        Lang::En => pair.0,
        Lang::Zh => pair.1,
    }
}

/// Every UI string by key: a key without both languages does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    Title,
    Subtitle,
    Generate,
    Generating,
    Copy,
    Copied,
    Share,
    Examples,
    /// The footer's adapter when the browser hides its name.
    GpuUnnamed,
    Settings,
    Steps,
    Block,
    Remasking,
    LowConfidence,
    Random,
    Temperature,
    Threshold,
    Seed,
    Loading,
    ReadyGpu,
    ReadyCpu,
    SubtitleCpu,
    CpuChosen,
    CpuNoWebgpu,
    CpuGpuFailed,
    CpuDeviceLost,
    Details,
    NoProsody,
    MetreOn,
    PatternField,
    PatternAuto,
    RhymeField,
    Plan,
    RhymeModel,
    RhymeGiven,
    RhymePinned,
    TypedMetre,
    Dismiss,
    CpuFaster,
    CpuVisitor,
    UseCpu,
    UseGpu,
    Candidates,
    CandidatesHint,
    CandidatesExplain,
    Score,
    UseThis,
    Couplet,
    Rhyme,
    MetreOk,
    MetreNone,
    RemaskHint,
    Remask,
    Undo,
    Redo,
    LoadFailed,
    Retry,
    FromCache,
    Denoising,
    Step,
    Replay,
    Result,
    Lang,
    ConfidenceLegend,
    Compare,
    CmpTitle,
    CmpExplain,
    CmpLoading,
    CmpReady,
    CmpRun,
    CmpModel,
    CmpAnswer,
    CmpMs,
    CmpPasses,
    CmpDiffusion,
    CmpAr,
    CmpArPlain,
    CmpArBeam,
    ChartLoading,
    ChartFailed,
    ChartTitle,
    ChartPairs,
    ChartNote,
    ChartDiffusion,
    ChartAr,
    ChartForward,
    ChartReversal,
    ChartBeam,
}

/// The string for `key` in `lang`.
pub fn t(lang: Lang, key: Msg) -> &'static str {
    let pair: (&'static str, &'static str) = match key {
        Msg::Title => ("Unmask — poems completed in both directions", "Unmask · 诗词双向补全"),
        Msg::Subtitle => (
            "A masked-diffusion language model (LLaDA-style) running on your GPU. It fills masks anywhere, so it can write the line before as easily as the line after.",
            "掩码扩散语言模型（LLaDA 式），在你的 GPU 上运行。它能在任何位置填补，所以写上一句和写下一句一样容易。",
        ),
        Msg::Generate => ("Generate", "生成"),
        Msg::Generating => ("Generating…", "生成中…"),
        Msg::Copy => ("Copy", "复制"),
        Msg::Copied => ("Copied", "已复制"),
        Msg::Share => ("Copy link", "复制链接"),
        Msg::Examples => ("Examples:", "示例："),
        Msg::GpuUnnamed => ("WebGPU (the browser does not name the GPU)", "WebGPU（浏览器不公开 GPU 型号）"),
        Msg::Settings => ("Settings", "设置"),
        Msg::Steps => ("Steps", "步数"),
        Msg::Block => ("Block length (0 = all at once)", "块长度（0 = 一次全部）"),
        Msg::Remasking => ("Remasking", "重掩码策略"),
        Msg::LowConfidence => ("lowest confidence first", "低置信度优先"),
        Msg::Random => ("random", "随机"),
        Msg::Temperature => ("Temperature", "温度"),
        Msg::Threshold => ("Confidence threshold (parallel decoding)", "置信度阈值（并行解码）"),
        Msg::Seed => ("Seed (0 = a new one each time)", "随机种子（0 = 每次不同）"),
        Msg::Loading => ("Loading the model…", "正在加载模型…"),
        Msg::ReadyGpu => ("Running on WebGPU", "运行于 WebGPU"),
        Msg::ReadyCpu => ("Running on the CPU", "运行于 CPU"),
        Msg::SubtitleCpu => (
            "A masked-diffusion language model (LLaDA-style) running in your browser. It fills masks anywhere, so it can write the line before as easily as the line after.",
            "掩码扩散语言模型（LLaDA 式），在你的浏览器中运行。它能在任何位置填补，所以写上一句和写下一句一样容易。",
        ),
        Msg::CpuChosen => ("The CPU was chosen in the link (backend=cpu).", "链接中选择了 CPU（backend=cpu）。"),
        Msg::CpuNoWebgpu => (
            "This browser does not offer WebGPU (or it is turned off), so the model runs on the CPU (same results).",
            "此浏览器不支持 WebGPU（或已关闭），模型改在 CPU 上运行（结果相同）。",
        ),
        Msg::CpuGpuFailed => (
            "WebGPU is there, but no usable GPU came of it, so the model runs on the CPU (same results).",
            "浏览器支持 WebGPU，但没有可用的 GPU，模型改在 CPU 上运行（结果相同）。",
        ),
        Msg::CpuDeviceLost => (
            "The GPU stopped responding and could not be restarted, so the model now runs on the CPU.",
            "GPU 停止响应且无法重启，模型现在改在 CPU 上运行。",
        ),
        Msg::Details => ("Details", "详情"),
        Msg::NoProsody => (
            "This model folder has no tone data (prosody.json), which couplets need.",
            "此模型目录没有平仄数据（prosody.json），对对子需要它。",
        ),
        Msg::MetreOn => ("Regulated verse: tone pattern, one rhyme, no 重韵", "格律：平仄、一韵到底、不重韵"),
        Msg::PatternField => ("Pattern", "格式"),
        Msg::PatternAuto => ("any that fits", "自动"),
        Msg::RhymeField => ("Rhyme (group or a character; empty: the model chooses)", "韵（韵部或一个字；空：模型自选）"),
        Msg::Plan => ("Written to", "依照"),
        Msg::RhymeModel => ("chosen by the model", "模型所选"),
        Msg::RhymeGiven => ("as asked", "按所给"),
        Msg::RhymePinned => ("from a pinned character", "取自所定的字"),
        Msg::TypedMetre => ("Metre of the text above", "上面文字的格律"),
        Msg::Dismiss => ("Dismiss", "关闭"),
        Msg::CpuFaster => (
            "On this device the CPU writes a couplet sooner than WebGPU, so the page uses it (same results).",
            "在这台设备上，CPU 写一联比 WebGPU 快，所以页面用 CPU（结果相同）。",
        ),
        Msg::CpuVisitor => ("You chose the CPU (same results).", "你选择了 CPU（结果相同）。"),
        Msg::UseCpu => ("Use the CPU", "改用 CPU"),
        Msg::UseGpu => ("Use WebGPU", "改用 WebGPU"),
        Msg::Candidates => ("Candidates", "候选"),
        Msg::CandidatesHint => ("Several samples of the same request, side by side", "同一请求的几个样本，并排比较"),
        Msg::CandidatesExplain => (
            "Samples of the same request, best first by the model's own score (mean log-probability of each generated character when it was unmasked). Pick one to keep editing it.",
            "同一请求的几个样本，按模型自己的评分排序（每个生成的字被揭开时的平均对数概率）。选一个继续修改。",
        ),
        Msg::Score => ("score", "评分"),
        Msg::UseThis => ("Keep editing this", "用这一个"),
        Msg::Couplet => ("couplet (对对子)", "对对子"),
        Msg::Rhyme => ("rhyme", "韵"),
        Msg::MetreOk => ("follows the rules of regulated verse", "合乎格律"),
        Msg::MetreNone => (
            "tones only (平 level, 仄 oblique, 中 either): the rules are checked for a whole 绝句 or 律诗, and for 对对子",
            "只标平仄（中 为可平可仄）：格律只检查完整的绝句、律诗和对对子",
        ),
        Msg::RemaskHint => ("Tap characters to mask them, then regenerate just those:", "点选要重写的字，只重新生成它们："),
        Msg::Remask => ("Regenerate marked", "重写所选"),
        Msg::Undo => ("Undo", "撤销"),
        Msg::Redo => ("Redo", "重做"),
        Msg::LoadFailed => ("The model could not be loaded:", "模型加载失败："),
        Msg::Retry => ("Retry", "重试"),
        Msg::FromCache => ("from cache", "来自缓存"),
        Msg::Denoising => ("Denoising", "去噪过程"),
        Msg::Step => ("Step", "第几步"),
        Msg::Replay => ("Replay", "重播"),
        Msg::Result => ("Result", "结果"),
        Msg::Lang => ("中文", "English"),
        Msg::ConfidenceLegend => ("Colour = the model's confidence when it unmasked the character.", "颜色 = 模型揭开该字时的置信度。"),
        Msg::Compare => ("⇄ Diffusion vs autoregressive", "⇄ 扩散 vs 自回归"),
        Msg::CmpTitle => ("Diffusion vs its autoregressive twin", "扩散模型与它的自回归孪生模型"),
        Msg::CmpExplain => (
            "Same size, tokenizer and data; the diffusion model started from the autoregressive one's weights and was then trained to unmask in any order. The autoregressive one reads left to right only. Given a line, which one recalls the line before it?",
            "两个模型大小、词表、数据相同；扩散模型从自回归模型的权重出发，再训练成可按任意顺序揭开。自回归模型只能从左往右读。给出一句，谁能想起它的上一句？",
        ),
        Msg::CmpLoading => ("Loading the autoregressive model…", "正在加载自回归模型…"),
        Msg::CmpReady => ("Both models ready", "两个模型已就绪"),
        Msg::CmpRun => ("Compare", "对比"),
        Msg::CmpModel => ("Model", "模型"),
        Msg::CmpAnswer => ("Answer", "答案"),
        Msg::CmpPasses => ("Forward passes", "前向次数"),
        Msg::CmpMs => ("ms", "毫秒"),
        Msg::CmpDiffusion => ("Diffusion (unmasking)", "扩散（逐步揭开）"),
        Msg::CmpAr => ("Autoregressive, left to right", "自回归，从左到右"),
        Msg::CmpArPlain => ("Autoregressive, left to right (cannot see the given line)", "自回归，从左到右（看不到给出的句子）"),
        Msg::CmpArBeam => ("Autoregressive, candidates ranked by p(A)·p(B|A), beam width", "自回归，按 p(A)·p(B|A) 排序候选，束宽"),
        Msg::ChartLoading => ("Loading the evaluation results…", "正在加载评测结果…"),
        Msg::ChartFailed => ("The evaluation results could not be loaded:", "评测结果加载失败："),
        Msg::ChartTitle => ("Famous couplets recalled, exact match", "名句联想，逐字一致"),
        Msg::ChartPairs => ("couplets", "联"),
        Msg::ChartNote => ("the whole evaluation set, measured with unmask eval", "整个评测集，由 unmask eval 测得"),
        Msg::ChartDiffusion => ("Diffusion", "扩散"),
        Msg::ChartAr => ("Autoregressive", "自回归"),
        Msg::ChartForward => ("Next line (forward)", "下一句（正向）"),
        Msg::ChartReversal => ("Previous line (reversal)", "上一句（反向）"),
        Msg::ChartBeam => ("Previous line, candidates ranked by p(A)·p(B|A), beam width", "上一句，按 p(A)·p(B|A) 排序候选，束宽"),
    };
    pick(lang, pair)
}

/// A setting the request's task would not use (`EngineError::Ignored`), in `lang`.
pub fn ignored_error(lang: Lang, setting: &'static str) -> String {
    match lang {
        Lang::En => unmask::engine::EngineError::Ignored(setting).to_string(),
        Lang::Zh => format!("`{setting}` 只用于整首诗（task=poem，开启格律）：请去掉它"),
    }
}

/// Why a request's verse rules could not be made, in `lang`.
pub fn verse_error(lang: Lang, e: &VerseError) -> String {
    match (lang, e) {
        (_, VerseError::NoProsody) => t(lang, Msg::NoProsody).into(),
        (Lang::En, _) => e.to_string(),
        (Lang::Zh, VerseError::UnknownGroup(g)) => {
            format!("不认识的韵「{g}」：请给出平声韵部（上平一东 … 下平十五咸）、韵部名的末字，或一个要押韵的平声字。")
        }
        // A pattern name from an embedding page's attribute, or a template the task
        // builder made: for the developer, who reads the English.
        (Lang::Zh, VerseError::Template(_)) => e.to_string(),
    }
}

/// What breaks a rule at one character, in the visitor's language.
pub fn why(lang: Lang, w: &Why) -> String {
    match (lang, w) {
        (Lang::En, w) => w.to_string(),
        (Lang::Zh, Why::Tone { got, want }) => format!("{}，格律要求{}", got.mark(), want.mark()),
        (Lang::Zh, Why::OffRhyme { group: Some(g) }) => format!("不押{g}"),
        (Lang::Zh, Why::OffRhyme { group: None }) => "不押本诗的韵".into(),
        (Lang::Zh, Why::CoupletFirstEnd) => "上联应以仄声收尾".into(),
        (Lang::Zh, Why::CoupletTone { got, of, want }) => format!("{}，对「{of}」应为{}", got.mark(), want.mark()),
        (Lang::Zh, Why::CoupletRepeat { ch }) => format!("「{ch}」与上联同一位置的字相同"),
        (Lang::Zh, Why::RepeatedRhyme { ch, line }) => format!("重韵：第{line}句已押「{ch}」"),
    }
}

/// A pinned character against the plan, in the visitor's language.
pub fn conflict(lang: Lang, c: &Conflict) -> String {
    match lang {
        Lang::En => c.to_string(),
        Lang::Zh => format!("所定的「{}」：{}", c.ch, why(lang, &c.why)),
    }
}

/// The line under a result: steps, wall time and where it ran.
pub fn run_meta(lang: Lang, steps: usize, ms: f64, on_gpu: bool) -> String {
    let device = if on_gpu { "WebGPU" } else { "CPU" };
    match lang {
        Lang::En => format!("{steps} steps · {ms:.0} ms · {device}"),
        Lang::Zh => format!("{steps} 步 · {ms:.0} 毫秒 · {device}"),
    }
}

/// A task's input error in the visitor's language (the page and the widget): a new
/// [`TaskError`] variant does not compile until it has its Chinese.
pub fn task_error(lang: Lang, e: &TaskError) -> String {
    if lang == Lang::En {
        return e.to_string();
    }
    match e {
        TaskError::Empty => "请输入文字。".into(),
        TaskError::Unknown(u) => {
            let ch = |c: char| if invisible(c) { shown(c) } else { format!("「{c}」") };
            let list = u.iter().map(|c| format!("{}(第 {} 个字)", ch(c.ch), c.char_index + 1));
            let hint = if u.iter().any(|c| unmask::tokenizer::is_blank(c.ch)) {
                "；_ 只在填空里标出要填的字"
            } else {
                ""
            };
            format!("模型不认识这些字：{}{hint}", list.collect::<Vec<_>>().join("、"))
        }
        TaskError::TooLong { len, max } => format!("太长了：连同掩码和标点共 {len} 个位置，模型最多处理 {max} 个。"),
        TaskError::TooManyChars { len, max } => format!("太长了：{len} 个字，最多 {max} 个。"),
        TaskError::NoMasks => "没有要填的位置：用 _ 标出要填的字。".into(),
        TaskError::PunctuationInLine { line, ch } => format!("第 {line} 句里有标点「{ch}」：只填字，标点由诗体安排。"),
        TaskError::StartsWithPunctuation => "开头是标点：请从一句的第一个字写起。".into(),
        TaskError::NoLineBeforePunctuation => "标点前没有字：请先写出一句。".into(),
        TaskError::LineTooLong { line, max } => format!("第 {line} 句超过 {max} 个字。"),
        TaskError::TooManyLines { form, got } => {
            format!("{}只有 {} 句，所给的要 {got} 句。", form.name(), form.lines())
        }
        TaskError::Tokenizer(TokenizerError::SpecialText { token, char_index }) => {
            format!("「{token}」(第 {} 个字)是控制符，不是文字；要留给模型填的字，请输入 _", char_index + 1)
        }
        // The bundled tokenizer failing, not the visitor's text.
        TaskError::Tokenizer(other) => format!("分词出错：{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unmask::tasks::PoemForm;
    use unmask::tokenizer::UnknownChar;

    /// Every input error a visitor can cause reads in Chinese on the Chinese page:
    /// no English words left (token names and `_` are what the visitor typed).
    #[test]
    fn input_errors_read_in_chinese() {
        let errors = [
            TaskError::Empty,
            TaskError::Unknown(vec![UnknownChar { char_index: 5, ch: '😀' }, UnknownChar { char_index: 6, ch: '_' }]),
            TaskError::TooLong { len: 122, max: 64 },
            TaskError::TooManyChars { len: 500, max: 200 },
            TaskError::NoMasks,
            TaskError::PunctuationInLine { line: 2, ch: '，' },
            TaskError::StartsWithPunctuation,
            TaskError::NoLineBeforePunctuation,
            TaskError::LineTooLong { line: 1, max: 5 },
            TaskError::TooManyLines { form: PoemForm::WuJue, got: 5 },
            TaskError::Tokenizer(TokenizerError::SpecialText { token: "[MASK]", char_index: 0 }),
        ];
        for e in &errors {
            let zh = task_error(Lang::Zh, e);
            assert!(!zh.chars().any(|c| c.is_ascii_lowercase()), "{zh}");
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{zh}");
            assert_eq!(task_error(Lang::En, e), e.to_string());
        }
        // Invisible and direction-changing characters by code point, as in English.
        let bidi = TaskError::Unknown(vec![UnknownChar { char_index: 0, ch: '\u{202E}' }]);
        assert!(task_error(Lang::Zh, &bidi).contains("U+202E(第 1 个字)"));
        let emoji = TaskError::Unknown(vec![UnknownChar { char_index: 5, ch: '😀' }]);
        assert_eq!(task_error(Lang::Zh, &emoji), "模型不认识这些字：「😀」(第 6 个字)");
    }
}
