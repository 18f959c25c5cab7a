//! Families no adapter knows, browsed and charted by name, as the exporter wrote them.
//!
//! [`families`] lists the names (with how many series and targets have each) for a filter;
//! [`family_view`] gives one family's series on the view grid, each point the last value
//! exported at or before it (a counter shows its running total, as exported). Raw series keep
//! raw points only, for the store's retention.

use std::collections::{BTreeMap, BTreeSet};

use app::wire::Filter;
pub use app::wire::{Family, FamilySeries, FamilyView};

use super::{Grid, QuerySettings, Source, gauge_line, matches, points, read};
use crate::store::Store;

/// Most families listed.
pub const MAX_FAMILIES: usize = 5000;
/// Most series of one family returned (`truncated` says when more matched).
pub const MAX_FAMILY_SERIES: usize = 100;

/// The metric name of a raw series (`name{labels}` or `name`).
pub fn family_name(series: &str) -> &str {
    series.split_once('{').map_or(series, |(name, _)| name)
}

/// Families in scope, sorted by name.
pub fn families(store: &Store, filter: &Filter) -> Vec<Family> {
    let mut found: BTreeMap<&str, (usize, BTreeSet<_>)> = BTreeMap::new();
    for (target, series) in store.all_raw_series() {
        if !matches(filter, target) {
            continue;
        }
        let entry = found.entry(family_name(&series.name)).or_default();
        entry.0 += 1;
        entry.1.insert(target);
    }
    found
        .into_iter()
        .take(MAX_FAMILIES)
        .map(|(name, (series, targets))| Family {
            name: name.to_owned(),
            series,
            targets: targets.len(),
        })
        .collect()
}

/// One family's series on the grid of `filter` at `now_ms`.
pub fn family_view(
    store: &Store,
    filter: &Filter,
    name: &str,
    now_ms: i64,
    settings: QuerySettings,
) -> FamilyView {
    let grid = Grid::for_filter(filter, now_ms, settings);
    let mut chosen: Vec<_> = store
        .all_raw_series()
        .filter(|(target, series)| matches(filter, target) && family_name(&series.name) == name)
        .collect();
    chosen.sort_by(|(a, x), (b, y)| (a, &x.name).cmp(&(b, &y.name)));
    let truncated = chosen.len() > MAX_FAMILY_SERIES;
    let series = chosen
        .into_iter()
        .take(MAX_FAMILY_SERIES)
        .map(|(target, series)| {
            let source = Source {
                main: &series.points,
                tail: None,
            };
            FamilySeries {
                environment: target.environment.to_string(),
                deployment: target.deployment.to_string(),
                replica: target.replica.to_string(),
                series: series.name.to_string(),
                points: points(&grid, gauge_line(&read(source, &grid), &grid)),
            }
        })
        .collect();
    FamilyView {
        name: name.to_owned(),
        start_ms: grid.start_ms,
        end_ms: grid.end_ms,
        step_ms: grid.step_ms,
        series,
        truncated,
    }
}

#[cfg(test)]
mod tests {

    use app::wire::TimeRange;

    use super::*;
    use crate::model::{RawSamples, TargetLabels};
    use crate::store::{ScrapeReport, ScrapeSuccess, StoreLimits};

    fn report(
        replica: &str,
        at_ms: i64,
        values: Vec<(u64, f64)>,
        names: Vec<(u64, &str)>,
    ) -> ScrapeReport {
        ScrapeReport {
            url: format!("http://{replica}/metrics"),
            target: TargetLabels::exporter("production", "chat", replica),
            at_ms,
            duration_seconds: 0.0,
            outcome: Ok(ScrapeSuccess {
                observations: Vec::new(),
                engines: Vec::new(),
                lookalikes: Vec::new(),
                samples: values.len() as u64,
                covered_seconds: None,
                raw: RawSamples {
                    values,
                    names: names.into_iter().map(|(id, n)| (id, n.into())).collect(),
                },
            }),
        }
    }

    #[test]
    fn families_are_listed_and_charted_by_name() {
        let mut store = Store::new(StoreLimits {
            retention_ms: 3_600_000,
            max_points_per_series: 1000,
            max_series: 100,
        });
        let t0 = 1_000_000_000;
        let names = vec![
            (1, "my_queue_depth{queue=\"a\"}"),
            (2, "my_queue_depth{queue=\"b\"}"),
            (3, "my_build_info"),
        ];
        store.apply(report(
            "r1",
            t0,
            vec![(1, 3.0), (2, 4.0), (3, 1.0)],
            names.clone(),
        ));
        store.apply(report("r2", t0, vec![(1, 5.0)], vec![names[0]]));
        store.apply(report(
            "r1",
            t0 + 1000,
            vec![(1, 6.0), (2, 4.0), (3, 1.0)],
            vec![],
        ));
        let all = families(&store, &Filter::default());
        assert_eq!(
            all,
            vec![
                Family {
                    name: "my_build_info".into(),
                    series: 1,
                    targets: 1
                },
                Family {
                    name: "my_queue_depth".into(),
                    series: 3,
                    targets: 2
                },
            ]
        );
        let filter = Filter {
            range: TimeRange::Last5m,
            ..Filter::default()
        };
        let settings = QuerySettings {
            no_gpu_driver: false,
            scrape_interval_ms: 1000,
            raw_retention_ms: 3_600_000,
        };
        let view = family_view(&store, &filter, "my_queue_depth", t0 + 1000, settings);
        let names: Vec<_> = view
            .series
            .iter()
            .map(|s| format!("{}/{}", s.replica, s.series))
            .collect();
        assert_eq!(
            names,
            vec![
                "r1/my_queue_depth{queue=\"a\"}",
                "r1/my_queue_depth{queue=\"b\"}",
                "r2/my_queue_depth{queue=\"a\"}",
            ]
        );
        let last = |series: &FamilySeries| series.points.last().and_then(|p| p.1);
        assert_eq!(last(&view.series[0]), Some(6.0));
        assert_eq!(last(&view.series[2]), Some(5.0));
        assert!(!view.truncated);
        assert!(
            family_view(&store, &filter, "absent", t0, settings)
                .series
                .is_empty()
        );
    }
}
