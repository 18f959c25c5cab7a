//! The store: bounded in-memory series per (environment, deployment, replica, origin, signal,
//! detail, model).
//!
//! One task owns the [`Store`] ([`spawn`]); everything else talks to it through a
//! [`StoreHandle`]: scrape loops send reports, readers send closures that run against the store
//! and send back what they computed. The store knows nothing of exposition formats or the web.
//!
//! A series keeps points for `retention_ms` and at most `max_points_per_series` of them; the
//! store keeps at most `max_series` series and refuses (and counts) new ones past that. A target
//! that fails a scrape or goes away gets a stale marker on each of its series, so charts show a
//! gap, not a flat line.

pub mod packed;
mod ring;
pub mod tiers;
pub mod xor;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::hashing::{FastMap, IdMap};
use crate::model::{Detail, Lookalike, Observation, RawSamples, Signal, TargetLabels, Value};
pub use packed::HistogramSeries;
pub use ring::Ring;
pub use tiers::{Rollup, TIERS, Tier};
pub use xor::FloatSeries;

/// Bounds of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// How long points are kept, milliseconds.
    pub retention_ms: i64,
    /// Most points one series keeps (a backstop when scrapes come faster than expected).
    pub max_points_per_series: usize,
    /// Most series the store holds.
    pub max_series: usize,
}

/// The points of one series. `None` is a stale marker: the series had no value from then on.
#[derive(Clone, Debug)]
pub enum Samples {
    /// Gauge readings.
    Gauge(FloatSeries),
    /// Counter increments per scrape.
    Counter(FloatSeries),
    /// Histogram increments per scrape.
    Histogram(HistogramSeries),
}

/// Which copy of the series a reader wants: the raw points or a rollup tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    /// As scraped, for `retention_ms`.
    Raw,
    /// The rollup of [`TIERS`]`[i]`.
    Tier(usize),
}

/// A series: its raw points and a rollup per tier.
#[derive(Clone, Debug)]
pub struct Stored {
    raw: Samples,
    tiers: [Rollup; TIERS.len()],
}

impl Stored {
    fn new(raw: Samples) -> Stored {
        let tiers = TIERS.map(|tier| {
            let points = (tier.retention_ms / tier.step_ms) as usize + packed::CHUNK_POINTS;
            Rollup::new(tier.step_ms, &raw, points)
        });
        Stored { raw, tiers }
    }

    /// The points at a resolution.
    pub fn at(&self, resolution: Resolution) -> &Samples {
        match resolution {
            Resolution::Raw => &self.raw,
            Resolution::Tier(index) => self
                .tiers
                .get(index)
                .map_or(&self.raw, |rollup| &rollup.samples),
        }
    }
}

/// Identity of a series within one signal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// The target it came from.
    pub target: TargetLabels,
    /// Its detail label value.
    pub detail: Detail,
    /// The model it is of, where the engine labels by model.
    pub model: Detail,
}

/// A series of one target: signal, detail, model.
type SeriesName = (Signal, Detail, Detail);

/// Scrape health of one target, as the scrape loop last reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetStatus {
    /// URL (or other address) scraped.
    pub url: String,
    /// The target's labels.
    pub labels: TargetLabels,
    /// Whether the last scrape succeeded.
    pub up: bool,
    /// When the last scrape started, Unix milliseconds.
    pub last_scrape_ms: i64,
    /// How long it took, seconds.
    pub last_duration_seconds: f64,
    /// Samples on the last successful page.
    pub samples_scraped: u64,
    /// Why the last scrape failed.
    pub last_error: Option<String>,
    /// Engines detected on its last good page.
    pub engines: Vec<&'static str>,
    /// Families on its last good page that look like ones an adapter reads.
    pub lookalikes: Vec<Lookalike>,
}

/// What a scrape loop tells the store after each scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrapeReport {
    /// Address scraped.
    pub url: String,
    /// The target's labels.
    pub target: TargetLabels,
    /// When the scrape started, Unix milliseconds; the observations' timestamp.
    pub at_ms: i64,
    /// How long it took, seconds.
    pub duration_seconds: f64,
    /// The observations, or why there are none.
    pub outcome: Result<ScrapeSuccess, String>,
}

