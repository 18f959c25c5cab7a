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
use crate::model::{Detail, HistogramIncrement, Observation, RawSamples, Signal, Value};
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
}

#[derive(Clone, Debug)]
struct PreviousHistogram {
    bounds: Arc<[f64]>,
    cumulative: Vec<f64>,
    sum: f64,
    count: f64,
}

/// Per-target ingest state.
#[derive(Debug, Default)]
pub struct Ingestor {
    counters: IdMap<f64>,
    histograms: IdMap<PreviousHistogram>,
    details: HashMap<String, Arc<str>>,
    has_baseline: bool,
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

struct HistogramParts {
    rule: &'static FamilyRule,
    detail: Detail,
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: Option<f64>,
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

    /// Reads one page in the given format.
    pub fn ingest(
        &mut self,
        page: &str,
        format: Format,
        limits: IngestLimits,
    ) -> Result<IngestOutput, IngestError> {
        let mut samples = 0usize;
        let mut unknown_samples = 0usize;
        let mut gauges: Vec<(&'static FamilyRule, Detail, f64)> = Vec::new();
        let mut counters: Vec<(u64, &'static FamilyRule, Detail, f64)> = Vec::new();
        let mut engines: BTreeSet<Engine> = BTreeSet::new();
        let mut histograms: IdMap<HistogramParts> = IdMap::default();
        let mut new_details: Vec<(String, Arc<str>)> = Vec::new();
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
                if let Some((label, value)) = rule.skip
                    && sample.labels.get(label).as_deref() == Some(value)
                {
                    continue;
                }
                engines.insert(rule.engine);
                match (rule.kind, part) {
                    (FamilyKind::Gauge, _) => {
                        if sample.value.is_finite() {
                            let detail = self.detail(rule, &sample.labels, &mut new_details);
                            gauges.push((rule, detail, sample.value * rule.scale));
                        }
                    }
                    (FamilyKind::Summary, _) => {
                        let Some(quantile) = sample.labels.get("quantile") else {
                            continue;
                        };
                        if sample.value.is_finite() {
                            let detail = Some(self.intern(&quantile, &mut new_details));
                            gauges.push((rule, detail, sample.value * rule.scale));
                        }
                    }
                    (FamilyKind::Counter, _) => {
                        let detail = self.detail(rule, &sample.labels, &mut new_details);
                        let key = series_hash(&self.hasher, sample.name, &sample.labels, None)
                            ^ (rule.signal as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                        counters.push((key, rule, detail, sample.value * rule.scale));
                    }
                    (FamilyKind::Histogram, _) => {
                        let key =
                            series_hash(&self.hasher, &rule.family, &sample.labels, Some("le"));
                        let detail = self.detail(rule, &sample.labels, &mut new_details);
                        let parts = histograms.entry(key).or_insert_with(|| HistogramParts {
                            rule,
                            detail,
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

        // The page is good: from here on, state changes.
        self.committed = attempt;
        self.raw_ids.retain(|_, seen| *seen == attempt);
        for (raw, interned) in new_details {
            self.details.insert(raw, interned);
        }
        let mut accumulated: FastMap<(Signal, Detail), (u8, Value)> = FastMap::default();
        for (rule, detail, value) in gauges {
            add(&mut accumulated, rule, detail, Value::Gauge(value));
        }
        let mut next_counters = IdMap::with_capacity_and_hasher(counters.len(), Default::default());
        for (key, rule, detail, value) in counters {
            if !value.is_finite() {
                continue;
            }
            let previous = self.counters.get(&key).copied();
            next_counters.insert(key, value);
            let increment = match previous {
                Some(previous) if value >= previous => value - previous,
                // A counter that went down was reset: everything it holds is new.
                Some(_) => value,
                // A series first seen after a successful scrape started since then.
                None if self.has_baseline => value,
                None => continue,
            };
            add(&mut accumulated, rule, detail, Value::Increment(increment));
        }
        self.counters = next_counters;

        let mut next_histograms =
            IdMap::with_capacity_and_hasher(histograms.len(), Default::default());
        for (key, parts) in histograms {
            let Some((current, increment)) = self.histogram_increment(key, &parts) else {
                continue;
            };
            next_histograms.insert(key, current);
            if let Some(increment) = increment {
                add(
                    &mut accumulated,
                    parts.rule,
                    parts.detail,
                    Value::Histogram(increment),
                );
            }
        }
        self.histograms = next_histograms;
        self.has_baseline = true;

        derive(&mut accumulated);
        let engines: Vec<Engine> = engines.into_iter().collect();
        let mut observations: Vec<Observation> = accumulated
            .into_iter()
            .map(|((signal, detail), (_, value))| Observation {
                signal,
                detail,
                value,
            })
            .collect();
        observations.sort_by(|a, b| (a.signal, &a.detail).cmp(&(b.signal, &b.detail)));
        Ok(IngestOutput {
            observations,
            samples,
            unknown_samples,
            raw,
            engines,
        })
    }

    /// Forgets the baseline, as after a target restarts being scraped from scratch.
    pub fn reset(&mut self) {
        *self = Ingestor {
            details: std::mem::take(&mut self.details),
            engines: self.engines.take(),
            ..Ingestor::default()
        };
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
    /// on a first sighting before any baseline, or when the bucket layout changed).
    fn histogram_increment(
        &self,
        key: u64,
        parts: &HistogramParts,
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
        };
        let increment = match previous {
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
            None if self.has_baseline => Some(histogram_from_cumulative(
                &bounds,
                &cumulative,
                parts.sum,
                total,
                None,
            )),
            None => None,
        };
        Some((current, increment))
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
fn add(
    into: &mut FastMap<(Signal, Detail), (u8, Value)>,
    rule: &FamilyRule,
    detail: Detail,
    value: Value,
) {
    use std::collections::hash_map::Entry;
    match into.entry((rule.signal, detail)) {
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

/// Adds the signals computed from others on the page ([`adapter::DERIVED`]).
fn derive(into: &mut FastMap<(Signal, Detail), (u8, Value)>) {
    for &(result, minuend, subtrahend) in adapter::DERIVED {
        let gauge = |signal| match into.get(&(signal, None)) {
            Some((_, Value::Gauge(value))) => Some(*value),
            _ => None,
        };
        if let (Some(a), Some(b)) = (gauge(minuend), gauge(subtrahend)) {
            into.entry((result, None))
                .or_insert((u8::MAX, Value::Gauge(a - b)));
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
    fn first_page_sets_the_baseline_then_increments_follow() {
        let mut ingestor = Ingestor::new();
        let first = ingestor
            .ingest(&page(100, 2, [10, 90, 100], 40.0, 3.0), TEXT, LIMITS)
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
            .ingest(&page(130, 3, [15, 110, 133], 55.0, 1.0), TEXT, LIMITS)
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
            .ingest(&page(100, 2, [10, 90, 100], 40.0, 0.0), TEXT, LIMITS)
            .expect("valid page");
        let after_restart = ingestor
            .ingest(&page(7, 0, [1, 4, 5], 2.0, 0.0), TEXT, LIMITS)
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
            .ingest(&page(100, 2, [10, 90, 100], 40.0, 0.0), TEXT, LIMITS)
            .expect("valid page");
        let garbage = ingestor.ingest("inferscope_inference_requests_total{oops 5\n", TEXT, LIMITS);
        assert!(matches!(garbage, Err(IngestError::Parse(_))));
        let too_many = ingestor.ingest(
            &page(500, 2, [10, 90, 100], 40.0, 0.0),
            TEXT,
            IngestLimits {
                sample_limit: 3,
                ..LIMITS
            },
        );
        assert_eq!(too_many, Err(IngestError::SampleLimit { limit: 3 }));
        let next = ingestor
            .ingest(&page(110, 2, [10, 90, 100], 40.0, 0.0), TEXT, LIMITS)
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
        ingestor.ingest(one, TEXT, LIMITS).expect("valid page");
        let two = "inferscope_inference_requests_total{status_code=\"200\",is_async=\"false\"} 8\n\
                   inferscope_inference_requests_total{status_code=\"200\",is_async=\"true\"} 4\n";
        let output = ingestor.ingest(two, TEXT, LIMITS).expect("valid page");
        assert_eq!(
            find(&output, Signal::Requests, Some("200")),
            Some(&Value::Increment(7.0))
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
