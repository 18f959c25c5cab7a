//! Ingest: one exposition page in, canonical observations out.
//!
//! An [`Ingestor`] belongs to one target's scrape loop and keeps what it needs from the previous
//! page to turn cumulative counters and histograms into increments, detecting resets the way
//! Prometheus does (a value that went down started again from zero). A page that fails to parse
//! or breaks a limit changes nothing: the previous state is kept for the next scrape.

pub mod adapter;
pub mod exposition;
pub mod openmetrics;

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use thiserror::Error;

use crate::hashing::{FastMap, IdMap};
use crate::model::{
    DETAIL_COUNT, DETAIL_SUM, Detail, HistogramIncrement, Lookalike, Observation, RawSamples,
    Signal, Value,
};
use adapter::{DetailFrom, Engine, FamilyKind, FamilyRule, Part};
use exposition::{Event, Format, Labels, ParseError, Parser};

/// Most distinct detail values (status codes, GPU indexes…) one target may introduce; more are
/// folded into `other` so a misbehaving exporter cannot grow the series count without bound.
pub const MAX_DETAIL_VALUES: usize = 256;

/// Limits applied to one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestLimits {
    /// Most samples a page may hold (every sample line counts, known family or not).
    pub sample_limit: usize,
    /// Most labels one sample may carry.
    pub label_limit: usize,
    /// Longest label value, bytes as written.
    pub label_value_length_limit: usize,
}

impl IngestLimits {
    /// Limits that only stop absurd pages (for tools and tests).
    pub const GENEROUS: IngestLimits = IngestLimits {
        sample_limit: 10_000_000,
        label_limit: 1024,
        label_value_length_limit: 1 << 20,
    };
}

/// Why a page was refused. Nothing from it was kept.
#[derive(Debug, Error, PartialEq)]
pub enum IngestError {
    /// The page is not valid exposition text.
    #[error("malformed exposition page: {0}")]
    Parse(#[from] ParseError),
    /// The page holds more samples than allowed.
    #[error("page has more than {limit} samples (sample_limit)")]
    SampleLimit {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A sample carries more labels than allowed.
    #[error("line {line}: {count} labels, more than {limit} (label_limit)")]
    LabelLimit {
        /// 1-based line number.
        line: usize,
        /// Labels on the sample.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A label value is longer than allowed.
    #[error(
        "line {line}: a label value of {length} bytes, more than {limit} (label_value_length_limit)"
    )]
    LabelValueLength {
        /// 1-based line number.
        line: usize,
        /// Its length.
        length: usize,
        /// The limit.
        limit: usize,
    },
}

/// What one page yielded.
#[derive(Debug, Default, PartialEq)]
pub struct IngestOutput {
    /// Observations for the store, one per (signal, detail).
    pub observations: Vec<Observation>,
    /// Sample lines on the page.
    pub samples: usize,
    /// Sample lines of families no adapter knows.
    pub unknown_samples: usize,
    /// Those samples, kept raw.
    pub raw: RawSamples,
    /// Engines whose families the page has.
    pub engines: Vec<Engine>,
    /// The seconds this page's increments span (since the previous good page); `None` when the
    /// page is a new baseline: the first, or the first after a gap longer than the ingestor's
    /// `max_gap_ms`, whose counters only set where the next increments start from.
    pub covered_seconds: Option<f64>,
    /// Families no adapter reads that look like ones it does (at most
    /// [`app::wire::MAX_HINTS`]), sorted.
    pub lookalikes: Vec<Lookalike>,
}

/// How long the state of a series that left the page is remembered, so that when it comes
/// back its value is read as a new baseline rather than as growth since the page before.
pub const ABSENT_SERIES_MEMORY_MS: i64 = 3_600_000;

/// Most series (of counters, and of histograms) whose state is remembered after they left the
/// page, beyond the ones on it.
pub const MAX_ABSENT_SERIES: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct CounterState {
    value: f64,
    /// Number of the last good page that had the series.
    page: u64,
    /// When that page was read, Unix milliseconds.
    seen_ms: i64,
}

#[derive(Clone, Debug)]
struct PreviousHistogram {
    bounds: Arc<[f64]>,
    cumulative: Vec<f64>,
    sum: f64,
    count: f64,
    page: u64,
    seen_ms: i64,
}

/// Per-target ingest state.
#[derive(Debug)]
pub struct Ingestor {
    counters: IdMap<CounterState>,
    histograms: IdMap<PreviousHistogram>,
    details: HashMap<String, Arc<str>>,
    /// When the last good page was read, Unix milliseconds.
    last_good_ms: Option<i64>,
    /// A good page further than this after the previous one is a new baseline.
    max_gap_ms: i64,
    /// Raw series ids of recent pages, each with the number of the last page attempt that had it.
    raw_ids: IdMap<u64>,
    /// Number of the last page attempt.
    attempt: u64,
    /// Number of the last page that was good.
    committed: u64,
    /// Seeds the series ids of this target (stable for its lifetime).
    hasher: foldhash::fast::RandomState,
    /// The engines whose tables apply (`None`: all, detected from the page).
    engines: Option<Vec<Engine>>,
}

impl Default for Ingestor {
    fn default() -> Self {
        Ingestor {
            counters: IdMap::default(),
            histograms: IdMap::default(),
            details: HashMap::new(),
            last_good_ms: None,
            max_gap_ms: i64::MAX,
            raw_ids: IdMap::default(),
            attempt: 0,
            committed: 0,
            hasher: foldhash::fast::RandomState::default(),
            engines: None,
        }
    }
}

/// What tells a signal's series on one page apart: the detail and the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Tag {
    detail: Detail,
    model: Detail,
}

