//! Ingest: one exposition page in, canonical observations out.
//!
//! An [`Ingestor`] belongs to one target's scrape loop and keeps what it needs from the previous
//! page to turn cumulative counters and histograms into increments, detecting resets the way
//! Prometheus does (a value that went down started again from zero). A page that fails to parse
//! or breaks a limit changes nothing: the previous state is kept for the next scrape.

pub mod adapter;
pub mod exposition;
pub mod openmetrics;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use thiserror::Error;

use crate::hashing::{FastMap, IdMap};
use crate::model::{Detail, HistogramIncrement, Observation, RawSamples, Signal, Value};
use adapter::{FamilyKind, FamilyRule, Match};
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
}

struct HistogramParts {
    rule: FamilyRule,
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

    /// Reads one page in the given format.
    pub fn ingest(
        &mut self,
        page: &str,
        format: Format,
        limits: IngestLimits,
    ) -> Result<IngestOutput, IngestError> {
        let mut samples = 0usize;
        let mut unknown_samples = 0usize;
        let mut gauges: Vec<(Signal, Detail, f64)> = Vec::new();
        let mut counters: Vec<(u64, Signal, Detail, f64)> = Vec::new();
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
            let Some(matched) = adapter::lookup(sample.name) else {
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
                continue;
            };
            let rule = match matched {
                Match::Value(rule)
                | Match::Bucket(rule)
                | Match::Sum(rule)
                | Match::Count(rule) => rule,
            };
            let detail = self.detail(&rule, &sample.labels, &mut new_details);
            match matched {
                Match::Value(rule) if rule.kind == FamilyKind::Gauge => {
                    if sample.value.is_finite() {
                        gauges.push((rule.signal, detail, sample.value * rule.scale));
                    }
                }
                Match::Value(rule) => {
                    let key = series_hash(&self.hasher, sample.name, &sample.labels, None);
                    counters.push((key, rule.signal, detail, sample.value * rule.scale));
                }
                Match::Bucket(_) | Match::Sum(_) | Match::Count(_) => {
                    let base = rule.family;
                    let key = series_hash(&self.hasher, base, &sample.labels, Some("le"));
                    let parts = histograms.entry(key).or_insert_with(|| HistogramParts {
                        rule,
                        detail,
                        buckets: Vec::new(),
                        sum: 0.0,
                        count: None,
                    });
                    match matched {
                        Match::Bucket(_) => {
                            let bound = sample
                                .labels
                                .get("le")
                                .and_then(|le| exposition::parse_value(&le));
                            if let Some(bound) = bound {
                                parts.buckets.push((bound * rule.scale, sample.value));
                            }
                        }
                        Match::Sum(_) => parts.sum = sample.value * rule.scale,
                        _ => parts.count = Some(sample.value),
                    }
                }
            }
        }

        // The page is good: from here on, state changes.
        self.committed = attempt;
        self.raw_ids.retain(|_, seen| *seen == attempt);
        for (raw, interned) in new_details {
            self.details.insert(raw, interned);
        }
        let mut accumulated: FastMap<(Signal, Detail), Value> = FastMap::default();
        for (signal, detail, value) in gauges {
            add(&mut accumulated, signal, detail, Value::Gauge(value));
        }
        let mut next_counters = IdMap::with_capacity_and_hasher(counters.len(), Default::default());
        for (key, signal, detail, value) in counters {
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
            add(
                &mut accumulated,
                signal,
                detail,
                Value::Increment(increment),
            );
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
                    parts.rule.signal,
                    parts.detail,
                    Value::Histogram(increment),
                );
            }
        }
        self.histograms = next_histograms;
        self.has_baseline = true;

        let mut observations: Vec<Observation> = accumulated
            .into_iter()
            .map(|((signal, detail), value)| Observation {
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
        })
    }

    /// Forgets the baseline, as after a target restarts being scraped from scratch.
    pub fn reset(&mut self) {
        *self = Ingestor {
            details: std::mem::take(&mut self.details),
            ..Ingestor::default()
        };
    }

    fn detail(
        &self,
        rule: &FamilyRule,
        labels: &Labels<'_>,
        new_details: &mut Vec<(String, Arc<str>)>,
    ) -> Detail {
        let label = rule.detail_label?;
        let value = labels.get(label)?;
        if let Some(interned) = self.details.get(value.as_ref()) {
            return Some(interned.clone());
        }
        if let Some((_, interned)) = new_details.iter().find(|(raw, _)| raw == value.as_ref()) {
            return Some(interned.clone());
        }
        if self.details.len() + new_details.len() >= MAX_DETAIL_VALUES {
            return Some(Arc::from("other"));
        }
        let interned: Arc<str> = Arc::from(value.as_ref());
        new_details.push((value.into_owned(), interned.clone()));
        Some(interned)
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

fn add(into: &mut FastMap<(Signal, Detail), Value>, signal: Signal, detail: Detail, value: Value) {
    use std::collections::hash_map::Entry;
    match into.entry((signal, detail)) {
        Entry::Vacant(slot) => {
            slot.insert(value);
        }
        Entry::Occupied(mut slot) => match (slot.get_mut(), value) {
            (Value::Gauge(total), Value::Gauge(more)) => *total += more,
            (Value::Increment(total), Value::Increment(more)) => *total += more,
            (Value::Histogram(total), Value::Histogram(more)) if total.bounds == more.bounds => {
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
        },
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
