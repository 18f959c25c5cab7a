//! Autoscaling diagnosis: from what a deployment did — replicas active and starting, requests in
//! progress and queued, p99 response time, async queue — name the trouble, show where, say why
//! and what to change, in numbers. The six findings of the design: thrash, insufficient
//! capacity, cold starts, concurrency target too high, scale-down too quick, async queue growing.
//!
//! [`diagnose`] reads an [`Observed`] deployment on a grid; [`sim`] produces one from scenario
//! presets in accelerated time, for the labelled evaluation.

pub mod deployment;
pub mod sim;

use app::wire::{PanelId, SeriesId, View};

use crate::autoscale::AutoscalerSettings;

/// One deployment's behaviour on a grid (each value the step's mean; `None`: nothing known).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// Time of the first step, Unix milliseconds.
    pub start_ms: i64,
    /// Step, milliseconds.
    pub step_ms: i64,
    /// Replicas ready.
    pub active: Vec<Option<f64>>,
    /// Replicas paying their cold start.
    pub starting: Vec<Option<f64>>,
    /// Requests being served.
    pub in_progress: Vec<Option<f64>>,
    /// Requests waiting for a slot.
    pub queued: Vec<Option<f64>>,
    /// p99 response time, seconds.
    pub p99_seconds: Vec<Option<f64>>,
    /// Async requests waiting.
    pub async_queue: Vec<Option<f64>>,
}

impl Observed {
    /// An empty observation starting at `start_ms` with steps of `step_ms`.
    pub fn new(start_ms: i64, step_ms: i64) -> Observed {
        Observed {
            start_ms,
            step_ms: step_ms.max(1),
            ..Observed::default()
        }
    }

    /// Appends one step: active, starting, in progress, queued, p99, async queue.
    pub fn push(&mut self, values: [Option<f64>; 6]) {
        let [active, starting, in_progress, queued, p99, async_queue] = values;
        self.active.push(active);
        self.starting.push(starting);
        self.in_progress.push(in_progress);
        self.queued.push(queued);
        self.p99_seconds.push(p99);
        self.async_queue.push(async_queue);
    }

    /// Steps.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    /// Whether there are no steps.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    fn time(&self, step: usize) -> i64 {
        self.start_ms + step as i64 * self.step_ms
    }

    fn steps(&self, minutes: f64) -> usize {
        ((minutes * 60_000.0) / self.step_ms as f64).ceil().max(1.0) as usize
    }
}

