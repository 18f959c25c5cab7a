//! The targets page: every scrape target with its health, refreshed every five seconds.

use crate::components::brand::Brand;
use leptos::prelude::*;

use crate::api::load_targets;
use crate::format;
use crate::wire::{Lookalike, TargetHealth};

/// `HH:MM:SS UTC` of a Unix-milliseconds time (the same on server and browser).
fn utc_time(ms: i64) -> String {
    let seconds = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn sorted(mut targets: Vec<TargetHealth>) -> Vec<TargetHealth> {
    targets.sort_by(|a, b| {
        (a.up, &a.environment, &a.deployment, &a.replica, &a.url).cmp(&(
            b.up,
            &b.environment,
            &b.deployment,
            &b.replica,
            &b.url,
        ))
    });
    targets
}

/// Every target's lookalike families, named by the target (`deployment/replica · URL`).
fn lookalike_rows(targets: &[TargetHealth]) -> Vec<(String, Lookalike)> {
    sorted(targets.to_vec())
        .into_iter()
        .flat_map(|target| {
            let replica = if target.replica.is_empty() {
                "(deployment)"
            } else {
                target.replica.as_str()
            };
            let name = format!(
                "{}/{}/{} · {}",
                target.environment, target.deployment, replica, target.url
            );
            target
                .lookalikes
                .into_iter()
                .map(move |lookalike| (name.clone(), lookalike))
        })
        .collect()
}

/// The targets page.
#[component]
pub fn TargetsPage() -> impl IntoView {
    let clock = crate::clock::ticking(5000);
    let targets = Resource::new(move || clock.get(), |_| load_targets());
    view! {
        <header class="topbar">
            <Brand/>
            <h1 class="page-title">"Targets"</h1>
            <div class="spacer"></div>
            <a class="nav-link" href="/">"Dashboard"</a>
            <a class="nav-link" href="/families">"Other metrics"</a>
        </header>
        <Transition fallback=move || view! { <div class="loading">"Loading…"</div> }>
            {move || Suspend::new(async move {
                match targets.await {
                    Err(error) => view! {
                        <p class="banner error" role="alert">{format!("Cannot read targets: {error}")}</p>
                    }
                    .into_any(),
                    Ok(list) => {
                        let up = list.iter().filter(|t| t.up).count();
                        let down = list.len() - up;
                        let noun = if list.len() == 1 { "target" } else { "targets" };
                        let summary = format!("{} {noun} · {up} up · {down} down", list.len());
                        let lookalikes = lookalike_rows(&list);
                        view! {
                            <section class="card targets">
                                <p class="now" data-up=up data-down=down>{summary}</p>
                                <table class="target-table">
                                    <thead>
                                        <tr>
                                            <th>"State"</th>
                                            <th>"Environment"</th>
                                            <th>"Deployment"</th>
                                            <th>"Replica"</th>
                                            <th>"URL"</th>
                                            <th>"Last scrape"</th>
                                            <th class="num">"Duration"</th>
                                            <th class="num">"Samples"</th>
                                            <th>"Last error"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {sorted(list)
                                            .into_iter()
                                            .map(|target| {
                                                let state = if target.up { "up" } else { "down" };
                                                let replica = target.replica.clone();
                                                let replica_shown = if replica.is_empty() {
                                                    "(deployment)".to_owned()
                                                } else {
                                                    replica.clone()
                                                };
                                                view! {
                                                    <tr data-state=state data-replica=replica>
                                                        <td><span class=format!("pill {state}")>{state}</span></td>
                                                        <td>{target.environment}</td>
                                                        <td>{target.deployment}</td>
                                                        <td>{replica_shown}</td>
                                                        <td class="url">{target.url}</td>
                                                        <td>{target.last_scrape_ms.map(utc_time).unwrap_or_default()}</td>
                                                        <td class="num">{target.last_duration_seconds.map(format::seconds).unwrap_or_default()}</td>
                                                        <td class="num">{format::number(target.samples_scraped as f64)}</td>
                                                        <td class="error-text">{target.last_error.unwrap_or_default()}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </section>
                            <Show when={
                                let any = !lookalikes.is_empty();
                                move || any
                            }>
                                <section class="card targets lookalikes">
                                    <h2>"Families under another name"</h2>
                                    <p class="card-note">
                                        "These look like a signal inferscope reads, under another name or as an \
                                         engine's own average; the panels they would feed stay empty until the \
                                         exporter writes the name inferscope reads."
                                    </p>
                                    <table class="target-table">
                                        <thead>
                                            <tr>
                                                <th>"Target"</th>
                                                <th>"Found"</th>
                                                <th>"inferscope reads"</th>
                                                <th>"Why"</th>
                                                <th>"Panels"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {lookalikes
                                                .clone()
                                                .into_iter()
                                                .map(|(target, lookalike)| {
                                                    let panels = lookalike
                                                        .panels
                                                        .iter()
                                                        .map(|id| crate::panels::spec(*id).title)
                                                        .collect::<Vec<_>>()
                                                        .join(", ");
                                                    view! {
                                                        <tr class="lookalike-row">
                                                            <td>{target}</td>
                                                            <td><code>{lookalike.found}</code></td>
                                                            <td><code>{lookalike.expected}</code></td>
                                                            <td>{lookalike.why}</td>
                                                            <td>{panels}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                            </Show>
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_clock_times() {
        assert_eq!(utc_time(0), "00:00:00 UTC");
        assert_eq!(utc_time(1_795_857_935_905), "09:25:35 UTC");
    }
}