/// A successful scrape's yield.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrapeSuccess {
    /// Observations, one per (signal, detail).
    pub observations: Vec<Observation>,
    /// Samples of families no adapter knows, kept as they are.
    pub raw: RawSamples,
    /// Names of the engines whose families the page has.
    pub engines: Vec<&'static str>,
    /// Families on the page that look like ones an adapter reads, under another name.
    pub lookalikes: Vec<Lookalike>,
    /// Samples on the page.
    pub samples: u64,
    /// The seconds the page's increments span; `None` for a new baseline (the first page, or
    /// the first after a gap longer than the rate window).
    pub covered_seconds: Option<f64>,
}

/// A series of a family no adapter knows, kept as exported.
#[derive(Clone, Debug)]
pub struct RawSeries {
    /// `name{labels}` as the exporter wrote them.
    pub name: Box<str>,
    /// Its points.
    pub points: FloatSeries,
    /// Whether its last point is a stale marker.
    stale: bool,
}

/// The store's state. Owned by one task; see the module docs.
#[derive(Debug)]
pub struct Store {
    limits: StoreLimits,
    signals: FastMap<Signal, FastMap<SeriesKey, Stored>>,
    series_count: usize,
    rejected_series: u64,
    targets: BTreeMap<(TargetLabels, String), TargetStatus>,
    last_seen: FastMap<TargetLabels, Vec<SeriesName>>,
    raw: FastMap<TargetLabels, IdMap<RawSeries>>,
    last_expiry_ms: i64,
}

/// A rollup step is written this long after it ended even when no later point closes it (a
/// series that stopped reporting); scrapes normally close it sooner.
pub const ROLLUP_GRACE_MS: i64 = 30_000;

/// Expiry walks every series, so it runs at most this often (not on every report).
pub const EXPIRY_INTERVAL_MS: i64 = 1000;

impl Store {
    /// An empty store.
    pub fn new(limits: StoreLimits) -> Store {
        Store {
            limits,
            signals: FastMap::default(),
            series_count: 0,
            rejected_series: 0,
            targets: BTreeMap::new(),
            last_seen: FastMap::default(),
            raw: FastMap::default(),
            last_expiry_ms: i64::MIN,
        }
    }

    /// Records one scrape.
    pub fn apply(&mut self, report: ScrapeReport) {
        let ScrapeReport {
            url,
            target,
            at_ms,
            duration_seconds,
            outcome,
        } = report;
        let up = outcome.is_ok();
        let mut status = TargetStatus {
            url: url.clone(),
            labels: target.clone(),
            up,
            last_scrape_ms: at_ms,
            last_duration_seconds: duration_seconds,
            samples_scraped: 0,
            last_error: None,
            engines: Vec::new(),
            lookalikes: Vec::new(),
        };
        let mut seen = Vec::new();
        let mut covered = None;
        match outcome {
            Ok(success) => {
                covered = Some(success.covered_seconds);
                status.samples_scraped = success.samples;
                status.engines = success.engines;
                status.lookalikes = success.lookalikes;
                for observation in success.observations {
                    seen.push((
                        observation.signal,
                        observation.detail.clone(),
                        observation.model.clone(),
                    ));
                    self.append(&target, observation, at_ms);
                }
                self.append_raw(&target, success.raw, at_ms);
                let previous = self.last_seen.get(&target).cloned().unwrap_or_default();
                for name in previous {
                    if !seen.contains(&name) {
                        self.mark_stale(&target, &name, at_ms);
                    }
                }
                self.last_seen.insert(target.clone(), seen);
            }
            Err(error) => {
                status.last_error = Some(error);
                self.mark_target_stale(&target, at_ms);
            }
        }
        match covered {
            Some(Some(seconds)) => self.append(
                &target,
                Observation {
                    signal: Signal::CoveredSeconds,
                    detail: None,
                    model: None,
                    value: Value::Increment(seconds),
                },
                at_ms,
            ),
            // A new baseline: no increment of this page spans time before it.
            Some(None) => {
                self.mark_stale(&target, &(Signal::CoveredSeconds, None, None), at_ms);
            }
            None => {}
        }
        for (signal, value) in [
            (Signal::Up, if up { 1.0 } else { 0.0 }),
            (Signal::ScrapeDurationSeconds, duration_seconds),
        ] {
            let observation = Observation {
                signal,
                detail: None,
                model: None,
                value: Value::Gauge(value),
            };
            self.append(&target, observation, at_ms);
        }
        self.targets.insert((target, url), status);
    }

