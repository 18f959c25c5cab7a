//! Coarser copies of every series for long ranges.
//!
//! Beside its raw points a series keeps one rollup per [`TIERS`] entry: a point per step, at the
//! step's end, holding what the raw points of `(end - step, end]` add up to — counter increments
//! summed, histogram increments merged bucket by bucket (so percentiles over a week are computed
//! from the same bucket counts as over five minutes), gauges' last reading. A step in which the
//! series only went stale gets a stale marker, so gaps survive the rollup.

use crate::model::{HistogramIncrement, Value};

use super::Samples;
use super::packed::HistogramSeries;
use super::xor::FloatSeries;

/// One rollup tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    /// Width of a point, milliseconds.
    pub step_ms: i64,
    /// How long points are kept, milliseconds.
    pub retention_ms: i64,
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// The tiers, finest first: one-minute points for a day, five-minute points for a week (each
/// with an hour to spare). A chart shows about 300 points, so a 24-hour view needs 5-minute
/// points and a 7-day view 35-minute ones: both tiers are finer than any chart asks for.
pub const TIERS: [Tier; 2] = [
    Tier {
        step_ms: MINUTE,
        retention_ms: 25 * HOUR,
    },
    Tier {
        step_ms: 5 * MINUTE,
        retention_ms: 7 * 24 * HOUR + HOUR,
    },
];

/// What a step has gathered so far.
#[derive(Clone, Debug, Default)]
enum Pending {
    /// Nothing yet.
    #[default]
    Empty,
    /// Only stale markers.
    Stale,
    /// Counter increments summed.
    Sum(f64),
    /// A gauge's last reading (`None`: it went stale after it).
    Last(Option<f64>),
    /// Histogram increments merged.
    Merged(HistogramIncrement),
}

/// One tier of one series.
#[derive(Clone, Debug)]
pub struct Rollup {
    step_ms: i64,
    /// End of the step being gathered (`i64::MIN` before the first point).
    step_end: i64,
    pending: Pending,
    /// The rolled-up points.
    pub samples: Samples,
}

/// Adds `more` into `into` when both use the same bucket layout; `false` otherwise.
fn merge(into: &mut HistogramIncrement, more: &HistogramIncrement) -> bool {
    if !std::sync::Arc::ptr_eq(&into.bounds, &more.bounds) && into.bounds[..] != more.bounds[..] {
        return false;
    }
    let mut merged = Vec::with_capacity(into.buckets.len().max(more.buckets.len()));
    let (mut left, mut right) = (
        into.buckets.iter().peekable(),
        more.buckets.iter().peekable(),
    );
    loop {
        match (left.peek(), right.peek()) {
            (Some(&&(a, x)), Some(&&(b, y))) => {
                if a == b {
                    merged.push((a, x + y));
                    left.next();
                    right.next();
                } else if a < b {
                    merged.push((a, x));
                    left.next();
                } else {
                    merged.push((b, y));
                    right.next();
                }
            }
            (Some(&&entry), None) => {
                merged.push(entry);
                left.next();
            }
            (None, Some(&&entry)) => {
                merged.push(entry);
                right.next();
            }
            (None, None) => break,
        }
    }
    into.buckets = merged;
    into.sum += more.sum;
    into.count += more.count;
    true
}

impl Rollup {
    /// An empty rollup of `step_ms` for a series shaped like `raw`, holding at most
    /// `max_points` points.
    pub fn new(step_ms: i64, raw: &Samples, max_points: usize) -> Rollup {
        let samples = match raw {
            Samples::Gauge(_) => Samples::Gauge(FloatSeries::new()),
            Samples::Counter(_) => Samples::Counter(FloatSeries::new()),
            Samples::Histogram(_) => Samples::Histogram(HistogramSeries::new(max_points)),
        };
        Rollup {
            step_ms: step_ms.max(1),
            step_end: i64::MIN,
            pending: Pending::Empty,
            samples,
        }
    }

    /// The end of the step holding `time_ms`: steps are `(end - step, end]`.
    fn end_of(&self, time_ms: i64) -> i64 {
        (time_ms + self.step_ms - 1).div_euclid(self.step_ms) * self.step_ms
    }