struct HistogramParts {
    rule: &'static FamilyRule,
    tag: Tag,
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: Option<f64>,
}

/// What a page says of one counter series before its increment is known.
struct CounterReading {
    key: u64,
    rule: &'static FamilyRule,
    tag: Tag,
    value: f64,
}

/// The rate window of a scrape interval: a gap in scraping longer than this starts counters
/// from a new baseline (see [`crate::model::RATE_WINDOW_SCRAPES`]).
pub fn max_gap_ms(scrape_interval_ms: i64) -> i64 {
    scrape_interval_ms.max(1) * crate::model::RATE_WINDOW_SCRAPES
}

impl Ingestor {
    /// A new ingestor; its first page only sets the baseline for counters and histograms.
    pub fn new() -> Ingestor {
        Ingestor::default()
    }

    /// A new ingestor that applies only these engines' tables (set per target in config).
    pub fn for_engines(engines: Vec<Engine>) -> Ingestor {
        Ingestor {
            engines: Some(engines),
            ..Ingestor::default()
        }
    }

    /// The same ingestor, starting counters from a new baseline when a good page comes more
    /// than `max_gap_ms` after the previous one (by default, never).
    pub fn with_max_gap_ms(mut self, max_gap_ms: i64) -> Ingestor {
        self.max_gap_ms = max_gap_ms.max(1);
        self
    }