    /// Appends a page's raw samples; raw series missing from the page go stale.
    fn append_raw(&mut self, target: &TargetLabels, raw: RawSamples, at_ms: i64) {
        let RawSamples { values, names } = raw;
        let mut names: IdMap<Box<str>> = names.into_iter().collect();
        let series_count = &mut self.series_count;
        let max_series = self.limits.max_series;
        let rejected = &mut self.rejected_series;
        let by_id = self.raw.entry(target.clone()).or_default();
        let mut written = 0usize;
        for (id, value) in values {
            let series = match by_id.get_mut(&id) {
                Some(series) => series,
                None => {
                    // A series the store never had (or dropped) needs its name to start.
                    let Some(name) = names.remove(&id) else {
                        continue;
                    };
                    if *series_count >= max_series {
                        *rejected += 1;
                        continue;
                    }
                    *series_count += 1;
                    by_id.entry(id).or_insert(RawSeries {
                        name,
                        points: FloatSeries::new(),
                        stale: false,
                    })
                }
            };
            series.points.push(at_ms, Some(value));
            series.stale = false;
            written += 1;
        }
        if written == by_id.len() {
            // Every series the target has was on this page: none went missing.
            return;
        }
        for series in by_id.values_mut() {
            let current = series.points.last_time().is_some_and(|last| last >= at_ms);
            if !current && !series.stale {
                series.points.push(at_ms, None);
                series.stale = true;
            }
        }
    }

    /// Every raw series of every target, in no particular order.
    pub fn all_raw_series(&self) -> impl Iterator<Item = (&TargetLabels, &RawSeries)> {
        self.raw
            .iter()
            .flat_map(|(target, series)| series.values().map(move |one| (target, one)))
    }

    /// Every raw series of a target (families no adapter knows), in no particular order.
    pub fn raw_series(&self, target: &TargetLabels) -> impl Iterator<Item = &RawSeries> {
        self.raw
            .get(target)
            .into_iter()
            .flat_map(|series| series.values())
    }

    /// Forgets a target that is no longer scraped: its series get a stale marker and age out.
    pub fn remove_target(&mut self, target: &TargetLabels, url: &str, at_ms: i64) {
        self.mark_target_stale(target, at_ms);
        for signal in [
            Signal::Up,
            Signal::ScrapeDurationSeconds,
            Signal::CoveredSeconds,
        ] {
            self.mark_stale(target, &(signal, None, None), at_ms);
        }
        self.targets.remove(&(target.clone(), url.to_owned()));
    }

    /// Lists a target that is not scraped because another source already has its identity
    /// (environment, deployment, replica): it shows on the targets page with the reason, and
    /// nothing of the other source's series is touched.
    pub fn refuse_target(&mut self, target: &TargetLabels, url: &str, reason: String, at_ms: i64) {
        self.targets.insert(
            (target.clone(), url.to_owned()),
            TargetStatus {
                url: url.to_owned(),
                labels: target.clone(),
                up: false,
                last_scrape_ms: at_ms,
                last_duration_seconds: 0.0,
                samples_scraped: 0,
                last_error: Some(reason),
                engines: Vec::new(),
                lookalikes: Vec::new(),
            },
        );
    }

    /// Takes a refused target off the list (it went away, or its twin did and it is scraped
    /// now). Its labels' series are not touched: they belong to the source that is scraped.
    pub fn lift_refusal(&mut self, target: &TargetLabels, url: &str) {
        self.targets.remove(&(target.clone(), url.to_owned()));
    }

    /// Drops points older than the retention and series left empty, at most once per
    /// [`EXPIRY_INTERVAL_MS`] (the store task calls it after every report).
    pub fn expire(&mut self, now_ms: i64) {
        if now_ms.saturating_sub(self.last_expiry_ms) < EXPIRY_INTERVAL_MS {
            return;
        }
        self.last_expiry_ms = now_ms;
        let oldest = now_ms - self.limits.retention_ms;
        let mut removed = 0;
        for series in self.signals.values_mut() {
            series.retain(|_, stored| {
                let raw_empty = match &mut stored.raw {
                    Samples::Gauge(ring) | Samples::Counter(ring) => {
                        ring.expire(oldest);
                        ring.is_empty()
                    }
                    Samples::Histogram(ring) => {
                        ring.expire(oldest);
                        ring.is_empty()
                    }
                };
                let mut tiers_empty = true;
                for (rollup, tier) in stored.tiers.iter_mut().zip(TIERS) {
                    rollup.close_ended(now_ms - ROLLUP_GRACE_MS);
                    tiers_empty &= rollup.expire(now_ms - tier.retention_ms);
                }
                let keep = !(raw_empty && tiers_empty);
                if !keep {
                    removed += 1;
                }
                keep
            });
        }
        for by_id in self.raw.values_mut() {
            by_id.retain(|_, series| {
                series.points.expire(oldest);
                let keep = !series.points.is_empty();
                if !keep {
                    removed += 1;
                }
                keep
            });
        }
        self.raw.retain(|_, by_id| !by_id.is_empty());
        self.series_count -= removed;
    }

