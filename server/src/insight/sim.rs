//! A deployment simulated second by second, in accelerated time: requests arrive (a seeded
//! Poisson process shaped by a scenario), wait for a free slot, take a load-dependent time, and
//! the shared [`Autoscaler`] adds replicas (which pay a cold start) and removes them. The result
//! is observed on a grid exactly as the store would observe a real deployment, so the diagnosis
//! reads simulated and recorded deployments the same way.
//!
//! Scenario presets reproduce the autoscaling troubles the diagnosis names; the labelled
//! evaluation (`server/examples/autoscale_eval.rs`) runs each with several seeds.

use std::collections::VecDeque;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::Observed;
use crate::autoscale::{Autoscaler, AutoscalerSettings};

/// A scenario: traffic, model and autoscaler settings.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Its name (a preset's CLI name).
    pub name: &'static str,
    /// The autoscaler's settings.
    pub settings: AutoscalerSettings,
    /// Cold start of a new replica.
    pub cold_start: Duration,
    /// Requests one replica runs at once at most; more wait in the queue.
    pub max_concurrency: u32,
    /// Service time of a request alone on a replica, seconds.
    pub service_seconds: f64,
    /// Slow-down per other request on the same replica (0.1: +10 % each).
    pub contention: f64,
    /// Arrival rate, requests per second, at a time (seconds since the start).
    pub load: fn(f64) -> f64,
    /// Async requests arriving per second, and drained per second by the workers.
    pub async_in_out: (f64, f64),
    /// Replicas at the start.
    pub initial_replicas: u32,
}

/// The settings most presets share (the documented defaults with a concurrency target of 4).
const DEFAULTS: AutoscalerSettings = AutoscalerSettings {
    min_replicas: 1,
    max_replicas: 20,
    concurrency_target: 4.0,
    target_utilization: 0.7,
    window: Duration::from_secs(60),
    scale_down_delay: Duration::from_secs(900),
    max_scale_down_rate: 0.5,
};

const BASE: Scenario = Scenario {
    name: "steady",
    settings: DEFAULTS,
    cold_start: Duration::from_secs(30),
    max_concurrency: 8,
    service_seconds: 0.5,
    contention: 0.02,
    load: |_| 20.0,
    async_in_out: (0.0, 0.0),
    initial_replicas: 4,
};

/// Every preset, in the order the evaluation reports them.
pub const PRESETS: [Scenario; 7] = [
    BASE,
    // Short delay and window under periodic bursts: replicas come and go every few minutes.
    Scenario {
        name: "thrash-prone",
        settings: AutoscalerSettings {
            window: Duration::from_secs(10),
            scale_down_delay: Duration::from_secs(30),
            ..DEFAULTS
        },
        load: |t| if t % 150.0 < 60.0 { 40.0 } else { 6.0 },
        initial_replicas: 2,
        ..BASE
    },
    // Load needs about 11 replicas; the deployment may have 6 (of 5 slots each).
    Scenario {
        name: "under-capacity",
        settings: AutoscalerSettings {
            max_replicas: 6,
            ..DEFAULTS
        },
        max_concurrency: 5,
        load: |_| 60.0,
        initial_replicas: 6,
        ..BASE
    },
    // Every 50 minutes the load triples for 8 minutes; replicas take 3 minutes to start.
    Scenario {
        name: "cold-start-heavy",
        settings: AutoscalerSettings {
            min_replicas: 3,
            scale_down_delay: Duration::from_secs(600),
            ..DEFAULTS
        },
        cold_start: Duration::from_secs(180),
        load: |t| if t % 3000.0 < 480.0 { 45.0 } else { 15.0 },
        initial_replicas: 3,
        ..BASE
    },
    // A quick scale-down (60 s delay, all but one replica at once) before a second burst.
    Scenario {
        name: "bursty",
        settings: AutoscalerSettings {
            scale_down_delay: Duration::from_secs(60),
            max_scale_down_rate: 1.0,
            ..DEFAULTS
        },
        load: |t| {
            let phase = t % 2400.0;
            if phase < 180.0 || (420.0..600.0).contains(&phase) {
                40.0
            } else {
                2.0
            }
        },
        initial_replicas: 2,
        ..BASE
    },
    // The sync side is steady; async requests arrive faster than the workers drain them.
    Scenario {
        name: "async-backlog",
        async_in_out: (5.0, 3.5),
        ..BASE
    },
    // A concurrency target of 16 on a model that slows 15 % per extra request.
    Scenario {
        name: "high-concurrency-target",
        settings: AutoscalerSettings {
            concurrency_target: 16.0,
            ..DEFAULTS
        },
        max_concurrency: 24,
        contention: 0.15,
        load: |t| 24.0 + 8.0 * (t / 600.0).sin(),
        initial_replicas: 2,
        ..BASE
    },
];

/// A preset by name.
pub fn preset(name: &str) -> Option<Scenario> {
    PRESETS.into_iter().find(|scenario| scenario.name == name)
}