    /// Reads one page in the given format, read at `at_ms` (Unix milliseconds).
    pub fn ingest(
        &mut self,
        page: &str,
        format: Format,
        limits: IngestLimits,
        at_ms: i64,
    ) -> Result<IngestOutput, IngestError> {
        let mut samples = 0usize;
        let mut unknown_samples = 0usize;
        let mut gauges: Vec<(&'static FamilyRule, Tag, f64)> = Vec::new();
        let mut counters: Vec<CounterReading> = Vec::new();
        let mut engines: BTreeSet<Engine> = BTreeSet::new();
        let mut histograms: IdMap<HistogramParts> = IdMap::default();
        let mut new_details: Vec<(String, Arc<str>)> = Vec::new();
        let mut lookalikes: Vec<Lookalike> = Vec::new();
        // The best (lowest) rank of the rows matching the page, per signal and condition.
        let mut ranks: FastMap<(Signal, adapter::When), u8> = FastMap::default();
        let mut raw = RawSamples {
            values: Vec::with_capacity(self.raw_ids.len()),
            names: Vec::new(),
        };
        self.attempt += 1;
        let attempt = self.attempt;

        let mut parser = Parser::with_format(page, format);
        while let Some(event) = parser.next() {
            let Event::Sample(sample) = event? else {
                continue;
            };
            samples += 1;
            if samples > limits.sample_limit {
                return Err(IngestError::SampleLimit {
                    limit: limits.sample_limit,
                });
            }
            if sample.labels.len() > limits.label_limit {
                return Err(IngestError::LabelLimit {
                    line: parser.line(),
                    count: sample.labels.len(),
                    limit: limits.label_limit,
                });
            }
            if sample.labels.longest_value() > limits.label_value_length_limit {
                return Err(IngestError::LabelValueLength {
                    line: parser.line(),
                    length: sample.labels.longest_value(),
                    limit: limits.label_value_length_limit,
                });
            }
            let (part, rules) = adapter::lookup(sample.name);
            let rules = rules.iter().filter(|rule| self.allows(rule.engine));
            let mut used = false;
            for rule in rules {
                used = true;
                engines.insert(rule.engine);
                ranks
                    .entry((rule.signal, rule.when))
                    .and_modify(|rank| *rank = (*rank).min(rule.rank))
                    .or_insert(rule.rank);
                if !rule
                    .samples
                    .takes(|label| sample.labels.get(label).map(|value| value.into_owned()))
                {
                    continue;
                }
                match (rule.kind, part) {
                    (FamilyKind::Gauge, _) => {
                        if sample.value.is_finite() {
                            let tag = self.tag(rule, &sample.labels, &mut new_details);
                            gauges.push((rule, tag, sample.value * rule.scale));
                        }
                    }
                    (FamilyKind::Summary, Part::Value) => {
                        let Some(quantile) = sample.labels.get("quantile") else {
                            continue;
                        };
                        if sample.value.is_finite() {
                            let tag = Tag {
                                detail: Some(self.intern(&quantile, &mut new_details)),
                                model: self.model(rule, &sample.labels, &mut new_details),
                            };
                            gauges.push((rule, tag, sample.value * rule.scale));
                        }
                    }
                    (FamilyKind::Summary, Part::Sum | Part::Count) => {
                        // Totals of a summary are read only where they are the best there is
                        // (a summary without quantiles): the mean over a window.
                        if !rule.mean {
                            continue;
                        }
                        let (detail, scale) = if part == Part::Sum {
                            (DETAIL_SUM, rule.scale)
                        } else {
                            (DETAIL_COUNT, 1.0)
                        };
                        counters.push(CounterReading {
                            key: series_hash(&self.hasher, sample.name, &sample.labels, None)
                                ^ (rule.signal as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                            rule,
                            tag: Tag {
                                detail: Some(self.intern(detail, &mut new_details)),
                                model: self.model(rule, &sample.labels, &mut new_details),
                            },
                            value: sample.value * scale,
                        });
                    }
                    (FamilyKind::Summary, Part::Bucket) => {}
                    (FamilyKind::Counter, _) => {
                        let tag = self.tag(rule, &sample.labels, &mut new_details);
                        counters.push(CounterReading {
                            key: series_hash(&self.hasher, sample.name, &sample.labels, None)
                                ^ (rule.signal as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                            rule,
                            tag,
                            value: sample.value * rule.scale,
                        });
                    }
                    (FamilyKind::Histogram, _) => {
                        let key =
                            series_hash(&self.hasher, &rule.family, &sample.labels, Some("le"));
                        let tag = self.tag(rule, &sample.labels, &mut new_details);
                        let parts = histograms.entry(key).or_insert_with(|| HistogramParts {
                            rule,
                            tag,
                            buckets: Vec::new(),
                            sum: 0.0,
                            count: None,
                        });
                        match part {
                            Part::Bucket => {
                                let bound = sample
                                    .labels
                                    .get("le")
                                    .and_then(|le| exposition::parse_value(&le));
                                if let Some(bound) = bound {
                                    parts.buckets.push((bound * rule.scale, sample.value));
                                }
                            }
                            Part::Sum => parts.sum = sample.value * rule.scale,
                            Part::Count => parts.count = Some(sample.value),
                            Part::Value => {}
                        }
                    }
                }
            }
            if used {
                continue;
            }
            unknown_samples += 1;
            let family = adapter::family_of(sample.name);
            if lookalikes.len() < app::wire::MAX_HINTS
                && lookalikes
                    .last()
                    .is_none_or(|last: &Lookalike| &*last.found != family)
                && let Some(likeness) = adapter::lookalike(family)
                && !lookalikes.iter().any(|known| &*known.found == family)
            {
                lookalikes.push(Lookalike {
                    found: family.into(),
                    expected: likeness.expected,
                    why: likeness.why,
                    signal: likeness.signal,
                });
            }
            if sample.name.ends_with("_created") {
                // Creation times carry nothing to chart.
                continue;
            }
            let id = series_hash(&self.hasher, sample.name, &sample.labels, None);
            let last = self.raw_ids.insert(id, attempt);
            if last == Some(attempt) {
                // The same series twice on one page: the first value stands.
                continue;
            }
            raw.values.push((id, sample.value));
            if last != Some(self.committed) {
                let name = if sample.labels.raw().is_empty() {
                    sample.name.to_owned()
                } else {
                    format!("{}{{{}}}", sample.name, sample.labels.raw())
                };
                raw.names.push((id, name.into_boxed_str()));
            }
        }

        // Rows whose condition on the page's other engines fails feed nothing; of the others,
        // only the best (lowest) rank feeding each signal does (one source per signal and page).
        let applies = |rule: &FamilyRule| rule.when.holds(&engines);
        let mut best_rank: FastMap<Signal, u8> = FastMap::default();
        for ((signal, when), rank) in ranks {
            if when.holds(&engines) {
                best_rank
                    .entry(signal)
                    .and_modify(|best| *best = (*best).min(rank))
                    .or_insert(rank);
            }
        }
        gauges.retain(|(rule, _, _)| applies(rule));
        counters.retain(|reading| applies(reading.rule));
        histograms.retain(|_, parts| applies(parts.rule));

        // The page is good: from here on, state changes.
        // A page is a new baseline when it is the first, or comes after a gap longer than the
        // rate window: the growth over such a gap cannot be placed in time, so it is not shown
        // (as Prometheus shows none: its rate over any window needs two samples in it).
        let covered_ms = self
            .last_good_ms
            .map(|last| at_ms.saturating_sub(last))
            .filter(|gap| *gap <= self.max_gap_ms);
        let baseline = covered_ms.is_none();
        let previous_page = self.committed;
        self.committed = attempt;
        self.last_good_ms = Some(at_ms);
        self.raw_ids.retain(|_, seen| *seen == attempt);
        for (raw, interned) in new_details {
            self.details.insert(raw, interned);
        }
        let mut accumulated: FastMap<(Signal, Tag), (u8, Value)> = FastMap::default();
        for (rule, tag, value) in gauges {
            add(&mut accumulated, rule, tag, Value::Gauge(value));
        }
        for reading in counters {
            let CounterReading {
                key,
                rule,
                tag,
                value,
            } = reading;
            if !value.is_finite() {
                continue;
            }
            let previous = self.counters.insert(
                key,
                CounterState {
                    value,
                    page: attempt,
                    seen_ms: at_ms,
                },
            );
            if baseline {
                continue;
            }
            let increment = match previous {
                // On the previous page too: the growth since then (a counter that went down was
                // reset, and everything it holds is new).
                Some(previous) if previous.page == previous_page => {
                    if value >= previous.value {
                        value - previous.value
                    } else {
                        value
                    }
                }
                // Missing from the previous page (or twice on this one): what it gained while
                // away cannot be placed in time; this page is its new baseline.
                Some(_) => continue,
                // Never seen: it started since the previous page, from zero.
                None => value,
            };
            add(&mut accumulated, rule, tag, Value::Increment(increment));
        }
        for (key, parts) in histograms {
            let Some((current, increment)) =
                self.histogram_increment(key, &parts, previous_page, baseline, at_ms)
            else {
                continue;
            };
            self.histograms.insert(key, current);
            if let Some(increment) = increment {
                add(
                    &mut accumulated,
                    parts.rule,
                    parts.tag,
                    Value::Histogram(increment),
                );
            }
        }
        self.forget_absent(at_ms);

        derive(&mut accumulated, &mut best_rank);
        let engines: Vec<Engine> = engines.into_iter().collect();
        let mut observations: Vec<Observation> = accumulated
            .into_iter()
            .filter(|((signal, _), (rank, _))| {
                !signal.page_only() && best_rank.get(signal).is_none_or(|best| rank <= best)
            })
            .map(|((signal, tag), (_, value))| Observation {
                signal,
                detail: tag.detail,
                model: tag.model,
                value,
            })
            .collect();
        observations
            .sort_by(|a, b| (a.signal, &a.detail, &a.model).cmp(&(b.signal, &b.detail, &b.model)));
        Ok(IngestOutput {
            observations,
            samples,
            unknown_samples,
            raw,
            engines,
            covered_seconds: covered_ms.map(|ms| ms as f64 / 1000.0),
            lookalikes: {
                lookalikes.sort();
                lookalikes
            },
        })
    }

    /// Forgets series that left the page long ago (or too many of them).
    fn forget_absent(&mut self, now_ms: i64) {
        let page = self.committed;
        let oldest = now_ms.saturating_sub(ABSENT_SERIES_MEMORY_MS);
        forget(&mut self.counters, page, oldest, |s| (s.page, s.seen_ms));
        forget(&mut self.histograms, page, oldest, |s| (s.page, s.seen_ms));
    }

    /// Forgets the baseline, as after a target restarts being scraped from scratch.
    pub fn reset(&mut self) {
        *self = Ingestor {
            details: std::mem::take(&mut self.details),
            engines: self.engines.take(),
            max_gap_ms: self.max_gap_ms,
            ..Ingestor::default()
        };
    }

    /// The detail and the model of a sample read by a rule.
    fn tag(
        &self,
        rule: &FamilyRule,
        labels: &Labels<'_>,
        new_details: &mut Vec<(String, Arc<str>)>,
    ) -> Tag {
        Tag {
            detail: self.detail(rule, labels, new_details),
            model: self.model(rule, labels, new_details),
        }
    }

    /// The model a sample is of: its engine's model label, where the engine has one and the
    /// sample carries it (not empty).
    fn model(
        &self,
        rule: &FamilyRule,
        labels: &Labels<'_>,
        new_details: &mut Vec<(String, Arc<str>)>,
    ) -> Detail {
        let value = labels.get(rule.engine.model_label()?)?;
        if value.is_empty() {
            return None;
        }
        Some(self.intern(&value, new_details))
    }

    fn detail(
        &self,
        rule: &FamilyRule,
        labels: &Labels<'_>,
        new_details: &mut Vec<(String, Arc<str>)>,
    ) -> Detail {
        match rule.detail {
            DetailFrom::None => None,
            DetailFrom::Fixed(value) => Some(self.intern(value, new_details)),
            DetailFrom::Label(label) => {
                let value = labels.get(label)?;
                Some(self.intern(&value, new_details))
            }
            DetailFrom::Mapped(label, table, default) => {
                let value = labels.get(label);
                let mapped = table
                    .iter()
                    .find(|(from, _)| Some(*from) == value.as_deref())
                    .map_or(default, |(_, to)| to);
                Some(self.intern(mapped, new_details))
            }
        }
    }

    /// A shared copy of a detail value (bounded: past [`MAX_DETAIL_VALUES`] it is `other`).
    fn intern(&self, value: &str, new_details: &mut Vec<(String, Arc<str>)>) -> Arc<str> {
        if let Some(interned) = self.details.get(value) {
            return interned.clone();
        }
        if let Some((_, interned)) = new_details.iter().find(|(raw, _)| raw == value) {
            return interned.clone();
        }
        if self.details.len() + new_details.len() >= MAX_DETAIL_VALUES {
            return Arc::from("other");
        }
        let interned: Arc<str> = Arc::from(value);
        new_details.push((value.to_owned(), interned.clone()));
        interned
    }

    /// Whether a rule of this engine applies to this target.
    fn allows(&self, engine: Engine) -> bool {
        self.engines
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&engine))
    }

    /// The histogram's cumulative state now, and its increment since the previous page (`None`
    /// on a baseline page, for a series missing from the previous page, or when the bucket
    /// layout changed).
    fn histogram_increment(
        &self,
        key: u64,
        parts: &HistogramParts,
        previous_page: u64,
        baseline: bool,
        at_ms: i64,
    ) -> Option<(PreviousHistogram, Option<HistogramIncrement>)> {
        let mut buckets = parts.buckets.clone();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets.dedup_by(|a, b| a.0 == b.0);
        let mut finite: Vec<f64> = Vec::with_capacity(buckets.len());
        let mut cumulative: Vec<f64> = Vec::with_capacity(buckets.len() + 1);
        let mut infinite_count = None;
        for (bound, count) in buckets {
            if bound.is_nan() {
                continue;
            }
            if bound == f64::INFINITY {
                infinite_count = Some(count);
            } else {
                finite.push(bound);
                cumulative.push(count);
            }
        }
        let total = parts
            .count
            .or(infinite_count)
            .or_else(|| cumulative.last().copied())?;
        cumulative.push(infinite_count.unwrap_or(total));
        if cumulative.iter().any(|value| !value.is_finite()) {
            return None;
        }
        let previous = self.histograms.get(&key);
        let bounds: Arc<[f64]> = match previous {
            Some(previous) if *previous.bounds == *finite => previous.bounds.clone(),
            _ => Arc::from(finite),
        };
        let current = PreviousHistogram {
            bounds: bounds.clone(),
            cumulative: cumulative.clone(),
            sum: parts.sum,
            count: total,
            page: self.attempt,
            seen_ms: at_ms,
        };
        if baseline {
            return Some((current, None));
        }
        let increment = match previous {
            // Missing from the previous page: a new baseline, as for counters.
            Some(previous) if previous.page != previous_page => None,
            Some(previous) if Arc::ptr_eq(&previous.bounds, &bounds) => {
                let reset = total < previous.count
                    || cumulative
                        .iter()
                        .zip(&previous.cumulative)
                        .any(|(now, before)| now < before);
                if reset {
                    Some(histogram_from_cumulative(
                        &bounds,
                        &cumulative,
                        parts.sum,
                        total,
                        None,
                    ))
                } else {
                    Some(histogram_from_cumulative(
                        &bounds,
                        &cumulative,
                        parts.sum - previous.sum,
                        total - previous.count,
                        Some(&previous.cumulative),
                    ))
                }
            }
            // Layout changed: this page becomes the baseline.
            Some(_) => None,
            // Never seen: it started since the previous page.
            None => Some(histogram_from_cumulative(
                &bounds,
                &cumulative,
                parts.sum,
                total,
                None,
            )),
        };
        Some((current, increment))
    }
}

/// Drops the states of series absent since before `oldest_ms`; past [`MAX_ABSENT_SERIES`]
/// absent ones, all of them (a page that churns series cannot grow the state without bound).
fn forget<T>(states: &mut IdMap<T>, page: u64, oldest_ms: i64, seen: impl Fn(&T) -> (u64, i64)) {
    let mut absent = 0usize;
    states.retain(|_, state| {
        let (last_page, seen_ms) = seen(state);
        let keep = last_page == page || seen_ms >= oldest_ms;
        absent += usize::from(keep && last_page != page);
        keep
    });
    if absent > MAX_ABSENT_SERIES {
        states.retain(|_, state| seen(state).0 == page);
    }
}

fn histogram_from_cumulative(
    bounds: &Arc<[f64]>,
    cumulative: &[f64],
    sum: f64,
    count: f64,
    previous: Option<&Vec<f64>>,
) -> HistogramIncrement {
    let mut buckets = Vec::new();
    let mut below = 0.0;
    for (index, now) in cumulative.iter().enumerate() {
        let grown = now - previous.map_or(0.0, |previous| previous[index]);
        let in_bucket = (grown - below).max(0.0);
        below = grown.max(below);
        if in_bucket > 0.0 {
            buckets.push((index as u32, in_bucket));
        }
    }
    HistogramIncrement {
        bounds: bounds.clone(),
        buckets,
        sum,
        count,
    }
}

/// Adds a reading to the page's observations. Readings of one signal and detail from families
/// of different rank: the lowest rank wins; of the same rank: amounts add up (children of a
/// family, or several families counting the same thing), quantiles and ratios take the largest.
fn add(into: &mut FastMap<(Signal, Tag), (u8, Value)>, rule: &FamilyRule, tag: Tag, value: Value) {
    use std::collections::hash_map::Entry;
    match into.entry((rule.signal, tag)) {
        Entry::Vacant(slot) => {
            slot.insert((rule.rank, value));
        }
        Entry::Occupied(mut slot) => {
            let (rank, existing) = slot.get_mut();
            if rule.rank > *rank {
                return;
            }
            if rule.rank < *rank {
                *slot.get_mut() = (rule.rank, value);
                return;
            }
            match (existing, value) {
                // Quantiles and ratios do not add up across children: the largest stands.
                (Value::Gauge(total), Value::Gauge(more))
                    if rule.kind == FamilyKind::Summary || is_ratio(rule.signal) =>
                {
                    *total = total.max(more);
                }
                (Value::Gauge(total), Value::Gauge(more)) => *total += more,
                (Value::Increment(total), Value::Increment(more)) => *total += more,
                (Value::Histogram(total), Value::Histogram(more))
                    if total.bounds == more.bounds =>
                {
                    for (index, count) in more.buckets {
                        match total.buckets.iter_mut().find(|(i, _)| *i == index) {
                            Some((_, existing)) => *existing += count,
                            None => total.buckets.push((index, count)),
                        }
                    }
                    total.buckets.sort_by_key(|(index, _)| *index);
                    total.sum += more.sum;
                    total.count += more.count;
                }
                // Children of one family with different bucket layouts: keep the first.
                _ => {}
            }
        }
    }
}

/// Signals that are shares (0–1) rather than amounts.
fn is_ratio(signal: Signal) -> bool {
    matches!(signal, Signal::GpuUtilization | Signal::KvCacheUsage)
}

/// Adds the signals computed from others on the page ([`adapter::DERIVED`]), per detail. A
/// derived reading has the rank of its worst input, and stands where nothing of a better rank
/// reports the signal.
fn derive(into: &mut FastMap<(Signal, Tag), (u8, Value)>, best_rank: &mut FastMap<Signal, u8>) {
    use std::collections::hash_map::Entry;
    for (result, derivation) in adapter::DERIVED {
        let (required, optional) = derivation.inputs();
        let Some(first) = required.first() else {
            continue;
        };
        let tags: Vec<Tag> = into
            .keys()
            .filter(|(signal, _)| signal == first)
            .map(|(_, tag)| tag.clone())
            .collect();
        for tag in tags {
            let reading = |signal: Signal| match into.get(&(signal, tag.clone())) {
                Some((rank, Value::Gauge(value))) => Some((*rank, *value)),
                _ => None,
            };
            let Some(inputs) = required
                .iter()
                .map(|signal| reading(*signal))
                .collect::<Option<Vec<(u8, f64)>>>()
            else {
                continue;
            };
            let extra: Vec<(u8, f64)> = optional.iter().filter_map(|s| reading(*s)).collect();
            let rank = inputs
                .iter()
                .chain(&extra)
                .map(|(rank, _)| *rank)
                .max()
                .unwrap_or(u8::MAX);
            let values: Vec<f64> = inputs.iter().map(|(_, value)| *value).collect();
            let value = derivation.compute(&values, extra.iter().map(|(_, value)| *value));
            match into.entry((*result, tag)) {
                Entry::Vacant(slot) => {
                    slot.insert((rank, Value::Gauge(value)));
                }
                Entry::Occupied(mut slot) if rank < slot.get().0 => {
                    slot.insert((rank, Value::Gauge(value)));
                }
                Entry::Occupied(_) => {}
            }
            best_rank
                .entry(*result)
                .and_modify(|best| *best = (*best).min(rank))
                .or_insert(rank);
        }
    }
}

/// Identity of a child series: its name and labels (optionally without one label, for `le`).
fn series_hash(
    state: &foldhash::fast::RandomState,
    name: &str,
    labels: &Labels<'_>,
    without: Option<&str>,
) -> u64 {
    let mut hasher = state.build_hasher();
    name.hash(&mut hasher);
    match without {
        None => labels.raw().hash(&mut hasher),
        Some(skip) => {
            for (label, value) in labels.iter() {
                if label != skip {
                    label.hash(&mut hasher);
                    value.hash(&mut hasher);
                }
            }
        }
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: IngestLimits = IngestLimits::GENEROUS;
    const TEXT: Format = Format::Prometheus;

    fn page(ok: u64, errors: u64, buckets: [u64; 3], sum: f64, in_flight: f64) -> String {
        format!(
            "# TYPE inferscope_inference_requests_total counter\n\
             inferscope_inference_requests_total{{status_code=\"200\",is_async=\"false\"}} {ok}\n\
             inferscope_inference_requests_total{{status_code=\"500\",is_async=\"false\"}} {errors}\n\
             # TYPE inferscope_end_to_end_response_time_seconds histogram\n\
             inferscope_end_to_end_response_time_seconds_bucket{{le=\"0.1\"}} {}\n\
             inferscope_end_to_end_response_time_seconds_bucket{{le=\"1\"}} {}\n\
             inferscope_end_to_end_response_time_seconds_bucket{{le=\"+Inf\"}} {}\n\
             inferscope_end_to_end_response_time_seconds_sum {sum}\n\
             inferscope_end_to_end_response_time_seconds_count {}\n\
             inferscope_concurrent_requests{{state=\"queued\"}} {in_flight}\n\
             unrelated_family 7\n",
            buckets[0], buckets[1], buckets[2], buckets[2]
        )
    }

    fn find<'a>(
        output: &'a IngestOutput,
        signal: Signal,
        detail: Option<&str>,
    ) -> Option<&'a Value> {
        output
            .observations
            .iter()
            .find(|o| o.signal == signal && o.detail.as_deref() == detail)
            .map(|o| &o.value)
    }