    /// The key of every series of every signal, in no particular order.
    pub fn all_series(&self) -> impl Iterator<Item = &SeriesKey> {
        self.signals.values().flat_map(|series| series.keys())
    }

    /// Every series of a signal, raw points.
    pub fn series(&self, signal: Signal) -> impl Iterator<Item = (&SeriesKey, &Samples)> {
        self.series_at(signal, Resolution::Raw)
    }

    /// Every series of a signal at a resolution, with its raw points beside a rollup (a reader
    /// takes from them what the rollup has not gathered yet: its newest, unfinished step).
    pub fn series_with_raw(
        &self,
        signal: Signal,
        resolution: Resolution,
    ) -> impl Iterator<Item = (&SeriesKey, &Samples, Option<&Samples>)> {
        self.signals
            .get(&signal)
            .into_iter()
            .flatten()
            .map(move |(key, stored)| {
                let raw = (resolution != Resolution::Raw).then_some(&stored.raw);
                (key, stored.at(resolution), raw)
            })
    }

    /// Every series of a signal at a resolution (a series whose raw points have aged out
    /// still has its rollups).
    pub fn series_at(
        &self,
        signal: Signal,
        resolution: Resolution,
    ) -> impl Iterator<Item = (&SeriesKey, &Samples)> {
        self.signals
            .get(&signal)
            .into_iter()
            .flatten()
            .map(move |(key, stored)| (key, stored.at(resolution)))
    }

    /// Scrape health of every target, sorted by labels.
    pub fn targets(&self) -> impl Iterator<Item = &TargetStatus> {
        self.targets.values()
    }

    /// How many series the store holds.
    pub fn series_count(&self) -> usize {
        self.series_count
    }

    /// How many new series were refused because of `max_series`.
    pub fn rejected_series(&self) -> u64 {
        self.rejected_series
    }

    fn append(&mut self, target: &TargetLabels, observation: Observation, at_ms: i64) {
        let Observation {
            signal,
            detail,
            model,
            value,
        } = observation;
        let key = SeriesKey {
            target: target.clone(),
            detail,
            model,
        };
        let max_points = self.limits.max_points_per_series;
        let by_key = self.signals.entry(signal).or_default();
        if !by_key.contains_key(&key) {
            if self.series_count >= self.limits.max_series {
                self.rejected_series += 1;
                if self.rejected_series == 1 || self.rejected_series.is_multiple_of(1000) {
                    warn!(
                        max_series = self.limits.max_series,
                        rejected = self.rejected_series,
                        environment = %target.environment,
                        deployment = %target.deployment,
                        replica = %target.replica,
                        "series limit reached; new series are dropped"
                    );
                }
                return;
            }
            let samples = match value {
                Value::Gauge(_) => Samples::Gauge(FloatSeries::new()),
                Value::Increment(_) => Samples::Counter(FloatSeries::new()),
                Value::Histogram(_) => Samples::Histogram(HistogramSeries::new(max_points)),
            };
            by_key.insert(key.clone(), Stored::new(samples));
            self.series_count += 1;
        }
        let Some(stored) = by_key.get_mut(&key) else {
            return;
        };
        match (&mut stored.raw, &value) {
            (Samples::Gauge(ring), Value::Gauge(reading))
            | (Samples::Counter(ring), Value::Increment(reading)) => {
                ring.push(at_ms, Some(*reading));
            }
            (Samples::Histogram(ring), Value::Histogram(increment)) => {
                ring.push(at_ms, Some(increment));
            }
            (_, value) => {
                warn!(
                    ?signal,
                    value = ?value,
                    "observation kind does not match the series kind; dropped"
                );
                return;
            }
        }
        for rollup in &mut stored.tiers {
            rollup.observe(at_ms, Some(&value));
        }
    }

