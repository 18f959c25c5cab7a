//! The arithmetic of panels: rates from counter increments, percentiles from merged histogram
//! buckets. Pure functions, tested on their own.

use std::sync::Arc;

use crate::model::HistogramIncrement;

/// A percentile estimate from histogram buckets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Estimate {
    /// Interpolated within a finite bucket.
    Value(f64),
    /// The rank falls in the `+Inf` bucket: the true value is above this bound (the largest
    /// finite one). Reported as the bound itself, never as an invented number.
    Above(f64),
}

impl Estimate {
    /// The number to draw: the estimate, or the bound for [`Estimate::Above`].
    pub fn value(self) -> f64 {
        match self {
            Estimate::Value(value) | Estimate::Above(value) => value,
        }
    }
}

/// The `q`-quantile (0–1) of a histogram given as finite upper `bounds` (ascending) and
/// `cumulative` counts (`bounds.len() + 1` of them, the last for `+Inf`).
///
/// Linear interpolation within the bucket, the first bucket starting at zero (or at its bound
/// when that is not positive), as Prometheus's `histogram_quantile` does. `None` when the
/// histogram holds no observation.
pub fn quantile(q: f64, bounds: &[f64], cumulative: &[f64]) -> Option<Estimate> {
    let total = *cumulative.last()?;
    if total <= 0.0 || !total.is_finite() || cumulative.len() != bounds.len() + 1 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total;
    let bucket = cumulative
        .iter()
        .position(|&count| count >= rank)
        .unwrap_or(bounds.len());
    if bucket == bounds.len() {
        return bounds.last().map(|&top| Estimate::Above(top));
    }
    let end = bounds[bucket];
    let (start, below) = if bucket == 0 {
        if end <= 0.0 {
            return Some(Estimate::Value(end));
        }
        (0.0, 0.0)
    } else {
        (bounds[bucket - 1], cumulative[bucket - 1])
    };
    let in_bucket = cumulative[bucket] - below;
    if in_bucket <= 0.0 {
        return Some(Estimate::Value(end));
    }
    Some(Estimate::Value(
        start + (end - start) * (rank - below) / in_bucket,
    ))
}

/// Histogram increments merged across series and time.
///
/// Increments with the same bucket layout add bucket by bucket. When layouts differ, each
/// layout's cumulative distribution is evaluated on the union of all bounds (interpolating
/// linearly inside buckets, the same assumption `quantile` makes) and the results are added.
#[derive(Clone, Debug, Default)]
pub struct MergedHistogram {
    layouts: Vec<(Arc<[f64]>, Vec<f64>)>,
}

impl MergedHistogram {
    /// An empty merge.
    pub fn new() -> MergedHistogram {
        MergedHistogram::default()
    }

    /// Adds one increment.
    pub fn add(&mut self, increment: &HistogramIncrement) {
        let bounds = &increment.bounds;
        let index = match self
            .layouts
            .iter()
            .position(|(known, _)| Arc::ptr_eq(known, bounds) || **known == **bounds)
        {
            Some(index) => index,
            None => {
                self.layouts
                    .push((bounds.clone(), vec![0.0; bounds.len() + 1]));
                self.layouts.len() - 1
            }
        };
        let counts = &mut self.layouts[index].1;
        for &(bucket, count) in &increment.buckets {
            if let Some(slot) = counts.get_mut(bucket as usize) {
                *slot += count;
            }
        }
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.layouts.is_empty()
    }

    /// Number of observations merged.
    pub fn count(&self) -> f64 {
        self.layouts
            .iter()
            .map(|(_, counts)| counts.iter().sum::<f64>())
            .sum()
    }

