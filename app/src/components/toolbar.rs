//! The top bar: scope (environment, deployment, model), time range, connection state, theme.
//! Every filter change is a navigation to a new URL query, so the URL always reproduces the view.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};

use super::brand::Brand;
use super::share::ShareButton;
use crate::live::{ConnectionState, LiveView};
use crate::panels::Theme;
use crate::span::{custom_range, step_back, step_forward, utc_minute, window};
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
    let on_model = {
        let go = go.clone();
        move |event: leptos::ev::Event| {
            let value = event_target_value(&event);
            let mut next = filter.get_untracked();
            next.model = Some(value).filter(|v| !v.is_empty());
            go(next);
        }
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
    // One model needs no menu: the deployment's own entry names it.
    let show_models = move || model_names().len() > 1 || filter.with(|f| f.model.is_some());
    // The chosen deployment's entry names what it serves ("chat-llm · llama-3.1-8b").
    // (With several, the model menu beside it names them.)
    let deployment_label = move |name: &str| {
        let chosen = filter.with(|f| f.deployment.as_deref() == Some(name));
        if !chosen || show_models() {
            return name.to_owned();
        }
        models.with(|models| match models.as_slice() {
            [one] => format!("{name} · {one}"),
            _ => name.to_owned(),
        })
    };

    // Steps through time by the window's width, and a typed range.
    let clock_now = crate::clock::ticking(5000);
    let now = move || {
        let now = clock_now.get();
        if now > 0.0 { now as i64 } else { 0 }
    };
    let on_back = {
        let go = go.clone();
        move |_| go(step_back(&filter.get_untracked(), now()))
    };
    // Disabled when live, or when the range already ends now. The server renders without a
    // clock and takes any absolute range as steppable, so the hydrated page agrees with it.
    let forward_disabled = move || {
        filter.with(|f| match f.absolute() {
            None => true,
            Some((_, to)) => now() > 0 && to >= now(),
        })
    };
    let on_forward = {
        let go = go.clone();
        move |_| {
            if let Some(next) = step_forward(&filter.get_untracked(), now()) {
                go(next);
            }
        }
    };
    let custom_open = RwSignal::new(false);
    let custom_from = RwSignal::new(String::new());
    let custom_to = RwSignal::new(String::new());
    let custom_error: RwSignal<Option<String>> = RwSignal::new(None);
    let on_custom_toggle = move |_| {
        if !custom_open.get_untracked() {
            let (from, to) = window(&filter.get_untracked(), now());
            custom_from.set(utc_minute(from));
            custom_to.set(utc_minute(to));
            custom_error.set(None);
        }
        custom_open.update(|open| *open = !*open);
    };
    let on_custom_apply = {
        let go = go.clone();
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            match custom_range(
                &filter.get_untracked(),
                &custom_from.get_untracked(),
                &custom_to.get_untracked(),
                now(),
            ) {
                Ok(next) => {
                    custom_open.set(false);
                    go(next);
                }
                Err(reason) => custom_error.set(Some(reason)),
            }
        }
    };

    let theme = use_context::<RwSignal<Theme>>().unwrap_or_else(|| RwSignal::new(Theme::Light));
    let clock = crate::clock::ticking(1000);
    let ago_seconds = move || {
        live.last_message_ms
            .get()
            .map(|at| ((clock.get() - at) / 1000.0).max(0.0).floor())
    };
    let badge = move || match live.state.get() {
        ConnectionState::Connecting => "Connecting…".to_owned(),
        ConnectionState::Reconnecting => "Reconnecting…".to_owned(),
        ConnectionState::Failed => "Disconnected: protocol mismatch, reload the page".to_owned(),
        ConnectionState::Live => "Live".to_owned(),
    };
    let age = move || match (live.state.get(), ago_seconds()) {
        (ConnectionState::Live, Some(seconds)) if seconds >= 1.0 => {
            format!("updated {seconds} s ago")
        }
        (ConnectionState::Live, _) => "updated just now".to_owned(),
        _ => String::new(),
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
                        "All environments"
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
                        "All deployments"
                    </option>
                    {move || {
                        deployment_names()
                            .into_iter()
                            .map(|name| {
                                let selected = {
                                    let name = name.clone();
                                    move || filter.with(|f| f.deployment.as_ref() == Some(&name))
                                };
                                let label = {
                                    let name = name.clone();
                                    move || deployment_label(&name)
                                };
                                view! { <option value=name.clone() selected=selected>{label}</option> }
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
                            "All models"
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
            <div class="timebar">
            <button
                class="step"
                type="button"
                name="earlier"
                title="One window earlier"
                aria-label="One window earlier"
                on:click=on_back
            >
                "‹"
            </button>
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
                                {match range_label(range).strip_prefix("Live ") {
                                    // "Live" goes at laptop width; the badge says it.
                                    Some(rest) => view! { <span class="live-word">"Live "</span>{rest} }.into_any(),
                                    None => range_label(range).into_any(),
                                }}
                            </a>
                        }
                    })
                    .collect_view()}
                // An absolute range (typed, stepped or dragged) is shown in the Custom button,
                // which edits it.
                <button
                    class="range custom"
                    class:active=move || filter.with(|f| f.absolute().is_some())
                    class:absolute=move || filter.with(|f| f.absolute().is_some())
                    type="button"
                    name="custom"
                    data-range=move || filter.with(|f| f.absolute().map(|_| "absolute"))
                    aria-expanded=move || custom_open.get().to_string()
                    title=move || {
                        if filter.with(|f| f.absolute().is_some()) {
                            "Edit this range (UTC); pick a preset to go live again"
                        } else {
                            "Show a range you type (UTC)"
                        }
                    }
                    on:click=on_custom_toggle
                >
                    {move || match filter.with(|f| f.absolute()) {
                        Some((from, to)) => format_span(from, to),
                        None => "Custom".to_owned(),
                    }}
                </button>
            </nav>
            <button
                class="step"
                type="button"
                name="later"
                title="One window later"
                aria-label="One window later"
                disabled=forward_disabled
                on:click=on_forward
            >
                "›"
            </button>
            <Show when=move || custom_open.get()>
                <form class="custom-range" on:submit=on_custom_apply.clone()>
                    <TimeField label="From" name="from" value=custom_from/>
                    <TimeField label="To" name="to" value=custom_to/>
                    <span class="custom-zone">"UTC"</span>
                    <button class="primary" type="submit">"Show"</button>
                    {move || custom_error.get().map(|reason| view! { <p class="custom-error" role="alert">{reason}</p> })}
                </form>
            </Show>
            </div>
            <a class="nav-link wide-only" href="/families">"Other metrics"</a>
            <a class="nav-link wide-only" href="/targets">"Targets"</a>
            // On narrower screens the two links share one menu.
            <details class="more narrow-only">
                <summary title="Other pages" aria-label="Other pages">"⋯"</summary>
                <nav class="more-menu">
                    <a class="nav-link" href="/families">"Other metrics"</a>
                    <a class="nav-link" href="/targets">"Targets"</a>
                </nav>
            </details>
            <div
                class="connection"
                data-state=state_name
                role="status"
                aria-live="polite"
                title=move || format!("{} {}", badge(), age())
            >
                <span class="dot"></span>
                <span class="connection-text">{badge}</span>
                <span class="connection-age">{age}</span>
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
            <ShareButton filter=filter deployments=deployments/>
        </header>
    }
}

/// One end of the custom range: a date and time to the minute, as typed or picked (UTC).
#[component]
fn TimeField(label: &'static str, name: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label>
            <span>{label}</span>
            <input
                type="datetime-local"
                name=name
                step="60"
                prop:value=move || value.get()
                on:input=move |event| value.set(event_target_value(&event))
            />
        </label>
    }
}

/// A preset's name in the toolbar and the what-if form.
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
