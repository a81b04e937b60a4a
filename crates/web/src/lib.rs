//! The Unmask web page: a Leptos (CSR) app that runs the poem model on the
//! visitor's GPU through WebGPU, with the fast CPU path (wasm SIMD) as fallback, and the API of
//! the embeddable widget.
//!
//! [`state`] and [`i18n`] are plain Rust (tested natively); `engine` loads the model (progress,
//! Cache API) and runs it on WebGPU or the CPU; `shared` holds what the page, the
//! compare view and the widget share (the page's engine, the clock); `page` is the
//! page's state, `app` its layout, `form` and `result` its components (given the
//! state as a prop); `compare` is its
//! diffusion-vs-autoregressive view, `chart` that view's chart of the eval results;
//! `widget` is what `www/unmask-widget.js` calls, `bench` what `www/bench.html`
//! calls; [`i18n`] holds every UI string in both languages.

pub mod i18n;
pub mod state;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod bench;
#[cfg(target_arch = "wasm32")]
mod chart;
#[cfg(target_arch = "wasm32")]
mod compare;
#[cfg(target_arch = "wasm32")]
mod engine;
#[cfg(target_arch = "wasm32")]
mod form;
#[cfg(target_arch = "wasm32")]
mod page;
#[cfg(target_arch = "wasm32")]
mod result;
#[cfg(target_arch = "wasm32")]
mod shared;
#[cfg(target_arch = "wasm32")]
mod widget;

/// Mounts the page (index.html calls this; the widget does not).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn start_page() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
