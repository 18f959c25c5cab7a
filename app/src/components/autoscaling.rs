//! The autoscaling card above the grid: each finding of the diagnosis (severity, span, cause,
//! the fix in numbers, a button that shows its evidence on the chart), the replica events, the
//! settings assumed, and a link to replay the range with other settings.

use leptos::prelude::*;

use crate::format::time_of_day;
use crate::insights::{counts, event_text, settings_text, span};
use crate::url::filter_query;
use crate::wire::{Autoscaling, Filter, PanelId, Severity, View};

/// Most replica events listed before "show all".
const EVENTS_SHOWN: usize = 8;

/// The card.
#[component]
pub fn AutoscalingCard(
    /// The view shown.
    view: Memo<Option<View>>,
) -> impl IntoView {
    // Times in the viewer's zone once in the browser; UTC (said so) in the server's HTML.
    let local = RwSignal::new(false);
    Effect::new(move |_| local.set(true));
    let autoscaling = Memo::new(move |_| {
        view.with(|view| {
            view.as_ref()
                .map(|view| view.autoscaling.clone())
                .unwrap_or_default()
        })
    });
    let filter = Memo::new(move |_| {
        view.with(|view| view.as_ref().map(|v| v.filter.clone()).unwrap_or_default())
    });
    let several = move || autoscaling.with(|a| a.len() > 1);
    let summary = move || {
        let (all, critical) = autoscaling.with(|a| counts(a));
        let events: usize = autoscaling.with(|a| a.iter().map(|d| d.events.len()).sum());
        let events = match events {
            0 => "no replica changes".to_owned(),
            1 => "1 replica change".to_owned(),
            n => format!("{n} replica changes"),
        };
        match (all, critical) {
            (0, _) => format!("No autoscaling trouble found in this range · {events}"),
            (n, 0) => format!("{n} finding{} · {events}", plural(n)),
            (n, c) => format!("{n} finding{} ({c} critical) · {events}", plural(n)),
        }
    };
    let findings = move || {
        let several = several();
        autoscaling
            .get()
            .into_iter()
            .flat_map(|deployment| {
                let name = format!("{} / {}", deployment.environment, deployment.deployment);
                deployment
                    .findings
                    .into_iter()
                    .map(move |finding| (name.clone(), finding))
            })
            .map(|(name, finding)| {
                let critical = finding.severity == Severity::Critical;
                let panel = finding.panel;
                let when = move || {
                    let local = local.get();
                    format!(
                        "{}–{} ({})",
                        time_of_day(finding.from_ms, local),
                        time_of_day(finding.to_ms, local),
                        span(finding.to_ms - finding.from_ms)
                    )
                };
                view! {
                    <li
                        class="finding"
                        class:critical=critical
                        data-finding=finding.kind.name()
                        data-deployment=name.clone()
                    >
                        <div class="finding-head">
                            <span class="severity">{if critical { "Critical" } else { "Warning" }}</span>
                            <strong>{finding.kind.title()}</strong>
                            {several.then(|| view! { <span class="finding-where">{name.clone()}</span> })}
                            <span class="finding-when">{when}</span>
                            <button
                                type="button"
                                class="show-evidence"
                                title="Scroll to the chart that shows it"
                                on:click=move |_| reveal(panel)
                            >
                                "Show on chart"
                            </button>
                        </div>
                        <p class="cause">{finding.cause}</p>
                        <p class="fix"><span class="fix-label">"Fix"</span>{finding.fix}</p>
                    </li>
                }
            })
            .collect_view()
    };
    let all_events = RwSignal::new(false);
    let events = move || {
        let several = several();
        let local = local.get();
        let mut rows: Vec<(String, crate::wire::ReplicaEvent)> = autoscaling
            .get()
            .into_iter()
            .flat_map(|deployment| {
                let name = deployment.deployment.clone();
                deployment
                    .events
                    .into_iter()
                    .map(move |event| (name.clone(), event))
            })
            .collect();
        rows.sort_by_key(|(_, event)| std::cmp::Reverse(event.at_ms));
        let total = rows.len();
        if !all_events.get() {
            rows.truncate(EVENTS_SHOWN);
        }
        let more = (total > EVENTS_SHOWN && !all_events.get()).then(|| {
            view! {
                <button type="button" class="link-button" on:click=move |_| all_events.set(true)>
                    {format!("Show all {total}")}
                </button>
            }
        });
        (total > 0).then(|| {
            view! {
                <div class="events">
                    <h3>"Replica events"</h3>
                    <ul class="event-list">
                        {rows
                            .into_iter()
                            .map(|(name, event)| {
                                let up = event.kind == crate::wire::ReplicaEventKind::ScaleUp;
                                view! {
                                    <li class="event" class:up=up>
                                        <span class="event-time">{time_of_day(event.at_ms, local)}</span>
                                        {several.then(|| view! { <span class="event-where">{name}</span> })}
                                        <span class="event-kind">{if up { "scale-up" } else { "scale-down" }}</span>
                                        <span>{event_text(&event)}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                    {more}
                </div>
            }
        })
    };
    let settings = move || {
        autoscaling.with(|all| match all.as_slice() {
            [one] => Some(settings_text(&one.settings)),
            _ => None,
        })
    };
    let whatif = move || whatif_link(&filter.get(), &autoscaling.get());
    view! {
        <section class="card autoscaling" data-card="autoscaling">
            <header class="card-head">
                <h2>"Autoscaling"</h2>
                <a class="nav-link whatif-link" href=whatif>"What-if replay"</a>
            </header>
            <p class="now">{summary}</p>
            <ul class="findings">{findings}</ul>
            {events}
            {move || settings().map(|text| view! { <p class="settings-note">"Settings assumed: " {text}</p> })}
        </section>
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The what-if page for the view's range and its first diagnosed deployment.
fn whatif_link(filter: &Filter, autoscaling: &[Autoscaling]) -> String {
    let mut target = filter.clone();
    target.split.clear();
    target.panels.clear();
    if let Some(first) = autoscaling
        .iter()
        .find(|a| !a.findings.is_empty())
        .or(autoscaling.first())
    {
        target.environment = Some(first.environment.clone());
        target.deployment = Some(first.deployment.clone());
    }
    format!("/whatif{}", filter_query(&target))
}

/// Scrolls to the card that shows `panel`, choosing its tab.
#[cfg(feature = "hydrate")]
fn reveal(panel: PanelId) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let key = panel.key();
    if let Ok(Some(tab)) = document.query_selector(&format!("button.tab[data-tab=\"{key}\"]"))
        && let Ok(tab) = tab.dyn_into::<web_sys::HtmlElement>()
    {
        tab.click();
    }
    let card = document
        .query_selector(&format!("[data-card=\"{key}\"]"))
        .ok()
        .flatten()
        .or_else(|| {
            document
                .query_selector(&format!("[data-panel=\"{key}\"]"))
                .ok()
                .flatten()
        });
    if let Some(card) = card {
        card.scroll_into_view();
    }
}

#[cfg(not(feature = "hydrate"))]
fn reveal(_panel: PanelId) {}
