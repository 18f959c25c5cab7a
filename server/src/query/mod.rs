//! Query: panel data for a filter and a time range, computed from the store.
//!
//! Every panel is sampled on one grid of evenly spaced times (`step_ms` apart, a round step
//! aligned to itself so that successive views share their points; about [`MAX_POINTS`] per
//! range). At each time `t`:
//! - a **rate** sums counter increments reported in `(t - window, t]` and divides by the time
//!   the window covers (less than the window while a target has just started being scraped);
//! - a **percentile** merges the histogram increments reported in `(t - window, t]` across
//!   series and estimates the quantile from the merged buckets; where exporters give only
//!   summaries, it is the largest of their own quantiles, and the panel says so;
//! - a **gauge** sums (or averages, per panel), over series, the last reading in
//!   `(t - lookback, t]`, skipping series whose last point is a stale marker.
//!
//! A point is `null` when no series contributed: the chart shows a gap.
//! The window is `max(step, 5 × scrape interval)`, the lookback `max(step, 2 × scrape interval)`.

pub mod math;
pub mod raw;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use app::wire::{
    AbovePoint, DeploymentRef, Filter, Lookalike, MAX_BOUNDS, MAX_HINTS, MAX_MODELS, Panel,
    PanelId, Point, Series, SeriesId, TargetHealth, View,
};

use crate::model::{
    DETAIL_COUNT, DETAIL_PROCESS, DETAIL_SUM, HistogramIncrement, Origin, RATE_WINDOW_SCRAPES,
    Signal, TargetLabels,
};
use crate::store::{
    FloatSeries, HistogramSeries, Resolution, Samples, SeriesKey, Store, StoreClosed, StoreHandle,
    TIERS,
};
use math::{Estimate, MergedHistogram};

/// About this many points per series in a view (the chart cannot show more).
pub const MAX_POINTS: i64 = 300;

/// Steps a grid may use, milliseconds: round numbers, so points line up across views.
const STEPS_MS: [i64; 17] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
];

/// How queries relate to the scrape schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuerySettings {
    /// The scrape interval, milliseconds: the finest step worth showing.
    pub scrape_interval_ms: i64,
    /// How long raw points are kept; older ranges are read from the rollup tiers.
    pub raw_retention_ms: i64,
    /// This host has no NVIDIA driver (NVML did not load): the GPU panels say so.
    pub no_gpu_driver: bool,
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
    /// The end of the range asked for: the last point (rounded up to a step) covers its
    /// window only up to here, so the newest data shows at every step.
    pub to_ms: i64,
    /// The copy of the data the grid reads: raw points, or the finest rollup tier that still
    /// holds the start of the range.
    pub resolution: Resolution,
}

impl Grid {
    /// The grid for a filter at `now_ms`: its live window, or its absolute range.
    pub fn for_filter(filter: &Filter, now_ms: i64, settings: QuerySettings) -> Grid {
        let (from_ms, to_ms) = filter
            .absolute()
            .unwrap_or((now_ms - filter.range.duration_ms(), now_ms));
        let range_ms = to_ms - from_ms;
        let scrape_interval = settings.scrape_interval_ms.max(1);
        let (resolution, interval) = if from_ms >= now_ms - settings.raw_retention_ms {
            (Resolution::Raw, scrape_interval)
        } else {
            let index = TIERS
                .iter()
                .position(|tier| from_ms >= now_ms - tier.retention_ms)
                .unwrap_or(TIERS.len() - 1);
            (Resolution::Tier(index), TIERS[index].step_ms)
        };
        let wanted = interval.max(range_ms / MAX_POINTS);
        let step_ms = STEPS_MS
            .iter()
            .copied()
            .find(|step| *step >= wanted)
            .unwrap_or(wanted);
        // Rounded up: the last point covers the newest (partial) step rather than leaving up
        // to a step of data unshown.
        let end_ms = (to_ms + step_ms - 1).div_euclid(step_ms) * step_ms;
        let points = (range_ms / step_ms).max(1);
        let window_ms = match resolution {
            Resolution::Raw => step_ms.max(RATE_WINDOW_SCRAPES * interval),
            Resolution::Tier(_) => step_ms.max(interval),
        };
        Grid {
            start_ms: end_ms - points * step_ms,
            end_ms,
            step_ms,
            window_ms,
            lookback_ms: step_ms.max(2 * interval),
            to_ms,
            resolution,
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

    /// The earliest time any point of this grid reads.
    fn earliest(&self) -> i64 {
        self.start_ms - self.window_ms.max(self.lookback_ms)
    }
}

/// A replica's identity whatever reader reported it.
fn identity(target: &TargetLabels) -> (&str, &str, &str) {
    (&target.environment, &target.deployment, &target.replica)
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

/// A line of values on the grid; `None` where nothing contributed.
type Line = Vec<Option<f64>>;

/// Adds `value` into a line slot.
fn accumulate(slot: &mut Option<f64>, value: f64) {
    *slot.get_or_insert(0.0) += value;
}

/// Turns a line into points.
fn points(grid: &Grid, line: Line) -> Vec<Point> {
    grid.times()
        .zip(line)
        .map(|(time, value)| Point(time, value))
        .collect()
}

/// A series as a view reads it: at the grid's resolution, and beside a rollup tier its raw
/// points, which supply what the rollup has not gathered yet (its newest, unfinished step).
/// Increments stay increments and readings stay readings at any granularity, so rates, merged
/// histograms and last readings read the two as one series.
#[derive(Clone, Copy)]
struct Source<'a, T> {
    main: &'a T,
    tail: Option<&'a T>,
}

impl<'a> Source<'a, FloatSeries> {
    fn counter(main: &'a Samples, raw: Option<&'a Samples>) -> Option<Self> {
        match (main, raw) {
            (Samples::Counter(main), Some(Samples::Counter(tail))) => Some(Source {
                main,
                tail: Some(tail),
            }),
            (Samples::Counter(main), _) => Some(Source { main, tail: None }),
            _ => None,
        }
    }

    fn gauge(main: &'a Samples, raw: Option<&'a Samples>) -> Option<Self> {
        match (main, raw) {
            (Samples::Gauge(main), Some(Samples::Gauge(tail))) => Some(Source {
                main,
                tail: Some(tail),
            }),
            (Samples::Gauge(main), _) => Some(Source { main, tail: None }),
            _ => None,
        }
    }
}

impl<'a> Source<'a, HistogramSeries> {
    fn histogram(main: &'a Samples, raw: Option<&'a Samples>) -> Option<Self> {
        match (main, raw) {
            (Samples::Histogram(main), Some(Samples::Histogram(tail))) => Some(Source {
                main,
                tail: Some(tail),
            }),
            (Samples::Histogram(main), _) => Some(Source { main, tail: None }),
            _ => None,
        }
    }
}

/// The points of a float series a grid needs, oldest first.
fn read(source: Source<'_, FloatSeries>, grid: &Grid) -> Vec<(i64, Option<f64>)> {
    let mut points: Vec<_> = source.main.range(grid.earliest(), grid.end_ms).collect();
    if let Some(tail) = source.tail {
        let after = source
            .main
            .last_time()
            .unwrap_or(i64::MIN)
            .max(grid.earliest());
        points.extend(tail.range(after, grid.end_ms));
    }
    points
}

/// Per-grid-point sum of one counter series' increments reported in `(t - window, t]`
/// (`None` where it reported nothing there). Each window is summed afresh, oldest first, so
/// equal inputs give equal sums whatever came before.
fn window_sums(points: &[(i64, Option<f64>)], grid: &Grid) -> Line {
    let mut line = Vec::with_capacity(grid.len());
    let (mut left, mut right) = (0usize, 0usize);
    for time in grid.times() {
        while right < points.len() && points[right].0 <= time {
            right += 1;
        }
        while left < right && points[left].0 <= time - grid.window_ms {
            left += 1;
        }
        let mut sum = None;
        for (_, value) in &points[left..right] {
            if let Some(value) = value {
                *sum.get_or_insert(0.0) += value;
            }
        }
        line.push(sum);
    }
    line
}

/// Per-grid-point last reading of one gauge series.
fn gauge_line(points: &[(i64, Option<f64>)], grid: &Grid) -> Line {
    let mut line = Vec::with_capacity(grid.len());
    let mut next = 0usize;
    let mut last: Option<(i64, Option<f64>)> = None;
    for time in grid.times() {
        while next < points.len() && points[next].0 <= time {
            last = Some(points[next]);
            next += 1;
        }
        line.push(match last {
            Some((at, value)) if at > time - grid.lookback_ms => value,
            _ => None,
        });
    }
    line
}

/// Per-grid-point merged histograms of a set of histogram series. Each series is decoded once.
fn merged_histograms(sources: &[Source<'_, HistogramSeries>], grid: &Grid) -> Vec<MergedHistogram> {
    let decoded: Vec<Vec<(i64, HistogramIncrement)>> = sources
        .iter()
        .map(|source| {
            let main = source.main.range(grid.earliest(), grid.end_ms);
            let after = source
                .main
                .last_time()
                .unwrap_or(i64::MIN)
                .max(grid.earliest());
            let tail = source
                .tail
                .into_iter()
                .flat_map(move |tail| tail.range(after, grid.end_ms));
            main.chain(tail)
                .filter_map(|(time, increment)| increment.map(|increment| (time, increment)))
                .collect()
        })
        .collect();
    grid.times()
        .map(|time| {
            let mut merged = MergedHistogram::new();
            for points in &decoded {
                let start = points.partition_point(|(t, _)| *t <= time - grid.window_ms);
                let end = points.partition_point(|(t, _)| *t <= time);
                for (_, increment) in &points[start..end] {
                    merged.add(increment);
                }
            }
            merged
        })
        .collect()
}

/// Percentile estimates on the grid; `None` where nothing contributed.
type Estimates = Vec<Option<Estimate>>;

/// What the percentile lines of a panel were computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PercentileSource {
    /// Histogram buckets merged across series and time.
    Histograms,
    /// Exporters' own quantiles (the largest across series).
    Summaries,
    /// Totals over counts: means only (the first line of each group).
    Means,
}

/// Percentile lines per group (p50, p90, p95, p99), with what they came from.
struct Percentiles<G> {
    lines: BTreeMap<G, [Estimates; 4]>,
    top_bucket: Option<f64>,
    bounds: Vec<f64>,
    from: PercentileSource,
}

/// The signals a panel reads.
pub fn panel_signals(id: PanelId) -> &'static [Signal] {
    use Signal as S;
    match id {
        PanelId::InferenceVolume => &[S::Requests],
        PanelId::ResponseTime => &[S::EndToEndSeconds],
        PanelId::InferenceTime => &[S::InferenceSeconds],
        PanelId::TimeToFirstByte => &[S::TimeToFirstByteSeconds],
        PanelId::EngineQueueTime => &[S::EngineQueueSeconds],
        PanelId::Replicas => &[S::ReplicasActive, S::ReplicasStarting],
        PanelId::ConcurrentRequests => &[S::ConcurrentRequests],
        PanelId::RequestSize => &[S::RequestSizeBytes],
        PanelId::PromptTokens => &[S::PromptTokens],
        PanelId::ResponseSize => &[S::ResponseSizeBytes],
        PanelId::GenerationTokens => &[S::GenerationTokens],
        PanelId::Cpu => &[S::CpuSeconds, S::CpuLimitCores],
        PanelId::Memory => &[S::MemoryWorkingSetBytes, S::MemoryLimitBytes],
        PanelId::GpuUsage => &[S::GpuUtilization, S::KvCacheUsage],
        PanelId::GpuMemory => &[S::GpuMemoryUsedBytes, S::GpuMemoryTotalBytes],
        PanelId::AsyncQueueTime => &[S::AsyncQueueSeconds],
        PanelId::AsyncQueueSize => &[S::AsyncQueueSize],
        PanelId::TokenThroughput => &[S::PromptTokensProcessed, S::GenerationTokensProduced],
        PanelId::InterTokenLatency => &[S::InterTokenSeconds],
        PanelId::PrefillTime => &[S::PrefillSeconds],
        PanelId::DecodeTime => &[S::DecodeSeconds],
        PanelId::KvCacheUsage => &[S::KvCacheUsage],
        PanelId::PrefixCacheHitRate => &[S::PrefixCacheQueries, S::PrefixCacheHits],
        PanelId::Preemptions => &[S::Preemptions],
        PanelId::SpecDecodeAcceptance => &[S::SpecDraftTokens, S::SpecAcceptedTokens],
        PanelId::FinishedReasons => &[S::FinishedRequests],
    }
}

/// The panels a signal feeds.
pub fn signal_panels(signal: Signal) -> Vec<PanelId> {
    PanelId::ALL
        .into_iter()
        .filter(|id| panel_signals(*id).contains(&signal))
        .collect()
}

/// How a panel's lines are split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Split {
    /// One line (or one set of lines) for everything in scope.
    Whole,
    /// A line per replica.
    Replica,
    /// A line per model.
    Model,
}

