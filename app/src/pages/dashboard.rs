//! The dashboard: toolbar and the grid of panels for the filter in the URL.
//!
//! The first view comes from the `load_view` server function: rendered into the HTML on the
//! server and carried into the hydrated page. After hydration the live connection takes over.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::load_view;
use crate::components::panel_card::PanelCard;
use crate::components::toolbar::Toolbar;
use crate::live;
use crate::panels::spec;
use crate::url::{FilterParams, parse_filter};
use crate::wire::{PanelId, View};

/// The dashboard page.
#[component]
pub fn Dashboard() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|params| {
            let raw = FilterParams {
                environment: params.get_str("environment"),
                deployment: params.get_str("deployment"),
                range: params.get_str("range"),
            };
            // A range the page does not offer falls back to the default rather than failing.
            parse_filter(&raw).unwrap_or_else(|_| {
                parse_filter(&FilterParams { range: None, ..raw }).unwrap_or_default()
            })
        })
    });
    let first = Resource::new(move || filter.get(), load_view);
    let live = live::connect(filter);

    view! {
        <Transition fallback=move || view! { <div class="loading">"Loading…"</div> }>
            {move || Suspend::new(async move {
                let first_view = first.await;
                let error = first_view
                    .as_ref()
                    .err()
                    .map(|error| format!("The server could not compute this view: {error}"));
                let first_view = first_view.ok();
                // The live view once it names this filter; until then, the server-rendered one.
                let shown: Memo<Option<View>> = Memo::new(move |_| {
                    let wanted = filter.get();
                    live.view
                        .with(|view| view.as_ref().filter(|view| view.filter == wanted).cloned())
                        .or_else(|| first_view.clone().filter(|view| view.filter == wanted))
                });
                let deployments = Signal::derive(move || {
                    shown.with(|view| view.as_ref().map(|v| v.deployments.clone()).unwrap_or_default())
                });
                let window = Signal::derive(move || {
                    shown.with(|view| view.as_ref().map_or((0, 0), |v| (v.start_ms, v.end_ms)))
                });
                let shown_deployment = move || {
                    shown.with(|view| {
                        view.as_ref()
                            .map(|v| v.filter.deployment.clone().unwrap_or_else(|| "all".into()))
                            .unwrap_or_default()
                    })
                };
                view! {
                    <Toolbar filter=filter deployments=deployments live=live/>
                    {error.map(|error| view! { <p class="banner error" role="alert">{error}</p> })}
                    <div
                        class="grid"
                        data-view-deployment=shown_deployment
                        data-live-messages=move || live.messages.get()
                    >
                        {PanelId::ALL
                            .into_iter()
                            .map(|id| {
                                let panel = Memo::new(move |_| {
                                    shown.with(|view| view.as_ref().and_then(|v| v.panel(id).cloned()))
                                });
                                view! { <PanelCard spec=spec(id) panel=panel.into() window=window/> }
                            })
                            .collect_view()}
                    </div>
                    <footer class="footnote">
                        <span>
                            "Percentiles are estimated from histogram buckets; when one reaches the top bucket it reads \u{201c}> X\u{201d}."
                        </span>
                        <span>"Times in your local time zone."</span>
                    </footer>
                }
            })}
        </Transition>
    }
}