    /// Takes one raw point (`None`: a stale marker).
    pub fn observe(&mut self, time_ms: i64, value: Option<&Value>) {
        let end = self.end_of(time_ms);
        if end < self.step_end {
            return;
        }
        if end > self.step_end {
            self.flush();
            self.step_end = end;
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending = match (pending, value) {
            (Pending::Empty | Pending::Stale, None) => Pending::Stale,
            (Pending::Last(_), None) => Pending::Last(None),
            (kept, None) => kept,
            (Pending::Sum(total), Some(Value::Increment(more))) => Pending::Sum(total + more),
            (_, Some(Value::Increment(more))) => Pending::Sum(*more),
            (_, Some(Value::Gauge(reading))) => Pending::Last(Some(*reading)),
            (Pending::Merged(mut merged), Some(Value::Histogram(more))) => {
                if merge(&mut merged, more) {
                    Pending::Merged(merged)
                } else {
                    // The exporter changed its buckets mid-step: close what came before.
                    self.pending = Pending::Merged(merged);
                    self.flush();
                    Pending::Merged(more.clone())
                }
            }
            (_, Some(Value::Histogram(more))) => Pending::Merged(more.clone()),
        };
    }

    /// Writes the gathered step as a point at its end.
    fn flush(&mut self) {
        let end = self.step_end;
        match (std::mem::take(&mut self.pending), &mut self.samples) {
            (Pending::Empty, _) => {}
            (Pending::Stale, Samples::Gauge(series) | Samples::Counter(series)) => {
                series.push(end, None);
            }
            (Pending::Stale, Samples::Histogram(series)) => series.push(end, None),
            (Pending::Sum(total), Samples::Counter(series)) => series.push(end, Some(total)),
            (Pending::Last(reading), Samples::Gauge(series)) => series.push(end, reading),
            (Pending::Merged(merged), Samples::Histogram(series)) => {
                series.push(end, Some(&merged));
            }
            // A point of another kind than the series: the store already refused it.
            (_, _) => {}
        }
    }

    /// Writes the step being gathered if it ended at or before `ended_by_ms` (a series that
    /// stopped reporting gets its last step too). A late point for that step starts it again
    /// and is written at the same time, so nothing is lost or counted twice.
    pub fn close_ended(&mut self, ended_by_ms: i64) {
        if self.step_end <= ended_by_ms && !matches!(self.pending, Pending::Empty) {
            self.flush();
        }
    }

    /// Drops points older than `oldest_ms`; `true` when the rollup holds nothing any more.
    pub fn expire(&mut self, oldest_ms: i64) -> bool {
        match &mut self.samples {
            Samples::Gauge(series) | Samples::Counter(series) => {
                series.expire(oldest_ms);
                series.is_empty() && matches!(self.pending, Pending::Empty)
            }
            Samples::Histogram(series) => {
                series.expire(oldest_ms);
                series.is_empty() && matches!(self.pending, Pending::Empty)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn points(samples: &Samples) -> Vec<(i64, Option<f64>)> {
        match samples {
            Samples::Gauge(series) | Samples::Counter(series) => series.iter().collect(),
            Samples::Histogram(series) => series
                .iter()
                .map(|(time, value)| (time, value.map(|v| v.count)))
                .collect(),
        }
    }

    #[test]
    fn counters_sum_gauges_keep_the_last_and_stale_steps_stay_gaps() {
        let mut counter = Rollup::new(60_000, &Samples::Counter(FloatSeries::new()), 100);
        let mut gauge = Rollup::new(60_000, &Samples::Gauge(FloatSeries::new()), 100);
        // One point a second for three minutes, then nothing but a stale marker.
        for second in 1..=180 {
            let time = second * 1000;
            counter.observe(time, Some(&Value::Increment(2.0)));
            gauge.observe(time, Some(&Value::Gauge(second as f64)));
        }
        counter.observe(200_000, None);
        gauge.observe(200_000, None);
        counter.observe(300_000, None);
        // The next step's first point closes the previous step.
        counter.observe(360_001, Some(&Value::Increment(1.0)));
        gauge.observe(360_001, Some(&Value::Gauge(1.0)));
        assert_eq!(
            points(&counter.samples),
            vec![
                (60_000, Some(120.0)),
                (120_000, Some(120.0)),
                (180_000, Some(120.0)),
                (240_000, None),
                (300_000, None),
            ]
        );
        assert_eq!(
            points(&gauge.samples),
            vec![
                (60_000, Some(60.0)),
                (120_000, Some(120.0)),
                (180_000, Some(180.0)),
                (240_000, None),
            ]
        );
    }

    #[test]
    fn a_series_that_stops_gets_its_last_step_and_then_ages_out() {
        let mut counter = Rollup::new(60_000, &Samples::Counter(FloatSeries::new()), 100);
        counter.observe(10_000, Some(&Value::Increment(1.0)));
        counter.close_ended(59_999);
        assert!(points(&counter.samples).is_empty());
        counter.close_ended(60_000);
        assert_eq!(points(&counter.samples), vec![(60_000, Some(1.0))]);
        // A late point of the same step is written beside it, not lost.
        counter.observe(50_000, Some(&Value::Increment(2.0)));
        counter.close_ended(60_000);
        assert_eq!(
            points(&counter.samples),
            vec![(60_000, Some(1.0)), (60_000, Some(2.0))]
        );
        assert!(!counter.expire(60_000));
        assert!(counter.expire(60_001));
    }

    #[test]
    fn histograms_merge_bucket_counts_exactly() {
        let bounds: Arc<[f64]> = Arc::from(vec![0.1, 1.0]);
        let raw = Samples::Histogram(HistogramSeries::new(10));
        let mut rollup = Rollup::new(10_000, &raw, 100);
        let one = |buckets: Vec<(u32, f64)>| {
            Value::Histogram(HistogramIncrement {
                bounds: bounds.clone(),
                count: buckets.iter().map(|(_, c)| c).sum(),
                buckets,
                sum: 1.0,
            })
        };
        rollup.observe(1_000, Some(&one(vec![(0, 1.0), (2, 1.0)])));
        rollup.observe(2_000, Some(&one(vec![(1, 3.0)])));
        rollup.observe(3_000, Some(&one(vec![(0, 1.0), (1, 1.0)])));
        rollup.observe(11_000, Some(&one(vec![(2, 5.0)])));
        let Samples::Histogram(series) = &rollup.samples else {
            panic!("a histogram rollup");
        };
        let merged: Vec<_> = series.iter().collect();
        assert_eq!(merged.len(), 1);
        let (time, Some(increment)) = &merged[0] else {
            panic!("a value");
        };
        assert_eq!(*time, 10_000);
        assert_eq!(increment.buckets, vec![(0, 2.0), (1, 4.0), (2, 1.0)]);
        assert_eq!((increment.count, increment.sum), (7.0, 3.0));
    }
}