impl Split {
    fn on(self) -> bool {
        self != Split::Whole
    }

    /// The member a series belongs to.
    fn member(self, key: &SeriesKey) -> String {
        match self {
            Split::Whole => String::new(),
            Split::Replica => replica_of(key),
            Split::Model => key.model.as_deref().unwrap_or("").to_owned(),
        }
    }

    /// A member's line.
    fn id(self, member: String) -> SeriesId {
        match self {
            Split::Model => SeriesId::Model(member),
            Split::Whole | Split::Replica => SeriesId::Replica(member),
        }
    }
}

/// Everything a view computes from the store at once.
struct Reader<'a> {
    store: &'a Store,
    filter: &'a Filter,
    grid: Grid,
    /// With a model filter: the replicas that report series of that model (their series of
    /// the whole replica count; other replicas' do not).
    serving: Option<HashSet<(&'a str, &'a str, &'a str)>>,
    /// Per target in scope, the seconds its increments in each point's window span (the sum
    /// of its [`Signal::CoveredSeconds`] there): what a rate divides by.
    coverage: HashMap<&'a TargetLabels, Line>,
}

/// A series' key as a replica name ("" for a deployment-level exporter).
fn replica_of(key: &SeriesKey) -> String {
    key.target.replica.to_string()
}

/// Where several readers report the same signal for one replica, the one preferred: what the
/// exporter says of the replica (or host) as a whole — a container's CPU, node_exporter's host —
/// first; then inferscope's own readings of the replica's process tree and GPUs; last what an
/// exporter says of its own process alone (`process_*`, detail [`DETAIL_PROCESS`]).
fn preference(key: &SeriesKey) -> u8 {
    match (key.target.origin, key.detail.as_deref()) {
        (Origin::Exporter, Some(DETAIL_PROCESS)) => 2,
        (Origin::Host | Origin::Nvml, _) => 1,
        (Origin::Exporter, _) => 0,
    }
}

const QUANTILES: [(SeriesId, f64, &str); 4] = [
    (SeriesId::P50, 0.50, "0.5"),
    (SeriesId::P90, 0.90, "0.9"),
    (SeriesId::P95, 0.95, "0.95"),
    (SeriesId::P99, 0.99, "0.99"),
];

