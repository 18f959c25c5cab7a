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

impl AutoscalerSettings {
    /// The documented defaults (a 60 s window, a 900 s scale-down delay, at most half the
    /// replicas removed per step). No maximum is known: 1,000.
    pub const DEFAULTS: AutoscalerSettings = AutoscalerSettings {
        min_replicas: 1,
        max_replicas: 1000,
        concurrency_target: 4.0,
        target_utilization: 0.7,
        window: Duration::from_secs(60),
        scale_down_delay: Duration::from_secs(900),
        max_scale_down_rate: 0.5,
    };

    /// Every duration divided by `speed` (a demo or test running faster than real time).
    pub fn accelerated(mut self, speed: f64) -> AutoscalerSettings {
        self.window = self.window.div_f64(speed);
        self.scale_down_delay = self.scale_down_delay.div_f64(speed);
        self
    }
}

/// Settings given one by one (a config table, an exporter's gauges, a request): each present
/// field replaces the setting it names.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Fewest replicas.
    pub min_replicas: Option<u32>,
    /// Most replicas.
    pub max_replicas: Option<u32>,
    /// Requests one replica should handle at once.
    pub concurrency_target: Option<f64>,
    /// Fraction of the concurrency target to aim for.
    pub target_utilization: Option<f64>,
    /// Autoscaling window.
    pub window: Option<Duration>,
    /// Scale-down delay.
    pub scale_down_delay: Option<Duration>,
    /// Largest fraction removed per step.
    pub max_scale_down_rate: Option<f64>,
}

impl Overrides {
    /// Whether no setting is given.
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// These settings, and where one is absent, `below`'s.
    pub fn over(&self, below: &Overrides) -> Overrides {
        Overrides {
            min_replicas: self.min_replicas.or(below.min_replicas),
            max_replicas: self.max_replicas.or(below.max_replicas),
            concurrency_target: self.concurrency_target.or(below.concurrency_target),
            target_utilization: self.target_utilization.or(below.target_utilization),
            window: self.window.or(below.window),
            scale_down_delay: self.scale_down_delay.or(below.scale_down_delay),
            max_scale_down_rate: self.max_scale_down_rate.or(below.max_scale_down_rate),
        }
    }

    /// Whether every setting is given.
    pub fn is_complete(&self) -> bool {
        self.min_replicas.is_some()
            && self.max_replicas.is_some()
            && self.concurrency_target.is_some()
            && self.target_utilization.is_some()
            && self.window.is_some()
            && self.scale_down_delay.is_some()
            && self.max_scale_down_rate.is_some()
    }

    /// `base` with the given settings replaced.
    pub fn apply(&self, base: AutoscalerSettings) -> AutoscalerSettings {
        AutoscalerSettings {
            min_replicas: self.min_replicas.unwrap_or(base.min_replicas),
            max_replicas: self.max_replicas.unwrap_or(base.max_replicas),
            concurrency_target: self.concurrency_target.unwrap_or(base.concurrency_target),
            target_utilization: self.target_utilization.unwrap_or(base.target_utilization),
            window: self.window.unwrap_or(base.window),
            scale_down_delay: self.scale_down_delay.unwrap_or(base.scale_down_delay),
            max_scale_down_rate: self.max_scale_down_rate.unwrap_or(base.max_scale_down_rate),
        }
    }