    #[test]
    fn series_of_each_model_stay_apart_and_replica_families_have_none() {
        let page = |base: u64, adapter: u64, cpu: f64| {
            format!(
                "# TYPE inferscope_inference_requests_total counter\n\
                 inferscope_inference_requests_total{{status_code=\"200\",model=\"base\"}} {base}\n\
                 inferscope_inference_requests_total{{status_code=\"200\",model=\"base-sql\"}} {adapter}\n\
                 inferscope_inference_requests_total{{status_code=\"200\",model=\"\"}} 1\n\
                 # TYPE process_cpu_seconds_total counter\n\
                 process_cpu_seconds_total {cpu}\n"
            )
        };
        let mut ingestor = Ingestor::new();
        ingestor
            .ingest(&page(10, 4, 1.0), TEXT, LIMITS, 1_000)
            .expect("page");
        let output = ingestor
            .ingest(&page(17, 5, 1.5), TEXT, LIMITS, 2_000)
            .expect("page");
        let of = |signal: Signal, model: Option<&str>| {
            output
                .observations
                .iter()
                .find(|o| o.signal == signal && o.model.as_deref() == model)
                .map(|o| o.value.clone())
        };
        assert_eq!(
            of(Signal::Requests, Some("base")),
            Some(Value::Increment(7.0))
        );
        assert_eq!(
            of(Signal::Requests, Some("base-sql")),
            Some(Value::Increment(1.0))
        );
        // An empty model label is no model.
        assert_eq!(of(Signal::Requests, None), Some(Value::Increment(0.0)));
        assert_eq!(of(Signal::CpuSeconds, None), Some(Value::Increment(0.5)));
    }

