//! The page's layout: the header, the status bar and the components of `form`
//! (tabs, input, examples, settings) and `result` (the candidates, the result and
//! the denoising view), each given the page's state ([`Page`]) as a prop.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::engine::{BackendInfo, Source};
use crate::i18n::{t, Lang, Msg};
use crate::page::{load_model, Load, Page};

#[component]
pub fn App() -> impl IntoView {
    let page = Page::new();
    let Page { lang, load, show_compare, .. } = page;
    spawn_local(load_model(load, page.backend));
    // A click's results land here.
    Effect::new(move |_| {
        if let Some(r) = page.run.value().get() {
            page.finish(r);
        }
    });
    // A shared link shows its result, not only a filled form: generate once the model
    // is ready.
    if page.shared.get_untracked().is_some() && !show_compare.get_untracked() {
        let done = StoredValue::new(false);
        Effect::new(move |_| {
            if page.ready() && !done.get_value() {
                done.set_value(true);
                page.generate(1);
            }
        });
    }
    let main_ready = Signal::derive(move || page.ready());

    view! {
        <main id="app"
            data-state=move || match load.get() { Load::Loading { .. } => "loading", Load::Ready { .. } => "ready", Load::Failed(_) => "failed" }
            data-backend=move || match load.get() { Load::Ready { backend: BackendInfo::WebGpu(_), .. } => "webgpu", Load::Ready { .. } => "cpu", _ => "" }
            data-source=move || match load.get() { Load::Ready { source: Source::Cache, .. } => "cache", Load::Ready { .. } => "network", _ => "" }
            data-load-ms=move || match load.get() { Load::Ready { ms, .. } => format!("{ms:.0}"), _ => String::new() }
        >
            <header>
                <h1>{move || t(lang.get(), Msg::Title)}</h1>
                <button class="lang" on:click=move |_| { lang.update(|l| *l = if *l == Lang::En { Lang::Zh } else { Lang::En }); crate::page::save_lang(lang.get_untracked()); page.write_url(); }>
                    {move || t(lang.get(), Msg::Lang)}
                </button>
            </header>
            <p class="subtitle">{move || t(lang.get(), if matches!(load.get(), Load::Ready { backend: BackendInfo::Cpu(_), .. }) { Msg::SubtitleCpu } else { Msg::Subtitle })}</p>
            <StatusBar load=load lang=lang />
            <crate::form::Tabs p=page />
            <Show when=move || show_compare.get()>
                <crate::compare::Compare lang=lang main_ready=main_ready initial="疑是地上霜".to_string() />
            </Show>
            // The compare view has its own input: the page's form and result step aside.
            <crate::form::Input p=page />
            <crate::form::Settings p=page />
            <crate::result::Candidates p=page />
            <crate::result::ResultView p=page />
            <footer>
                <a href="https://arxiv.org/abs/2502.09992">LLaDA</a>
                // The adapter, once on WebGPU (the status bar names the CPU path).
                <span>{move || match load.get() {
                    Load::Ready { backend: BackendInfo::WebGpu(n), .. } if n == unmask::gpu::context::UNNAMED_WEBGPU => {
                        format!(" · {}", t(lang.get(), Msg::GpuUnnamed))
                    }
                    Load::Ready { backend: BackendInfo::WebGpu(n), .. } => format!(" · {n}"),
                    _ => String::new()
                }}</span>
            </footer>
        </main>
    }
}

/// Model loading progress, the backend in use, and why not WebGPU if so.
#[component]
fn StatusBar(load: RwSignal<Load>, lang: RwSignal<Lang>) -> impl IntoView {
    view! {
        <div id="status" class="status">
            {move || match load.get() {
                Load::Loading { got, total } => {
                    let pct = total.map(|t| (got as f64 / t.max(1) as f64 * 100.0).round()).unwrap_or(0.0);
                    view! {
                        <span>{t(lang.get(), Msg::Loading)}</span>
                        <progress max="100" value=pct.to_string()></progress>
                        <span class="bytes">{format!("{:.1} / {} MB", got as f64 / 1e6, total.map(|t| format!("{:.1}", t as f64 / 1e6)).unwrap_or("?".into()))}</span>
                    }.into_any()
                }
                Load::Ready { backend, measured, switchable, source, ms } => {
                    let l = lang.get();
                    let on_gpu = matches!(backend, BackendInfo::WebGpu(_));
                    let (label, why) = match &backend {
                        BackendInfo::WebGpu(_) => (t(l, Msg::ReadyGpu), None),
                        BackendInfo::Cpu(w) => (t(l, Msg::ReadyCpu), Some(w.clone())),
                    };
                    let src = if source == Source::Cache { format!(" · {}", t(l, Msg::FromCache)) } else { String::new() };
                    view! {
                        <span class="ok">{label}</span>
                        <span class="meta">{format!(" · {ms:.0} ms{src}")}</span>
                        {measured.map(|m| view! { <span class="measured">{format!(" · {}", crate::i18n::measured(l, m.cpu_ms, m.gpu_ms))}</span> })}
                        {switchable.then(|| view! {
                            <button id="switch-backend" class="switch" on:click=move |_| spawn_local(crate::page::switch_backend(load))>
                                {t(l, if on_gpu { Msg::UseCpu } else { Msg::UseGpu })}
                            </button>
                        })}
                        {why.map(|w| view! {
                            <p class="why" data-reason=w.reason.key()>{t(l, w.reason.msg())}</p>
                            <details class="why-detail"><summary>{t(l, Msg::Details)}</summary><code>{w.detail}</code></details>
                        })}
                    }.into_any()
                }
                Load::Failed(e) => view! {
                    <span class="error">{t(lang.get(), Msg::LoadFailed)}" "{e}</span>
                    <button on:click=move |_| { let _ = web_sys::window().map(|w| w.location().reload()); }>{t(lang.get(), Msg::Retry)}</button>
                }.into_any(),
            }}
        </div>
    }
}