    fn mark_stale(&mut self, target: &TargetLabels, name: &SeriesName, at_ms: i64) {
        let (signal, detail, model) = name;
        let key = SeriesKey {
            target: target.clone(),
            detail: detail.clone(),
            model: model.clone(),
        };
        if let Some(stored) = self.signals.get_mut(signal).and_then(|s| s.get_mut(&key)) {
            match &mut stored.raw {
                Samples::Gauge(ring) | Samples::Counter(ring) => ring.push(at_ms, None),
                Samples::Histogram(ring) => ring.push(at_ms, None),
            }
            for rollup in &mut stored.tiers {
                rollup.observe(at_ms, None);
            }
        }
    }

    fn mark_target_stale(&mut self, target: &TargetLabels, at_ms: i64) {
        if let Some(seen) = self.last_seen.remove(target) {
            for name in seen {
                self.mark_stale(target, &name, at_ms);
            }
        }
        if let Some(by_id) = self.raw.get_mut(target) {
            for series in by_id.values_mut().filter(|series| !series.stale) {
                series.points.push(at_ms, None);
                series.stale = true;
            }
        }
    }
}

/// The store task is gone (the server is shutting down).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the store is shut down")]
pub struct StoreClosed;

type ReadFn = Box<dyn FnOnce(&Store) + Send>;

enum Command {
    Report(Box<ScrapeReport>),
    TargetGone {
        target: TargetLabels,
        url: String,
        at_ms: i64,
    },
    Refused {
        target: TargetLabels,
        url: String,
        reason: String,
        at_ms: i64,
    },
    RefusalLifted {
        target: TargetLabels,
        url: String,
    },
    Read(ReadFn),
}

/// How the rest of the server reaches the store task. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Report(report) => f.debug_tuple("Report").field(&report.url).finish(),
            Command::TargetGone { url, .. } => f.debug_tuple("TargetGone").field(url).finish(),
            Command::Refused { url, .. } => f.debug_tuple("Refused").field(url).finish(),
            Command::RefusalLifted { url, .. } => {
                f.debug_tuple("RefusalLifted").field(url).finish()
            }
            Command::Read(_) => f.write_str("Read"),
        }
    }
}

/// Capacity of the store's command queue; senders wait when it is full.
pub const STORE_QUEUE: usize = 1024;

impl StoreHandle {
    /// Records a scrape. Waits while the store is busy (back-pressure on scrape loops).
    pub async fn report(&self, report: ScrapeReport) -> Result<(), StoreClosed> {
        self.commands
            .send(Command::Report(Box::new(report)))
            .await
            .map_err(|_| StoreClosed)
    }

    /// Tells the store a target is no longer scraped.
    pub async fn target_gone(
        &self,
        target: TargetLabels,
        url: String,
        at_ms: i64,
    ) -> Result<(), StoreClosed> {
        self.commands
            .send(Command::TargetGone { target, url, at_ms })
            .await
            .map_err(|_| StoreClosed)
    }

    /// Lists a target that is not scraped, with why ([`Store::refuse_target`]).
    pub async fn refuse_target(
        &self,
        target: TargetLabels,
        url: String,
        reason: String,
        at_ms: i64,
    ) -> Result<(), StoreClosed> {
        self.commands
            .send(Command::Refused {
                target,
                url,
                reason,
                at_ms,
            })
            .await
            .map_err(|_| StoreClosed)
    }

    /// Takes a refused target off the list ([`Store::lift_refusal`]).
    pub async fn lift_refusal(&self, target: TargetLabels, url: String) -> Result<(), StoreClosed> {
        self.commands
            .send(Command::RefusalLifted { target, url })
            .await
            .map_err(|_| StoreClosed)
    }

    /// Runs `read` against the store inside its task and returns the result.
    pub async fn read<R, F>(&self, read: F) -> Result<R, StoreClosed>
    where
        R: Send + 'static,
        F: FnOnce(&Store) -> R + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadFn = Box::new(move |store| {
            // The reader may have given up (its request was cancelled); nothing to do then.
            let _ignored_if_reader_left = reply.send(read(store));
        });
        self.commands
            .send(Command::Read(job))
            .await
            .map_err(|_| StoreClosed)?;
        answer.await.map_err(|_| StoreClosed)
    }
}