/// Samples a Poisson count with mean `mean` (Knuth for small means, normal beyond).
fn poisson(rng: &mut SmallRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        let normal: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
        return (mean + normal * mean.sqrt()).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut product = rng.random::<f64>();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

/// Most requests waiting in the simulated router's queue.
const MAX_QUEUE: usize = 5000;

struct Replica {
    ready_at: f64,
    /// Completion times of the requests it runs.
    running: Vec<(f64, f64)>,
}

/// Runs `scenario` for `duration` with `seed`; observes it on a grid of `step`.
pub fn simulate(scenario: &Scenario, seed: u64, duration: Duration, step: Duration) -> Observed {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut autoscaler = Autoscaler::new(scenario.settings);
    let cold = scenario.cold_start.as_secs_f64();
    let mut replicas: Vec<Replica> = (0..scenario.initial_replicas)
        .map(|_| Replica {
            ready_at: 0.0,
            running: Vec::new(),
        })
        .collect();
    // Arrival times of requests waiting for a slot.
    let mut queue: VecDeque<f64> = VecDeque::new();
    let mut async_queue = 0.0f64;
    let ticks_per_second = 10u64;
    let dt = 1.0 / ticks_per_second as f64;
    let ticks = duration.as_secs() * ticks_per_second;
    let step_ticks = step.as_secs().max(1) * ticks_per_second;
    let mut observed = Observed::new(0, step.as_millis() as i64);
    // Per grid step: sums for averages, latencies for the p99.
    let mut sums = [0.0f64; 5];
    let mut latencies: Vec<f64> = Vec::new();
    for tick in 0..ticks {
        let now = tick as f64 * dt;
        // Finish what is done.
        for replica in &mut replicas {
            replica.running.retain(|(done, arrived)| {
                if *done <= now {
                    latencies.push(done - arrived);
                    false
                } else {
                    true
                }
            });
        }
        // Arrivals, spread over the tick; a full queue turns requests away (as a router answers
        // 429/503).
        let arrivals = poisson(&mut rng, (scenario.load)(now) * dt);
        for _ in 0..arrivals {
            if queue.len() < MAX_QUEUE {
                queue.push_back(now + rng.random::<f64>() * dt);
            }
        }
        // Start queued requests on ready replicas, least busy first.
        while let Some(&arrived) = queue.front() {
            let free = replicas
                .iter_mut()
                .filter(|r| {
                    r.ready_at <= now && (r.running.len() as u32) < scenario.max_concurrency
                })
                .min_by_key(|r| r.running.len());
            let Some(replica) = free else { break };
            queue.pop_front();
            let others = replica.running.len() as f64;
            let noise = 0.75 + rng.random::<f64>() * 0.5;
            let service = scenario.service_seconds * (1.0 + scenario.contention * others) * noise;
            let start = now.max(arrived);
            replica.running.push((start + service, arrived));
        }
        // Async side.
        async_queue = (async_queue + poisson(&mut rng, scenario.async_in_out.0 * dt) as f64
            - scenario.async_in_out.1 * dt)
            .max(0.0);
        let in_progress: usize = replicas.iter().map(|r| r.running.len()).sum();
        // Once a second the autoscaler sees in-flight requests (in progress and queued), as the
        // router's does, and decides.
        if tick % ticks_per_second == 0 {
            let in_flight = (in_progress + queue.len()) as f64;
            let now_ms = (now * 1000.0).round() as i64;
            autoscaler.observe(now_ms, in_flight);
            let current = replicas.len() as u32;
            let wanted = autoscaler.decide(now_ms, current);
            if wanted > current {
                for _ in current..wanted {
                    replicas.push(Replica {
                        ready_at: now + cold,
                        running: Vec::new(),
                    });
                }
            } else if wanted < current {
                // Remove starting replicas first, then the least busy; their requests go back
                // to the queue (as a router retries them).
                replicas.sort_by(|a, b| {
                    let starting = |r: &Replica| r.ready_at > now;
                    starting(b)
                        .cmp(&starting(a))
                        .then(a.running.len().cmp(&b.running.len()))
                });
                for replica in replicas.drain(..(current - wanted) as usize) {
                    for (_, arrived) in replica.running {
                        queue.push_front(arrived);
                    }
                }
            }
        }
        let active = replicas.iter().filter(|r| r.ready_at <= now).count() as f64;
        let starting = replicas.len() as f64 - active;
        for (sum, value) in sums.iter_mut().zip([
            active,
            starting,
            in_progress as f64,
            queue.len() as f64,
            async_queue,
        ]) {
            *sum += value;
        }
        if (tick + 1) % step_ticks == 0 {
            let n = step_ticks as f64;
            let p99 = percentile(&mut latencies, 0.99);
            observed.push([
                Some(sums[0] / n),
                Some(sums[1] / n),
                Some(sums[2] / n),
                Some(sums[3] / n),
                p99,
                Some(sums[4] / n),
            ]);
            sums = [0.0; 5];
            latencies.clear();
        }
    }
    observed
}

fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_reproducible_and_presets_behave_as_named() {
        let hour = Duration::from_secs(3600);
        let step = Duration::from_secs(10);
        let steady = preset("steady").expect("preset");
        let first = simulate(&steady, 1, hour, step);
        assert_eq!(first, simulate(&steady, 1, hour, step));
        assert_ne!(first, simulate(&steady, 2, hour, step));
        assert_eq!(first.active.len(), 360);
        // Steady: 20 req/s × ~0.5 s ≈ 10 in flight, 4 replicas, nothing queued for long.
        let mean = |line: &[Option<f64>]| {
            line.iter().flatten().sum::<f64>() / line.iter().flatten().count() as f64
        };
        assert!(
            (8.0..13.0).contains(&mean(&first.in_progress)),
            "{}",
            mean(&first.in_progress)
        );
        assert!(mean(&first.queued) < 0.5);
        // Under capacity: pinned at 6 replicas with a queue.
        let under = simulate(&preset("under-capacity").expect("preset"), 1, hour, step);
        assert!(under.active.iter().flatten().all(|&a| a <= 6.0));
        assert!(mean(&under.queued[60..]) > 5.0);
        // Async backlog grows.
        let backlog = simulate(&preset("async-backlog").expect("preset"), 1, hour, step);
        let last = backlog.async_queue.last().copied().flatten().unwrap_or(0.0);
        assert!(last > 3000.0, "{last}");
    }
}
