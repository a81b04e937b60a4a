//! The Unmask web page: a Leptos (CSR) app that runs the poem model on the
//! visitor's GPU through WebGPU, with the CPU reference as fallback.
//!
//! [`state`] is plain Rust (tested natively); [`engine`] loads the model (progress,
//! Cache API) and runs it on WebGPU or the CPU; [`app`] is the UI.

pub mod state;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod engine;
#[cfg(target_arch = "wasm32")]
mod i18n;

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