    #[test]
    fn families_that_look_like_read_ones_are_named_with_what_is_read() {
        let page = "# TYPE vllm:gpu_prefix_cache_hit_rate gauge\n\
                    vllm:gpu_prefix_cache_hit_rate{model_name=\"m\"} 0.4\n\
                    # TYPE vllm_num_requests_running gauge\n\
                    vllm_num_requests_running{model_name=\"m\"} 3\n\
                    vllm_num_requests_running{model_name=\"n\"} 1\n\
                    # TYPE my_vllm:e2e_request_latency_seconds histogram\n\
                    my_vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\"} 3\n\
                    my_vllm:e2e_request_latency_seconds_count 3\n\
                    # TYPE vllm:num_requests_running gauge\n\
                    vllm:num_requests_running{model_name=\"m\"} 3\n\
                    # TYPE node_load1 gauge\n\
                    node_load1 0.5\n";
        let output = Ingestor::new()
            .ingest(page, TEXT, LIMITS, 1_000)
            .expect("page");
        let found: Vec<(&str, &str, Signal)> = output
            .lookalikes
            .iter()
            .map(|l| (&*l.found, l.expected, l.signal))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    "my_vllm:e2e_request_latency_seconds",
                    "vllm:e2e_request_latency_seconds",
                    Signal::EndToEndSeconds
                ),
                (
                    "vllm:gpu_prefix_cache_hit_rate",
                    "vllm:prefix_cache_hits_total",
                    Signal::PrefixCacheHits
                ),
                (
                    "vllm_num_requests_running",
                    "vllm:num_requests_running",
                    Signal::ConcurrentRequests
                ),
            ]
        );
    }

    #[test]
    fn first_page_sets_the_baseline_then_increments_follow() {
        let mut ingestor = Ingestor::new();
        let first = ingestor
            .ingest(&page(100, 2, [10, 90, 100], 40.0, 3.0), TEXT, LIMITS, 0)
            .expect("valid page");
        assert_eq!(first.samples, 9);
        assert_eq!(first.unknown_samples, 1);
        assert_eq!(first.raw.values.len(), 1);
        assert_eq!(&*first.raw.names[0].1, "unrelated_family");
        assert_eq!(find(&first, Signal::Requests, Some("200")), None);
        assert_eq!(
            find(&first, Signal::ConcurrentRequests, Some("queued")),
            Some(&Value::Gauge(3.0))
        );

        let second = ingestor
            .ingest(&page(130, 3, [15, 110, 133], 55.0, 1.0), TEXT, LIMITS, 0)
            .expect("valid page");
        assert_eq!(
            find(&second, Signal::Requests, Some("200")),
            Some(&Value::Increment(30.0))
        );
        assert_eq!(
            find(&second, Signal::Requests, Some("500")),
            Some(&Value::Increment(1.0))
        );
        let Some(Value::Histogram(histogram)) = find(&second, Signal::EndToEndSeconds, None) else {
            panic!("histogram increment expected");
        };
        assert_eq!(&*histogram.bounds, &[0.1, 1.0]);
        assert_eq!(histogram.buckets, vec![(0, 5.0), (1, 15.0), (2, 13.0)]);
        assert_eq!(histogram.count, 33.0);
        assert_eq!(histogram.sum, 15.0);
    }

    #[test]
    fn counter_and_histogram_resets_count_from_zero() {
        let mut ingestor = Ingestor::new();
        ingestor
            .ingest(&page(100, 2, [10, 90, 100], 40.0, 0.0), TEXT, LIMITS, 0)
            .expect("valid page");
        let after_restart = ingestor
            .ingest(&page(7, 0, [1, 4, 5], 2.0, 0.0), TEXT, LIMITS, 0)
            .expect("valid page");
        assert_eq!(
            find(&after_restart, Signal::Requests, Some("200")),
            Some(&Value::Increment(7.0))
        );
        assert_eq!(
            find(&after_restart, Signal::Requests, Some("500")),
            Some(&Value::Increment(0.0))
        );
        let Some(Value::Histogram(histogram)) = find(&after_restart, Signal::EndToEndSeconds, None)
        else {
            panic!("histogram increment expected");
        };
        assert_eq!(histogram.buckets, vec![(0, 1.0), (1, 3.0), (2, 1.0)]);
        assert_eq!(histogram.count, 5.0);
    }

    #[test]
    fn a_bad_page_changes_nothing() {
        let mut ingestor = Ingestor::new();
        ingestor
            .ingest(&page(100, 2, [10, 90, 100], 40.0, 0.0), TEXT, LIMITS, 0)
            .expect("valid page");
        let garbage = ingestor.ingest(
            "inferscope_inference_requests_total{oops 5\n",
            TEXT,
            LIMITS,
            0,
        );
        assert!(matches!(garbage, Err(IngestError::Parse(_))));
        let too_many = ingestor.ingest(
            &page(500, 2, [10, 90, 100], 40.0, 0.0),
            TEXT,
            IngestLimits {
                sample_limit: 3,
                ..LIMITS
            },
            0,
        );
        assert_eq!(too_many, Err(IngestError::SampleLimit { limit: 3 }));
        let next = ingestor
            .ingest(&page(110, 2, [10, 90, 100], 40.0, 0.0), TEXT, LIMITS, 0)
            .expect("valid page");
        assert_eq!(
            find(&next, Signal::Requests, Some("200")),
            Some(&Value::Increment(10.0))
        );
    }

    #[test]
    fn children_of_a_signal_are_summed_and_new_ones_count_whole() {
        let mut ingestor = Ingestor::new();
        let one = "inferscope_inference_requests_total{status_code=\"200\",is_async=\"false\"} 5\n";
        ingestor.ingest(one, TEXT, LIMITS, 0).expect("valid page");
        let two = "inferscope_inference_requests_total{status_code=\"200\",is_async=\"false\"} 8\n\
                   inferscope_inference_requests_total{status_code=\"200\",is_async=\"true\"} 4\n";
        let output = ingestor.ingest(two, TEXT, LIMITS, 0).expect("valid page");
        assert_eq!(
            find(&output, Signal::Requests, Some("200")),
            Some(&Value::Increment(7.0))
        );
    }

    #[test]
    fn a_gap_longer_than_the_window_starts_a_new_baseline() {
        // Scrapes a second apart; the window is five of them.
        let mut ingestor = Ingestor::new().with_max_gap_ms(5_000);
        let at = |page: &str, ingestor: &mut Ingestor, at_ms| {
            ingestor
                .ingest(page, TEXT, LIMITS, at_ms)
                .expect("valid page")
        };
        let first = at(&page(100, 0, [1, 2, 3], 1.0, 0.0), &mut ingestor, 1_000);
        assert_eq!(first.covered_seconds, None, "the first page is a baseline");
        // Two failed scrapes in between (3 s gap): the growth spans the gap and says so.
        let short = at(&page(130, 0, [2, 4, 6], 2.0, 0.0), &mut ingestor, 4_000);
        assert_eq!(short.covered_seconds, Some(3.0));
        assert_eq!(
            find(&short, Signal::Requests, Some("200")),
            Some(&Value::Increment(30.0))
        );
        // Ten minutes without a good page: 60,000 requests later nothing is placed at once.
        let after_outage = at(
            &page(60_130, 0, [9, 99, 999], 9.0, 0.0),
            &mut ingestor,
            604_000,
        );
        assert_eq!(after_outage.covered_seconds, None);
        assert_eq!(find(&after_outage, Signal::Requests, Some("200")), None);
        assert_eq!(find(&after_outage, Signal::EndToEndSeconds, None), None);
        // And the next page counts from there: the true rate again.
        let next = at(
            &page(60_230, 0, [10, 100, 1000], 10.0, 0.0),
            &mut ingestor,
            605_000,
        );
        assert_eq!(next.covered_seconds, Some(1.0));
        assert_eq!(
            find(&next, Signal::Requests, Some("200")),
            Some(&Value::Increment(100.0))
        );
    }

    #[test]
    fn a_series_that_leaves_the_page_comes_back_as_a_new_baseline() {
        let mut ingestor = Ingestor::new();
        let both = |ok: u64, errors: u64| {
            format!(
                "inferscope_inference_requests_total{{status_code=\"200\"}} {ok}\n\
                 inferscope_inference_requests_total{{status_code=\"500\"}} {errors}\n"
            )
        };
        let only_ok =
            |ok: u64| format!("inferscope_inference_requests_total{{status_code=\"200\"}} {ok}\n");
        ingestor
            .ingest(&both(10, 5), TEXT, LIMITS, 0)
            .expect("page");
        let missing = ingestor
            .ingest(&only_ok(20), TEXT, LIMITS, 1)
            .expect("page");
        assert_eq!(find(&missing, Signal::Requests, Some("500")), None);
        // Back with its lifetime's 500s (5 + 40 while away): none of them is placed here.
        let back = ingestor
            .ingest(&both(30, 45), TEXT, LIMITS, 2)
            .expect("page");
        assert_eq!(
            find(&back, Signal::Requests, Some("200")),
            Some(&Value::Increment(10.0))
        );
        assert_eq!(find(&back, Signal::Requests, Some("500")), None);
        let then = ingestor
            .ingest(&both(40, 47), TEXT, LIMITS, 3)
            .expect("page");
        assert_eq!(
            find(&then, Signal::Requests, Some("500")),
            Some(&Value::Increment(2.0))
        );
        // A child never seen before started since the previous page: all of it is new.
        let new_child = format!(
            "{}inferscope_inference_requests_total{{status_code=\"429\"}} 3\n",
            both(50, 47)
        );
        let output = ingestor.ingest(&new_child, TEXT, LIMITS, 4).expect("page");
        assert_eq!(
            find(&output, Signal::Requests, Some("429")),
            Some(&Value::Increment(3.0))
        );
    }

    #[test]
    fn units_are_scaled_by_the_adapter() {
        let mut ingestor = Ingestor::new();
        let output = ingestor
            .ingest(
                "baseten_gpu_utilization{gpu=\"0\"} 87\nbaseten_gpu_memory_used{gpu=\"0\"} 1024\n",
                TEXT,
                LIMITS,
                0,
            )
            .expect("valid page");
        let Some(Value::Gauge(utilization)) = find(&output, Signal::GpuUtilization, Some("0"))
        else {
            panic!("gauge expected");
        };
        assert!((utilization - 0.87).abs() < 1e-12, "{utilization}");
        assert_eq!(
            find(&output, Signal::GpuMemoryUsedBytes, Some("0")),
            Some(&Value::Gauge(1024.0 * 1_048_576.0))
        );
    }
}
