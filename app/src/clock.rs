//! A clock signal for things that refresh or say "N s ago". It ticks in the browser only; on the
//! server it reads zero, so the server rendering never depends on the time it was made.

use leptos::prelude::*;

/// The browser clock (Unix milliseconds), updated every `period_ms`.
#[cfg(feature = "hydrate")]
pub fn ticking(period_ms: u64) -> RwSignal<f64> {
    let clock = RwSignal::new(js_sys::Date::now());
    match set_interval_with_handle(
        move || clock.set(js_sys::Date::now()),
        std::time::Duration::from_millis(period_ms),
    ) {
        Ok(handle) => on_cleanup(move || handle.clear()),
        Err(error) => leptos::logging::warn!("clock does not tick: {error:?}"),
    }
    clock
}

/// On the server: a clock stopped at zero.
#[cfg(not(feature = "hydrate"))]
pub fn ticking(_period_ms: u64) -> RwSignal<f64> {
    RwSignal::new(0.0)
}
