//! A panel's card: title, the one-line "now" summary, and its chart — or, when no target
//! provides the panel's signal, which exporter would.

use leptos::prelude::*;

use super::chart::{Chart, panel_key};
use crate::panels::{PanelSpec, summary};
use crate::wire::Panel;

/// One card of the grid.
#[component]
pub fn PanelCard(
    /// The panel's description.
    spec: PanelSpec,
    /// The panel's data (absent while loading).
    panel: Signal<Option<Panel>>,
    /// The time window the chart spans.
    window: Signal<(i64, i64)>,
) -> impl IntoView {
    let now = move || panel.with(|panel| panel.as_ref().map(summary).unwrap_or_default());
    let empty = move || panel.with(|panel| panel.as_ref().is_some_and(|p| p.series.is_empty()));
    view! {
        <section class="card" data-panel=panel_key(&spec)>
            <header class="card-head">
                <h2>{spec.title}</h2>
            </header>
            <p class="now">{now}</p>
            <div class="plot">
                <Chart spec=spec panel=panel window=window/>
                <Show when=empty>
                    <p class="empty">
                        "No target reports this yet. It comes from " {spec.source_hint} "."
                    </p>
                </Show>
            </div>
        </section>
    }
}
