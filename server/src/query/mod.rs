//! Query: panel data for a filter and a time range, computed from the store.
//!
//! Every panel is sampled on one grid of evenly spaced times (`step_ms` apart, aligned to the
//! step so that successive views share their points). At each time `t`:
//! - a **rate** sums counter increments reported in `(t - window, t]` and divides by the time
//!   the window covers (less than the window while a target has just started being scraped);
//! - a **percentile** merges the histogram increments reported in `(t - window, t]` across
//!   series and estimates the quantile from the merged buckets;
//! - a **gauge** sums, over series, the last reading in `(t - lookback, t]`, skipping series
//!   whose last point is a stale marker.
//!
//! A point is `null` when no series contributed: the chart shows a gap.
//! The window is `max(step, 5 × scrape interval)`, the lookback `max(step, 2 × scrape interval)`.

pub mod math;

use std::collections::{BTreeSet, HashMap};

use app::wire::{
    DeploymentRef, Filter, Panel, PanelId, Point, Series, SeriesId, TargetHealth, TimeRange, View,
};

use crate::model::{Signal, TargetLabels};
use crate::store::{Samples, Store, StoreClosed, StoreHandle};
use math::{Estimate, MergedHistogram};

/// At most this many points per series in a view (the chart cannot show more).
pub const MAX_POINTS: i64 = 300;

/// How queries relate to the scrape schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuerySettings {
    /// The scrape interval, milliseconds: the finest step worth showing.
    pub scrape_interval_ms: i64,
}

/// The times a view is sampled at and the spans each point aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// First point.
    pub start_ms: i64,
    /// Last point.
    pub end_ms: i64,
    /// Distance between points.
    pub step_ms: i64,
    /// Span a rate or percentile point aggregates.
    pub window_ms: i64,
    /// How far back a gauge point looks for a reading.
    pub lookback_ms: i64,
}

impl Grid {
    /// The grid for a live range ending at `now_ms`.
    pub fn live(range: TimeRange, now_ms: i64, settings: QuerySettings) -> Grid {
        let range_ms = range.duration_ms();
        let interval = settings.scrape_interval_ms.max(1);
        let finest = ((range_ms / MAX_POINTS) as u64).div_ceil(1000) as i64 * 1000;
        let step_ms = interval.max(finest);
        let end_ms = now_ms.div_euclid(step_ms) * step_ms;
        let points = range_ms / step_ms;
        Grid {
            start_ms: end_ms - points * step_ms,
            end_ms,
            step_ms,
            window_ms: step_ms.max(5 * interval),
            lookback_ms: step_ms.max(2 * interval),
        }
    }

    /// The sample times, oldest first.
    pub fn times(&self) -> impl Iterator<Item = i64> + use<> {
        let Grid {
            start_ms,
            end_ms,
            step_ms,
            ..
        } = *self;
        (0..)
            .map(move |index| start_ms + index * step_ms)
            .take_while(move |time| *time <= end_ms)
    }

    fn len(&self) -> usize {
        ((self.end_ms - self.start_ms) / self.step_ms + 1) as usize
    }
}

fn matches(filter: &Filter, target: &TargetLabels) -> bool {
    filter
        .environment
        .as_deref()
        .is_none_or(|environment| environment == &*target.environment)
        && filter
            .deployment
            .as_deref()
            .is_none_or(|deployment| deployment == &*target.deployment)
}

/// The whole view for a filter at `now_ms`.
pub fn view(store: &Store, filter: &Filter, now_ms: i64, settings: QuerySettings) -> View {
    let grid = Grid::live(filter.range, now_ms, settings);
    let panels = PanelId::ALL
        .into_iter()
        .map(|id| match id {
            PanelId::InferenceVolume => inference_volume(store, filter, &grid),
            PanelId::ResponseTime => percentiles(store, filter, &grid, id, Signal::EndToEndSeconds),
            PanelId::Replicas => gauges(
                store,
                filter,
                &grid,
                id,
                &[
                    (SeriesId::Active, Signal::ReplicasActive, None),
                    (SeriesId::Starting, Signal::ReplicasStarting, None),
                ],
            ),
            PanelId::ConcurrentRequests => gauges(
                store,
                filter,
                &grid,
                id,
                &[
                    (
                        SeriesId::InProgress,
                        Signal::ConcurrentRequests,
                        Some(DetailMatch::InProgress),
                    ),
                    (
                        SeriesId::Queued,
                        Signal::ConcurrentRequests,
                        Some(DetailMatch::Exactly("queued")),
                    ),
                ],
            ),
        })
        .collect();
    View {
        filter: filter.clone(),
        start_ms: grid.start_ms,
        end_ms: grid.end_ms,
        step_ms: grid.step_ms,
        deployments: deployments(store),
        panels,
    }
}

