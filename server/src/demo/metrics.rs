//! A small metrics registry for the demo fleet's exporters: counters by status code, gauges and
//! fine-bucketed histograms, rendered in the Prometheus text format under inferscope's own
//! names. Values are what the router and replicas actually measured.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket bounds growing by `ratio` from `min` to at least `max`, rounded to four significant
/// digits. A ratio of 1.02 bounds the interpolation error of a percentile to about 1 % of the
/// value (2 % at worst).
pub fn geometric_bounds(min: f64, max: f64, ratio: f64) -> Vec<f64> {
    let mut bounds = Vec::new();
    let mut bound = min;
    while bound < max * ratio {
        let rounded = round_significant(bound, 4);
        if bounds.last().is_none_or(|last| rounded > *last) {
            bounds.push(rounded);
        }
        bound *= ratio;
    }
    bounds
}

fn round_significant(value: f64, digits: i32) -> f64 {
    if value == 0.0 {
        return 0.0;
    }
    let magnitude = value.abs().log10().floor() as i32;
    let factor = 10f64.powi(digits - 1 - magnitude);
    (value * factor).round() / factor
}

/// A float that can be added to from many tasks.
#[derive(Debug, Default)]
pub struct AtomicF64(AtomicU64);

impl AtomicF64 {
    /// Adds `delta`.
    pub fn add(&self, delta: f64) {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Sets the value.
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Reads the value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// A cumulative histogram.
#[derive(Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    buckets: Box<[AtomicU64]>,
    sum: AtomicF64,
    count: AtomicU64,
}

impl Histogram {
    /// A histogram with these finite upper bounds (ascending) and an implied `+Inf` bucket.
    pub fn new(bounds: Vec<f64>) -> Histogram {
        let buckets = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds: Arc::from(bounds),
            buckets,
            sum: AtomicF64::default(),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        let index = self.bounds.partition_point(|bound| *bound < value);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum.add(value);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the histogram in the text format.
    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        render_header(name, help, "histogram", out);
        self.render_samples(name, "", out);
    }

    /// Writes the histogram's samples (no header), each with `labels` (already formatted, e.g.
    /// `model="m"`) before `le`.
    pub fn render_samples(&self, name: &str, labels: &str, out: &mut String) {
        let comma = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds.iter().zip(self.buckets.iter()) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{comma}le=\"{bound}\"}} {cumulative}"
            );
        }
        if let Some(last) = self.buckets.last() {
            cumulative += last.load(Ordering::Relaxed);
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{comma}le=\"+Inf\"}} {cumulative}"
        );
        let braces = |labels: &str| {
            if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum.get());
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Writes a family's `# HELP` and `# TYPE` lines.
pub fn render_header(name: &str, help: &str, kind: &str, out: &mut String) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the text format writes it: backslash, double quote and newline escaped.
pub fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Requests counted by status code and whether they were asynchronous, optionally under more
/// labels (a model).
#[derive(Debug, Default)]
pub struct StatusCounter {
    /// By (labels already formatted, e.g. `model="m"`; status; async).
    counts: Mutex<BTreeMap<(String, u16, bool), u64>>,
}

impl StatusCounter {
    /// Counts one synchronous request answered with `status`.
    pub fn record(&self, status: u16) {
        self.record_as(status, false);
    }

    /// Counts one request answered with `status`, asynchronous or not.
    pub fn record_as(&self, status: u16, is_async: bool) {
        self.record_with("", status, is_async);
    }

    /// Counts one request answered with `status` under `labels` (formatted, e.g. `model="m"`;
    /// empty for none).
    pub fn record_with(&self, labels: &str, status: u16, is_async: bool) {
        // A poisoned lock only means another request panicked mid-increment; the map is intact.
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts
            .entry((labels.to_owned(), status, is_async))
            .or_insert(0) += 1;
    }

    /// Total requests counted with this status, under any labels, synchronous and asynchronous.
    pub fn get(&self, status: u16) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|((_, code, _), _)| *code == status)
            .map(|(_, count)| count)
            .sum()
    }

    /// Writes the counter in the text format, one series per labels, status code and kind.
    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        render_header(name, help, "counter", out);
        for ((labels, status, is_async), count) in counts {
            let comma = if labels.is_empty() { "" } else { "," };
            let _ = writeln!(
                out,
                "{name}{{{labels}{comma}status_code=\"{status}\",is_async=\"{is_async}\"}} {count}"
            );
        }
    }
}

/// Writes one unlabelled counter sample.
pub fn render_counter(name: &str, help: &str, value: f64, out: &mut String) {
    render_header(name, help, "counter", out);
    let _ = writeln!(out, "{name} {value}");
}

/// Writes one gauge sample (with optional labels already formatted, e.g. `state="queued"`).
pub fn render_gauge(name: &str, help: &str, series: &[(&str, f64)], out: &mut String) {
    render_header(name, help, "gauge", out);
    for (labels, value) in series {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::exposition::Format;
    use crate::ingest::{IngestLimits, Ingestor};
    use crate::model::{Signal, Value};

    #[test]
    fn bounds_grow_geometrically_and_print_short() {
        let bounds = geometric_bounds(0.001, 100.0, 1.02);
        assert!(bounds.windows(2).all(|pair| pair[1] > pair[0]));
        assert!(bounds.windows(2).all(|pair| pair[1] / pair[0] < 1.021));
        assert!(*bounds.last().expect("bounds") >= 100.0);
        assert_eq!(bounds[0].to_string(), "0.001");
        assert!(
            bounds.iter().all(|b| b.to_string().len() <= 12),
            "{bounds:?}"
        );
    }

    #[test]
    fn rendered_pages_read_back_through_ingest() {
        let histogram = Histogram::new(vec![0.1, 1.0]);
        let requests = StatusCounter::default();
        let mut ingestor = Ingestor::new();
        let limits = IngestLimits::GENEROUS;
        let render = |histogram: &Histogram, requests: &StatusCounter| {
            let mut page = String::new();
            histogram.render(
                "inferscope_end_to_end_response_time_seconds",
                "e2e",
                &mut page,
            );
            requests.render("inferscope_inference_requests_total", "requests", &mut page);
            page
        };
        ingestor
            .ingest(
                &render(&histogram, &requests),
                Format::Prometheus,
                limits,
                0,
            )
            .expect("valid page");
        for value in [0.05, 0.5, 5.0] {
            histogram.observe(value);
        }
        requests.record(200);
        requests.record(200);
        requests.record(503);
        let output = ingestor
            .ingest(
                &render(&histogram, &requests),
                Format::Prometheus,
                limits,
                0,
            )
            .expect("valid page");
        let histogram = output
            .observations
            .iter()
            .find_map(|o| match (&o.signal, &o.value) {
                (Signal::EndToEndSeconds, Value::Histogram(h)) => Some(h),
                _ => None,
            })
            .expect("histogram");
        assert_eq!(histogram.buckets, vec![(0, 1.0), (1, 1.0), (2, 1.0)]);
        assert!((histogram.sum - 5.55).abs() < 1e-9);
        let count_for = |code: &str| {
            output
                .observations
                .iter()
                .find(|o| o.signal == Signal::Requests && o.detail.as_deref() == Some(code))
                .map(|o| o.value.clone())
        };
        assert_eq!(count_for("200"), Some(Value::Increment(2.0)));
        assert_eq!(count_for("503"), Some(Value::Increment(1.0)));
    }
}
