//! The API behind the embeddable `<unmask-poem>` element (www/unmask-widget.js):
//! one engine per model folder, shared by every widget on the page, and requests
//! in the same query-string form as the page's shareable links.

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::prelude::*;

use crate::engine::{load_engine, BackendInfo, Engine};
use crate::i18n::{task_label, Lang};
use crate::state::{Request, Task};

thread_local! {
    // Engines by model folder; `None` while one is loading or generating (the
    // element serialises its calls per folder).
    static ENGINES: RefCell<HashMap<String, Option<Engine>>> = RefCell::new(HashMap::new());
}

fn put(base: &str, e: Engine) {
    ENGINES.with(|m| m.borrow_mut().insert(base.to_string(), Some(e)));
}

/// Loads (once) the model in folder `base`; `progress(got, total)` is called while
/// it downloads. Resolves to a JSON description of the backend.
#[wasm_bindgen]
pub async fn widget_load(base: String, progress: js_sys::Function) -> Result<String, JsValue> {
    let have = ENGINES.with(|m| m.borrow().contains_key(&base));
    if !have {
        let report = move |got: u64, total: Option<u64>| {
            let _ = progress.call2(&JsValue::NULL, &(got as f64).into(), &total.map(|t| t as f64).into());
        };
        // The faster backend, as the page measures and remembers it.
        let (engine, _) =
            load_engine(&base, crate::state::Choice::Auto, &report).await.map_err(|e| JsValue::from_str(&e))?;
        put(&base, engine);
    }
    ENGINES.with(|m| match m.borrow().get(&base) {
        Some(Some(e)) => Ok(describe(&e.backend)),
        _ => Ok("{\"backend\":\"busy\"}".into()),
    })
}

/// The tasks as `[[key, label], …]` in `lang` (`en` or `zh`): the element's mode
/// menu, so the script never repeats the list.
#[wasm_bindgen]
pub fn widget_tasks(lang: String) -> String {
    let lang = if lang == "en" { Lang::En } else { Lang::Zh };
    let list: Vec<[&str; 2]> = Task::ALL.iter().map(|&tk| [tk.key(), task_label(lang, tk)]).collect();
    serde_json::to_string(&list).expect("strings serialize")
}

fn describe(b: &BackendInfo) -> String {
    match b {
        BackendInfo::WebGpu(n) => serde_json::json!({ "backend": "webgpu", "adapter": n }).to_string(),
        BackendInfo::Cpu(why) => {
            serde_json::json!({ "backend": "cpu", "reason": why.reason.key(), "why": why.detail }).to_string()
        }
    }
}

/// Runs one request (`task=next&text=…&steps=…`, the page's query form) on the model
/// in `base`. Resolves to JSON `{text, answer, steps, ms, gpu, run, pattern, rhyme,
/// violations}` (`run`: steps, time and device in words, in the widget's language) (the last three: the verse rules it was written to and the metre
/// checker's count, or null); rejects with a readable message for bad input.
#[wasm_bindgen]
pub async fn widget_generate(base: String, query: String) -> Result<String, JsValue> {
    // The element's `lang` travels in the query: errors in the widget's language.
    let lang = if query.split('&').any(|kv| kv == "lang=en") { Lang::En } else { Lang::Zh };
    // An attribute the request cannot take is refused, not replaced by a default.
    let (req, bad) = Request::parse_query(&query);
    if !bad.is_empty() {
        return Err(JsValue::from_str(&crate::i18n::widget_rejected(lang, &bad)));
    }
    let Some(mut engine) = ENGINES.with(|m| m.borrow_mut().get_mut(&base).and_then(Option::take)) else {
        return Err(JsValue::from_str("the model is not loaded yet"));
    };
    let req = req.with_fresh_seed(crate::shared::fresh_seed);
    let out = match engine.prepare(&req, lang) {
        Err(e) => Err(e),
        Ok(prepared) => {
            let t0 = crate::shared::now_ms();
            engine.run(&prepared, &|_, _| {}).await.map(|o| {
                let ms = crate::shared::now_ms() - t0;
                let steps = o.generation.steps_run;
                // The checker's verdict, for the element's line under the text.
                let metre = o.metre.filter(|r| r.form.is_some() || r.couplet);
                serde_json::json!({
                    "answer": o.answer,
                    "text": o.text,
                    "steps": steps,
                    "ms": ms,
                    "gpu": engine.on_gpu(),
                    "run": crate::i18n::run_meta(lang, steps, ms, engine.on_gpu()),
                    "pattern": prepared.plan.as_ref().map(|p| p.pattern.clone()),
                    "rhyme": prepared.plan.and_then(|p| p.rhyme_group),
                    "violations": metre.map(|r| r.violations),
                })
                .to_string()
            })
        }
    };
    put(&base, engine);
    out.map_err(|e| JsValue::from_str(&e))
}
