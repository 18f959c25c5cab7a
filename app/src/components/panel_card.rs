//! A card of the grid: a title (or tabs, when the card shows several panels), the one-line
//! "now" summary, "per replica" and "per model" switches where they apply, and the chart — or,
//! when no target provides the panel's signal, which exporter would, and which families on the
//! targets' pages look like it under another name.

use leptos::prelude::*;

use super::chart::Chart;
use crate::panels::{spec, summary};
use crate::wire::{PanelId, View};

/// One card of the grid.
#[component]
pub fn PanelCard(
    /// The card's title.
    title: &'static str,
    /// Its panels (more than one are tabs); never empty.
    panels: Vec<PanelId>,
    /// The view the panels come from (absent while loading).
    view: Memo<Option<View>>,
    /// The time window the chart spans.
    window: Signal<(i64, i64)>,
    /// Panels split by replica (from the URL).
    split: Signal<Vec<PanelId>>,
    /// Turns a panel's split on or off.
    on_split: Callback<PanelId>,
    /// Panels split by model (from the URL).
    by_model: Signal<Vec<PanelId>>,
    /// Turns a panel's split by model on or off.
    on_by_model: Callback<PanelId>,
    /// Called with `(from_ms, to_ms)` when the user drags across the chart.
    on_zoom: Callback<(i64, i64)>,
) -> impl IntoView {
    let first = panels.first().copied().unwrap_or(PanelId::InferenceVolume);
    let active = RwSignal::new(first);
    let panel = Memo::new(move |_| {
        let id = active.get();
        view.with(|view| view.as_ref().and_then(|v| v.panel(id).cloned()))
    });
    let active_spec = Signal::derive(move || spec(active.get()));
    // The autoscaling diagnosis's evidence and replica events on this panel.
    let marks = Memo::new(move |_| {
        let id = active.get();
        view.with(|view| {
            view.as_ref()
                .map(|view| crate::insights::marks(view, id))
                .unwrap_or_default()
        })
    });
    let marked = move || marks.with(|marks| marks.areas.len());
    let now = move || panel.with(|panel| panel.as_ref().map(summary).unwrap_or_default());
    let empty = move || panel.with(|panel| panel.as_ref().is_some_and(|p| p.series.is_empty()));
    let hint = move || active_spec.get().source_hint;
    // A server without an NVIDIA driver says so on its GPU panels.
    let gpu_note = move || {
        let gpu = matches!(active.get(), PanelId::GpuUsage | PanelId::GpuMemory);
        view.with(|view| {
            view.as_ref()
                .and_then(|v| v.gpu_note.clone())
                .filter(|_| gpu)
        })
    };
    let model_on = move || by_model.with(|by_model| by_model.contains(&active.get()));
    let split_on = move || !model_on() && split.with(|split| split.contains(&active.get()));
    let has_models = move || panel.with(|panel| panel.as_ref().is_some_and(|p| p.by_model));
    let hints = move || {
        panel.with(|panel| {
            panel
                .as_ref()
                .map(|panel| panel.hints.clone())
                .unwrap_or_default()
        })
    };
    let tabs = (panels.len() > 1).then(|| {
        panels
            .iter()
            .map(|&id| {
                let selected = move || active.get() == id;
                view! {
                    <button
                        type="button"
                        class="tab"
                        class:selected=selected
                        aria-pressed=move || selected().to_string()
                        data-tab=id.key()
                        on:click=move |_| active.set(id)
                    >
                        {spec(id).title}
                    </button>
                }
            })
            .collect_view()
    });
    view! {
        <section
            class="card"
            data-panel=move || active.get().key()
            data-card=first.key()
            data-evidence=marked
        >
            <header class="card-head">
                <h2>{title}</h2>
                {tabs.map(|tabs| view! { <div class="tabs" role="group">{tabs}</div> })}
            </header>
            <div class="card-sub">
                <p class="now">{now}</p>
                <Show when=move || active_spec.get().splittable>
                    <button
                        type="button"
                        class="split"
                        class:on=split_on
                        title="One line per replica"
                        aria-pressed=move || split_on().to_string()
                        on:click=move |_| on_split.run(active.get_untracked())
                    >
                        "per replica"
                    </button>
                </Show>
                <Show when=has_models>
                    <button
                        type="button"
                        class="split by-model"
                        class:on=model_on
                        title="One line per model (as the engine labels its series)"
                        aria-pressed=move || model_on().to_string()
                        on:click=move |_| on_by_model.run(active.get_untracked())
                    >
                        "per model"
                    </button>
                </Show>
            </div>
            <div class="plot" class:empty=empty>
                <Chart
                    dom_id=format!("chart-{}", first.key())
                    spec=active_spec
                    panel=panel.into()
                    window=window
                    on_zoom=on_zoom
                    marks=marks.into()
                />
                <Show when=empty>
                    {move || match gpu_note() {
                        Some(note) => view! {
                            <p class="empty gpu-note">
                                {capitalised(&note)} ". Exporters report it too: " {hint} "."
                            </p>
                        }
                        .into_any(),
                        None => view! {
                            <div class="empty">
                                <p>"No target reports this yet. It comes from " {hint} "."</p>
                                {move || {
                                    hints()
                                        .into_iter()
                                        .map(|lookalike| {
                                            view! {
                                                <p class="lookalike">
                                                    "Found " <code>{lookalike.found}</code>
                                                    " on a target's page; inferscope reads "
                                                    <code>{lookalike.expected}</code> " (" {lookalike.why}
                                                    ")."
                                                </p>
                                            }
                                        })
                                        .collect_view()
                                }}
                            </div>
                        }
                        .into_any(),
                    }}
                </Show>
            </div>
        </section>
    }
}

/// `text` with its first letter upper-cased.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
