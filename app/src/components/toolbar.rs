//! The top bar: scope (environment, deployment, model), time range, connection state, theme.
//! Every filter change is a navigation to a new URL query, so the URL always reproduces the view.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};

use super::brand::Brand;
use crate::live::{ConnectionState, LiveView};
use crate::panels::Theme;
use crate::url::filter_query;
use crate::wire::{DeploymentRef, Filter, TimeRange};

/// The top bar.
#[component]
pub fn Toolbar(
    /// The filter in the URL.
    filter: Memo<Filter>,
    /// Deployments the server knows.
    deployments: Signal<Vec<DeploymentRef>>,
    /// Models the series in scope are labelled with.
    models: Signal<Vec<String>>,
    /// The live connection.
    live: LiveView,
) -> impl IntoView {
    let navigate = use_navigate();
    let location = use_location();
    let link = move |next: &Filter| format!("{}{}", location.pathname.get(), filter_query(next));
    let go = {
        let navigate = navigate.clone();
        move |next: Filter| {
            let target = format!(
                "{}{}",
                location.pathname.get_untracked(),
                filter_query(&next)
            );
            // The page stays where it is: the charts in view follow the new filter.
            navigate(
                &target,
                NavigateOptions {
                    scroll: false,
                    ..NavigateOptions::default()
                },
            );
        }
    };

    let environments = move || {
        deployments.with(|all| {
            all.iter()
                .map(|d| d.environment.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        })
    };
    let deployment_names = move || {
        let environment = filter.with(|f| f.environment.clone());
        deployments.with(|all| {
            all.iter()
                .filter(|d| environment.as_ref().is_none_or(|e| *e == d.environment))
                .map(|d| d.deployment.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        })
    };

    let on_environment = {
        let go = go.clone();
        move |event: leptos::ev::Event| {
            let value = event_target_value(&event);
            let mut next = filter.get_untracked();
            next.environment = Some(value).filter(|v| !v.is_empty());
            let still_there = deployments.with_untracked(|all| {
                all.iter().any(|d| {
                    next.deployment.as_ref() == Some(&d.deployment)
                        && next
                            .environment
                            .as_ref()
                            .is_none_or(|e| *e == d.environment)
                })
            });
            if !still_there {
                next.deployment = None;
            }
            // Another scope has other models.
            next.model = None;
            go(next);
        }
    };
    let on_deployment = {
        let go = go.clone();
        move |event: leptos::ev::Event| {
            let value = event_target_value(&event);
            let mut next = filter.get_untracked();
            next.deployment = Some(value).filter(|v| !v.is_empty());
            next.model = None;
            go(next);
        }
    };
    let on_model = move |event: leptos::ev::Event| {
        let value = event_target_value(&event);
        let mut next = filter.get_untracked();
        next.model = Some(value).filter(|v| !v.is_empty());
        go(next);
    };
    // The models to offer: those in scope, and the chosen one even while nothing reports it.
    let model_names = move || {
        let mut names = models.get();
        if let Some(chosen) = filter.with(|f| f.model.clone())
            && !names.contains(&chosen)
        {
            names.push(chosen);
            names.sort();
        }
        names
    };
    let show_models = move || !model_names().is_empty();

    let theme = use_context::<RwSignal<Theme>>().unwrap_or_else(|| RwSignal::new(Theme::Light));
    let clock = crate::clock::ticking(1000);
    let badge = move || {
        let state = live.state.get();
        let ago = live
            .last_message_ms
            .get()
            .map(|at| ((clock.get() - at) / 1000.0).max(0.0).floor());
        match state {
            ConnectionState::Connecting => "Connecting…".to_owned(),
            ConnectionState::Reconnecting => "Reconnecting…".to_owned(),
            ConnectionState::Failed => {
                "Disconnected: protocol mismatch, reload the page".to_owned()
            }
            ConnectionState::Live => match ago {
                Some(seconds) if seconds >= 1.0 => format!("Live · updated {seconds} s ago"),
                _ => "Live · updated just now".to_owned(),
            },
        }
    };
    let state_name = move || match live.state.get() {
        ConnectionState::Connecting => "connecting",
        ConnectionState::Live => "live",
        ConnectionState::Reconnecting => "reconnecting",
        ConnectionState::Failed => "failed",
    };

    view! {
        <header class="topbar">
            <Brand/>
            <label class="picker">
                <span class="picker-label">"Environment"</span>
                <select name="environment" on:change=on_environment>
                    <option value="" selected=move || filter.with(|f| f.environment.is_none())>
                        "All"
                    </option>
                    {move || {
                        environments()
                            .into_iter()
                            .map(|name| {
                                let selected = {
                                    let name = name.clone();
                                    move || filter.with(|f| f.environment.as_ref() == Some(&name))
                                };
                                view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <span class="crumb-sep" aria-hidden="true">"/"</span>
            <label class="picker">
                <span class="picker-label">"Deployment"</span>
                <select name="deployment" on:change=on_deployment>
                    <option value="" selected=move || filter.with(|f| f.deployment.is_none())>
                        "All"
                    </option>
                    {move || {
                        deployment_names()
                            .into_iter()
                            .map(|name| {
                                let selected = {
                                    let name = name.clone();
                                    move || filter.with(|f| f.deployment.as_ref() == Some(&name))
                                };
                                view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <Show when=show_models>
                <span class="crumb-sep" aria-hidden="true">"/"</span>
                <label class="picker">
                    <span class="picker-label">"Model"</span>
                    <select
                        name="model"
                        title=move || filter.with(|f| f.model.clone().unwrap_or_else(|| "All models".to_owned()))
                        on:change=on_model.clone()
                    >
                        <option value="" selected=move || filter.with(|f| f.model.is_none())>
                            "All"
                        </option>
                        {move || {
                            model_names()
                                .into_iter()
                                .map(|name| {
                                    let selected = {
                                        let name = name.clone();
                                        move || filter.with(|f| f.model.as_ref() == Some(&name))
                                    };
                                    view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
            </Show>
            <div class="spacer"></div>
            <nav class="ranges" aria-label="Time range">
                {TimeRange::ALL
                    .into_iter()
                    .map(|range| {
                        let href = move || {
                            let mut next = filter.get();
                            next.range = range;
                            next.from_ms = None;
                            next.to_ms = None;
                            link(&next)
                        };
                        let active = move || {
                            filter.with(|f| f.absolute().is_none() && f.range == range)
                        };
                        view! {
                            <a
                                href=href
                                class="range"
                                class:active=active
                                aria-current=move || active().then_some("true")
                                data-range=range.as_param()
                            >
                                {range_label(range)}
                            </a>
                        }
                    })
                    .collect_view()}
                {move || {
                    filter
                        .with(|f| f.absolute())
                        .map(|(from, to)| {
                            view! {
                                <span class="range active absolute" data-range="absolute" title="Drag across a chart to zoom; pick a range to go live again">
                                    {format_span(from, to)}
                                </span>
                            }
                        })
                }}
            </nav>
            <a class="nav-link" href="/families">"Other metrics"</a>
            <a class="nav-link" href="/targets">"Targets"</a>
            <div class="connection" data-state=state_name role="status" aria-live="polite">
                <span class="dot"></span>
                <span class="connection-text">{badge}</span>
            </div>
            <button
                class="theme-toggle"
                type="button"
                title="Switch light / dark theme"
                aria-label="Switch light / dark theme"
                on:click=move |_| theme.update(|t| *t = t.toggled())
            >
                <svg class="icon-moon" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5z"></path>
                </svg>
                <svg class="icon-sun" viewBox="0 0 24 24" aria-hidden="true">
                    <circle cx="12" cy="12" r="4"></circle>
                    <path d="M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4" fill="none" stroke-width="2" stroke-linecap="round"></path>
                </svg>
            </button>
        </header>
    }
}

pub fn range_label(range: TimeRange) -> &'static str {
    match range {
        TimeRange::Last5m => "Live 5m",
        TimeRange::Last15m => "15m",
        TimeRange::Last1h => "1h",
        TimeRange::Last6h => "6h",
        TimeRange::Last24h => "24h",
        TimeRange::Last7d => "7d",
    }
}

/// An absolute range as `HH:MM–HH:MM UTC` (with the date when it spans days).
fn format_span(from_ms: i64, to_ms: i64) -> String {
    let clock = |ms: i64| {
        let seconds = ms.div_euclid(1000).rem_euclid(86_400);
        format!("{:02}:{:02}", seconds / 3600, seconds / 60 % 60)
    };
    let days = (to_ms - from_ms) / 86_400_000;
    if days >= 1 {
        format!("{} days to {} UTC", days, clock(to_ms))
    } else {
        format!("{}–{} UTC", clock(from_ms), clock(to_ms))
    }
}
