//! One ECharts chart. On the server it renders an empty, sized box; in the browser an effect
//! draws the panel into it and redraws on every change, replacing the whole option (ECharts
//! `notMerge`), so a series that disappears is gone from the chart too. Dragging across the
//! chart selects a time range and reports it (the page turns it into an absolute range); while
//! the mouse button is down on the chart, redraws wait, so live data does not cut a drag short.

use leptos::prelude::*;

use crate::chart_option::{Marks, MemberPick};
use crate::panels::PanelSpec;
use crate::wire::Panel;

/// A chart of one panel over a time window.
#[component]
pub fn Chart(
    /// The DOM id of the chart element (stable per card).
    dom_id: String,
    /// The panel's description.
    spec: Signal<PanelSpec>,
    /// The panel's data.
    panel: Signal<Option<Panel>>,
    /// The time window `(start_ms, end_ms)` the x axis spans.
    window: Signal<(i64, i64)>,
    /// Called with `(from_ms, to_ms)` when the user drags across the chart.
    on_zoom: Callback<(i64, i64)>,
    /// Drawn over the lines: findings' evidence, replica events, the autoscaler's target.
    #[prop(optional)]
    marks: Option<Signal<Marks>>,
    /// Which members to name when there are too many to name them all.
    #[prop(optional)]
    pick: Option<Signal<Option<MemberPick>>>,
) -> impl IntoView {
    let marks = marks.unwrap_or_else(|| Signal::derive(Marks::default));
    let pick = pick.unwrap_or_else(|| Signal::derive(|| None));
    draw(dom_id.clone(), spec, panel, window, on_zoom, marks, pick);
    let label = move || spec.get().title;
    view! { <div class="chart" id=dom_id role="img" aria-label=label></div> }
}

#[cfg(not(feature = "hydrate"))]
fn draw(
    _dom_id: String,
    _spec: Signal<PanelSpec>,
    _panel: Signal<Option<Panel>>,
    _window: Signal<(i64, i64)>,
    _on_zoom: Callback<(i64, i64)>,
    _marks: Signal<Marks>,
    _pick: Signal<Option<MemberPick>>,
) {
}

