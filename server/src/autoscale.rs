//! The reference autoscaling algorithm, implemented once: the demo fleet's routers run it, and
//! so can anything that replays recorded load through it.
//!
//! In-flight requests (in progress plus queued) are averaged over the autoscaling window.
//! `desired = ceil(average / (concurrency target × target utilisation))`, clamped to the
//! minimum and maximum replicas. Scaling up happens at once. Scaling down waits until the load
//! has stayed below the current replica count for the whole scale-down delay, then removes at
//! most `max_scale_down_rate` of the replicas (at least one) and starts the delay again.

use std::collections::VecDeque;
use std::time::Duration;

/// Settings of one deployment's autoscaler.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoscalerSettings {
    /// Fewest replicas.
    pub min_replicas: u32,
    /// Most replicas.
    pub max_replicas: u32,
    /// Requests one replica should handle at once.
    pub concurrency_target: f64,
    /// Fraction of the concurrency target to aim for (0–1].
    pub target_utilization: f64,
    /// Span the load is averaged over.
    pub window: Duration,
    /// How long load must stay low before replicas are removed.
    pub scale_down_delay: Duration,
    /// Largest fraction of replicas removed in one step (0–1].
    pub max_scale_down_rate: f64,
}

/// One deployment's autoscaler state.
#[derive(Clone, Debug)]
pub struct Autoscaler {
    settings: AutoscalerSettings,
    samples: VecDeque<(i64, f64)>,
    below_since_ms: Option<i64>,
}

impl Autoscaler {
    /// A new autoscaler with no load observed.
    pub fn new(settings: AutoscalerSettings) -> Autoscaler {
        Autoscaler {
            settings,
            samples: VecDeque::new(),
            below_since_ms: None,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &AutoscalerSettings {
        &self.settings
    }

    /// Records the in-flight load seen at `now_ms`.
    pub fn observe(&mut self, now_ms: i64, in_flight: f64) {
        self.samples.push_back((now_ms, in_flight));
        let oldest = now_ms - self.settings.window.as_millis() as i64;
        while self.samples.front().is_some_and(|(time, _)| *time < oldest) {
            self.samples.pop_front();
        }
    }

    /// Average load over the window.
    pub fn average_load(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        self.samples.iter().map(|(_, load)| load).sum::<f64>() / self.samples.len() as f64
    }

    /// Replicas wanted for the load alone, clamped to the bounds.
    pub fn desired_for_load(&self) -> u32 {
        let per_replica =
            (self.settings.concurrency_target * self.settings.target_utilization).max(f64::EPSILON);
        let wanted = (self.average_load() / per_replica).ceil();
        let wanted = if wanted.is_finite() {
            wanted.max(0.0) as u32
        } else {
            u32::MAX
        };
        wanted.clamp(
            self.settings.min_replicas,
            self.settings.max_replicas.max(self.settings.min_replicas),
        )
    }

    /// The replica count to run now, given `current` replicas (active and starting).
    pub fn decide(&mut self, now_ms: i64, current: u32) -> u32 {
        let desired = self.desired_for_load();
        if desired >= current {
            self.below_since_ms = None;
            return desired;
        }
        let since = *self.below_since_ms.get_or_insert(now_ms);
        if now_ms - since < self.settings.scale_down_delay.as_millis() as i64 {
            return current;
        }
        let step = ((f64::from(current) * self.settings.max_scale_down_rate).floor() as u32).max(1);
        self.below_since_ms = Some(now_ms);
        current.saturating_sub(step).max(desired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AutoscalerSettings {
        AutoscalerSettings {
            min_replicas: 1,
            max_replicas: 10,
            concurrency_target: 4.0,
            target_utilization: 1.0,
            window: Duration::from_secs(60),
            scale_down_delay: Duration::from_secs(900),
            max_scale_down_rate: 0.5,
        }
    }

    #[test]
    fn scales_up_at_once_within_bounds() {
        let mut autoscaler = Autoscaler::new(settings());
        autoscaler.observe(0, 17.0);
        assert_eq!(autoscaler.decide(0, 1), 5);
        autoscaler.observe(1000, 1000.0);
        assert_eq!(autoscaler.decide(1000, 5), 10);
    }

    #[test]
    fn excess_replicas_halve_once_per_delay() {
        let mut autoscaler = Autoscaler::new(settings());
        let delay_ms = 900_000;
        let mut now = 0;
        let mut replicas = 8;
        autoscaler.observe(now, 1.0);
        // The first decision below the current count starts the delay.
        assert_eq!(autoscaler.decide(now, replicas), replicas);
        let mut history = vec![replicas];
        while replicas > 1 {
            // Just before the delay has passed nothing happens…
            assert_eq!(autoscaler.decide(now + delay_ms - 1, replicas), replicas);
            now += delay_ms;
            autoscaler.observe(now, 1.0);
            replicas = autoscaler.decide(now, replicas);
            history.push(replicas);
        }
        assert_eq!(history, vec![8, 4, 2, 1]);
    }

    #[test]
    fn a_dip_shorter_than_the_delay_removes_nothing() {
        let mut autoscaler = Autoscaler::new(settings());
        autoscaler.observe(0, 16.0);
        assert_eq!(autoscaler.decide(0, 4), 4);
        // Load drops for ten minutes (less than the 15-minute delay)…
        for minute in 1..=10 {
            autoscaler.observe(minute * 60_000, 2.0);
            assert_eq!(autoscaler.decide(minute * 60_000, 4), 4);
        }
        // …then comes back: the delay starts over.
        autoscaler.observe(11 * 60_000, 16.0);
        autoscaler.observe(11 * 60_000 + 1, 16.0);
        autoscaler.observe(12 * 60_000, 16.0);
        assert_eq!(autoscaler.decide(12 * 60_000, 4), 4);
        assert_eq!(autoscaler.decide(12 * 60_000 + 600_000, 4), 4);
    }
}
