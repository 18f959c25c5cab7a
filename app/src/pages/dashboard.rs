//! The dashboard: toolbar and the grid of panels for the filter in the URL.
//!
//! The first view comes from the `load_view` server function: rendered into the HTML on the
//! server and carried into the hydrated page. After hydration the live connection takes over.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::load_view;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};

use crate::components::panel_card::PanelCard;
use crate::components::toolbar::Toolbar;
use crate::live;
use crate::panels::CARDS;
use crate::url::{FilterParams, filter_query, parse_filter};
use crate::wire::{Filter, PanelId, View};

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
                from: params.get_str("from"),
                to: params.get_str("to"),
                split: params.get_str("split"),
            };
            // A range or panel the page does not know falls back to the default rather than
            // failing.
            parse_filter(&raw).unwrap_or_else(|_| {
                parse_filter(&FilterParams {
                    environment: raw.environment,
                    deployment: raw.deployment,
                    ..FilterParams::default()
                })
                .unwrap_or_default()
            })
        })
    });
    // The first view, rendered on the server; later filters arrive over the live connection, so
    // the grid (and its charts) stays mounted while the filter changes.
    let first = Resource::new(move || filter.get_untracked(), load_view);
    let live = live::connect(filter);
    let navigate = use_navigate();
    let location = use_location();
    let go = Callback::new(move |next: Filter| {
        let target = format!(
            "{}{}",
            location.pathname.get_untracked(),
            filter_query(&next)
        );
        navigate(&target, NavigateOptions::default());
    });
    let on_split = Callback::new(move |panel: PanelId| {
        let mut next = filter.get_untracked();
        if let Some(index) = next.split.iter().position(|p| *p == panel) {
            next.split.remove(index);
        } else {
            next.split.push(panel);
            next.split.sort();
        }
        go.run(next);
    });
    let on_zoom = Callback::new(move |(from_ms, to_ms): (i64, i64)| {
        let mut next = filter.get_untracked();
        next.from_ms = Some(from_ms);
        next.to_ms = Some(to_ms);
        go.run(next);
    });
    let split = Signal::derive(move || filter.with(|f| f.split.clone()));

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
                // An absolute range is shown exactly as asked; a live one spans its grid.
                let window = Signal::derive(move || {
                    shown.with(|view| {
                        view.as_ref().map_or((0, 0), |v| {
                            v.filter.absolute().unwrap_or((v.start_ms, v.end_ms))
                        })
                    })
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
                        {CARDS
                            .into_iter()
                            .map(|card| {
                                view! {
                                    <PanelCard
                                        card=card
                                        view=shown
                                        window=window
                                        split=split
                                        on_split=on_split
                                        on_zoom=on_zoom
                                    />
                                }
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