    /// Every finite bucket bound of the merged layouts (a bound shared by several may repeat).
    pub fn bounds(&self) -> impl Iterator<Item = f64> + '_ {
        self.layouts
            .iter()
            .flat_map(|(bounds, _)| bounds.iter().copied())
    }

    /// The largest finite bucket bound among the merged layouts.
    pub fn top_bound(&self) -> Option<f64> {
        self.layouts
            .iter()
            .filter_map(|(bounds, _)| bounds.last().copied())
            .reduce(f64::max)
    }

    /// The merged histogram as (finite bounds, cumulative counts including `+Inf`).
    pub fn cumulative(&self) -> (Vec<f64>, Vec<f64>) {
        match self.layouts.as_slice() {
            [] => (Vec::new(), vec![0.0]),
            [(bounds, counts)] => (bounds.to_vec(), running_sum(counts)),
            layouts => {
                let mut union: Vec<f64> = layouts
                    .iter()
                    .flat_map(|(bounds, _)| bounds.iter().copied())
                    .collect();
                union.sort_by(f64::total_cmp);
                union.dedup();
                let mut cumulative = vec![0.0; union.len() + 1];
                for (bounds, counts) in layouts {
                    let own = running_sum(counts);
                    for (slot, &at) in cumulative.iter_mut().zip(&union) {
                        *slot += cumulative_at(bounds, &own, at);
                    }
                    if let Some(last) = cumulative.last_mut() {
                        *last += own.last().copied().unwrap_or(0.0);
                    }
                }
                (union, cumulative)
            }
        }
    }

    /// The `q`-quantile of everything merged.
    pub fn quantile(&self, q: f64) -> Option<Estimate> {
        self.quantiles(&[q]).pop().flatten()
    }

    /// The quantiles of everything merged, in the order asked.
    ///
    /// Where layouts differ, an observation in one layout's `+Inf` bucket is known only to lie
    /// above that layout's top bound, not above the others' bounds: a quantile whose rank falls
    /// in the merged `+Inf` bucket is [`Estimate::Above`] the largest bound the data supports —
    /// the largest bound below which fewer observations than the rank could lie even if every
    /// such observation sat just above its own layout's top.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Option<Estimate>> {
        let (bounds, cumulative) = self.cumulative();
        // Observations in a `+Inf` bucket, with the top bound of their layout.
        let unplaced: Vec<(f64, f64)> = match self.layouts.as_slice() {
            [] | [_] => Vec::new(),
            layouts => layouts
                .iter()
                .filter_map(|(bounds, counts)| {
                    let top = *bounds.last()?;
                    let above = *counts.last()?;
                    (above > 0.0).then_some((top, above))
                })
                .collect(),
        };
        qs.iter()
            .map(|&q| {
                let estimate = quantile(q, &bounds, &cumulative)?;
                let Estimate::Above(top) = estimate else {
                    return Some(estimate);
                };
                if unplaced.is_empty() {
                    return Some(estimate);
                }
                let total = cumulative.last().copied().unwrap_or(0.0);
                let rank = q.clamp(0.0, 1.0) * total;
                // The most that could lie at or below each bound.
                let supported = bounds
                    .iter()
                    .zip(&cumulative)
                    .filter(|&(&bound, &below)| {
                        let at_most = below
                            + unplaced
                                .iter()
                                .filter(|(own_top, _)| *own_top < bound)
                                .map(|(_, count)| count)
                                .sum::<f64>();
                        at_most < rank
                    })
                    .map(|(bound, _)| *bound)
                    .next_back();
                Some(Estimate::Above(supported.unwrap_or(top)))
            })
            .collect()
    }
}

fn running_sum(counts: &[f64]) -> Vec<f64> {
    let mut total = 0.0;
    counts
        .iter()
        .map(|count| {
            total += count;
            total
        })
        .collect()
}

/// Cumulative count of one layout at `at`, interpolating inside the bucket that holds it.
fn cumulative_at(bounds: &[f64], cumulative: &[f64], at: f64) -> f64 {
    let bucket = bounds.partition_point(|&bound| bound < at);
    if bucket == bounds.len() {
        // Beyond the last finite bound: only what is below it is known to be below `at`.
        return bounds
            .len()
            .checked_sub(1)
            .map_or(0.0, |last| cumulative[last]);
    }
    let end = bounds[bucket];
    let (start, below) = if bucket == 0 {
        (0.0_f64.min(end), 0.0)
    } else {
        (bounds[bucket - 1], cumulative[bucket - 1])
    };
    if end <= start {
        return cumulative[bucket];
    }
    let fraction = ((at - start) / (end - start)).clamp(0.0, 1.0);
    below + (cumulative[bucket] - below) * fraction
}