impl<'a> Reader<'a> {
    fn new(store: &'a Store, filter: &'a Filter, grid: Grid) -> Reader<'a> {
        let coverage = store
            .series_with_raw(Signal::CoveredSeconds, grid.resolution)
            .filter(|(key, _, _)| matches(filter, &key.target))
            .filter_map(|(key, main, raw)| {
                let source = Source::counter(main, raw)?;
                Some((&key.target, window_sums(&read(source, &grid), &grid)))
            })
            .collect();
        let serving = filter.model.as_deref().map(|wanted| {
            store
                .all_series()
                .filter(|key| key.model.as_deref() == Some(wanted) && matches(filter, &key.target))
                .map(|key| identity(&key.target))
                .collect()
        });
        Reader {
            store,
            filter,
            grid,
            coverage,
            serving,
        }
    }

    /// Whether a series is of the filter's model (every series is, without one).
    fn of_model(&self, key: &SeriesKey) -> bool {
        match (&self.serving, &key.model) {
            (None, _) => true,
            (Some(_), Some(model)) => self.filter.model.as_deref() == Some(&**model),
            (Some(serving), None) => serving.contains(&identity(&key.target)),
        }
    }

    /// Whether some series of a panel's signals in scope carry a model label.
    fn has_models(&self, id: PanelId) -> bool {
        panel_signals(id).iter().any(|signal| {
            self.store
                .series_with_raw(*signal, self.grid.resolution)
                .any(|(key, _, _)| key.model.is_some() && matches(self.filter, &key.target))
        })
    }

    /// How a panel is split: by model where asked and its series carry models, else by
    /// replica where asked, else not.
    fn split(&self, id: PanelId, has_models: bool) -> Split {
        if self.filter.by_model.contains(&id) && has_models {
            Split::Model
        } else if self.filter.split.contains(&id) {
            Split::Replica
        } else {
            Split::Whole
        }
    }

    /// Series of a signal in scope, with their raw points beside a rollup tier. Where several
    /// readers report the signal for one replica, only the preferred one's series
    /// ([`preference`]): nothing is counted twice.
    fn series(
        &self,
        signal: Signal,
    ) -> impl Iterator<Item = (&'a SeriesKey, &'a Samples, Option<&'a Samples>)> + '_ {
        let in_scope = || {
            self.store
                .series_with_raw(signal, self.grid.resolution)
                .filter(|(key, _, _)| matches(self.filter, &key.target) && self.of_model(key))
        };
        // Most signals come from exporters' pages alone: nothing to choose between.
        let mut best: HashMap<(&str, &str, &str), u8> = HashMap::new();
        if in_scope().any(|(key, _, _)| preference(key) > 0) {
            for (key, _, _) in in_scope() {
                let rank = preference(key);
                best.entry(identity(&key.target))
                    .and_modify(|known| *known = (*known).min(rank))
                    .or_insert(rank);
            }
        }
        self.store
            .series_with_raw(signal, self.grid.resolution)
            .filter(move |(key, _, _)| {
                matches(self.filter, &key.target)
                    && self.of_model(key)
                    && best
                        .get(&identity(&key.target))
                        .is_none_or(|rank| *rank == preference(key))
            })
    }

    /// Rates of a counter signal, summed per group (`None` from `group` leaves a series out).
    /// A series' rate at a point is its increments in the window divided by the seconds its
    /// target's increments there span; `None` where it reported nothing or nothing is spanned
    /// (a new baseline only).
    fn rates<G: Ord>(
        &self,
        signal: Signal,
        group: impl Fn(&SeriesKey) -> Option<G>,
    ) -> BTreeMap<G, Line> {
        self.counter_lines(signal, group, |key, index, sum| {
            let covered = (*self.coverage.get(&key.target)?.get(index)?)?;
            math::rate([sum.max(0.0)], covered)
        })
    }

    /// Sums of a counter signal's increments per group, in each point's window (for means: a
    /// total over a count, where the time spanned cancels out).
    fn sums<G: Ord>(
        &self,
        signal: Signal,
        group: impl Fn(&SeriesKey) -> Option<G>,
    ) -> BTreeMap<G, Line> {
        self.counter_lines(signal, group, |_, _, sum| Some(sum))
    }

    /// Per group, the sum over its series of `value(series, point, increments in the window)`.
    fn counter_lines<G: Ord>(
        &self,
        signal: Signal,
        group: impl Fn(&SeriesKey) -> Option<G>,
        value: impl Fn(&SeriesKey, usize, f64) -> Option<f64>,
    ) -> BTreeMap<G, Line> {
        let mut lines: BTreeMap<G, Line> = BTreeMap::new();
        for (key, main, raw) in self.series(signal) {
            let Some(source) = Source::counter(main, raw) else {
                continue;
            };
            let Some(group) = group(key) else {
                continue;
            };
            let sums = window_sums(&read(source, &self.grid), &self.grid);
            let total = lines
                .entry(group)
                .or_insert_with(|| vec![None; self.grid.len()]);
            for (index, (slot, sum)) in total.iter_mut().zip(sums).enumerate() {
                if let Some(value) = sum.and_then(|sum| value(key, index, sum)) {
                    accumulate(slot, value);
                }
            }
        }
        lines
    }

    /// Gauge readings, summed per group, and how many series contributed at each point.
    fn gauges<G: Ord>(
        &self,
        signal: Signal,
        group: impl Fn(&SeriesKey) -> Option<G>,
    ) -> BTreeMap<G, (Line, Vec<u32>)> {
        let mut lines: BTreeMap<G, (Line, Vec<u32>)> = BTreeMap::new();
        for (key, main, raw) in self.series(signal) {
            let Some(source) = Source::gauge(main, raw) else {
                continue;
            };
            let Some(group) = group(key) else {
                continue;
            };
            let line = gauge_line(&read(source, &self.grid), &self.grid);
            let (total, counts) = lines
                .entry(group)
                .or_insert_with(|| (vec![None; self.grid.len()], vec![0; self.grid.len()]));
            for ((slot, count), value) in total.iter_mut().zip(counts.iter_mut()).zip(line) {
                if let Some(value) = value {
                    accumulate(slot, value);
                    *count += 1;
                }
            }
        }
        lines
    }

    /// Percentile estimates of a latency or size signal per group: from histograms merged
    /// across series and the window; where no histogram exists, the largest of the summary
    /// quantiles; where neither does, the mean from totals and counts.
    fn percentiles<G: Ord + Clone>(
        &self,
        signal: Signal,
        group: impl Fn(&SeriesKey) -> G,
    ) -> Percentiles<G> {
        let mut rings: BTreeMap<G, Vec<Source<'_, HistogramSeries>>> = BTreeMap::new();
        for (key, main, raw) in self.series(signal) {
            if let Some(source) = Source::histogram(main, raw) {
                rings.entry(group(key)).or_default().push(source);
            }
        }
        if rings.is_empty() {
            let summaries = self.summary_percentiles(signal, &group);
            if !summaries.lines.is_empty() {
                return summaries;
            }
            return self.means(signal, &group);
        }
        let mut top_bucket: Option<f64> = None;
        let mut bounds: BTreeSet<u64> = BTreeSet::new();
        let mut lines = BTreeMap::new();
        let qs: Vec<f64> = QUANTILES.iter().map(|(_, q, _)| *q).collect();
        for (group, rings) in rings {
            let merged = merged_histograms(&rings, &self.grid);
            let mut quantiles: [Estimates; 4] = Default::default();
            for histogram in &merged {
                if let Some(top) = histogram.top_bound() {
                    top_bucket = Some(top_bucket.map_or(top, |known| known.max(top)));
                }
                if bounds.len() < MAX_BOUNDS {
                    bounds.extend(histogram.bounds().map(f64::to_bits));
                }
                for (estimate, line) in histogram.quantiles(&qs).into_iter().zip(&mut quantiles) {
                    line.push(estimate);
                }
            }
            lines.insert(group, quantiles);
        }
        let mut bounds: Vec<f64> = bounds.into_iter().map(f64::from_bits).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.truncate(MAX_BOUNDS);
        Percentiles {
            lines,
            top_bucket,
            bounds,
            from: PercentileSource::Histograms,
        }
    }

    fn summary_percentiles<G: Ord + Clone>(
        &self,
        signal: Signal,
        group: &impl Fn(&SeriesKey) -> G,
    ) -> Percentiles<G> {
        let mut lines: BTreeMap<G, [Estimates; 4]> = BTreeMap::new();
        for (key, main, raw) in self.series(signal) {
            let Some(source) = Source::gauge(main, raw) else {
                continue;
            };
            let Some(index) = QUANTILES
                .iter()
                .position(|(_, _, label)| key.detail.as_deref() == Some(*label))
            else {
                continue;
            };
            let line = gauge_line(&read(source, &self.grid), &self.grid);
            let entry = lines
                .entry(group(key))
                .or_insert_with(|| std::array::from_fn(|_| vec![None; self.grid.len()]));
            for (slot, value) in entry[index].iter_mut().zip(line) {
                if let Some(value) = value {
                    let known = slot.map_or(value, |known| known.value().max(value));
                    *slot = Some(Estimate::Value(known));
                }
            }
        }
        Percentiles {
            lines,
            top_bucket: None,
            bounds: Vec::new(),
            from: PercentileSource::Summaries,
        }
    }

    /// Means per group: the totals reported in each point's window over the counts.
    fn means<G: Ord + Clone>(
        &self,
        signal: Signal,
        group: &impl Fn(&SeriesKey) -> G,
    ) -> Percentiles<G> {
        let parts = self.sums(signal, |key| {
            let part = match key.detail.as_deref() {
                Some(DETAIL_SUM) => 0u8,
                Some(DETAIL_COUNT) => 1u8,
                _ => return None,
            };
            Some((group(key), part))
        });
        let mut lines: BTreeMap<G, [Estimates; 4]> = BTreeMap::new();
        for ((group, part), line) in &parts {
            if *part != 0 {
                continue;
            }
            let Some(counts) = parts.get(&(group.clone(), 1)) else {
                continue;
            };
            let mean: Estimates = line
                .iter()
                .zip(counts)
                .map(|(sum, count)| match (sum, count) {
                    (Some(sum), Some(count)) if *count > 0.0 => {
                        Some(Estimate::Value(sum.max(0.0) / count))
                    }
                    _ => None,
                })
                .collect();
            lines.insert(group.clone(), [mean, Vec::new(), Vec::new(), Vec::new()]);
        }
        Percentiles {
            lines,
            top_bucket: None,
            bounds: Vec::new(),
            from: PercentileSource::Means,
        }
    }

    fn panel(&self, id: PanelId) -> Panel {
        let mut panel = Panel::empty(id);
        panel.by_model = self.has_models(id);
        let split = self.split(id, panel.by_model);
        let grid = &self.grid;
        let push = |panel: &mut Panel, id: SeriesId, line: Line| {
            panel.series.push(Series {
                id,
                points: points(grid, line),
            });
        };
        // One line per member of the split, of a counter's rate or a gauge's sum.
        let member_rates = |panel: &mut Panel, signal: Signal| {
            for (member, line) in self.rates(signal, |key| Some(split.member(key))) {
                push(panel, split.id(member), line);
            }
        };
        // One counter over another per member of the split (one line unsplit).
        let ratio_lines = |panel: &mut Panel, part: Signal, whole: Signal, unsplit: SeriesId| {
            for (member, line) in self.ratios(part, whole, |key| split.member(key)) {
                let id = if split.on() {
                    split.id(member)
                } else {
                    unsplit.clone()
                };
                push(panel, id, line);
            }
        };
        match id {
            PanelId::InferenceVolume => {
                if split.on() {
                    member_rates(&mut panel, Signal::Requests);
                } else {
                    self.volume(&mut panel);
                }
            }
            PanelId::ResponseTime => {
                self.percentile_panel(&mut panel, Signal::EndToEndSeconds, split)
            }
            PanelId::InferenceTime => {
                self.percentile_panel(&mut panel, Signal::InferenceSeconds, split)
            }
            PanelId::TimeToFirstByte => {
                self.percentile_panel(&mut panel, Signal::TimeToFirstByteSeconds, split);
            }
            PanelId::EngineQueueTime => {
                self.percentile_panel(&mut panel, Signal::EngineQueueSeconds, split);
            }
            PanelId::RequestSize => {
                self.percentile_panel(&mut panel, Signal::RequestSizeBytes, split)
            }
            PanelId::ResponseSize => {
                self.percentile_panel(&mut panel, Signal::ResponseSizeBytes, split)
            }
            PanelId::PromptTokens => self.percentile_panel(&mut panel, Signal::PromptTokens, split),
            PanelId::GenerationTokens => {
                self.percentile_panel(&mut panel, Signal::GenerationTokens, split);
            }
            PanelId::AsyncQueueTime => {
                self.percentile_panel(&mut panel, Signal::AsyncQueueSeconds, split)
            }
            PanelId::InterTokenLatency => {
                self.percentile_panel(&mut panel, Signal::InterTokenSeconds, split);
            }
            PanelId::PrefillTime => {
                self.percentile_panel(&mut panel, Signal::PrefillSeconds, split);
            }
            PanelId::DecodeTime => self.percentile_panel(&mut panel, Signal::DecodeSeconds, split),
            PanelId::Replicas => {
                for (signal, series_id) in [
                    (Signal::ReplicasActive, SeriesId::Active),
                    (Signal::ReplicasStarting, SeriesId::Starting),
                ] {
                    for ((), (line, _)) in self.gauges(signal, |_| Some(())) {
                        push(&mut panel, series_id.clone(), line);
                    }
                }
            }
            PanelId::ConcurrentRequests => {
                if split.on() {
                    for (member, (line, _)) in
                        self.gauges(Signal::ConcurrentRequests, |key| Some(split.member(key)))
                    {
                        push(&mut panel, split.id(member), line);
                    }
                } else {
                    for (state, (line, _)) in self.gauges(Signal::ConcurrentRequests, |key| {
                        Some(match key.detail.as_deref() {
                            Some("queued") => SeriesId::Queued,
                            _ => SeriesId::InProgress,
                        })
                    }) {
                        push(&mut panel, state, line);
                    }
                }
            }
            PanelId::AsyncQueueSize => {
                let grouped = if split.on() {
                    self.gauges(Signal::AsyncQueueSize, |key| {
                        Some(split.id(split.member(key)))
                    })
                } else {
                    self.gauges(Signal::AsyncQueueSize, |_| Some(SeriesId::Queued))
                };
                for (id, (line, _)) in grouped {
                    push(&mut panel, id, line);
                }
            }
            PanelId::Cpu => {
                let per_replica = self.rates(Signal::CpuSeconds, |key| Some(replica_of(key)));
                self.per_member(&mut panel, per_replica, SeriesId::Replica);
                if let Some(limit) = self.lowest_limit(Signal::CpuLimitCores) {
                    push(&mut panel, SeriesId::Limit, limit);
                }
            }
            PanelId::Memory => {
                let per_replica = self
                    .gauges(Signal::MemoryWorkingSetBytes, |key| Some(replica_of(key)))
                    .into_iter()
                    .map(|(replica, (line, _))| (replica, line))
                    .collect();
                self.per_member(&mut panel, per_replica, SeriesId::Replica);
                if let Some(limit) = self.lowest_limit(Signal::MemoryLimitBytes) {
                    push(&mut panel, SeriesId::Limit, limit);
                }
            }
            PanelId::GpuUsage => {
                let per_gpu = self.gpu_lines(Signal::GpuUtilization);
                self.per_member(&mut panel, per_gpu, SeriesId::Gpu);
                if let Some(average) = self.averages(Signal::KvCacheUsage, |_| ()).remove(&()) {
                    push(&mut panel, SeriesId::KvCache, average);
                }
            }
            PanelId::GpuMemory => {
                for (gpu, line) in self.gpu_lines(Signal::GpuMemoryUsedBytes) {
                    push(&mut panel, SeriesId::Gpu(gpu), line);
                }
                // Capacity: the largest GPU's total.
                let totals = self.gpu_lines(Signal::GpuMemoryTotalBytes);
                if !totals.is_empty() {
                    let mut capacity: Line = vec![None; grid.len()];
                    for line in totals.into_values() {
                        for (slot, value) in capacity.iter_mut().zip(line) {
                            if let Some(value) = value {
                                *slot = Some(slot.map_or(value, |known: f64| known.max(value)));
                            }
                        }
                    }
                    push(&mut panel, SeriesId::Total, capacity);
                }
            }
            PanelId::TokenThroughput => {
                if split.on() {
                    member_rates(&mut panel, Signal::GenerationTokensProduced);
                } else {
                    for (signal, series_id) in [
                        (Signal::PromptTokensProcessed, SeriesId::Prompt),
                        (Signal::GenerationTokensProduced, SeriesId::Generated),
                    ] {
                        for ((), line) in self.rates(signal, |_| Some(())) {
                            push(&mut panel, series_id.clone(), line);
                        }
                    }
                }
            }
            PanelId::KvCacheUsage => {
                if split == Split::Model {
                    for (model, line) in
                        self.averages(Signal::KvCacheUsage, |key| split.member(key))
                    {
                        push(&mut panel, SeriesId::Model(model), line);
                    }
                } else {
                    let per_replica = self.averages(Signal::KvCacheUsage, replica_of);
                    self.per_member(&mut panel, per_replica, SeriesId::Replica);
                }
            }
            PanelId::PrefixCacheHitRate => ratio_lines(
                &mut panel,
                Signal::PrefixCacheHits,
                Signal::PrefixCacheQueries,
                SeriesId::HitRate,
            ),
            PanelId::Preemptions => {
                if split.on() {
                    member_rates(&mut panel, Signal::Preemptions);
                } else {
                    for ((), line) in self.rates(Signal::Preemptions, |_| Some(())) {
                        push(&mut panel, SeriesId::Preemptions, line);
                    }
                }
            }
            PanelId::SpecDecodeAcceptance => ratio_lines(
                &mut panel,
                Signal::SpecAcceptedTokens,
                Signal::SpecDraftTokens,
                SeriesId::Acceptance,
            ),
            PanelId::FinishedReasons => {
                if split.on() {
                    member_rates(&mut panel, Signal::FinishedRequests);
                } else {
                    let by_reason = self.rates(Signal::FinishedRequests, |key| {
                        Some(key.detail.as_deref().unwrap_or("").to_owned())
                    });
                    for (reason, line) in by_reason {
                        push(&mut panel, SeriesId::Reason(reason), line);
                    }
                }
            }
        }
        panel.series.sort_by(|a, b| a.id.cmp(&b.id));
        if panel.series.is_empty() {
            panel.hints = self.hints(id);
        }
        panel
    }

    /// Lookalike families on the pages of targets in scope that would feed this panel.
    fn hints(&self, id: PanelId) -> Vec<Lookalike> {
        let signals = panel_signals(id);
        let mut hints: BTreeSet<Lookalike> = BTreeSet::new();
        for status in self.store.targets() {
            if !matches(self.filter, &status.labels) {
                continue;
            }
            for lookalike in &status.lookalikes {
                if signals.contains(&lookalike.signal) {
                    hints.insert(Lookalike {
                        found: lookalike.found.to_string(),
                        expected: lookalike.expected.to_owned(),
                        why: lookalike.why.to_owned(),
                        panels: signal_panels(lookalike.signal),
                    });
                }
                if hints.len() >= MAX_HINTS {
                    return hints.into_iter().collect();
                }
            }
        }
        hints.into_iter().collect()
    }

    /// A gauge's readings averaged over the series of each group.
    fn averages<G: Ord>(
        &self,
        signal: Signal,
        group: impl Fn(&SeriesKey) -> G,
    ) -> BTreeMap<G, Line> {
        self.gauges(signal, |key| Some(group(key)))
            .into_iter()
            .map(|(group, (line, counts))| {
                let average = line
                    .into_iter()
                    .zip(counts)
                    .map(|(value, count)| value.map(|v| v / f64::from(count.max(1))))
                    .collect();
                (group, average)
            })
            .collect()
    }

    /// Per group, one counter's increments over another's in each point's window (hits over
    /// lookups): `None` where the second grew by nothing. Increments are summed before they
    /// are divided, so a busy replica weighs more than an idle one.
    fn ratios<G: Ord + Clone>(
        &self,
        part: Signal,
        whole: Signal,
        group: impl Fn(&SeriesKey) -> G,
    ) -> BTreeMap<G, Line> {
        let parts = self.sums(part, |key| Some(group(key)));
        let wholes = self.sums(whole, |key| Some(group(key)));
        wholes
            .into_iter()
            .map(|(group, whole)| {
                let part = parts.get(&group);
                let line = whole
                    .iter()
                    .enumerate()
                    .map(|(index, whole)| match whole {
                        Some(whole) if *whole > 0.0 => {
                            let part = part.and_then(|line| line[index]).unwrap_or(0.0);
                            Some(part.max(0.0) / whole)
                        }
                        _ => None,
                    })
                    .collect();
                (group, line)
            })
            .collect()
    }

    /// Request rates by status class, with a line per exact code for the tooltip.
    fn volume(&self, panel: &mut Panel) {
        let by_code = self.rates(Signal::Requests, |key| {
            key.detail.as_deref().map(str::to_owned)
        });
        let mut classes: BTreeMap<SeriesId, Line> = BTreeMap::new();
        let mut present: Vec<bool> = vec![false; self.grid.len()];
        for (code, line) in &by_code {
            for (flag, value) in present.iter_mut().zip(line) {
                *flag |= value.is_some();
            }
            let class = match code.as_bytes().first() {
                Some(b'2') => SeriesId::Status2xx,
                Some(b'4') => SeriesId::Status4xx,
                Some(b'5') => SeriesId::Status5xx,
                _ => continue,
            };
            let total = classes
                .entry(class)
                .or_insert_with(|| vec![None; self.grid.len()]);
            for (slot, value) in total.iter_mut().zip(line) {
                if let Some(value) = value {
                    accumulate(slot, *value);
                }
            }
        }
        if !present.iter().any(|p| *p) {
            return;
        }
        for class in [
            SeriesId::Status2xx,
            SeriesId::Status4xx,
            SeriesId::Status5xx,
        ] {
            // Every class is drawn while requests are counted at all: no 5xx is a 0, not a gap.
            let line = classes
                .remove(&class)
                .unwrap_or_else(|| vec![None; self.grid.len()]);
            let line = line
                .into_iter()
                .zip(&present)
                .map(|(value, present)| {
                    if *present {
                        Some(value.unwrap_or(0.0))
                    } else {
                        None
                    }
                })
                .collect();
            panel.series.push(Series {
                id: class,
                points: points(&self.grid, line),
            });
        }
        for (code, line) in by_code {
            if let Ok(code) = code.parse::<u16>() {
                panel.series.push(Series {
                    id: SeriesId::Code(code),
                    points: points(&self.grid, line),
                });
            }
        }
    }

    fn percentile_panel(&self, panel: &mut Panel, signal: Signal, split: Split) {
        let percentiles = self.percentiles(signal, |key| split.member(key));
        let Percentiles {
            lines,
            top_bucket,
            bounds,
            from,
        } = percentiles;
        panel.top_bucket = top_bucket;
        panel.bounds = bounds;
        panel.from_summaries = from == PercentileSource::Summaries;
        let grid = &self.grid;
        let push = |panel: &mut Panel, id: SeriesId, estimates: Estimates| {
            let mut points = Vec::with_capacity(estimates.len());
            for (time, estimate) in grid.times().zip(estimates) {
                if let Some(Estimate::Above(_)) = estimate {
                    panel.above.push(AbovePoint {
                        series: id.clone(),
                        at_ms: time,
                    });
                }
                points.push(Point(time, estimate.map(Estimate::value)));
            }
            panel.series.push(Series { id, points });
        };
        for (group, quantiles) in lines {
            let [p50, _, _, p99] = &quantiles;
            match (from, split.on()) {
                // One line per member: its p99 (its mean, where only means are known).
                (PercentileSource::Means, true) => {
                    push(panel, split.id(group), p50.clone());
                }
                (_, true) => push(panel, split.id(group), p99.clone()),
                (PercentileSource::Means, false) => push(panel, SeriesId::Mean, p50.clone()),
                (_, false) => {
                    for ((id, _, _), line) in QUANTILES.iter().zip(quantiles) {
                        if line.iter().any(Option::is_some) || from == PercentileSource::Histograms
                        {
                            push(panel, id.clone(), line);
                        }
                    }
                }
            }
        }
        panel.above.sort();
    }

    /// GPU lines keyed `gpu`, or `replica/gpu` when several replicas report GPUs.
    fn gpu_lines(&self, signal: Signal) -> BTreeMap<String, Line> {
        let replicas: BTreeSet<&str> = self
            .series(signal)
            .map(|(key, _, _)| &*key.target.replica)
            .collect();
        let several = replicas.len() > 1;
        self.gauges(signal, |key| {
            let gpu = key.detail.as_deref().unwrap_or("all");
            Some(if several {
                format!("{}/{gpu}", key.target.replica)
            } else {
                gpu.to_owned()
            })
        })
        .into_iter()
        .map(|(gpu, (line, _))| (gpu, line))
        .collect()
    }

    /// A limit per replica (the sum of its containers' where it reports several), and at each
    /// point the lowest among the replicas that report one: the first limit a replica reaches.
    /// `None` where no replica in scope reports a limit.
    fn lowest_limit(&self, signal: Signal) -> Option<Line> {
        let per_replica = self.gauges(signal, |key| Some(replica_of(key)));
        if per_replica.is_empty() {
            return None;
        }
        let mut lowest: Line = vec![None; self.grid.len()];
        for (line, _) in per_replica.into_values() {
            for (slot, value) in lowest.iter_mut().zip(line) {
                if let Some(value) = value {
                    *slot = Some(slot.map_or(value, |known: f64| known.min(value)));
                }
            }
        }
        Some(lowest)
    }

    /// One line per member (replica or GPU) and their average.
    fn per_member(
        &self,
        panel: &mut Panel,
        members: BTreeMap<String, Line>,
        id: impl Fn(String) -> SeriesId,
    ) {
        if members.is_empty() {
            return;
        }
        let mut sum: Line = vec![None; self.grid.len()];
        let mut count = vec![0u32; self.grid.len()];
        for (name, line) in members {
            for ((slot, n), value) in sum.iter_mut().zip(count.iter_mut()).zip(&line) {
                if let Some(value) = value {
                    accumulate(slot, *value);
                    *n += 1;
                }
            }
            panel.series.push(Series {
                id: id(name),
                points: points(&self.grid, line),
            });
        }
        let average = sum
            .into_iter()
            .zip(count)
            .map(|(total, n)| total.map(|t| t / f64::from(n.max(1))))
            .collect();
        panel.series.push(Series {
            id: SeriesId::Average,
            points: points(&self.grid, average),
        });
    }
}