/// Starts the store task. It ends when every handle is dropped.
pub fn spawn(limits: StoreLimits) -> (StoreHandle, tokio::task::JoinHandle<()>) {
    let (commands, mut inbox) = mpsc::channel(STORE_QUEUE);
    let task = tokio::spawn(async move {
        let mut store = Store::new(limits);
        while let Some(command) = inbox.recv().await {
            match command {
                Command::Report(report) => {
                    let at_ms = report.at_ms;
                    store.apply(*report);
                    store.expire(at_ms);
                }
                Command::TargetGone { target, url, at_ms } => {
                    store.remove_target(&target, &url, at_ms);
                }
                Command::Refused {
                    target,
                    url,
                    reason,
                    at_ms,
                } => store.refuse_target(&target, &url, reason, at_ms),
                Command::RefusalLifted { target, url } => store.lift_refusal(&target, &url),
                Command::Read(read) => read(&store),
            }
        }
    });
    (StoreHandle { commands }, task)
}

/// Wraps a plain value for sharing in observations (used by tests and the query module).
pub fn shared_str(value: &str) -> Arc<str> {
    Arc::from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(replica: &str) -> TargetLabels {
        TargetLabels::exporter("production", "chat-llm", replica)
    }

    fn report(
        replica: &str,
        at_ms: i64,
        outcome: Result<Vec<Observation>, String>,
    ) -> ScrapeReport {
        ScrapeReport {
            url: format!("http://{replica}/metrics"),
            target: labels(replica),
            at_ms,
            duration_seconds: 0.01,
            outcome: outcome.map(|observations| ScrapeSuccess {
                samples: observations.len() as u64,
                observations,
                raw: RawSamples::default(),
                engines: Vec::new(),
                lookalikes: Vec::new(),
                covered_seconds: Some(1.0),
            }),
        }
    }

    fn gauge(signal: Signal, value: f64) -> Observation {
        Observation {
            signal,
            detail: None,
            model: None,
            value: Value::Gauge(value),
        }
    }

    const LIMITS: StoreLimits = StoreLimits {
        retention_ms: 10_000,
        max_points_per_series: 100,
        max_series: 100,
    };

    fn points(store: &Store, signal: Signal, replica: &str) -> Vec<(i64, Option<f64>)> {
        store
            .series(signal)
            .find(|(key, _)| &*key.target.replica == replica)
            .map(|(_, samples)| match samples {
                Samples::Gauge(ring) | Samples::Counter(ring) => ring.iter().collect(),
                Samples::Histogram(_) => Vec::new(),
            })
            .unwrap_or_default()
    }

    #[test]
    fn failed_scrapes_and_vanished_series_leave_stale_markers() {
        let mut store = Store::new(LIMITS);
        store.apply(report(
            "a",
            1000,
            Ok(vec![gauge(Signal::ReplicasActive, 2.0)]),
        ));
        store.apply(report("a", 2000, Err("connection refused".into())));
        store.apply(report(
            "a",
            3000,
            Ok(vec![gauge(Signal::ReplicasActive, 3.0)]),
        ));
        store.apply(report("a", 4000, Ok(vec![])));
        assert_eq!(
            points(&store, Signal::ReplicasActive, "a"),
            vec![
                (1000, Some(2.0)),
                (2000, None),
                (3000, Some(3.0)),
                (4000, None)
            ]
        );
        assert_eq!(
            points(&store, Signal::Up, "a"),
            vec![
                (1000, Some(1.0)),
                (2000, Some(0.0)),
                (3000, Some(1.0)),
                (4000, Some(1.0))
            ]
        );
        let status = store.targets().next().expect("one target");
        assert!(status.up);
        store.apply(report("a", 5000, Err("timed out".into())));
        let status = store.targets().next().expect("one target");
        assert!(!status.up);
        assert_eq!(status.last_error.as_deref(), Some("timed out"));
    }

    #[test]
    fn retention_and_series_limits_hold() {
        let mut store = Store::new(StoreLimits {
            max_series: 3,
            ..LIMITS
        });
        for replica in ["a", "b", "c"] {
            store.apply(report(
                replica,
                1000,
                Ok(vec![gauge(Signal::ReplicasActive, 1.0)]),
            ));
        }
        // Three replicas each bring ReplicasActive, Up and ScrapeDurationSeconds: only three fit.
        assert_eq!(store.series_count(), 3);
        assert!(store.rejected_series() >= 6);
        // Raw points age out first; the rollups keep the series for their own retention.
        store.expire(1000 + LIMITS.retention_ms + 1);
        assert_eq!(store.series_count(), 3);
        assert_eq!(store.series(Signal::Up).count(), 1);
        assert!(store.series(Signal::Up).all(|(_, samples)| match samples {
            Samples::Gauge(series) => series.is_empty(),
            _ => false,
        }));
        let week = TIERS[TIERS.len() - 1];
        // Once the five-minute step has ended (and the grace passed) it is written.
        store.expire(week.step_ms + ROLLUP_GRACE_MS);
        assert_eq!(
            store
                .series_at(Signal::Up, Resolution::Tier(TIERS.len() - 1))
                .map(|(_, samples)| match samples {
                    Samples::Gauge(series) => series.len(),
                    _ => 0,
                })
                .sum::<usize>(),
            1
        );
        store.expire(1000 + week.retention_ms + week.step_ms + 1);
        assert_eq!(store.series_count(), 0);
    }

    #[test]
    fn raw_series_keep_their_names_and_go_stale_when_missing() {
        let mut store = Store::new(LIMITS);
        let raw = |values: Vec<(u64, f64)>, names: Vec<(u64, &str)>| ScrapeReport {
            url: "http://a/metrics".into(),
            target: labels("a"),
            at_ms: 0,
            duration_seconds: 0.0,
            outcome: Ok(ScrapeSuccess {
                observations: Vec::new(),
                engines: Vec::new(),
                lookalikes: Vec::new(),
                covered_seconds: Some(1.0),
                samples: values.len() as u64,
                raw: RawSamples {
                    values,
                    names: names.into_iter().map(|(id, n)| (id, n.into())).collect(),
                },
            }),
        };
        let at = |mut report: ScrapeReport, at_ms| {
            report.at_ms = at_ms;
            report
        };
        store.apply(at(
            raw(vec![(1, 5.0), (2, 7.0)], vec![(1, "x{a=\"1\"}"), (2, "y")]),
            1000,
        ));
        store.apply(at(raw(vec![(1, 6.0)], vec![]), 2000));
        // An id the store never saw, without a name, is not invented.
        store.apply(at(raw(vec![(1, 7.0), (3, 1.0)], vec![]), 3000));
        let series: BTreeMap<&str, Vec<(i64, Option<f64>)>> = store
            .raw_series(&labels("a"))
            .map(|s| (&*s.name, s.points.iter().collect()))
            .collect();
        assert_eq!(
            series["x{a=\"1\"}"],
            vec![(1000, Some(5.0)), (2000, Some(6.0)), (3000, Some(7.0))]
        );
        assert_eq!(series["y"], vec![(1000, Some(7.0)), (2000, None)]);
        assert_eq!(series.len(), 2);
        // Up, duration, covered seconds, and the two raw series.
        assert_eq!(store.series_count(), 5);
    }

    #[test]
    fn a_refused_twin_is_listed_without_touching_the_scraped_series() {
        let mut store = Store::new(LIMITS);
        store.apply(report(
            "a",
            1000,
            Ok(vec![gauge(Signal::ReplicasActive, 2.0)]),
        ));
        store.refuse_target(
            &labels("a"),
            "http://twin/metrics",
            "not scraped: http://a/metrics already has it".into(),
            1500,
        );
        assert_eq!(store.targets().count(), 2);
        let twin = store
            .targets()
            .find(|status| status.url == "http://twin/metrics")
            .expect("listed");
        assert!(!twin.up);
        assert!(
            twin.last_error
                .as_deref()
                .is_some_and(|e| e.contains("already has"))
        );
        store.lift_refusal(&labels("a"), "http://twin/metrics");
        store.apply(report(
            "a",
            2000,
            Ok(vec![gauge(Signal::ReplicasActive, 3.0)]),
        ));
        assert_eq!(
            points(&store, Signal::ReplicasActive, "a"),
            vec![(1000, Some(2.0)), (2000, Some(3.0))]
        );
        assert_eq!(store.targets().count(), 1);
    }

    #[test]
    fn removed_targets_go_stale_and_leave_the_target_list() {
        let mut store = Store::new(LIMITS);
        store.apply(report(
            "a",
            1000,
            Ok(vec![gauge(Signal::ReplicasActive, 2.0)]),
        ));
        store.remove_target(&labels("a"), "http://a/metrics", 1500);
        assert_eq!(store.targets().count(), 0);
        assert_eq!(
            points(&store, Signal::ReplicasActive, "a"),
            vec![(1000, Some(2.0)), (1500, None)]
        );
    }
}