/// Per-second rate of a counter from the increments reported in a window.
///
/// `increments` are the values reported by scrapes whose time falls in the window;
/// `covered_seconds` is the time those increments span: for each scrape, the time since the
/// target's previous good scrape (so the first scrape after a new baseline spans only its own
/// interval, and a window right after a gap is not diluted). `None` when nothing was covered.
pub fn rate(increments: impl IntoIterator<Item = f64>, covered_seconds: f64) -> Option<f64> {
    if covered_seconds <= 0.0 || !covered_seconds.is_finite() {
        return None;
    }
    let total: f64 = increments.into_iter().sum();
    Some(total / covered_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn increment(bounds: &Arc<[f64]>, buckets: &[(u32, f64)]) -> HistogramIncrement {
        HistogramIncrement {
            bounds: bounds.clone(),
            buckets: buckets.to_vec(),
            sum: 0.0,
            count: buckets.iter().map(|(_, c)| c).sum(),
        }
    }

    #[test]
    fn quantile_interpolates_inside_the_bucket() {
        // 100 observations: 50 in (0, 1], 40 in (1, 2], 10 in (2, 4].
        let bounds = [1.0, 2.0, 4.0];
        let cumulative = [50.0, 90.0, 100.0, 100.0];
        assert_eq!(
            quantile(0.5, &bounds, &cumulative),
            Some(Estimate::Value(1.0))
        );
        assert_eq!(
            quantile(0.25, &bounds, &cumulative),
            Some(Estimate::Value(0.5))
        );
        assert_eq!(
            quantile(0.7, &bounds, &cumulative),
            Some(Estimate::Value(1.5))
        );
        assert_eq!(
            quantile(0.95, &bounds, &cumulative),
            Some(Estimate::Value(3.0))
        );
        assert_eq!(quantile(0.5, &bounds, &[0.0, 0.0, 0.0, 0.0]), None);
    }

    #[test]
    fn quantile_in_the_top_bucket_says_above() {
        let bounds = [1.0, 2.0];
        let cumulative = [10.0, 90.0, 100.0];
        assert_eq!(
            quantile(0.99, &bounds, &cumulative),
            Some(Estimate::Above(2.0))
        );
        assert_eq!(
            quantile(0.9, &bounds, &cumulative),
            Some(Estimate::Value(2.0))
        );
    }

    #[test]
    fn merging_same_layouts_adds_buckets() {
        let bounds: Arc<[f64]> = Arc::from(vec![1.0, 2.0, 4.0]);
        let mut merged = MergedHistogram::new();
        merged.add(&increment(&bounds, &[(0, 30.0), (1, 10.0)]));
        merged.add(&increment(&bounds, &[(0, 20.0), (1, 30.0), (2, 10.0)]));
        assert_eq!(merged.count(), 100.0);
        assert_eq!(merged.quantile(0.5), Some(Estimate::Value(1.0)));
        assert_eq!(merged.quantile(0.95), Some(Estimate::Value(3.0)));
        assert_eq!(merged.top_bound(), Some(4.0));
    }

    #[test]
    fn merging_different_layouts_uses_the_union_of_bounds() {
        let coarse: Arc<[f64]> = Arc::from(vec![2.0, 4.0]);
        let fine: Arc<[f64]> = Arc::from(vec![1.0, 2.0, 3.0, 4.0]);
        let mut merged = MergedHistogram::new();
        // Both describe 10 observations spread evenly over (0, 4].
        merged.add(&increment(&coarse, &[(0, 5.0), (1, 5.0)]));
        merged.add(&increment(&fine, &[(0, 2.5), (1, 2.5), (2, 2.5), (3, 2.5)]));
        let (bounds, cumulative) = merged.cumulative();
        assert_eq!(bounds, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(cumulative, vec![5.0, 10.0, 15.0, 20.0, 20.0]);
        assert_eq!(merged.quantile(0.5), Some(Estimate::Value(2.0)));
    }

    #[test]
    fn above_names_only_a_bound_every_layout_supports() {
        // Replica a knows only "at most 1 s" or "more"; b has buckets up to 8 s.
        let a: Arc<[f64]> = Arc::from(vec![1.0]);
        let b: Arc<[f64]> = Arc::from(vec![1.0, 2.0, 4.0, 8.0]);
        let mut merged = MergedHistogram::new();
        // a: 5 at most 1 s, 5 above (anywhere above 1 s, perhaps at 1.5 s).
        merged.add(&increment(&a, &[(0, 5.0), (1, 5.0)]));
        // b: 10 in (1, 2].
        merged.add(&increment(&b, &[(1, 10.0)]));
        // 20 in all: the p99 rank (19.8) is past the 15 known to lie at or below 8 s, but a's 5
        // could lie in (1, 2]: only "above 1 s" is supported.
        assert_eq!(merged.quantile(0.99), Some(Estimate::Above(1.0)));
        // The median (rank 10) is within what is known.
        assert_eq!(merged.quantile(0.5), Some(Estimate::Value(1.5)));
        // With b's own slow tail the bound moves up only as far as the data allows.
        let mut merged = MergedHistogram::new();
        merged.add(&increment(&a, &[(0, 90.0), (1, 1.0)]));
        merged.add(&increment(&b, &[(0, 5.0), (4, 4.0)]));
        // 100 in all, rank 99: at most 95 + 1 (a's) could lie at or below 2, 4 or 8 s, so the
        // 99th is surely above 8 s.
        assert_eq!(merged.quantile(0.99), Some(Estimate::Above(8.0)));
        // One layout alone: above its top, as before.
        let mut single = MergedHistogram::new();
        single.add(&increment(&a, &[(0, 1.0), (1, 9.0)]));
        assert_eq!(single.quantile(0.5), Some(Estimate::Above(1.0)));
    }

    #[test]
    fn rate_divides_by_the_covered_time() {
        assert_eq!(rate([10.0, 20.0], 10.0), Some(3.0));
        assert_eq!(rate([], 10.0), Some(0.0));
        assert_eq!(rate([5.0], 0.0), None);
        assert_eq!(rate([5.0], f64::NAN), None);
    }
}
