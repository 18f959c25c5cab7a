//! A card of the grid: a title (or tabs, when the card shows several panels), the one-line
//! "now" summary, "per replica" and "per model" switches where they apply, and the chart — or,
//! when no target provides the panel's signal, which exporter would, and which families on the
//! targets' pages look like it under another name.

use leptos::prelude::*;

use super::chart::Chart;
use crate::chart_option::{is_member, named_members};
use crate::panels::{Theme, series_style, spec, summary};
use crate::wire::{PanelId, SeriesId, View};

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
    // Too many replicas or GPUs to name: a search picks which are named.
    let find = RwSignal::new(String::new());
    let pick = Memo::new(move |_| {
        panel.with(|panel| {
            panel
                .as_ref()
                .and_then(|panel| find.with(|find| named_members(panel, find)))
        })
    });
    let noun = move || {
        let gpus = panel.with(|panel| {
            panel
                .as_ref()
                .is_some_and(|p| p.series.iter().any(|s| matches!(s.id, SeriesId::Gpu(_))))
        });
        if gpus {
            ("GPU", "GPUs")
        } else {
            ("replica", "replicas")
        }
    };
    // The named members with their line colours (the chart's legend leaves them to the card).
    let theme = use_context::<RwSignal<Theme>>().unwrap_or_else(|| RwSignal::new(Theme::Light));
    let chips = move || {
        let named = pick.with(|pick| pick.as_ref().map(|p| p.named.clone()).unwrap_or_default());
        let theme = theme.get();
        panel.with(|panel| {
            named
                .into_iter()
                .filter_map(|name| {
                    let series = panel
                        .as_ref()?
                        .series
                        .iter()
                        .find(|s| is_member(&s.id) && series_style(&s.id).label == name)?;
                    Some((name, series_style(&series.id).color(theme)))
                })
                .collect::<Vec<_>>()
        })
    };
    let members_note = move || {
        pick.get().map(|pick| {
            let (one, many) = noun();
            let searching = find.with(|find| !find.trim().is_empty());
            match (searching, pick.matched) {
                (false, _) => format!(
                    "{} of {} {many} named (highest average); the rest grey",
                    pick.named.len(),
                    pick.total
                ),
                (true, 0) => format!("no {one} matches"),
                (true, matched) if matched > pick.named.len() => format!(
                    "{matched} of {} match; the {} highest named",
                    pick.total,
                    pick.named.len()
                ),
                (true, matched) => format!("{matched} of {} match", pick.total),
            }
        })
    };
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
                <Show when=move || pick.with(Option::is_some)>
                    <div class="members-find">
                    <input
                        type="search"
                        class="find-member"
                        name="find-member"
                        placeholder=move || format!("Find a {}", noun().0)
                        aria-label=move || format!("Find a {} to name on the chart", noun().0)
                        prop:value=move || find.get()
                        on:input=move |event| find.set(event_target_value(&event))
                    />
                    <span class="members-note">{members_note}</span>
                    <ul class="member-chips" aria-label="Named on the chart">
                        {move || chips().into_iter().map(|(name, colour)| {
                            let isolate = name.clone();
                            view! {
                                <li>
                                    <button
                                        type="button"
                                        class="member-chip"
                                        title="Name only this one"
                                        on:click=move |_| find.set(isolate.clone())
                                    >
                                        <i style=format!("background:{colour}")></i>
                                        {name}
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    </div>
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
                    pick=pick.into()
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
