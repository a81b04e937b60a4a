//! What the page, its compare view and the widget share: the page's engine slot,
//! the clock, fresh seeds and sleeping without blocking the browser.

use std::cell::RefCell;

use crate::engine::Engine;

/// Folder of the autoregressive twin, next to the page (the compare view runs it,
/// the evaluation chart reads its report).
pub(crate) const AR_DIR: &str = "model-ar/";

thread_local! {
    // The engine is not Send; it lives here and is taken out while it generates.
    pub(crate) static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Test hook (`window.unmaskDebug.loseDevice()`): destroys the GPU device so the
/// next generation has to recover.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn debug_lose_device() -> bool {
    ENGINE.with(|e| e.borrow().as_ref().map(|e| e.lose_device()).is_some())
}

/// Milliseconds on the page's clock (`performance.now()`).
pub(crate) fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// A random seed for a sampling request whose seed is not fixed.
pub(crate) fn fresh_seed() -> u32 {
    (js_sys::Math::random() * u32::MAX as f64) as u32
}

/// Resolves after `ms` milliseconds.
pub(crate) async fn sleep_ms(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

/// The page's query string (`?…`), empty if there is none.
pub(crate) fn query() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}
