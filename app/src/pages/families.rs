//! The families page: metric families no adapter knows, kept as exported, listed by name; one
//! chosen (`?name=`) is charted, a line per series, refreshed every five seconds.

use crate::components::brand::Brand;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{load_families, load_family};
use crate::components::chart::Chart;
use crate::format;
use crate::panels::{PanelSpec, Shape, Unit};
use crate::wire::{Family, FamilyView, Filter, Panel, PanelId, Series, SeriesId, TimeRange};

/// The chart of one family: its series as lines of plain numbers.
fn family_spec() -> PanelSpec {
    PanelSpec {
        // The id only keys the chart; the family's values are drawn as exported.
        id: PanelId::ConcurrentRequests,
        title: "Family",
        unit: Unit::Plain,
        shape: Shape::Lines,
        splittable: false,
        source_hint: "",
    }
}

/// A family's series as a chart panel, one line per target and series.
pub fn family_panel(view: &FamilyView) -> Panel {
    // Replica names repeat across environments: name the environment when there are several.
    let several = view
        .series
        .iter()
        .any(|series| series.environment != view.series[0].environment);
    Panel {
        id: PanelId::ConcurrentRequests,
        series: view
            .series
            .iter()
            .map(|series| {
                let member = if series.replica.is_empty() {
                    &series.deployment
                } else {
                    &series.replica
                };
                let owner = if several {
                    format!("{}/{member}", series.environment)
                } else {
                    member.clone()
                };
                // The labels tell the series of one target apart; the name is the title.
                let labels = series
                    .series
                    .strip_prefix(&*view.name)
                    .unwrap_or(&series.series);
                let label = if labels.is_empty() {
                    owner
                } else {
                    format!("{owner} {labels}")
                };
                Series {
                    id: SeriesId::Replica(label),
                    points: series.points.clone(),
                }
            })
            .collect(),
        ..Panel::empty(PanelId::ConcurrentRequests)
    }
}