/// The whole view for a filter at `now_ms`.
pub fn view(store: &Store, filter: &Filter, now_ms: i64, settings: QuerySettings) -> View {
    let grid = Grid::for_filter(filter, now_ms, settings);
    let reader = Reader::new(store, filter, grid);
    View {
        filter: filter.clone(),
        start_ms: grid.start_ms,
        end_ms: grid.end_ms,
        step_ms: grid.step_ms,
        deployments: if filter.scoped {
            // A scoped viewer learns nothing about the rest of the fleet.
            deployments_in(store, filter)
        } else {
            deployments(store)
        },
        models: models_in(store, filter),
        panels: PanelId::ALL
            .into_iter()
            .filter(|id| filter.shows(*id))
            .map(|id| reader.panel(id))
            .collect(),
        gpu_note: settings
            .no_gpu_driver
            .then(|| crate::scrape::nvml::NO_DRIVER.to_owned()),
        autoscaling: Vec::new(),
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

/// The models series in the filter's environment and deployment are labelled with (whatever
/// model the filter names), sorted, at most [`MAX_MODELS`].
pub fn models_in(store: &Store, filter: &Filter) -> Vec<String> {
    let mut models: BTreeSet<&str> = BTreeSet::new();
    for key in store.all_series() {
        if let Some(model) = key.model.as_deref()
            && matches(filter, &key.target)
        {
            models.insert(model);
        }
    }
    models
        .into_iter()
        .take(MAX_MODELS)
        .map(str::to_owned)
        .collect()
}

/// The deployments `filter` names (its environment and deployment; absent ones match all).
pub fn deployments_in(store: &Store, filter: &Filter) -> Vec<DeploymentRef> {
    deployments(store)
        .into_iter()
        .filter(|d| {
            filter
                .environment
                .as_ref()
                .is_none_or(|e| *e == d.environment)
                && filter
                    .deployment
                    .as_ref()
                    .is_none_or(|n| *n == d.deployment)
        })
        .collect()
}

/// Scrape health of every target, as the API and the targets page show it.
pub fn targets(store: &Store) -> Vec<TargetHealth> {
    store
        .targets()
        .map(|status| TargetHealth {
            url: crate::scrape::redact_url(&status.url),
            environment: status.labels.environment.to_string(),
            deployment: status.labels.deployment.to_string(),
            replica: status.labels.replica.to_string(),
            up: status.up,
            last_scrape_ms: Some(status.last_scrape_ms),
            last_duration_seconds: Some(status.last_duration_seconds),
            samples_scraped: status.samples_scraped,
            last_error: status.last_error.clone(),
            engines: status.engines.iter().map(|e| (*e).to_owned()).collect(),
            lookalikes: status
                .lookalikes
                .iter()
                .map(|lookalike| Lookalike {
                    found: lookalike.found.to_string(),
                    expected: lookalike.expected.to_owned(),
                    why: lookalike.why.to_owned(),
                    panels: signal_panels(lookalike.signal),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use app::wire::TimeRange;

    use super::*;
    use crate::model::{HistogramIncrement, Observation, Value};
    use crate::store::{ScrapeReport, ScrapeSuccess, StoreLimits};

    const SETTINGS: QuerySettings = QuerySettings {
        no_gpu_driver: false,
        raw_retention_ms: 3_600_000,
        scrape_interval_ms: 1000,
    };

    fn target(deployment: &str, replica: &str) -> TargetLabels {
        TargetLabels::exporter("production", deployment, replica)
    }

    fn store() -> Store {
        Store::new(StoreLimits {
            retention_ms: 3_600_000,
            max_points_per_series: 10_000,
            max_series: 1000,
        })
    }

    /// One good scrape of `target`, spanning the time since its previous one (a new baseline
    /// when that is more than five scrape intervals ago, as the ingestor decides).
    fn scrape(
        store: &mut Store,
        target: &TargetLabels,
        at_ms: i64,
        observations: Vec<Observation>,
    ) {
        let previous = store
            .series(Signal::Up)
            .find(|(key, _)| key.target == *target)
            .and_then(|(_, samples)| match samples {
                // The last good scrape, as the ingestor remembers it.
                Samples::Gauge(series) => series
                    .iter()
                    .filter(|(_, up)| *up == Some(1.0))
                    .last()
                    .map(|(at, _)| at),
                _ => None,
            });
        let covered_seconds = previous
            .map(|previous| at_ms - previous)
            .filter(|gap| *gap <= RATE_WINDOW_SCRAPES * SETTINGS.scrape_interval_ms)
            .map(|gap| gap as f64 / 1000.0);
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
                lookalikes: Vec::new(),
                covered_seconds,
            }),
        });
    }

    fn requests(code: &str, increment: f64) -> Observation {
        Observation {
            signal: Signal::Requests,
            detail: Some(Arc::from(code)),
            model: None,
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
            .series(&id)
            .and_then(|series| series.points.iter().find(|p| p.0 == time))
            .and_then(|p| p.1)
    }

    #[test]
    fn grid_is_aligned_and_bounded() {
        let filter = |range| Filter {
            range,
            ..Filter::default()
        };
        let grid = Grid::for_filter(&filter(TimeRange::Last5m), 1_000_000_500, SETTINGS);
        assert_eq!(grid.step_ms, 1000);
        assert_eq!(
            grid.end_ms, 1_000_001_000,
            "rounded up: the newest half second shows"
        );
        assert_eq!(grid.times().count(), 301);
        let aligned = Grid::for_filter(&filter(TimeRange::Last5m), 1_000_000_000, SETTINGS);
        assert_eq!(aligned.end_ms, 1_000_000_000);
        let hour = Grid::for_filter(&filter(TimeRange::Last1h), 1_000_000_500, SETTINGS);
        assert_eq!(hour.step_ms, 15_000, "the round step above 3,600 s / 300");
        let week = Grid::for_filter(&filter(TimeRange::Last7d), 1_000_000_500, SETTINGS);
        assert_eq!(week.step_ms, 3_600_000);
        let absolute = |now_ms| {
            Grid::for_filter(
                &Filter {
                    from_ms: Some(1_000_000_000),
                    to_ms: Some(1_000_060_000),
                    ..Filter::default()
                },
                now_ms,
                SETTINGS,
            )
        };
        let recent = absolute(1_000_100_000);
        assert_eq!(
            (recent.start_ms, recent.end_ms),
            (1_000_000_000, 1_000_060_000)
        );
        assert_eq!(recent.resolution, Resolution::Raw);
        // The same minute two days later is only in the five-minute rollup.
        let old = absolute(1_000_000_000 + 2 * 86_400_000);
        assert_eq!(old.resolution, Resolution::Tier(1));
        assert_eq!(old.step_ms, 300_000);
        // Ranges past the raw retention read the finest rollup that reaches back far enough.
        assert_eq!(
            Grid::for_filter(&filter(TimeRange::Last6h), 1_000_000_500, SETTINGS).resolution,
            Resolution::Tier(0)
        );
        assert_eq!(week.resolution, Resolution::Tier(1));
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

    fn of_model(
        signal: Signal,
        detail: Option<&str>,
        model: Option<&str>,
        value: Value,
    ) -> Observation {
        Observation {
            signal,
            detail: detail.map(Arc::from),
            model: model.map(Arc::from),
            value,
        }
    }

    /// Replica `a` serves a base model and its adapter, replica `b` another model; both report
    /// CPU and KV cache of the whole replica. Ten scrapes a second apart after a baseline.
    fn llm_fleet() -> (Store, i64) {
        use Signal as S;
        use Value::{Gauge, Increment};
        let mut store = store();
        let a = target("chat", "a");
        let b = target("chat", "b");
        let t0 = 1_000_000_000;
        scrape(&mut store, &a, t0, vec![]);
        scrape(&mut store, &b, t0, vec![]);
        for second in 1..=10 {
            let at = t0 + second * 1000;
            let base = Some("base");
            let lora = Some("base-sql");
            let other = Some("other");
            scrape(
                &mut store,
                &a,
                at,
                vec![
                    of_model(S::Requests, Some("200"), base, Increment(3.0)),
                    of_model(S::Requests, Some("200"), lora, Increment(1.0)),
                    of_model(S::Requests, Some("500"), lora, Increment(0.5)),
                    of_model(S::GenerationTokensProduced, None, base, Increment(300.0)),
                    of_model(S::GenerationTokensProduced, None, lora, Increment(50.0)),
                    of_model(S::PromptTokensProcessed, None, base, Increment(900.0)),
                    of_model(S::PrefixCacheQueries, None, base, Increment(100.0)),
                    of_model(S::PrefixCacheHits, None, base, Increment(30.0)),
                    of_model(S::SpecDraftTokens, None, base, Increment(40.0)),
                    of_model(S::SpecAcceptedTokens, None, base, Increment(10.0)),
                    of_model(S::FinishedRequests, Some("stop"), base, Increment(2.0)),
                    of_model(S::FinishedRequests, Some("length"), base, Increment(1.0)),
                    of_model(S::Preemptions, None, base, Increment(0.25)),
                    of_model(S::KvCacheUsage, None, base, Gauge(0.6)),
                    of_model(S::CpuSeconds, None, None, Increment(2.0)),
                ],
            );
            scrape(
                &mut store,
                &b,
                at,
                vec![
                    of_model(S::Requests, Some("200"), other, Increment(5.0)),
                    of_model(S::GenerationTokensProduced, None, other, Increment(100.0)),
                    of_model(S::PromptTokensProcessed, None, other, Increment(200.0)),
                    of_model(S::PrefixCacheQueries, None, other, Increment(50.0)),
                    of_model(S::PrefixCacheHits, None, other, Increment(10.0)),
                    of_model(S::FinishedRequests, Some("abort"), other, Increment(0.5)),
                    of_model(S::KvCacheUsage, None, other, Gauge(0.2)),
                    of_model(S::CpuSeconds, None, None, Increment(1.0)),
                ],
            );
        }
        (store, t0 + 10_000)
    }

    #[test]
    fn llm_panels_read_tokens_caches_and_reasons_from_counters() {
        let (store, end) = llm_fleet();
        let view = view(&store, &five_minutes(), end, SETTINGS);
        let panel = |id| view.panel(id).expect("panel");
        // Tokens per second: every model's counter summed.
        let tokens = panel(PanelId::TokenThroughput);
        assert_eq!(value_at(tokens, SeriesId::Generated, end), Some(450.0));
        assert_eq!(value_at(tokens, SeriesId::Prompt, end), Some(1100.0));
        // Hits over lookups summed before dividing: 40 of 150, not the mean of 30% and 20%.
        let hits = panel(PanelId::PrefixCacheHitRate);
        let rate = value_at(hits, SeriesId::HitRate, end).expect("hit rate");
        assert!((rate - 40.0 / 150.0).abs() < 1e-12, "{rate}");
        let spec = panel(PanelId::SpecDecodeAcceptance);
        assert_eq!(value_at(spec, SeriesId::Acceptance, end), Some(0.25));
        let reasons = panel(PanelId::FinishedReasons);
        assert_eq!(
            value_at(reasons, SeriesId::Reason("stop".into()), end),
            Some(2.0)
        );
        assert_eq!(
            value_at(reasons, SeriesId::Reason("length".into()), end),
            Some(1.0)
        );
        assert_eq!(
            value_at(reasons, SeriesId::Reason("abort".into()), end),
            Some(0.5)
        );
        assert_eq!(
            value_at(panel(PanelId::Preemptions), SeriesId::Preemptions, end),
            Some(0.25)
        );
        // KV cache: per replica and their average.
        let kv = panel(PanelId::KvCacheUsage);
        assert_eq!(value_at(kv, SeriesId::Replica("a".into()), end), Some(0.6));
        assert_eq!(value_at(kv, SeriesId::Replica("b".into()), end), Some(0.2));
        let average = value_at(kv, SeriesId::Average, end).expect("average");
        assert!((average - 0.4).abs() < 1e-12);
        // The panels fed by model-labelled series offer a split by model; CPU does not.
        assert!(tokens.by_model && hits.by_model);
        assert!(!panel(PanelId::Cpu).by_model);
        assert_eq!(view.models, vec!["base", "base-sql", "other"]);
    }

    #[test]
    fn a_model_filter_keeps_its_series_and_its_replicas_whole_series() {
        let (store, end) = llm_fleet();
        let filter = Filter {
            model: Some("base-sql".into()),
            ..five_minutes()
        };
        let view = view(&store, &filter, end, SETTINGS);
        let volume = view.panel(PanelId::InferenceVolume).expect("volume");
        assert_eq!(value_at(volume, SeriesId::Status2xx, end), Some(1.0));
        assert_eq!(value_at(volume, SeriesId::Status5xx, end), Some(0.5));
        let tokens = view.panel(PanelId::TokenThroughput).expect("tokens");
        assert_eq!(value_at(tokens, SeriesId::Generated, end), Some(50.0));
        // The adapter reports no prompt tokens of its own.
        assert!(tokens.series(&SeriesId::Prompt).is_none());
        // CPU of the replica that serves it (a), not of the other (b).
        let cpu = view.panel(PanelId::Cpu).expect("cpu");
        assert_eq!(value_at(cpu, SeriesId::Replica("a".into()), end), Some(2.0));
        assert!(cpu.series(&SeriesId::Replica("b".into())).is_none());
        // The menu still lists every model of the scope.
        assert_eq!(view.models.len(), 3);
        // A model nobody serves: nothing at all.
        let none = Filter {
            model: Some("gone".into()),
            ..five_minutes()
        };
        let view = super::view(&store, &none, end, SETTINGS);
        assert!(view.panels.iter().all(|panel| panel.series.is_empty()));
    }

    #[test]
    fn split_by_model_gives_a_line_per_model_and_falls_back_where_none_is_labelled() {
        let (store, end) = llm_fleet();
        let filter = Filter {
            by_model: vec![
                PanelId::TokenThroughput,
                PanelId::Cpu,
                PanelId::PrefixCacheHitRate,
            ],
            split: vec![PanelId::Cpu],
            ..five_minutes()
        };
        let view = view(&store, &filter, end, SETTINGS);
        let tokens = view.panel(PanelId::TokenThroughput).expect("tokens");
        let model = |name: &str| SeriesId::Model(name.into());
        assert_eq!(value_at(tokens, model("base"), end), Some(300.0));
        assert_eq!(value_at(tokens, model("base-sql"), end), Some(50.0));
        assert_eq!(value_at(tokens, model("other"), end), Some(100.0));
        let hits = view.panel(PanelId::PrefixCacheHitRate).expect("hits");
        assert_eq!(value_at(hits, model("base"), end), Some(0.3));
        assert_eq!(value_at(hits, model("other"), end), Some(0.2));
        // CPU carries no model: drawn per replica as it always is.
        let cpu = view.panel(PanelId::Cpu).expect("cpu");
        assert!(
            cpu.series
                .iter()
                .all(|s| !matches!(s.id, SeriesId::Model(_)))
        );
        assert_eq!(value_at(cpu, SeriesId::Replica("b".into()), end), Some(1.0));
    }

    #[test]
    fn an_empty_panel_names_lookalike_families_of_targets_in_scope() {
        let mut store = store();
        let a = target("chat", "a");
        store.apply(ScrapeReport {
            url: "http://a/metrics".into(),
            target: a.clone(),
            at_ms: 1_000,
            duration_seconds: 0.001,
            outcome: Ok(ScrapeSuccess {
                samples: 1,
                observations: Vec::new(),
                raw: crate::model::RawSamples::default(),
                engines: vec!["vllm"],
                lookalikes: vec![crate::model::Lookalike {
                    found: "vllm:gpu_prefix_cache_hit_rate".into(),
                    expected: "vllm:prefix_cache_hits_total",
                    why: "averaged",
                    signal: Signal::PrefixCacheHits,
                }],
                covered_seconds: None,
            }),
        });
        let view = view(&store, &five_minutes(), 2_000, SETTINGS);
        let hits = view.panel(PanelId::PrefixCacheHitRate).expect("panel");
        assert_eq!(hits.hints.len(), 1);
        assert_eq!(hits.hints[0].found, "vllm:gpu_prefix_cache_hit_rate");
        assert_eq!(hits.hints[0].panels, vec![PanelId::PrefixCacheHitRate]);
        assert!(
            view.panel(PanelId::TokenThroughput)
                .expect("panel")
                .hints
                .is_empty()
        );
        let other = Filter {
            deployment: Some("elsewhere".into()),
            ..five_minutes()
        };
        let view = super::view(&store, &other, 2_000, SETTINGS);
        assert!(
            view.panel(PanelId::PrefixCacheHitRate)
                .expect("panel")
                .hints
                .is_empty()
        );
    }

    #[test]
    fn after_an_outage_longer_than_the_window_a_gap_then_the_true_rate() {
        let mut store = store();
        let a = target("chat", "a");
        let t0 = 1_000_000_000;
        scrape(&mut store, &a, t0, vec![]);
        for second in 1..=10 {
            scrape(
                &mut store,
                &a,
                t0 + second * 1000,
                vec![requests("200", 100.0)],
            );
        }
        // Two minutes of failed scrapes, then a baseline page (the ingestor places none of the
        // outage's growth) and a second of traffic.
        for second in 11..=130 {
            store.apply(ScrapeReport {
                url: "http://a/metrics".into(),
                target: a.clone(),
                at_ms: t0 + second * 1000,
                duration_seconds: 0.1,
                outcome: Err("connection refused".into()),
            });
        }
        scrape(&mut store, &a, t0 + 131_000, vec![]);
        for second in 132..=140 {
            scrape(
                &mut store,
                &a,
                t0 + second * 1000,
                vec![requests("200", 100.0)],
            );
        }
        let view = view(&store, &five_minutes(), t0 + 140_000, SETTINGS);
        let panel = view.panel(PanelId::InferenceVolume).expect("panel");
        assert_eq!(
            value_at(panel, SeriesId::Status2xx, t0 + 10_000),
            Some(100.0)
        );
        // The window after the last good scrape before the outage still sees it ...
        assert_eq!(
            value_at(panel, SeriesId::Status2xx, t0 + 14_000),
            Some(100.0)
        );
        // ... then nothing was measured: a gap, never a zero or a spike.
        for second in 16..=131 {
            assert_eq!(
                value_at(panel, SeriesId::Status2xx, t0 + second * 1000),
                None,
                "at {second} s"
            );
        }
        // The first point after the baseline already shows the true rate, undiluted.
        assert_eq!(
            value_at(panel, SeriesId::Status2xx, t0 + 132_000),
            Some(100.0)
        );
        assert_eq!(
            value_at(panel, SeriesId::Status2xx, t0 + 140_000),
            Some(100.0)
        );
    }

    #[test]
    fn a_replica_read_by_several_readers_is_counted_once() {
        let mut store = store();
        let page = target("chat", "a");
        let host = page.with_origin(Origin::Host);
        let t0 = 7_000_000_000;
        let cpu = |value, detail: Option<&str>| Observation {
            signal: Signal::CpuSeconds,
            detail: detail.map(Arc::from),
            model: None,
            value: Value::Increment(value),
        };
        let memory = |value, detail: Option<&str>| Observation {
            signal: Signal::MemoryWorkingSetBytes,
            detail: detail.map(Arc::from),
            model: None,
            value: Value::Gauge(value),
        };
        let process = Some(DETAIL_PROCESS);
        scrape(&mut store, &page, t0 - 1000, vec![]);
        scrape(&mut store, &host, t0 - 600, vec![]);
        for second in 0..=5 {
            let at = t0 + second * 1000;
            // The exporter's own process_* (one process) and inferscope's reading of the
            // whole process tree; they scrape at other times and never stale each other.
            scrape(
                &mut store,
                &page,
                at,
                vec![
                    cpu(0.25, process),
                    memory(100.0, process),
                    requests("200", 3.0),
                ],
            );
            scrape(
                &mut store,
                &host,
                at + 400,
                vec![cpu(1.5, None), memory(900.0, None)],
            );
        }
        let end = t0 + 5000;
        let view = view(&store, &five_minutes(), end + 1000, SETTINGS);
        let cpu_panel = view.panel(PanelId::Cpu).expect("cpu");
        let replica = SeriesId::Replica("a".into());
        assert_eq!(value_at(cpu_panel, replica.clone(), end + 1000), Some(1.5));
        let memory = view.panel(PanelId::Memory).expect("memory");
        assert_eq!(value_at(memory, replica, end + 1000), Some(900.0));
        // The page's own series have no gaps from the host reader's scrapes.
        let volume = view.panel(PanelId::InferenceVolume).expect("volume");
        for second in 1..=5 {
            assert_eq!(
                value_at(volume, SeriesId::Status2xx, t0 + second * 1000),
                Some(3.0)
            );
        }
        // node_exporter's page describes the host as a whole: it wins over inferscope's reading
        // of the node_exporter process itself.
        let node = target("hosts", "n0");
        let node_process = node.with_origin(Origin::Host);
        scrape(&mut store, &node, t0 - 1000, vec![]);
        scrape(&mut store, &node_process, t0 - 600, vec![]);
        for second in 0..=5 {
            let at = t0 + second * 1000;
            scrape(
                &mut store,
                &node,
                at,
                vec![cpu(6.0, None), cpu(0.01, process)],
            );
            scrape(&mut store, &node_process, at + 400, vec![cpu(0.02, None)]);
        }
        let hosts = Filter {
            deployment: Some("hosts".into()),
            ..five_minutes()
        };
        let view = super::view(&store, &hosts, end + 1000, SETTINGS);
        let host_cpu = view.panel(PanelId::Cpu).expect("cpu");
        assert_eq!(
            value_at(host_cpu, SeriesId::Replica("n0".into()), end + 1000),
            Some(6.0)
        );
    }

    #[test]
    fn means_stand_in_where_only_totals_are_reported() {
        let mut store = store();
        let t0 = 8_000_000_000;
        let part = |detail: &str, value| Observation {
            signal: Signal::EndToEndSeconds,
            detail: Some(Arc::from(detail)),
            model: None,
            value: Value::Increment(value),
        };
        for (replica, seconds, count) in [("a", 3.0, 10.0), ("b", 1.0, 30.0)] {
            let target = target("triton", replica);
            scrape(&mut store, &target, t0, vec![]);
            for second in 1..=3 {
                scrape(
                    &mut store,
                    &target,
                    t0 + second * 1000,
                    vec![part(DETAIL_SUM, seconds), part(DETAIL_COUNT, count)],
                );
            }
        }
        let view = view(&store, &five_minutes(), t0 + 3000, SETTINGS);
        let panel = view.panel(PanelId::ResponseTime).expect("panel");
        // (3 + 1) s over (10 + 30) requests per scrape.
        assert_eq!(value_at(panel, SeriesId::Mean, t0 + 3000), Some(0.1));
        assert!(panel.series(&SeriesId::P99).is_none());
        assert!(!panel.from_summaries);
    }

    #[test]
    fn percentiles_above_every_bound_are_marked() {
        let mut store = store();
        let bounds: Arc<[f64]> = Arc::from(vec![1.0]);
        let t0 = 9_000_000_000;
        scrape(
            &mut store,
            &target("chat", "a"),
            t0,
            vec![Observation {
                signal: Signal::EndToEndSeconds,
                detail: None,
                model: None,
                value: Value::Histogram(HistogramIncrement {
                    bounds,
                    buckets: vec![(0, 90.0), (1, 10.0)],
                    sum: 0.0,
                    count: 100.0,
                }),
            }],
        );
        let view = view(&store, &five_minutes(), t0, SETTINGS);
        let panel = view.panel(PanelId::ResponseTime).expect("panel");
        assert_eq!(value_at(panel, SeriesId::P99, t0), Some(1.0));
        assert!(panel.is_above(&SeriesId::P99, t0));
        let p50 = value_at(panel, SeriesId::P50, t0).expect("p50");
        assert!((p50 - 0.5 / 0.9).abs() < 1e-12, "{p50}");
        assert!(!panel.is_above(&SeriesId::P50, t0));
    }

    fn view_resolution(filter: &Filter, now_ms: i64) -> Resolution {
        Grid::for_filter(filter, now_ms, SETTINGS).resolution
    }

    #[test]
    fn the_newest_partial_step_shows_its_rate_over_the_time_it_covers() {
        let mut store = store();
        let a = target("chat", "a");
        // A 24-hour view steps by five minutes; t0 is on a step.
        let t0 = 1_000_200_000;
        scrape(&mut store, &a, t0, vec![]);
        // A minute of scrapes, and the first of the next minute (which closes the rollup step).
        for second in 1..=61 {
            scrape(
                &mut store,
                &a,
                t0 + second * 1000,
                vec![requests("200", 2.0)],
            );
        }
        let day = Filter {
            range: TimeRange::Last24h,
            ..Filter::default()
        };
        let now = t0 + 61_000;
        let view = view(&store, &day, now, SETTINGS);
        assert_eq!(view.step_ms, 300_000);
        let panel = view.panel(PanelId::InferenceVolume).expect("panel");
        // Read from the one-minute rollup: the last point (t0 + 5 min) covers the one complete
        // minute so far, 120 requests in 60 s, and the raw scrape after it, 2 more in 1 s.
        assert_eq!(view_resolution(&day, now), Resolution::Tier(0));
        assert_eq!(
            value_at(panel, SeriesId::Status2xx, t0 + 300_000),
            Some(2.0)
        );
    }

    #[test]
    fn exact_codes_ride_along_and_splits_give_a_line_per_replica() {
        let mut store = store();
        let a = target("chat", "a");
        let b = target("chat", "b");
        let t0 = 1_000_000_000;
        scrape(&mut store, &a, t0, vec![]);
        scrape(&mut store, &b, t0, vec![]);
        for second in 1..=5 {
            let at = t0 + second * 1000;
            scrape(
                &mut store,
                &a,
                at,
                vec![requests("200", 1.0), requests("429", 1.0)],
            );
            scrape(&mut store, &b, at, vec![requests("200", 3.0)]);
        }
        let end = t0 + 5000;
        let plain = view(&store, &five_minutes(), end, SETTINGS);
        let volume = plain.panel(PanelId::InferenceVolume).expect("panel");
        assert_eq!(value_at(volume, SeriesId::Code(200), end), Some(4.0));
        assert_eq!(value_at(volume, SeriesId::Code(429), end), Some(1.0));
        assert_eq!(value_at(volume, SeriesId::Status5xx, end), Some(0.0));
        let split = Filter {
            split: vec![PanelId::InferenceVolume],
            ..five_minutes()
        };
        let view = view(&store, &split, end, SETTINGS);
        let volume = view.panel(PanelId::InferenceVolume).expect("panel");
        assert_eq!(
            value_at(volume, SeriesId::Replica("a".into()), end),
            Some(2.0)
        );
        assert_eq!(
            value_at(volume, SeriesId::Replica("b".into()), end),
            Some(3.0)
        );
        assert!(volume.series(&SeriesId::Status2xx).is_none());
    }

    #[test]
    fn cpu_memory_and_gpu_panels_give_members_and_averages() {
        let mut store = store();
        let t0 = 5_000_000_000;
        let gauge = |signal, detail: Option<&str>, value| Observation {
            signal,
            detail: detail.map(Arc::from),
            model: None,
            value: Value::Gauge(value),
        };
        let cpu = |value| Observation {
            signal: Signal::CpuSeconds,
            detail: None,
            model: None,
            value: Value::Increment(value),
        };
        for (replica, cores, memory) in [("a", 0.5, 100.0), ("b", 1.5, 300.0)] {
            let target = target("chat", replica);
            scrape(&mut store, &target, t0, vec![]);
            for second in 1..=5 {
                scrape(
                    &mut store,
                    &target,
                    t0 + second * 1000,
                    vec![
                        cpu(cores),
                        gauge(Signal::MemoryWorkingSetBytes, None, memory),
                        gauge(Signal::GpuUtilization, Some("0"), cores / 2.0),
                        gauge(Signal::GpuMemoryTotalBytes, Some("0"), 80.0),
                    ],
                );
            }
        }
        let end = t0 + 5000;
        let view = view(&store, &five_minutes(), end, SETTINGS);
        let cpu = view.panel(PanelId::Cpu).expect("cpu");
        assert_eq!(value_at(cpu, SeriesId::Replica("a".into()), end), Some(0.5));
        assert_eq!(value_at(cpu, SeriesId::Average, end), Some(1.0));
        let memory = view.panel(PanelId::Memory).expect("memory");
        assert_eq!(value_at(memory, SeriesId::Average, end), Some(200.0));
        let gpu = view.panel(PanelId::GpuUsage).expect("gpu");
        assert_eq!(value_at(gpu, SeriesId::Gpu("b/0".into()), end), Some(0.75));
        assert_eq!(value_at(gpu, SeriesId::Average, end), Some(0.5));
        let gpu_memory = view.panel(PanelId::GpuMemory).expect("gpu memory");
        assert_eq!(value_at(gpu_memory, SeriesId::Total, end), Some(80.0));
        // Nobody reported a limit: no limit line, rather than one at zero.
        assert!(cpu.series(&SeriesId::Limit).is_none());
        assert!(memory.series(&SeriesId::Limit).is_none());
    }

    #[test]
    fn cpu_and_memory_limits_draw_the_lowest_among_replicas_that_report_one() {
        let mut store = store();
        let t0 = 5_000_000_000;
        let gauge = |signal, value| Observation {
            signal,
            detail: None,
            model: None,
            value: Value::Gauge(value),
        };
        // a: 2 cores / 1000 B, lowered to 0.5 cores at second 3; b: 1 core / 600 B;
        // c: no limits at all, and it must not pull the line to zero.
        for replica in ["a", "b", "c"] {
            let target = target("chat", replica);
            scrape(&mut store, &target, t0, vec![]);
            for second in 1..=5 {
                let mut observations = vec![gauge(Signal::MemoryWorkingSetBytes, 100.0)];
                match replica {
                    "a" => {
                        let cores = if second >= 3 { 0.5 } else { 2.0 };
                        observations.push(gauge(Signal::CpuLimitCores, cores));
                        observations.push(gauge(Signal::MemoryLimitBytes, 1000.0));
                    }
                    "b" => {
                        observations.push(gauge(Signal::CpuLimitCores, 1.0));
                        observations.push(gauge(Signal::MemoryLimitBytes, 600.0));
                    }
                    _ => {}
                }
                scrape(&mut store, &target, t0 + second * 1000, observations);
            }
        }
        let end = t0 + 5000;
        let view = view(&store, &five_minutes(), end, SETTINGS);
        let cpu = view.panel(PanelId::Cpu).expect("cpu");
        assert_eq!(value_at(cpu, SeriesId::Limit, t0 + 2000), Some(1.0));
        assert_eq!(value_at(cpu, SeriesId::Limit, t0 + 3000), Some(0.5));
        assert_eq!(value_at(cpu, SeriesId::Limit, end), Some(0.5));
        let memory = view.panel(PanelId::Memory).expect("memory");
        assert_eq!(value_at(memory, SeriesId::Limit, end), Some(600.0));
        // The limit is not a member: the average is of the three working sets alone.
        assert_eq!(value_at(memory, SeriesId::Average, end), Some(100.0));
        assert!(memory.series(&SeriesId::Replica("c".into())).is_some());
    }

    #[test]
    fn summaries_stand_in_for_histograms_and_say_so() {
        let mut store = store();
        let t0 = 6_000_000_000;
        let quantile = |q: &str, value| Observation {
            signal: Signal::EndToEndSeconds,
            detail: Some(Arc::from(q)),
            model: None,
            value: Value::Gauge(value),
        };
        scrape(
            &mut store,
            &target("m", "a"),
            t0,
            vec![quantile("0.5", 0.1), quantile("0.99", 0.9)],
        );
        scrape(
            &mut store,
            &target("m", "b"),
            t0,
            vec![quantile("0.5", 0.2), quantile("0.99", 0.4)],
        );
        let view = view(&store, &five_minutes(), t0, SETTINGS);
        let panel = view.panel(PanelId::ResponseTime).expect("panel");
        assert!(panel.from_summaries);
        assert_eq!(value_at(panel, SeriesId::P50, t0), Some(0.2));
        assert_eq!(value_at(panel, SeriesId::P99, t0), Some(0.9));
        assert!(
            panel.series(&SeriesId::P90).is_none(),
            "no summary gives p90"
        );
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
            model: None,
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
    fn a_day_view_shows_data_before_the_first_rollup_step_is_complete() {
        let mut store = store();
        let a = target("chat", "a");
        let t0 = 1_000_200_000;
        scrape(&mut store, &a, t0, vec![]);
        for second in 1..=30 {
            scrape(
                &mut store,
                &a,
                t0 + second * 1000,
                vec![requests("200", 3.0)],
            );
        }
        let day = Filter {
            range: TimeRange::Last24h,
            ..Filter::default()
        };
        let now = t0 + 30_000;
        assert_eq!(view_resolution(&day, now), Resolution::Tier(0));
        let view = view(&store, &day, now, SETTINGS);
        let panel = view.panel(PanelId::InferenceVolume).expect("panel");
        // Nothing is rolled up yet; the raw points supply the newest step: 90 requests in 30 s.
        assert_eq!(
            value_at(panel, SeriesId::Status2xx, t0 + 300_000),
            Some(3.0)
        );
    }

    #[test]
    fn week_percentiles_from_rollups_equal_percentiles_of_every_raw_increment() {
        let mut store = store();
        let bounds: Arc<[f64]> = Arc::from(vec![0.1, 0.2, 0.5, 1.0, 2.0, 5.0]);
        let replica = target("chat", "a");
        let t0: i64 = 1_800_000_000_000 - 3 * 86_400_000;
        let mut sent: Vec<(i64, HistogramIncrement)> = Vec::new();
        // Three days of scrapes a minute apart, the latency mix drifting hour by hour.
        for minute in 1..=3 * 24 * 60 {
            let at = t0 + minute * 60_000;
            let hour = minute / 60;
            let buckets = vec![
                (0, (10 + hour % 7) as f64),
                (2, (5 + hour % 5) as f64),
                (4, (hour % 3) as f64),
                (6, if hour % 11 == 0 { 1.0 } else { 0.0 }),
            ];
            let increment = HistogramIncrement {
                bounds: bounds.clone(),
                count: buckets.iter().map(|(_, c)| c).sum(),
                buckets,
                sum: 0.0,
            };
            sent.push((at, increment.clone()));
            scrape(
                &mut store,
                &replica,
                at,
                vec![Observation {
                    signal: Signal::EndToEndSeconds,
                    detail: None,
                    model: None,
                    value: Value::Histogram(increment),
                }],
            );
        }
        let now = t0 + 3 * 86_400_000 + 1;
        let week = Filter {
            range: TimeRange::Last7d,
            ..Filter::default()
        };
        let grid = Grid::for_filter(&week, now, SETTINGS);
        assert_eq!(grid.resolution, Resolution::Tier(1));
        let view = view(&store, &week, now, SETTINGS);
        let panel = view.panel(PanelId::ResponseTime).expect("panel");
        let mut compared = 0;
        for time in grid.times().filter(|time| *time <= now - grid.step_ms) {
            let mut direct = MergedHistogram::new();
            for (_, increment) in sent
                .iter()
                .filter(|(at, _)| *at > time - grid.window_ms && *at <= time)
            {
                direct.add(increment);
            }
            for (id, q) in [(SeriesId::P50, 0.5), (SeriesId::P99, 0.99)] {
                let expected = direct.quantile(q).map(|estimate| match estimate {
                    math::Estimate::Value(value) | math::Estimate::Above(value) => value,
                });
                assert_eq!(
                    value_at(panel, id.clone(), time),
                    expected,
                    "{id:?} at {time}"
                );
                compared += usize::from(expected.is_some());
            }
        }
        assert!(compared > 100, "{compared} points compared");
    }

    #[test]
    fn gauges_sum_targets_and_gap_when_stale() {
        let mut store = store();
        let gauge = |signal, detail: Option<&str>, value| Observation {
            signal,
            detail: detail.map(Arc::from),
            model: None,
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
        assert!(replicas.series(&SeriesId::Starting).is_none());
        let concurrency = view.panel(PanelId::ConcurrentRequests).expect("panel");
        assert_eq!(value_at(concurrency, SeriesId::InProgress, t0), Some(5.0));
        assert_eq!(value_at(concurrency, SeriesId::Queued, t0), Some(4.0));
        assert_eq!(value_at(concurrency, SeriesId::Queued, t0 + 1000), None);
    }
}
