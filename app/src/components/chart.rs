//! One ECharts chart. On the server it renders an empty, sized box; in the browser an effect
//! draws the panel into it and redraws on every change, replacing the whole option (ECharts
//! `notMerge`), so a series that disappears is gone from the chart too.

use leptos::prelude::*;

use crate::panels::PanelSpec;
use crate::wire::Panel;

/// A chart of one panel over a time window.
#[component]
pub fn Chart(
    /// The panel's description.
    spec: PanelSpec,
    /// The panel's data.
    panel: Signal<Option<Panel>>,
    /// The time window `(start_ms, end_ms)` the x axis spans.
    window: Signal<(i64, i64)>,
) -> impl IntoView {
    let dom_id = format!("chart-{}", panel_key(&spec));
    draw(dom_id.clone(), spec, panel, window);
    view! { <div class="chart" id=dom_id role="img" aria-label=spec.title></div> }
}

/// The panel id as used in DOM ids and test hooks (`inference_volume`, …).
pub fn panel_key(spec: &PanelSpec) -> &'static str {
    use crate::wire::PanelId;
    match spec.id {
        PanelId::InferenceVolume => "inference_volume",
        PanelId::ResponseTime => "response_time",
        PanelId::Replicas => "replicas",
        PanelId::ConcurrentRequests => "concurrent_requests",
    }
}

#[cfg(not(feature = "hydrate"))]
fn draw(
    _dom_id: String,
    _spec: PanelSpec,
    _panel: Signal<Option<Panel>>,
    _window: Signal<(i64, i64)>,
) {
}

#[cfg(feature = "hydrate")]
fn draw(dom_id: String, spec: PanelSpec, panel: Signal<Option<Panel>>, window: Signal<(i64, i64)>) {
    use charming::{Echarts, WasmRenderer};
    use wasm_bindgen::{JsCast, JsValue};

    use crate::panels::Theme;

    let theme = use_context::<RwSignal<Theme>>().unwrap_or_else(|| RwSignal::new(Theme::Light));
    let instance: StoredValue<Option<Echarts>, LocalStorage> = StoredValue::new_local(None);

    fn set_option(instance: &Echarts, option: &charming::Chart) -> Result<(), JsValue> {
        let option = serde_wasm_bindgen::to_value(option)
            .map_err(|error| JsValue::from_str(&error.to_string()))?;
        let settings = js_sys::Object::new();
        js_sys::Reflect::set(&settings, &"notMerge".into(), &JsValue::TRUE)?;
        js_sys::Reflect::set(&settings, &"lazyUpdate".into(), &JsValue::TRUE)?;
        let set_option: js_sys::Function =
            js_sys::Reflect::get(instance, &"setOption".into())?.dyn_into()?;
        set_option.call2(instance, &option, &settings)?;
        Ok(())
    }

    Effect::new(move |_| {
        let Some(panel) = panel.get() else {
            return;
        };
        let (start_ms, end_ms) = window.get();
        let option = crate::chart_option::chart(&panel, &spec, theme.get(), start_ms, end_ms);
        instance.update_value(|slot| {
            if slot.is_none() {
                match WasmRenderer::new_opt(None, None).render(&dom_id, &charming::Chart::new()) {
                    Ok(created) => *slot = Some(created),
                    Err(error) => {
                        leptos::logging::warn!("cannot create chart {dom_id}: {error:?}");
                        return;
                    }
                }
            }
            if let Some(chart) = slot
                && let Err(error) = set_option(chart, &option)
            {
                leptos::logging::warn!("cannot draw chart {dom_id}: {error:?}");
            }
        });
    });

    let resize = window_event_listener(leptos::ev::resize, move |_| {
        instance.with_value(|slot| {
            if let Some(chart) = slot {
                chart.resize(js_sys::Object::new().into());
            }
        });
    });
    on_cleanup(move || {
        resize.remove();
        instance.update_value(|slot| {
            if let Some(chart) = slot.take() {
                let disposed = js_sys::Reflect::get(&chart, &"dispose".into())
                    .and_then(|dispose| dispose.dyn_into::<js_sys::Function>())
                    .and_then(|dispose| dispose.call0(&chart));
                if let Err(error) = disposed {
                    leptos::logging::warn!("cannot dispose a chart: {error:?}");
                }
            }
        });
    });
}
