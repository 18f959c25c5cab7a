//! The what-if page: one deployment's recorded in-flight load over a range, replayed through the
//! autoscaling algorithm with settings the user edits, beside what happened. The form is a plain
//! `GET` form: the URL holds the deployment, range and every edited setting, so a replay can be
//! shared and works without scripts.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{load_view, run_whatif};
use crate::components::brand::Brand;
use crate::components::chart::Chart;
use crate::components::toolbar::range_label;
use crate::format;
use crate::insights::settings_text;
use crate::panels::{PanelSpec, Shape, Unit};
use crate::url::{FilterParams, parse_filter};
use crate::wire::{
    AutoscalerSettingsInfo, Filter, Panel, PanelId, Point, Series, SeriesId, TimeRange, WhatIf,
    WhatIfEdits, WhatIfTotals,
};

/// The edits named in a URL query (unparsable values are left out).
pub fn edits_from(get: impl Fn(&str) -> Option<String>) -> WhatIfEdits {
    let number = |key: &str| get(key).and_then(|text| text.trim().parse::<f64>().ok());
    WhatIfEdits {
        min_replicas: get("min_replicas").and_then(|t| t.trim().parse().ok()),
        max_replicas: get("max_replicas").and_then(|t| t.trim().parse().ok()),
        concurrency_target: number("concurrency_target"),
        target_utilization: number("target_utilization"),
        window_s: number("window_s"),
        scale_down_delay_s: number("scale_down_delay_s"),
        max_scale_down_rate: number("max_scale_down_rate"),
        cold_start_s: number("cold_start_s"),
    }
}

/// Two lines (or three) as a chart panel.
pub fn comparison(id: PanelId, lines: [(SeriesId, &[Point]); 3]) -> Panel {
    Panel {
        id,
        series: lines
            .into_iter()
            .filter(|(_, points)| !points.is_empty())
            .map(|(id, points)| Series {
                id,
                points: points.to_vec(),
            })
            .collect(),
        ..Panel::empty(id)
    }
}

fn spec(id: PanelId, title: &'static str, unit: Unit) -> PanelSpec {
    PanelSpec {
        id,
        title,
        unit,
        shape: Shape::Lines,
        splittable: false,
        source_hint: "",
    }
}

/// `edited` against `baseline`, as a signed percentage (`−38%`), or empty when equal.
pub fn change(edited: f64, baseline: f64) -> String {
    if baseline.abs() <= f64::EPSILON || baseline.is_nan() || (edited - baseline).abs() < 1e-9 {
        return String::new();
    }
    let percent = (edited - baseline) / baseline * 100.0;
    let sign = if percent > 0.0 { "+" } else { "−" };
    format!("{sign}{:.0}%", percent.abs())
}

/// The what-if page.
#[component]
pub fn WhatIfPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|params| {
            // A replay reads every panel it needs: split and panels do not apply.
            let raw = FilterParams {
                split: None,
                by_model: None,
                panels: None,
                ..FilterParams::read(|key| params.get_str(key))
            };
            parse_filter(&raw).unwrap_or_else(|_| Filter {
                environment: raw.environment.map(str::to_owned),
                deployment: raw.deployment.map(str::to_owned),
                range: TimeRange::Last1h,
                ..Filter::default()
            })
        })
    });
    let edits = Memo::new(move |_| query.with(|params| edits_from(|key| params.get(key))));
    let replay = Resource::new(
        move || (filter.get(), edits.get()),
        |(filter, edits)| async move {
            if filter.deployment.is_none() {
                return Ok(None);
            }
            run_whatif(filter, edits).await.map(Some)
        },
    );
    // The deployments for the menus: every one, or (a scoped link) the link's own.
    let known = Resource::new(
        move || filter.with(|f| (f.environment.clone(), f.deployment.clone())),
        |(environment, deployment)| {
            load_view(Filter {
                environment,
                deployment,
                panels: vec![PanelId::Replicas],
                ..Filter::default()
            })
        },
    );
    view! {
        <header class="topbar">
            <Brand/>
            <h1 class="page-title">"What-if replay"</h1>
            <div class="spacer"></div>
            <a class="nav-link" href="/">"Dashboard"</a>
            <a class="nav-link" href="/targets">"Targets"</a>
        </header>
        <Transition fallback=move || view! { <div class="loading">"Replaying…"</div> }>
            {move || Suspend::new(async move {
                let mut deployments = known.await.map(|view| view.deployments).unwrap_or_default();
                let shown = filter.get_untracked();
                if let (Some(environment), Some(deployment)) = (shown.environment, shown.deployment) {
                    let current = crate::wire::DeploymentRef { environment, deployment };
                    if !deployments.contains(&current) {
                        deployments.push(current);
                    }
                }
                let result = replay.await;
                let filter = filter.get_untracked();
                let edits = edits.get_untracked();
                let recorded = result.as_ref().ok().and_then(|r| r.as_ref()).map(|r| r.recorded_settings.clone());
                let cold_start = result.as_ref().ok().and_then(|r| r.as_ref()).map(|r| r.cold_start_s);
                let form = whatif_form(&filter, &edits, recorded.as_ref(), cold_start, &deployments);
                let body = match result {
                    Err(error) => view! {
                        <p class="banner error" role="alert">{format!("Cannot replay: {error}")}</p>
                    }.into_any(),
                    Ok(None) => view! {
                        <p class="banner">"Choose a deployment to replay its recorded load."</p>
                    }.into_any(),
                    Ok(Some(answer)) => results(answer).into_any(),
                };
                view! { <div class="whatif">{form}{body}</div> }
            })}
        </Transition>
    }
}