    /// Sets the setting named `name` (as the `inferscope_autoscaler_setting` gauge's `setting`
    /// label names it) from `value`, when the name is known and the value in range.
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), String> {
        let whole = |value: f64| {
            (value.is_finite() && (0.0..=100_000.0).contains(&value) && value.fract() == 0.0)
                .then_some(value as u32)
        };
        let seconds = |value: f64| {
            (value.is_finite() && (0.0..=86_400.0).contains(&value))
                .then(|| Duration::from_secs_f64(value))
        };
        let ratio = |value: f64| (value > 0.0 && value <= 1.0).then_some(value);
        let ok = match name {
            "min_replicas" => whole(value).map(|v| self.min_replicas = Some(v)),
            "max_replicas" => whole(value)
                .filter(|v| *v >= 1)
                .map(|v| self.max_replicas = Some(v)),
            "concurrency_target" => (value.is_finite() && (0.01..=1e6).contains(&value))
                .then(|| self.concurrency_target = Some(value)),
            "target_utilization" => ratio(value)
                .filter(|v| *v >= 0.01)
                .map(|v| self.target_utilization = Some(v)),
            "window_seconds" => seconds(value)
                .filter(|d| !d.is_zero())
                .map(|v| self.window = Some(v)),
            "scale_down_delay_seconds" => seconds(value).map(|v| self.scale_down_delay = Some(v)),
            "max_scale_down_rate" => ratio(value)
                .filter(|v| *v >= 0.01)
                .map(|v| self.max_scale_down_rate = Some(v)),
            _ => return Err(format!("unknown autoscaler setting {name:?}")),
        };
        ok.ok_or_else(|| format!("autoscaler setting {name} = {value} is out of range"))
    }
}

/// The names [`Overrides::set`] knows, as exporters publish them.
pub const SETTING_NAMES: [&str; 7] = [
    "min_replicas",
    "max_replicas",
    "concurrency_target",
    "target_utilization",
    "window_seconds",
    "scale_down_delay_seconds",
    "max_scale_down_rate",
];

/// One deployment's autoscaler state.
#[derive(Clone, Debug)]
pub struct Autoscaler {
    settings: AutoscalerSettings,
    samples: VecDeque<(i64, f64)>,
    /// Sum of `samples`' loads, kept as they come and go (an average costs nothing per tick).
    sum: f64,
    below_since_ms: Option<i64>,
}