/// The families page.
#[component]
pub fn FamiliesPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|query| Filter {
            environment: query.get("environment").filter(|v| !v.is_empty()),
            deployment: query.get("deployment").filter(|v| !v.is_empty()),
            range: query
                .get("range")
                .and_then(|range| TimeRange::from_param(&range))
                .filter(|range| range.duration_ms() <= TimeRange::Last1h.duration_ms())
                .unwrap_or(TimeRange::Last15m),
            ..Filter::default()
        })
    });
    let name = Memo::new(move |_| query.with(|query| query.get("name").filter(|n| !n.is_empty())));
    let clock = crate::clock::ticking(5000);
    let families = Resource::new(
        move || (filter.get(), clock.get()),
        |(filter, _)| load_families(filter),
    );
    let chosen = Resource::new(
        move || (filter.get(), name.get(), clock.get()),
        |(filter, name, _)| async move {
            match name {
                Some(name) => load_family(filter, name).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let link = move |family: &str| {
        let mut query = format!("?name={}", urlencoding(family));
        filter.with_untracked(|filter| {
            if let Some(environment) = &filter.environment {
                query.push_str(&format!("&environment={}", urlencoding(environment)));
            }
            if let Some(deployment) = &filter.deployment {
                query.push_str(&format!("&deployment={}", urlencoding(deployment)));
            }
        });
        format!("/families{query}")
    };
    view! {
        <header class="topbar">
            <Brand/>
            <h1 class="page-title">"Other metrics"</h1>
            <div class="spacer"></div>
            <a class="nav-link" href="/">"Dashboard"</a>
            <a class="nav-link" href="/targets">"Targets"</a>
        </header>
        <Transition fallback=move || view! { <div class="loading">"Loading…"</div> }>
            {move || Suspend::new(async move {
                let chart = match chosen.await {
                    Err(error) => Some(view! {
                        <p class="banner error" role="alert">{format!("Cannot read this family: {error}")}</p>
                    }.into_any()),
                    Ok(None) => None,
                    Ok(Some(family)) => {
                        let title = family.name.clone();
                        let key = family.name.clone();
                        let count = family.series.len();
                        let more = if family.truncated { " (first 100 shown)" } else { "" };
                        let window = (family.start_ms, family.end_ms);
                        let panel = family_panel(&family);
                        Some(view! {
                            <section class="card targets family" data-family=key>
                                <header class="card-head"><h2>{title}</h2></header>
                                <p class="now">{format!("{count} series{more} · values as exported")}</p>
                                <div class="plot">
                                    <Chart
                                        dom_id="chart-family".to_owned()
                                        spec=Signal::derive(family_spec)
                                        panel=Signal::derive(move || Some(panel.clone()))
                                        window=Signal::derive(move || window)
                                        on_zoom=Callback::new(|_| {})
                                    />
                                </div>
                            </section>
                        }.into_any())
                    }
                };
                let list = match families.await {
                    Err(error) => view! {
                        <p class="banner error" role="alert">{format!("Cannot list families: {error}")}</p>
                    }.into_any(),
                    Ok(list) => {
                        let summary = if list.is_empty() {
                            "Every family the targets export is shown on the dashboard.".to_owned()
                        } else {
                            let count = list.len();
                            let noun = if count == 1 { "family" } else { "families" };
                            format!("{count} {noun} no adapter knows, kept as exported")
                        };
                        view! {
                            <section class="card targets">
                                <p class="now">{summary}</p>
                                <table class="target-table family-table">
                                    <thead>
                                        <tr>
                                            <th>"Name"</th>
                                            <th class="num">"Series"</th>
                                            <th class="num">"Targets"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {list.into_iter().map(|Family { name, series, targets }| {
                                            let href = link(&name);
                                            let key = name.clone();
                                            view! {
                                                <tr data-family=key>
                                                    <td><a href=href>{name}</a></td>
                                                    <td class="num">{format::number(series as f64)}</td>
                                                    <td class="num">{format::number(targets as f64)}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                        }.into_any()
                    }
                };
                view! { <div class="families">{chart}{list}</div> }
            })}
        </Transition>
    }
}

/// Percent-encodes a query value.
fn urlencoding(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{FamilySeries, Point};

    #[test]
    fn replicas_of_several_environments_are_told_apart() {
        let series = |environment: &str| FamilySeries {
            environment: environment.into(),
            deployment: "chat".into(),
            replica: "chat-1".into(),
            series: "depth".into(),
            points: Vec::new(),
        };
        let view = FamilyView {
            name: "depth".into(),
            start_ms: 0,
            end_ms: 0,
            step_ms: 1000,
            series: vec![series("production"), series("staging")],
            truncated: false,
        };
        let ids: Vec<_> = family_panel(&view)
            .series
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            ids,
            vec![
                SeriesId::Replica("production/chat-1".into()),
                SeriesId::Replica("staging/chat-1".into())
            ]
        );
    }

    #[test]
    fn a_family_charts_a_line_per_series_and_names_encode() {
        let view = FamilyView {
            name: "queue_depth".into(),
            start_ms: 0,
            end_ms: 1000,
            step_ms: 1000,
            series: vec![FamilySeries {
                environment: "production".into(),
                deployment: "chat".into(),
                replica: "chat-2".into(),
                series: "queue_depth{queue=\"a\"}".into(),
                points: vec![Point(0, Some(3.0)), Point(1000, None)],
            }],
            truncated: false,
        };
        let panel = family_panel(&view);
        assert_eq!(panel.series.len(), 1);
        assert_eq!(
            panel.series[0].id,
            SeriesId::Replica("chat-2 {queue=\"a\"}".into())
        );
        assert_eq!(urlencoding("a b{c=\"d\"}"), "a%20b%7Bc%3D%22d%22%7D");
    }
}