/// Computes a view inside the store task.
pub async fn view_from(
    store: &StoreHandle,
    filter: Filter,
    now_ms: i64,
    settings: QuerySettings,
) -> Result<View, StoreClosed> {
    store
        .read(move |store| view(store, &filter, now_ms, settings))
        .await
}

/// Every (environment, deployment) some target reports, sorted.
pub fn deployments(store: &Store) -> Vec<DeploymentRef> {
    store
        .targets()
        .map(|status| DeploymentRef {
            environment: status.labels.environment.to_string(),
            deployment: status.labels.deployment.to_string(),
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Scrape health of every target, as the API and the targets page show it.
pub fn targets(store: &Store) -> Vec<TargetHealth> {
    store
        .targets()
        .map(|status| TargetHealth {
            url: status.url.clone(),
            environment: status.labels.environment.to_string(),
            deployment: status.labels.deployment.to_string(),
            replica: status.labels.replica.to_string(),
            up: status.up,
            last_scrape_ms: Some(status.last_scrape_ms),
            last_duration_seconds: Some(status.last_duration_seconds),
            samples_scraped: status.samples_scraped,
            last_error: status.last_error.clone(),
            engines: status.engines.iter().map(|e| (*e).to_owned()).collect(),
        })
        .collect()
}

/// When each target's first scrape in the store happened: increments start after it.
fn scraped_since(store: &Store) -> HashMap<&TargetLabels, i64> {
    store
        .series(Signal::Up)
        .filter_map(|(key, samples)| match samples {
            Samples::Gauge(ring) => ring.first_time().map(|time| (&key.target, time)),
            _ => None,
        })
        .collect()
}

fn status_class(code: &str) -> Option<SeriesId> {
    match code.as_bytes().first() {
        Some(b'2') => Some(SeriesId::Status2xx),
        Some(b'4') => Some(SeriesId::Status4xx),
        Some(b'5') => Some(SeriesId::Status5xx),
        _ => None,
    }
}

fn inference_volume(store: &Store, filter: &Filter, grid: &Grid) -> Panel {
    let classes = [
        SeriesId::Status2xx,
        SeriesId::Status4xx,
        SeriesId::Status5xx,
    ];
    let mut sums = vec![vec![0.0; grid.len()]; classes.len()];
    let mut present = vec![false; grid.len()];
    let since = scraped_since(store);
    for (key, samples) in store.series(Signal::Requests) {
        let Samples::Counter(ring) = samples else {
            continue;
        };
        if !matches(filter, &key.target) {
            continue;
        }
        let class = key
            .detail
            .as_deref()
            .and_then(status_class)
            .and_then(|class| classes.iter().position(|c| *c == class));
        let first_ms = since
            .get(&key.target)
            .copied()
            .or_else(|| ring.first_time())
            .unwrap_or(grid.start_ms);
        for (index, time) in grid.times().enumerate() {
            let window_start = time - grid.window_ms;
            let mut total = 0.0;
            let mut last_ms = None;
            for (at_ms, value) in ring.range(window_start, time) {
                if let Some(value) = value {
                    total += value;
                    last_ms = Some(at_ms);
                }
            }
            let Some(last_ms) = last_ms else {
                continue;
            };
            // A full window covers its whole length; a target scraped for less time than that
            // covers from its first (baseline) scrape to its last increment.
            let covered_ms = if first_ms <= window_start {
                grid.window_ms
            } else {
                last_ms - first_ms
            };
            let Some(rate) = math::rate([total], covered_ms) else {
                continue;
            };
            present[index] = true;
            if let Some(class) = class {
                sums[class][index] += rate;
            }
        }
    }
    let series = if present.iter().any(|p| *p) {
        classes
            .iter()
            .zip(sums)
            .map(|(id, values)| Series {
                id: *id,
                points: grid
                    .times()
                    .zip(values)
                    .zip(&present)
                    .map(|((time, value), present)| Point(time, present.then_some(value)))
                    .collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    Panel {
        id: PanelId::InferenceVolume,
        series,
        top_bucket: None,
    }
}

const QUANTILES: [(SeriesId, f64); 4] = [
    (SeriesId::P50, 0.50),
    (SeriesId::P90, 0.90),
    (SeriesId::P95, 0.95),
    (SeriesId::P99, 0.99),
];

fn percentiles(store: &Store, filter: &Filter, grid: &Grid, id: PanelId, signal: Signal) -> Panel {
    let rings: Vec<_> = store
        .series(signal)
        .filter(|(key, _)| matches(filter, &key.target))
        .filter_map(|(_, samples)| match samples {
            Samples::Histogram(ring) => Some(ring),
            _ => None,
        })
        .collect();
    if rings.is_empty() {
        return Panel {
            id,
            series: Vec::new(),
            top_bucket: None,
        };
    }
    let mut values: Vec<Vec<Point>> = vec![Vec::with_capacity(grid.len()); QUANTILES.len()];
    let mut top_bucket: Option<f64> = None;
    for time in grid.times() {
        let mut merged = MergedHistogram::new();
        for ring in &rings {
            for (_, increment) in ring.range(time - grid.window_ms, time) {
                if let Some(increment) = increment {
                    merged.add(increment);
                }
            }
        }
        if let Some(top) = merged.top_bound() {
            top_bucket = Some(top_bucket.map_or(top, |known| known.max(top)));
        }
        let (bounds, cumulative) = merged.cumulative();
        for ((_, q), points) in QUANTILES.iter().zip(values.iter_mut()) {
            let estimate = math::quantile(*q, &bounds, &cumulative).map(Estimate::value);
            points.push(Point(time, estimate));
        }
    }
    Panel {
        id,
        series: QUANTILES
            .iter()
            .zip(values)
            .map(|((series_id, _), points)| Series {
                id: *series_id,
                points,
            })
            .collect(),
        top_bucket,
    }
}

/// Which detail values a gauge series takes.
#[derive(Clone, Copy, Debug)]
enum DetailMatch {
    /// Exactly this value.
    Exactly(&'static str),
    /// `in_progress`, or no detail at all (exporters that report one concurrency number).
    InProgress,
}

fn detail_matches(wanted: Option<DetailMatch>, detail: Option<&str>) -> bool {
    match wanted {
        None => true,
        Some(DetailMatch::Exactly(value)) => detail == Some(value),
        Some(DetailMatch::InProgress) => matches!(detail, None | Some("in_progress")),
    }
}

fn gauges(
    store: &Store,
    filter: &Filter,
    grid: &Grid,
    id: PanelId,
    lines: &[(SeriesId, Signal, Option<DetailMatch>)],
) -> Panel {
    let mut series = Vec::new();
    for &(series_id, signal, wanted) in lines {
        let rings: Vec<_> = store
            .series(signal)
            .filter(|(key, _)| {
                matches(filter, &key.target) && detail_matches(wanted, key.detail.as_deref())
            })
            .filter_map(|(_, samples)| match samples {
                Samples::Gauge(ring) => Some(ring),
                _ => None,
            })
            .collect();
        if rings.is_empty() {
            continue;
        }
        let points = grid
            .times()
            .map(|time| {
                let mut total = None;
                for ring in &rings {
                    if let Some((_, Some(value))) = ring.last_in(time - grid.lookback_ms, time) {
                        *total.get_or_insert(0.0) += value;
                    }
                }
                Point(time, total)
            })
            .collect();
        series.push(Series {
            id: series_id,
            points,
        });
    }
    Panel {
        id,
        series,
        top_bucket: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{HistogramIncrement, Observation, Value};
    use crate::store::{ScrapeReport, ScrapeSuccess, StoreLimits};

    const SETTINGS: QuerySettings = QuerySettings {
        scrape_interval_ms: 1000,
    };

    fn target(deployment: &str, replica: &str) -> TargetLabels {
        TargetLabels {
            environment: Arc::from("production"),
            deployment: Arc::from(deployment),
            replica: Arc::from(replica),
        }
    }

    fn store() -> Store {
        Store::new(StoreLimits {
            retention_ms: 3_600_000,
            max_points_per_series: 10_000,
            max_series: 1000,
        })
    }

    fn scrape(
        store: &mut Store,
        target: &TargetLabels,
        at_ms: i64,
        observations: Vec<Observation>,
    ) {
        store.apply(ScrapeReport {
            url: format!("http://{}/metrics", target.replica),
            target: target.clone(),
            at_ms,
            duration_seconds: 0.001,
            outcome: Ok(ScrapeSuccess {
                samples: observations.len() as u64,
                observations,
                raw: crate::model::RawSamples::default(),
                engines: Vec::new(),
            }),
        });
    }

    fn requests(code: &str, increment: f64) -> Observation {
        Observation {
            signal: Signal::Requests,
            detail: Some(Arc::from(code)),
            value: Value::Increment(increment),
        }
    }

    /// The last five minutes: one point per second at these settings.
    fn five_minutes() -> Filter {
        Filter {
            range: TimeRange::Last5m,
            ..Filter::default()
        }
    }

    fn value_at(panel: &Panel, id: SeriesId, time: i64) -> Option<f64> {
        panel
            .series(id)
            .and_then(|series| series.points.iter().find(|p| p.0 == time))
            .and_then(|p| p.1)
    }

    #[test]
    fn grid_is_aligned_and_bounded() {
        let grid = Grid::live(TimeRange::Last5m, 1_000_000_500, SETTINGS);
        assert_eq!(grid.step_ms, 1000);
        assert_eq!(grid.end_ms, 1_000_000_000);
        assert_eq!(grid.times().count(), 301);
        let hour = Grid::live(TimeRange::Last1h, 1_000_000_500, SETTINGS);
        assert_eq!(hour.step_ms, 12_000);
        assert_eq!(hour.end_ms % hour.step_ms, 0);
        assert!(hour.times().count() as i64 <= MAX_POINTS + 1);
    }

    #[test]
    fn request_rates_by_class_over_two_replicas() {
        let mut store = store();
        let a = target("chat", "a");
        let b = target("chat", "b");
        let t0 = 1_000_000_000;
        // Baseline scrape (no increments), then 10 scrapes a second apart.
        scrape(&mut store, &a, t0, vec![]);
        scrape(&mut store, &b, t0, vec![]);
        for second in 1..=10 {
            let at = t0 + second * 1000;
            scrape(
                &mut store,
                &a,
                at,
                vec![requests("200", 4.0), requests("503", 1.0)],
            );
            scrape(
                &mut store,
                &b,
                at,
                vec![requests("200", 6.0), requests("404", 2.0)],
            );
        }
        let view = view(&store, &five_minutes(), t0 + 10_000, SETTINGS);
        let panel = view.panel(PanelId::InferenceVolume).expect("panel");
        let end = t0 + 10_000;
        assert_eq!(value_at(panel, SeriesId::Status2xx, end), Some(10.0));
        assert_eq!(value_at(panel, SeriesId::Status4xx, end), Some(2.0));
        assert_eq!(value_at(panel, SeriesId::Status5xx, end), Some(1.0));
        // Two seconds after the first scrape only two seconds are covered: same rate.
        assert_eq!(value_at(panel, SeriesId::Status2xx, t0 + 2000), Some(10.0));
        assert_eq!(value_at(panel, SeriesId::Status2xx, t0 + 1000), Some(10.0));
        // Before any increment there is no data, not zero.
        assert_eq!(value_at(panel, SeriesId::Status2xx, t0), None);
    }

    #[test]
    fn filters_pick_deployments() {
        let mut store = store();
        let chat = target("chat", "a");
        let embed = target("embed", "a");
        let t0 = 2_000_000_000;
        for second in 0..=5 {
            let at = t0 + second * 1000;
            scrape(&mut store, &chat, at, vec![requests("200", 1.0)]);
            scrape(&mut store, &embed, at, vec![requests("200", 100.0)]);
        }
        let filter = Filter {
            deployment: Some("embed".into()),
            ..five_minutes()
        };
        let view = view(&store, &filter, t0 + 5000, SETTINGS);
        let panel = view.panel(PanelId::InferenceVolume).expect("panel");
        assert_eq!(value_at(panel, SeriesId::Status2xx, t0 + 5000), Some(100.0));
        assert_eq!(view.deployments.len(), 2);
    }

    #[test]
    fn percentiles_merge_replicas_and_report_the_top_bucket() {
        let mut store = store();
        let bounds: Arc<[f64]> = Arc::from(vec![0.5, 1.0, 2.0]);
        let histogram = |buckets: Vec<(u32, f64)>| Observation {
            signal: Signal::EndToEndSeconds,
            detail: None,
            value: Value::Histogram(HistogramIncrement {
                bounds: bounds.clone(),
                count: buckets.iter().map(|(_, c)| c).sum(),
                buckets,
                sum: 0.0,
            }),
        };
        let t0 = 3_000_000_000;
        // Replica a: 50 fast requests; replica b: 49 in (1, 2] and one above 2 s.
        scrape(
            &mut store,
            &target("chat", "a"),
            t0,
            vec![histogram(vec![(0, 50.0)])],
        );
        scrape(
            &mut store,
            &target("chat", "b"),
            t0,
            vec![histogram(vec![(2, 49.0), (3, 1.0)])],
        );
        let view = view(&store, &five_minutes(), t0, SETTINGS);
        let panel = view.panel(PanelId::ResponseTime).expect("panel");
        assert_eq!(value_at(panel, SeriesId::P50, t0), Some(0.5));
        let p90 = value_at(panel, SeriesId::P90, t0).expect("p90");
        assert!((p90 - (1.0 + 40.0 / 49.0)).abs() < 1e-9, "{p90}");
        assert_eq!(value_at(panel, SeriesId::P99, t0), Some(2.0));
        assert_eq!(panel.top_bucket, Some(2.0));
    }

    #[test]
    fn gauges_sum_targets_and_gap_when_stale() {
        let mut store = store();
        let gauge = |signal, detail: Option<&str>, value| Observation {
            signal,
            detail: detail.map(Arc::from),
            value: Value::Gauge(value),
        };
        let t0 = 4_000_000_000;
        let router = target("chat", "");
        let replica = target("chat", "a");
        scrape(
            &mut store,
            &router,
            t0,
            vec![
                gauge(Signal::ReplicasActive, None, 3.0),
                gauge(Signal::ConcurrentRequests, Some("queued"), 4.0),
            ],
        );
        scrape(
            &mut store,
            &replica,
            t0,
            vec![gauge(Signal::ConcurrentRequests, None, 5.0)],
        );
        store.apply(ScrapeReport {
            url: "http://router/metrics".into(),
            target: router.clone(),
            at_ms: t0 + 1000,
            duration_seconds: 0.5,
            outcome: Err("connection refused".into()),
        });
        let view = view(&store, &five_minutes(), t0 + 1000, SETTINGS);
        let replicas = view.panel(PanelId::Replicas).expect("panel");
        assert_eq!(value_at(replicas, SeriesId::Active, t0), Some(3.0));
        assert_eq!(value_at(replicas, SeriesId::Active, t0 + 1000), None);
        assert!(replicas.series(SeriesId::Starting).is_none());
        let concurrency = view.panel(PanelId::ConcurrentRequests).expect("panel");
        assert_eq!(value_at(concurrency, SeriesId::InProgress, t0), Some(5.0));
        assert_eq!(value_at(concurrency, SeriesId::Queued, t0), Some(4.0));
        assert_eq!(value_at(concurrency, SeriesId::Queued, t0 + 1000), None);
    }
}