impl Autoscaler {
    /// A new autoscaler with no load observed.
    pub fn new(settings: AutoscalerSettings) -> Autoscaler {
        Autoscaler {
            settings,
            samples: VecDeque::new(),
            sum: 0.0,
            below_since_ms: None,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &AutoscalerSettings {
        &self.settings
    }

    /// Records the in-flight load seen at `now_ms`.
    pub fn observe(&mut self, now_ms: i64, in_flight: f64) {
        let in_flight = if in_flight.is_finite() {
            in_flight.max(0.0)
        } else {
            0.0
        };
        self.samples.push_back((now_ms, in_flight));
        self.sum += in_flight;
        let oldest = now_ms - self.settings.window.as_millis() as i64;
        while let Some((_, load)) = self
            .samples
            .front()
            .copied()
            .filter(|(time, _)| *time < oldest)
        {
            self.samples.pop_front();
            self.sum -= load;
        }
        if self.samples.is_empty() {
            self.sum = 0.0;
        }
    }

    /// Average load over the window.
    pub fn average_load(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        (self.sum / self.samples.len() as f64).max(0.0)
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

/// A recorded load replayed through the autoscaler: what it would have run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Replay {
    /// Replicas (active and starting) at each step, the step's mean.
    pub replicas: Vec<Option<f64>>,
    /// Replicas paying their cold start at each step, the step's mean.
    pub starting: Vec<Option<f64>>,
    /// Requests beyond what the active replicas take at once (`concurrency_target` each), the
    /// step's mean.
    pub queued: Vec<Option<f64>>,
    /// Replica-minutes used (active and starting).
    pub replica_minutes: f64,
    /// Request-seconds spent queued.
    pub queued_request_seconds: f64,
    /// Changes of the replica count.
    pub scale_events: usize,
}

/// Longest tick of a replay: a step of five minutes is replayed in 60 ticks of five seconds.
const REPLAY_TICK_MS: i64 = 5_000;

/// Most ticks one replay runs (a 7-day range at 5 s ticks is 120,960).
pub const MAX_REPLAY_TICKS: usize = 200_000;

/// Replays `load` (in-flight requests at each step of `step_ms`, starting at `start_ms`; a
/// missing step repeats the last known load) through an autoscaler with `settings`, starting
/// with `initial` replicas, each new replica taking `cold_start` to become active. A step is
/// replayed in ticks of at most five seconds.
pub fn replay(
    settings: AutoscalerSettings,
    cold_start: Duration,
    initial: u32,
    start_ms: i64,
    step_ms: i64,
    load: &[Option<f64>],
) -> Replay {
    let step_ms = step_ms.max(1);
    let ticks_per_step = ((step_ms + REPLAY_TICK_MS - 1) / REPLAY_TICK_MS).max(1);
    let ticks_per_step = ticks_per_step
        .min((MAX_REPLAY_TICKS / load.len().max(1)).max(1) as i64)
        .max(1);
    let tick_ms = step_ms / ticks_per_step;
    let cold_start_ms = cold_start.as_millis() as i64;
    let mut autoscaler = Autoscaler::new(settings);
    let clamp = |n: u32| {
        n.clamp(
            settings.min_replicas,
            settings.max_replicas.max(settings.min_replicas),
        )
    };
    // Replicas in batches of (ready at, how many), oldest first: the cost of a tick is the
    // batches still starting, whatever the count.
    let mut batches: VecDeque<(i64, u32)> = VecDeque::from([(start_ms, clamp(initial))]);
    let mut out = Replay::default();
    let mut last_load = None;
    // The last change: when, and which way. Changes one way within an autoscaling window of the
    // one before are one event.
    let mut last_change: Option<(i64, bool)> = None;
    let window_ms = settings.window.as_millis() as i64;
    for (index, value) in load.iter().enumerate() {
        if value.is_some() {
            last_load = *value;
        }
        let Some(in_flight) = last_load else {
            out.replicas.push(None);
            out.starting.push(None);
            out.queued.push(None);
            continue;
        };
        let (mut total, mut starting, mut queued) = (0.0, 0.0, 0.0);
        for tick in 0..ticks_per_step {
            let now = start_ms + index as i64 * step_ms + tick * tick_ms;
            autoscaler.observe(now, in_flight);
            let current: u32 = batches.iter().map(|(_, n)| n).sum();
            let desired = autoscaler.decide(now, current);
            if desired != current {
                let up = desired > current;
                // A ramp (the window's average climbing tick by tick) is one event.
                let same = last_change
                    .is_some_and(|(at, was_up)| was_up == up && now - at <= window_ms.max(step_ms));
                if !same {
                    out.scale_events += 1;
                }
                last_change = Some((now, up));
            }
            if desired > current {
                batches.push_back((now + cold_start_ms, desired - current));
            } else if desired < current {
                // The newest (starting) replicas go first.
                let mut remove = current - desired;
                while remove > 0 {
                    let Some(last) = batches.back_mut() else {
                        break;
                    };
                    let taken = last.1.min(remove);
                    last.1 -= taken;
                    remove -= taken;
                    if last.1 == 0 {
                        batches.pop_back();
                    }
                }
            }
            // Batches that are ready merge into the oldest.
            while batches.len() > 1 && batches[1].0 <= now {
                if let Some((_, n)) = batches.remove(1) {
                    batches[0].1 += n;
                }
            }
            let all: u32 = batches.iter().map(|(_, n)| n).sum();
            let active: u32 = batches
                .iter()
                .filter(|(ready, _)| *ready <= now)
                .map(|(_, n)| n)
                .sum();
            let (all, active) = (f64::from(all), f64::from(active));
            let waiting = (in_flight - active * settings.concurrency_target).max(0.0);
            total += all;
            starting += all - active;
            queued += waiting;
            out.replica_minutes += all * tick_ms as f64 / 60_000.0;
            out.queued_request_seconds += waiting * tick_ms as f64 / 1000.0;
        }
        let ticks = ticks_per_step as f64;
        out.replicas.push(Some(total / ticks));
        out.starting.push(Some(starting / ticks));
        out.queued.push(Some(queued / ticks));
    }
    out
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

    #[test]
    fn a_replay_scales_with_the_load_and_pays_the_cold_start() {
        // 10 s steps: 10 minutes at 2 in flight, 10 minutes at 16, 20 minutes at 2.
        let load: Vec<Option<f64>> = [
            vec![Some(2.0); 60],
            vec![Some(16.0); 60],
            vec![Some(2.0); 120],
        ]
        .concat();
        let settings = AutoscalerSettings {
            scale_down_delay: Duration::from_secs(300),
            ..settings()
        };
        let replay = replay(settings, Duration::from_secs(30), 1, 0, 10_000, &load);
        assert_eq!(replay.replicas.len(), load.len());
        assert_eq!(replay.replicas[59], Some(1.0));
        // The rise needs four replicas; they start at once and are active 30 s later, with
        // requests queued meanwhile.
        assert!(
            replay.replicas[70].unwrap() >= 4.0,
            "{:?}",
            &replay.replicas[60..75]
        );
        assert!(replay.queued[61].unwrap() > 0.0);
        assert_eq!(replay.queued[80], Some(0.0));
        // Five minutes after the load fell (plus the window), half go; then the rest.
        assert!(replay.replicas[125].unwrap() >= 4.0);
        assert_eq!(replay.replicas[239], Some(1.0));
        assert!(replay.scale_events >= 3);
        // A longer delay costs replica-minutes.
        let patient = super::replay(
            AutoscalerSettings {
                scale_down_delay: Duration::from_secs(900),
                ..settings
            },
            Duration::from_secs(30),
            1,
            0,
            10_000,
            &load,
        );
        assert!(patient.replica_minutes > replay.replica_minutes);
    }

    #[test]
    fn a_replay_of_a_huge_fleet_counts_batches_not_replicas() {
        // 100,000 replicas held for a day of 10 s steps: every tick costs the batches starting.
        let settings = AutoscalerSettings {
            min_replicas: 100_000,
            max_replicas: 100_000,
            ..settings()
        };
        let load = vec![Some(10.0); 8640];
        let replay = replay(settings, Duration::from_secs(30), 1, 0, 10_000, &load);
        assert_eq!(replay.replicas[8639], Some(100_000.0));
        assert_eq!(replay.scale_events, 0);
        assert!((replay.replica_minutes - 100_000.0 * 1440.0).abs() < 1.0);
    }

    #[test]
    fn a_rise_spread_over_ticks_is_one_scale_event() {
        // The window averages a step up in load over a minute: replicas rise tick by tick.
        let load: Vec<Option<f64>> = [vec![Some(1.0); 30], vec![Some(40.0); 30]].concat();
        let replay = replay(settings(), Duration::from_secs(0), 1, 0, 5_000, &load);
        assert_eq!(replay.replicas[59], Some(10.0));
        assert_eq!(replay.scale_events, 1);
    }

    #[test]
    fn overrides_replace_only_what_they_name_and_refuse_nonsense() {
        let mut overrides = Overrides::default();
        overrides.set("max_replicas", 6.0).unwrap();
        overrides.set("scale_down_delay_seconds", 60.0).unwrap();
        assert!(overrides.set("max_replicas", 2.5).is_err());
        assert!(overrides.set("target_utilization", 1.5).is_err());
        assert!(overrides.set("colour", 1.0).is_err());
        assert!(overrides.set("concurrency_target", 1e-300).is_err());
        assert!(overrides.set("target_utilization", 0.001).is_err());
        assert!(overrides.set("window_seconds", f64::NAN).is_err());
        // Layered: the upper layer wins where it gives a setting.
        let below = Overrides {
            max_replicas: Some(9),
            min_replicas: Some(2),
            ..Overrides::default()
        };
        let layered = overrides.over(&below);
        assert_eq!(layered.max_replicas, Some(6));
        assert_eq!(layered.min_replicas, Some(2));
        assert!(!layered.is_complete());
        let applied = overrides.apply(AutoscalerSettings::DEFAULTS);
        assert_eq!(applied.max_replicas, 6);
        assert_eq!(applied.scale_down_delay, Duration::from_secs(60));
        assert_eq!(applied.window, AutoscalerSettings::DEFAULTS.window);
    }
}