fn whatif_form(
    filter: &Filter,
    edits: &WhatIfEdits,
    recorded: Option<&AutoscalerSettingsInfo>,
    cold_start_s: Option<f64>,
    deployments: &[crate::wire::DeploymentRef],
) -> impl IntoView + use<> {
    let value = |edited: Option<f64>, recorded: Option<f64>| {
        edited
            .or(recorded)
            .map(|v| {
                let text = format!("{v:.3}");
                text.trim_end_matches('0').trim_end_matches('.').to_owned()
            })
            .unwrap_or_default()
    };
    let field = |name: &'static str,
                 label: &'static str,
                 hint: &'static str,
                 value: String,
                 step: &'static str| {
        view! {
            <label class="field">
                <span class="field-label">{label}</span>
                <input type="number" name=name value=value step=step min="0" inputmode="decimal"/>
                <span class="field-hint">{hint}</span>
            </label>
        }
    };
    let r = recorded;
    let environments: std::collections::BTreeSet<&str> =
        deployments.iter().map(|d| d.environment.as_str()).collect();
    let names: std::collections::BTreeSet<&str> =
        deployments.iter().map(|d| d.deployment.as_str()).collect();
    let options = |all: std::collections::BTreeSet<&str>, chosen: Option<&str>| {
        all.into_iter()
            .map(|name| {
                let selected = chosen == Some(name);
                let label = name.to_owned();
                view! { <option value=name.to_owned() selected=selected>{label}</option> }
            })
            .collect_view()
    };
    let environment_options = options(environments, filter.environment.as_deref());
    let deployment_options = options(names, filter.deployment.as_deref());
    let range = filter.range;
    let absolute = filter.absolute();
    view! {
        <section class="card whatif-form">
            <form method="get" action="/whatif">
                <div class="form-row">
                    <label class="field">
                        <span class="field-label">"Environment"</span>
                        <select name="environment">
                            <option value="" selected=filter.environment.is_none()>"Any"</option>
                            {environment_options}
                        </select>
                    </label>
                    <label class="field">
                        <span class="field-label">"Deployment"</span>
                        <select name="deployment">
                            <option value="" selected=filter.deployment.is_none()>"Choose…"</option>
                            {deployment_options}
                        </select>
                    </label>
                    {match absolute {
                        Some((from, to)) => view! {
                            <label class="field">
                                <span class="field-label">"Range"</span>
                                <input type="hidden" name="from" value=from.to_string()/>
                                <input type="hidden" name="to" value=to.to_string()/>
                                <span class="field-static">"as chosen on the dashboard"</span>
                            </label>
                        }.into_any(),
                        None => view! {
                            <label class="field">
                                <span class="field-label">"Range"</span>
                                <select name="range">
                                    {TimeRange::ALL.into_iter().map(|option| view! {
                                        <option value=option.as_param() selected=option == range>{range_label(option)}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                        }.into_any(),
                    }}
                </div>
                <div class="form-grid">
                    {field("min_replicas", "Min replicas", "fewest kept", value(edits.min_replicas.map(f64::from), r.map(|r| f64::from(r.min_replicas))), "1")}
                    {field("max_replicas", "Max replicas", "most allowed", value(edits.max_replicas.map(f64::from), r.map(|r| f64::from(r.max_replicas))), "1")}
                    {field("concurrency_target", "Concurrency target", "requests per replica", value(edits.concurrency_target, r.map(|r| r.concurrency_target)), "any")}
                    {field("target_utilization", "Target utilisation", "0–1", value(edits.target_utilization, r.map(|r| r.target_utilization)), "any")}
                    {field("window_s", "Autoscaling window", "seconds", value(edits.window_s, r.map(|r| r.window_s)), "any")}
                    {field("scale_down_delay_s", "Scale-down delay", "seconds", value(edits.scale_down_delay_s, r.map(|r| r.scale_down_delay_s)), "any")}
                    {field("max_scale_down_rate", "Max scale-down rate", "0–1 per step", value(edits.max_scale_down_rate, r.map(|r| r.max_scale_down_rate)), "any")}
                    {field("cold_start_s", "Cold start", "seconds per new replica", value(edits.cold_start_s, cold_start_s), "any")}
                </div>
                <div class="form-actions">
                    <button type="submit" class="primary">"Replay"</button>
                    <span class="field-hint">
                        "The recorded in-flight load (in progress plus queued) runs through the same algorithm as the demo fleet's autoscaler."
                    </span>
                </div>
            </form>
        </section>
    }
}

fn totals_row(
    label: &'static str,
    pick: fn(&WhatIfTotals) -> f64,
    show: fn(f64) -> String,
    answer: &WhatIf,
) -> impl IntoView + use<> {
    let actual = pick(&answer.actual);
    let baseline = pick(&answer.baseline);
    let predicted = pick(&answer.predicted);
    view! {
        <tr>
            <th scope="row">{label}</th>
            <td class="num">{show(actual)}</td>
            <td class="num">{show(baseline)}</td>
            <td class="num predicted">{show(predicted)} " " <span class="change">{change(predicted, baseline)}</span></td>
        </tr>
    }
}

fn results(answer: WhatIf) -> impl IntoView {
    let window = (answer.start_ms, answer.end_ms);
    let replicas = comparison(
        PanelId::Replicas,
        [
            (SeriesId::Recorded, &answer.actual_replicas),
            (SeriesId::Replayed, &answer.predicted_replicas),
            (SeriesId::Load, &[]),
        ],
    );
    let queued = comparison(
        PanelId::ConcurrentRequests,
        [
            (SeriesId::Load, &answer.load),
            (SeriesId::Recorded, &answer.actual_queued),
            (SeriesId::Replayed, &answer.predicted_queued),
        ],
    );
    let name = format!("{} / {}", answer.environment, answer.deployment);
    let cold = format!(
        "cold start {} ({})",
        format::seconds(answer.cold_start_s),
        match answer.cold_start_source.as_str() {
            "measured" => "median measured in the range",
            "request" => "as given",
            _ => "assumed: none measured",
        }
    );
    let recorded = settings_text(&answer.recorded_settings);
    let replayed = settings_text(&answer.replayed_settings);
    let minutes = |v: f64| format!("{} replica-min", format::number(v));
    let request_seconds = |v: f64| format!("{} request-s", format::number(v));
    let whole = |v: f64| format::number(v);
    view! {
        <section class="card whatif-result" data-deployment=name.clone()>
            <header class="card-head"><h2>{format!("{name}: recorded against replayed")}</h2></header>
            <p class="now">{cold}</p>
            <table class="target-table whatif-totals">
                <thead>
                    <tr>
                        <th></th>
                        <th class="num">"What happened"</th>
                        <th class="num">"Recorded settings, replayed"</th>
                        <th class="num">"These settings, replayed"</th>
                    </tr>
                </thead>
                <tbody>
                    {totals_row("Replica time", |t| t.replica_minutes, minutes, &answer)}
                    {totals_row("Time requests queued", |t| t.queued_request_seconds, request_seconds, &answer)}
                    {totals_row("Most replicas at once", |t| t.peak_replicas, whole, &answer)}
                    {totals_row("Scale events", |t| t.scale_events as f64, whole, &answer)}
                </tbody>
            </table>
            <p class="settings-note">"Recorded: " {recorded}</p>
            <p class="settings-note">"Replayed: " {replayed}</p>
        </section>
        <div class="grid whatif-charts">
            <section class="card" data-card="whatif-replicas">
                <header class="card-head"><h2>"Replicas"</h2></header>
                <p class="now">"Active plus starting"</p>
                <div class="plot">
                    <Chart
                        dom_id="chart-whatif-replicas".to_owned()
                        spec=Signal::derive(|| spec(PanelId::Replicas, "Replicas", Unit::Replicas))
                        panel=Signal::derive(move || Some(replicas.clone()))
                        window=Signal::derive(move || window)
                        on_zoom=Callback::new(|_| {})
                    />
                </div>
            </section>
            <section class="card" data-card="whatif-queued">
                <header class="card-head"><h2>"Requests in flight and queued"</h2></header>
                <p class="now">"Queued: load beyond the concurrency target of each active replica"</p>
                <div class="plot">
                    <Chart
                        dom_id="chart-whatif-queued".to_owned()
                        spec=Signal::derive(|| spec(PanelId::ConcurrentRequests, "Queued", Unit::Requests))
                        panel=Signal::derive(move || Some(queued.clone()))
                        window=Signal::derive(move || window)
                        on_zoom=Callback::new(|_| {})
                    />
                </div>
            </section>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_read_from_the_query_leave_out_what_is_absent_or_unparsable() {
        let query = [
            ("scale_down_delay_s", "600"),
            ("max_replicas", "12"),
            ("window_s", "soon"),
        ];
        let edits = edits_from(|key| {
            query
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        });
        assert_eq!(edits.scale_down_delay_s, Some(600.0));
        assert_eq!(edits.max_replicas, Some(12));
        assert_eq!(edits.window_s, None);
        assert_eq!(edits.min_replicas, None);
    }

    #[test]
    fn changes_are_signed_percentages() {
        assert_eq!(change(62.0, 100.0), "−38%");
        assert_eq!(change(150.0, 100.0), "+50%");
        assert_eq!(change(5.0, 5.0), "");
        assert_eq!(change(5.0, 0.0), "");
        let panel = comparison(
            PanelId::Replicas,
            [
                (SeriesId::Recorded, &[Point(0, Some(1.0))]),
                (SeriesId::Replayed, &[]),
                (SeriesId::Load, &[]),
            ],
        );
        assert_eq!(panel.series.len(), 1);
    }
}
