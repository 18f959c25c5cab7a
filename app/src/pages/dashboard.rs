//! The dashboard: toolbar and the grid of panels for the filter in the URL.
//!
//! The first view comes from the `load_view` server function: rendered into the HTML on the
//! server and carried into the hydrated page. After hydration the live connection takes over.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::load_view;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};

use crate::components::autoscaling::AutoscalingCard;
use crate::components::panel_card::PanelCard;
use crate::components::toolbar::Toolbar;
use crate::embed;
use crate::live;
use crate::panels::CARDS;
use crate::url::{FilterParams, filter_query, page_params, parse_filter};
use crate::wire::{Filter, PanelId, View};

/// The dashboard page.
#[component]
pub fn Dashboard() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|params| {
            let raw = FilterParams::read(|key| params.get_str(key));
            // A range or panel the page does not know falls back to the default rather than
            // failing.
            parse_filter(&raw).unwrap_or_else(|_| {
                parse_filter(&FilterParams {
                    environment: raw.environment,
                    deployment: raw.deployment,
                    model: raw.model,
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
        let carried = query.with_untracked(|params| page_params(|key| params.get_str(key)));
        let target = format!(
            "{}{}{carried}",
            location.pathname.get_untracked(),
            filter_query(&next)
        );
        // A card's switch or a drag on a chart far down the page keeps the page where it is.
        navigate(
            &target,
            NavigateOptions {
                scroll: false,
                ..NavigateOptions::default()
            },
        );
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
    let on_by_model = Callback::new(move |panel: PanelId| {
        let mut next = filter.get_untracked();
        if let Some(index) = next.by_model.iter().position(|p| *p == panel) {
            next.by_model.remove(index);
        } else {
            next.by_model.push(panel);
            next.by_model.sort();
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
    let by_model = Signal::derive(move || filter.with(|f| f.by_model.clone()));
    // Embed mode (`?embed=1`): the panels only, sized to the frame, talking to the parent page.
    let embedded = query.with_untracked(|params| params.get_str("embed") == Some("1"));
    // The cards to draw: every card, or those holding a chosen panel (with only those tabs).
    let chosen = Memo::new(move |_| filter.with(|f| f.panels.clone()));
    let cards = move || {
        let chosen = chosen.get();
        CARDS
            .into_iter()
            .filter_map(|card| {
                let panels: Vec<PanelId> = card
                    .panels
                    .iter()
                    .copied()
                    .filter(|panel| chosen.is_empty() || chosen.contains(panel))
                    .collect();
                (!panels.is_empty()).then_some((card.group, card.title, panels))
            })
            .collect::<Vec<_>>()
    };

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
                let models = Signal::derive(move || {
                    shown.with(|view| view.as_ref().map(|v| v.models.clone()).unwrap_or_default())
                });
                // An absolute range is shown exactly as asked; a live one spans its grid.
                let window = Signal::derive(move || {
                    shown.with(|view| {
                        view.as_ref().map_or((0, 0), |v| {
                            v.filter.absolute().unwrap_or((v.start_ms, v.end_ms))
                        })
                    })
                });
                if embedded {
                    embed::start(filter, Signal::derive(move || shown.with(Option::is_some)), live);
                }
                let shown_deployment = move || {
                    shown.with(|view| {
                        view.as_ref()
                            .map(|v| v.filter.deployment.clone().unwrap_or_else(|| "all".into()))
                            .unwrap_or_default()
                    })
                };
                let refusal = move || {
                    live.refusal
                        .get()
                        .map(|reason| view! { <p class="banner error refused" role="alert">{reason}</p> })
                };
                view! {
                    {(!embedded).then(|| view! { <Toolbar filter=filter deployments=deployments models=models live=live/> })}
                    {error.map(|error| view! { <p class="banner error" role="alert">{error}</p> })}
                    {refusal}
                    <Show when=move || !embedded && chosen.with(Vec::is_empty)>
                        <AutoscalingCard view=shown/>
                    </Show>
                    <div
                        class="grid"
                        class:embed=embedded
                        data-view-deployment=shown_deployment
                        data-live-messages=move || live.messages.get()
                    >
                        {move || {
                            let mut group = None;
                            cards()
                                .into_iter()
                                .map(|(card_group, title, panels)| {
                                    // A heading where a new group of cards begins (not in an
                                    // embed, which shows chosen panels only).
                                    let heading = (group != Some(card_group) && !embedded)
                                        .then(|| card_group.heading())
                                        .flatten();
                                    group = Some(card_group);
                                    view! {
                                        {heading.map(|heading| view! {
                                            <h2 class="group-heading" data-group=heading>{heading}</h2>
                                        })}
                                        <PanelCard
                                            title=title
                                            panels=panels
                                            view=shown
                                            window=window
                                            split=split
                                            on_split=on_split
                                            by_model=by_model
                                            on_by_model=on_by_model
                                            on_zoom=on_zoom
                                        />
                                    }
                                })
                                .collect_view()
                        }}
                    </div>
                    <footer class="footnote" class:hidden=embedded>
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