#[cfg(feature = "hydrate")]
fn draw(
    dom_id: String,
    spec: Signal<PanelSpec>,
    panel: Signal<Option<Panel>>,
    window: Signal<(i64, i64)>,
    on_zoom: Callback<(i64, i64)>,
    marks: Signal<Marks>,
    pick: Signal<Option<MemberPick>>,
) {
    use charming::{Echarts, WasmRenderer};
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};

    use crate::panels::Theme;

    type ZoomListener = Closure<dyn FnMut(JsValue)>;
    type OnScreen = Closure<dyn FnMut(js_sys::Array)>;
    /// The chart, its listeners (kept alive with it), and what its option last looked like.
    struct Drawn {
        chart: Echarts,
        _listeners: Vec<ZoomListener>,
        /// Watches whether the chart is on screen; disconnected on cleanup.
        observer: Option<web_sys::IntersectionObserver>,
        _on_screen: Option<OnScreen>,
        /// The panel, theme and series last drawn: a change needs a full replace.
        shape: String,
        /// The window last drawn (a new range is drawn even off screen).
        window_ms: (i64, i64),
    }

    let theme = use_context::<RwSignal<Theme>>().unwrap_or_else(|| RwSignal::new(Theme::Light));
    let instance: StoredValue<Option<Drawn>, LocalStorage> = StoredValue::new_local(None);
    let pressed = StoredValue::new(false);
    let pending: StoredValue<Option<(charming::Chart, String)>, LocalStorage> =
        StoredValue::new_local(None);
    // Charts off screen are not redrawn (a page left open costs only what it shows); one
    // scrolled into view draws its current data at once.
    let visible = RwSignal::new(true);

    fn call(target: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
        let function: js_sys::Function =
            js_sys::Reflect::get(target, &method.into())?.dyn_into()?;
        let array = js_sys::Array::new();
        for arg in args {
            array.push(arg);
        }
        function.apply(target, &array)
    }

    /// Draws `option`. When the panel, theme or set of series changed (`shape`), the whole
    /// option is replaced; otherwise (the same series in the same order) it is merged, so
    /// ECharts updates its components and series in place — much cheaper once a second.
    fn apply(drawn: &mut Drawn, option: &charming::Chart, shape: String) -> Result<(), JsValue> {
        let replace_all = drawn.shape != shape;
        drawn.shape = shape;
        let option = serde_wasm_bindgen::to_value(option)
            .map_err(|error| JsValue::from_str(&error.to_string()))?;
        // The zoom tool only works while the toolbox is shown; its icons are drawn at size 0
        // (charming has no `itemSize`, so it is set here).
        let toolbox = js_sys::Reflect::get(&option, &"toolbox".into())?;
        if toolbox.is_object() {
            js_sys::Reflect::set(&toolbox, &"itemSize".into(), &JsValue::from(0))?;
        }
        // A tooltip listing dozens of replicas stays inside its chart instead of widening the
        // page (charming has no `confine` either).
        let tooltip = js_sys::Reflect::get(&option, &"tooltip".into())?;
        if tooltip.is_object() {
            js_sys::Reflect::set(&tooltip, &"confine".into(), &JsValue::TRUE)?;
        }
        let settings = js_sys::Object::new();
        if replace_all {
            js_sys::Reflect::set(&settings, &"notMerge".into(), &JsValue::TRUE)?;
        } else {
            // Rendered on the next animation frame, with the other charts' updates.
            js_sys::Reflect::set(&settings, &"lazyUpdate".into(), &JsValue::TRUE)?;
        }
        call(&drawn.chart, "setOption", &[&option, &settings])?;
        if !replace_all {
            // The toolbox, and the zoom tool switched on in it, survived the merge.
            return Ok(());
        }
        // Dragging selects a range (the toolbox's zoom tool, always on).
        let action = js_sys::Object::new();
        js_sys::Reflect::set(&action, &"type".into(), &"takeGlobalCursor".into())?;
        js_sys::Reflect::set(&action, &"key".into(), &"dataZoomSelect".into())?;
        js_sys::Reflect::set(&action, &"dataZoomSelectActive".into(), &JsValue::TRUE)?;
        call(&drawn.chart, "dispatchAction", &[&action])?;
        Ok(())
    }

    /// Watches `dom_id` and sets `visible` as it enters or leaves the screen (with a margin).
    fn observe(
        dom_id: &str,
        visible: RwSignal<bool>,
    ) -> Option<(web_sys::IntersectionObserver, OnScreen)> {
        let element = web_sys::window()?.document()?.get_element_by_id(dom_id)?;
        let callback: OnScreen = Closure::new(move |entries: js_sys::Array| {
            let last = entries.get(entries.length().saturating_sub(1));
            if let Some(on_screen) = js_sys::Reflect::get(&last, &"isIntersecting".into())
                .ok()
                .and_then(|value| value.as_bool())
            {
                visible.set(on_screen);
            }
        });
        let options = web_sys::IntersectionObserverInit::new();
        options.set_root_margin("50px");
        let observer = web_sys::IntersectionObserver::new_with_options(
            callback.as_ref().unchecked_ref(),
            &options,
        )
        .ok()?;
        observer.observe(&element);
        Some((observer, callback))
    }

    /// `(startValue, endValue)` of a `datazoom` event.
    fn zoomed_range(event: &JsValue) -> Option<(i64, i64)> {
        let batch = js_sys::Reflect::get(event, &"batch".into()).ok()?;
        let first = js_sys::Reflect::get(&batch, &0.into()).ok()?;
        let start = js_sys::Reflect::get(&first, &"startValue".into())
            .ok()?
            .as_f64()?;
        let end = js_sys::Reflect::get(&first, &"endValue".into())
            .ok()?
            .as_f64()?;
        (end > start).then_some((start as i64, end as i64))
    }

    Effect::new(move |_| {
        let on_screen = visible.get();
        let Some(panel) = panel.get() else {
            return;
        };
        let (start_ms, end_ms) = window.get();
        // Off screen, live updates wait; a new range or panel is still drawn, so the whole
        // page always shows the range chosen. A live window slides a little at every update;
        // another range has another width or starts at least half a width away (a step).
        let span_ms = end_ms - start_ms;
        let same_range = |(from, to): (i64, i64)| {
            to - from == span_ms && (start_ms - from).abs() < (span_ms / 2).max(1)
        };
        // A theme switch is drawn at once too (a full-page capture shows every chart).
        let theme = theme.get();
        let drawn_theme = format!("|{theme:?}|");
        if !on_screen
            && instance.with_value(|slot| {
                slot.as_ref().is_some_and(|drawn| {
                    same_range(drawn.window_ms) && drawn.shape.contains(&drawn_theme)
                })
            })
        {
            return;
        }
        let spec = spec.get();
        let marks = marks.get();
        let pick = pick.get();
        let option = crate::chart_option::chart(
            &panel,
            &spec,
            theme,
            start_ms,
            end_ms,
            &marks,
            pick.as_ref(),
        );
        let series: Vec<_> = panel.series.iter().map(|series| &series.id).collect();
        // The marks ride on series of their own: adding or removing one is a new shape, and so
        // are other members named.
        let named = pick.as_ref().map(|pick| &pick.named);
        let shape = format!(
            "{}|{theme:?}|{series:?}|{:?}|{named:?}",
            spec.title,
            marks.series_shape()
        );
        instance.update_value(|slot| {
            if slot.is_none() {
                let created = match WasmRenderer::new_opt(None, None)
                    .render(&dom_id, &charming::Chart::new())
                {
                    Ok(created) => created,
                    Err(error) => {
                        leptos::logging::warn!("cannot create chart {dom_id}: {error:?}");
                        return;
                    }
                };
                let zoom: ZoomListener = Closure::new(move |event: JsValue| {
                    if let Some(range) = zoomed_range(&event) {
                        // Not from inside ECharts' event dispatch: the redraw that follows the
                        // new range must not run in the middle of ECharts' own update.
                        set_timeout(
                            move || {
                                // The chart itself shows the full new range, not a zoom of it.
                                instance.with_value(|slot| {
                                    if let Some(drawn) = slot {
                                        let reset = js_sys::Object::new();
                                        let _ = js_sys::Reflect::set(
                                            &reset,
                                            &"type".into(),
                                            &"dataZoom".into(),
                                        )
                                        .and_then(|_| {
                                            js_sys::Reflect::set(
                                                &reset,
                                                &"start".into(),
                                                &JsValue::from(0),
                                            )
                                        })
                                        .and_then(|_| {
                                            js_sys::Reflect::set(
                                                &reset,
                                                &"end".into(),
                                                &JsValue::from(100),
                                            )
                                        })
                                        .and_then(|_| {
                                            call(&drawn.chart, "dispatchAction", &[&reset])
                                        });
                                    }
                                });
                                on_zoom.run(range);
                            },
                            std::time::Duration::ZERO,
                        );
                    }
                });
                let down: ZoomListener =
                    Closure::new(move |_event: JsValue| pressed.set_value(true));
                let hooked =
                    call(&created, "on", &[&"datazoom".into(), zoom.as_ref()]).and_then(|_| {
                        let surface = call(&created, "getZr", &[])?;
                        call(&surface, "on", &[&"mousedown".into(), down.as_ref()])
                    });
                if let Err(error) = hooked {
                    leptos::logging::warn!("cannot listen for zooms on {dom_id}: {error:?}");
                }
                let (observer, on_screen) = observe(&dom_id, visible).unzip();
                *slot = Some(Drawn {
                    chart: created,
                    _listeners: vec![zoom, down],
                    observer,
                    _on_screen: on_screen,
                    shape: String::new(),
                    window_ms: (start_ms, end_ms),
                });
            }
            if pressed.get_value() {
                // A drag is under way: draw when the button is released.
                pending.set_value(Some((option, shape)));
                return;
            }
            if let Some(drawn) = slot {
                drawn.window_ms = (start_ms, end_ms);
                if let Err(error) = apply(drawn, &option, shape) {
                    leptos::logging::warn!("cannot draw chart {dom_id}: {error:?}");
                }
            }
        });
    });

    let released = window_event_listener(leptos::ev::mouseup, move |_| {
        if !pressed.get_value() {
            return;
        }
        // After ECharts has finished with the same mouseup (it ends the drag and zooms).
        set_timeout(
            move || {
                pressed.set_value(false);
                let Some((option, shape)) = pending.try_update_value(Option::take).flatten() else {
                    return;
                };
                instance.update_value(|slot| {
                    if let Some(drawn) = slot
                        && let Err(error) = apply(drawn, &option, shape)
                    {
                        leptos::logging::warn!("cannot draw a chart: {error:?}");
                    }
                });
            },
            std::time::Duration::ZERO,
        );
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        instance.with_value(|slot| {
            if let Some(drawn) = slot {
                drawn.chart.resize(js_sys::Object::new().into());
            }
        });
    });
    on_cleanup(move || {
        resize.remove();
        released.remove();
        instance.update_value(|slot| {
            let Some(drawn) = slot.take() else {
                return;
            };
            if let Some(observer) = &drawn.observer {
                observer.disconnect();
            }
            if let Err(error) = call(&drawn.chart, "dispose", &[]) {
                leptos::logging::warn!("cannot dispose a chart: {error:?}");
            }
        });
    });
}