/// A recorded view of one deployment as the diagnosis reads it: replicas (active, starting),
/// concurrent requests (in progress, queued), response time p99 and async queue size, on the
/// view's grid.
pub fn observed_from_view(view: &View) -> Observed {
    let mut observed = Observed::new(view.start_ms, view.step_ms);
    let line = |panel: PanelId, id: SeriesId| -> std::collections::HashMap<i64, f64> {
        view.panel(panel)
            .and_then(|panel| panel.series(&id))
            .map(|series| {
                series
                    .points
                    .iter()
                    .filter_map(|point| point.1.map(|value| (point.0, value)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let lines = [
        line(PanelId::Replicas, SeriesId::Active),
        line(PanelId::Replicas, SeriesId::Starting),
        line(PanelId::ConcurrentRequests, SeriesId::InProgress),
        line(PanelId::ConcurrentRequests, SeriesId::Queued),
        line(PanelId::ResponseTime, SeriesId::P99),
        line(PanelId::AsyncQueueSize, SeriesId::Queued),
    ];
    let step = view.step_ms.max(1);
    let mut time = view.start_ms;
    while time <= view.end_ms && observed.len() < 100_000 {
        let at = |index: usize| lines[index].get(&time).copied();
        // A deployment that reports replicas but no starting line has none starting.
        let starting = at(1).or_else(|| at(0).map(|_| 0.0));
        let queued = at(3).or_else(|| at(2).map(|_| 0.0));
        observed.push([at(0), starting, at(2), queued, at(4), at(5)]);
        time += step;
    }
    observed
}

pub use app::wire::{Finding, FindingKind, Severity};

/// Scale-downs undone within `within` steps (replicas back by at least half of those removed):
/// (last step of the down, first step of the rise, last step of the rise).
fn reversals(total: &[Option<u32>], within: usize) -> Vec<(usize, usize, usize)> {
    // Each change as (first step, last step, replicas added or removed).
    let mut changes: Vec<(usize, usize, i64)> = Vec::new();
    let mut previous: Option<u32> = None;
    for (step, value) in total.iter().enumerate() {
        if let (Some(before), Some(now)) = (previous, *value) {
            let delta = i64::from(now) - i64::from(before);
            if delta != 0 {
                // A change spread over consecutive steps is one event.
                match changes.last_mut() {
                    Some((_, at, last)) if *at + 1 == step && last.signum() == delta.signum() => {
                        *last += delta;
                        *at = step;
                    }
                    _ => changes.push((step, step, delta)),
                }
            }
        }
        if value.is_some() {
            previous = *value;
        }
    }
    let mut found = Vec::new();
    for (index, (_, down_at, delta)) in changes.iter().enumerate() {
        if *delta >= 0 {
            continue;
        }
        // Undone: within `within`, replicas come back by at least half of what was removed.
        let mut back = 0;
        for (up_first, up_at, d) in changes[index + 1..]
            .iter()
            .take_while(|(_, at, _)| *at <= down_at + within)
        {
            back += d;
            if back * 2 >= -delta {
                // Several steps down undone by one rise are one reversal.
                if found
                    .last()
                    .is_none_or(|(_, _, up): &(usize, usize, usize)| up != up_at)
                {
                    found.push((*down_at, *up_first, *up_at));
                }
                break;
            }
        }
    }
    found
}

/// Contiguous runs of steps where `hit` holds: (first, last).
fn runs(len: usize, hit: impl Fn(usize) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for step in 0..len {
        match (hit(step), start) {
            (true, None) => start = Some(step),
            (false, Some(first)) => {
                out.push((first, step - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(first) = start {
        out.push((first, len - 1));
    }
    out
}

/// Least squares `y = a + b x`: (a, b, r²).
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    Some((mean_y - b * mean_x, b, sxy * sxy / (sxx * syy)))
}

fn seconds(duration: std::time::Duration) -> u64 {
    duration.as_secs()
}

/// The findings for one deployment observed on a grid, run with `settings`.
pub fn diagnose(observed: &Observed, settings: &AutoscalerSettings) -> Vec<Finding> {
    let len = observed.len();
    if len < 3 {
        return Vec::new();
    }
    let value = |line: &[Option<f64>], step: usize| line[step].unwrap_or(0.0);
    let total: Vec<Option<u32>> = (0..len)
        .map(
            |step| match (observed.active[step], observed.starting[step]) {
                (None, None) => None,
                (active, starting) => Some(
                    (active.unwrap_or(0.0) + starting.unwrap_or(0.0))
                        .round()
                        .max(0.0) as u32,
                ),
            },
        )
        .collect();
    let span = |(first, last): (usize, usize)| {
        (observed.time(first), observed.time(last) + observed.step_ms)
    };
    let severity = |steps: usize| {
        if steps * 4 >= len {
            Severity::Critical
        } else {
            Severity::Warning
        }
    };
    let mut findings = Vec::new();

    // Thrash and scale-down too quick: scale-downs undone within five minutes.
    let flips = reversals(&total, observed.steps(5.0));
    let window = observed.steps(30.0);
    let thrash = flips.iter().any(|(down, _, _)| {
        flips
            .iter()
            .filter(|(d, _, _)| *d >= *down && *d < down + window)
            .count()
            >= 3
    });
    let delay = seconds(settings.scale_down_delay);
    if thrash {
        let evidence: Vec<(i64, i64)> = flips.iter().map(|&(d, _, u)| span((d, u))).collect();
        let covered: usize = flips.iter().map(|(d, _, u)| u - d + 1).sum();
        findings.push(Finding {
            kind: FindingKind::Thrash,
            severity: if flips.len() >= 6 { Severity::Critical } else { severity(covered) },
            from_ms: evidence.first().map_or(0, |e| e.0),
            to_ms: evidence.last().map_or(0, |e| e.1),
            panel: PanelId::Replicas,
            evidence,
            cause: format!(
                "replicas were removed and added back {} times: the load dips for less than it takes to need them again, and the {delay} s scale-down delay lets them go",
                flips.len()
            ),
            fix: format!(
                "scale-down delay {delay} s → {} s or more{}",
                (delay * 10).max(600),
                if seconds(settings.window) < 60 {
                    format!("; autoscaling window {} s → 60 s", seconds(settings.window))
                } else {
                    String::new()
                }
            ),
        });
    }
    let queued_after = |up: usize| {
        (up..(up + observed.steps(3.0)).min(len)).any(|step| value(&observed.queued, step) >= 1.0)
    };
    // Queued from the moment replicas are asked for again (a rise spread over several steps
    // queues while it starts).
    let hurtful: Vec<(usize, usize, usize)> = flips
        .iter()
        .copied()
        .filter(|(_, first, _)| queued_after(*first))
        .collect();
    // A delay of ten minutes or more is not "quick": a reversal then comes from elsewhere.
    if !thrash && !hurtful.is_empty() && delay < 600 {
        let evidence: Vec<(i64, i64)> = hurtful.iter().map(|&(d, _, u)| span((d, u))).collect();
        let rate = settings.max_scale_down_rate;
        findings.push(Finding {
            kind: FindingKind::ScaleDownTooQuick,
            severity: Severity::Warning,
            from_ms: evidence.first().map_or(0, |e| e.0),
            to_ms: evidence.last().map_or(0, |e| e.1),
            panel: PanelId::Replicas,
            evidence,
            cause: format!(
                "replicas were removed {delay} s after the load fell and were needed again within minutes; requests queued while new ones started"
            ),
            fix: format!(
                "scale-down delay {delay} s → {} s{}",
                (delay * 5).max(300),
                if rate > 0.5 {
                    format!("; max scale-down rate {:.0} % → 50 %", rate * 100.0)
                } else {
                    String::new()
                }
            ),
        });
    }

    // Insufficient capacity: every allowed replica ready and busy, requests still queued
    // (replicas still starting mean capacity is on its way: that is not this finding).
    let max = settings.max_replicas;
    let at_max = runs(len, |step| {
        value(&observed.active, step).round() >= f64::from(max)
            && value(&observed.queued, step) >= 1.0
    });
    let at_max_steps: usize = at_max.iter().map(|(a, b)| b - a + 1).sum();
    if at_max_steps >= observed.steps(3.0) {
        let in_progress: f64 = (0..len)
            .map(|s| value(&observed.in_progress, s))
            .fold(0.0, f64::max);
        let queued: f64 = at_max
            .iter()
            .flat_map(|&(a, b)| a..=b)
            .map(|s| value(&observed.queued, s))
            .sum::<f64>()
            / at_max_steps as f64;
        let needed = ((f64::from(max) * (1.0 + queued / in_progress.max(1.0))).ceil() as u32)
            .clamp(max + 1, max * 4);
        findings.push(Finding {
            kind: FindingKind::InsufficientCapacity,
            severity: severity(at_max_steps),
            from_ms: span(at_max[0]).0,
            to_ms: span(at_max[at_max.len() - 1]).1,
            panel: PanelId::ConcurrentRequests,
            evidence: at_max.iter().map(|&r| span(r)).collect(),
            cause: format!(
                "every one of the {max} replicas allowed was busy and {queued:.0} requests waited on average, for {} min",
                at_max_steps as i64 * observed.step_ms / 60_000
            ),
            fix: format!("max replicas {max} → {needed} or more"),
        });
    }

    // Cold starts: requests queued while replicas started, below the maximum, not right after a
    // scale-down (that is the scale-down's finding).
    let after_flip = |step: usize| {
        flips
            .iter()
            .any(|(down, _, up)| step + 1 >= *down && step <= up + observed.steps(3.0))
    };
    let episodes: Vec<(usize, usize)> = runs(len, |step| {
        value(&observed.starting, step) >= 0.5
            && value(&observed.queued, step) >= 1.0
            && value(&observed.active, step).round() < f64::from(max)
    })
    .into_iter()
    .filter(|(first, _)| !after_flip(*first))
    .collect();
    let episode_steps: usize = episodes.iter().map(|(a, b)| b - a + 1).sum();
    let longest =
        episodes.iter().map(|(a, b)| b - a + 1).max().unwrap_or(0) as i64 * observed.step_ms / 1000;
    // Waits of a minute or more, more than once: short ones are the price of any scale-up.
    if !thrash && episodes.len() >= 2 && episode_steps >= observed.steps(2.0) && longest >= 60 {
        let added = settings.min_replicas.max(1);
        findings.push(Finding {
            kind: FindingKind::ColdStarts,
            severity: severity(episode_steps),
            from_ms: span(episodes[0]).0,
            to_ms: span(episodes[episodes.len() - 1]).1,
            panel: PanelId::Replicas,
            evidence: episodes.iter().map(|&r| span(r)).collect(),
            cause: format!(
                "{} times requests queued while new replicas were starting (up to {longest} s each)",
                episodes.len()
            ),
            fix: format!(
                "min replicas {} → {} to absorb the rises, or cut the cold start (smaller image, cached weights)",
                settings.min_replicas,
                settings.min_replicas + added
            ),
        });
    }

    // Concurrency target too high: latency grows with the requests a replica runs at once.
    let points: Vec<(f64, f64)> = (0..len)
        .filter_map(|step| {
            let active = observed.active[step]?;
            let p99 = observed.p99_seconds[step]?;
            (active >= 1.0 && value(&observed.queued, step) < 0.5)
                .then(|| (value(&observed.in_progress, step) / active, p99))
        })
        .collect();
    if points.len() >= 30
        && let Some((a, b, r2)) = fit(&points)
    {
        let mean_x = points.iter().map(|p| p.0).sum::<f64>() / points.len() as f64;
        if a > 0.0 && b > 0.0 && r2 >= 0.3 && b * mean_x / a >= 0.5 {
            let utilisation = settings.target_utilization.max(0.01);
            // The concurrency at which p99 is 1.5× what a lone request takes.
            let suggested = ((0.5 * a / b) / utilisation).floor().max(1.0);
            findings.push(Finding {
                kind: FindingKind::ConcurrencyTargetTooHigh,
                severity: Severity::Warning,
                from_ms: observed.start_ms,
                to_ms: observed.time(len - 1) + observed.step_ms,
                panel: PanelId::ResponseTime,
                evidence: vec![(observed.start_ms, observed.time(len - 1) + observed.step_ms)],
                cause: format!(
                    "p99 rises {:.0} ms with each request a replica runs at once; at {mean_x:.1} per replica it is {:.1}× a lone request's",
                    b * 1000.0,
                    (a + b * mean_x) / a
                ),
                fix: format!(
                    "concurrency target {} → {suggested}",
                    settings.concurrency_target
                ),
            });
        }
    }

    // Async queue growing: a rising trend that ends high.
    let queue_points: Vec<(f64, f64)> = (0..len)
        .filter_map(|step| observed.async_queue[step].map(|q| (step as f64, q)))
        .collect();
    if let Some((_, slope, r2)) = fit(&queue_points) {
        let last = queue_points.last().map_or(0.0, |p| p.1);
        let quarter = queue_points[queue_points.len() / 4].1;
        if slope > 0.0 && r2 >= 0.5 && last >= 20.0 && last >= 2.0 * quarter.max(1.0) {
            let per_minute = slope * 60_000.0 / observed.step_ms as f64;
            let from = queue_points
                .iter()
                .find(|p| p.1 >= 1.0)
                .map_or(0, |p| p.0 as usize);
            findings.push(Finding {
                kind: FindingKind::AsyncQueueGrowing,
                severity: if last >= 1000.0 { Severity::Critical } else { Severity::Warning },
                from_ms: observed.time(from),
                to_ms: observed.time(len - 1) + observed.step_ms,
                panel: PanelId::AsyncQueueSize,
                evidence: vec![(observed.time(from), observed.time(len - 1) + observed.step_ms)],
                cause: format!(
                    "async requests arrive faster than they are drained: the queue grows by {per_minute:.0} a minute and holds {last:.0}"
                ),
                fix: format!(
                    "drain {per_minute:.0} more requests a minute: more async workers, or max replicas {} → {}",
                    settings.max_replicas,
                    settings.max_replicas + settings.max_replicas.div_ceil(2)
                ),
            });
        }
    }
    findings.sort_by_key(|finding| finding.kind);
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn observed(totals: &[f64], queued: &[f64]) -> Observed {
        let mut observed = Observed::new(0, 10_000);
        for (total, queued) in totals.iter().zip(queued) {
            observed.push([
                Some(*total),
                Some(0.0),
                Some(2.0),
                Some(*queued),
                Some(0.5),
                None,
            ]);
        }
        observed
    }

    fn settings() -> AutoscalerSettings {
        AutoscalerSettings {
            min_replicas: 1,
            max_replicas: 10,
            concurrency_target: 4.0,
            target_utilization: 0.7,
            window: Duration::from_secs(60),
            scale_down_delay: Duration::from_secs(60),
            max_scale_down_rate: 0.5,
        }
    }

    #[test]
    fn repeated_flips_are_thrash_and_a_single_hurtful_one_is_a_quick_scale_down() {
        // Down from 4 to 2 and up again, every 2 minutes, four times.
        let mut totals = Vec::new();
        for _ in 0..4 {
            totals.extend([4.0; 6]);
            totals.extend([2.0; 6]);
        }
        totals.extend([4.0; 6]);
        let quiet = vec![0.0; totals.len()];
        let found = diagnose(&observed(&totals, &quiet), &settings());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, FindingKind::Thrash);
        assert_eq!(found[0].evidence.len(), 4);
        assert_eq!(found[0].fix, "scale-down delay 60 s → 600 s or more");

        // Once, with a queue after the replicas come back.
        let totals = [[4.0; 6], [2.0; 6], [4.0; 6]].concat();
        let mut queued = vec![0.0; totals.len()];
        queued[12] = 5.0;
        let found = diagnose(&observed(&totals, &queued), &settings());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, FindingKind::ScaleDownTooQuick);
        // Without the queue it did no harm: nothing to say.
        assert!(diagnose(&observed(&totals, &vec![0.0; totals.len()]), &settings()).is_empty());
    }

    #[test]
    fn a_queue_while_a_slow_rise_starts_counts_against_the_scale_down() {
        // Down from 8 to 1; back over four steps (1 → 3 → 5 → 7 → 8), requests queued only
        // while the rise is under way.
        let mut totals = vec![8.0; 6];
        totals.extend([1.0; 6]);
        totals.extend([3.0, 5.0, 7.0, 8.0]);
        totals.extend([8.0; 20]);
        let mut queued = vec![0.0; totals.len()];
        queued[12] = 40.0;
        queued[13] = 20.0;
        let found = diagnose(&observed(&totals, &queued), &settings());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, FindingKind::ScaleDownTooQuick);
        // The evidence spans the down and the whole rise.
        assert_eq!(found[0].evidence, vec![(60_000, 160_000)]);
    }

    #[test]
    fn a_queue_at_the_maximum_is_insufficient_capacity() {
        let totals = vec![10.0; 60];
        let queued = vec![20.0; 60];
        let found = diagnose(&observed(&totals, &queued), &settings());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, FindingKind::InsufficientCapacity);
        assert_eq!(found[0].severity, Severity::Critical);
        assert!(
            found[0].fix.starts_with("max replicas 10 → "),
            "{}",
            found[0].fix
        );
    }
}
