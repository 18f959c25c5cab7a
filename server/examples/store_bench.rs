//! Store benchmark at fleet scale, on synthetic series: `replicas` replicas × 100 series each
//! (6 histograms with 20 buckets, 40 counters, 52 gauges, plus the store's own `up` and scrape
//! duration), seven days deep.
//!
//! Feeding seven days of one-second scrapes would take hours, so the fill follows what each
//! part of the store keeps: days 7 to 2 at one point per five minutes (only the five-minute
//! rollup keeps them), the last 25 hours at one point per minute (the one-minute rollup), and
//! the last 65 minutes at one point per second (raw points, timed as the ingest rate). Each
//! rollup step then holds what it would hold after real one-second scrapes: one merged point.
//!
//! Prints resident memory after the fill, the ingest rate of the one-second phase, and the
//! median time to answer 7-day views (one deployment; the whole fleet).
//!
//!   cargo run --release -p server --example store_bench -- [replicas]   (default 1000)
#![allow(clippy::print_stdout, clippy::expect_used)] // a command-line tool that reports

use std::sync::Arc;
use std::time::Instant;

use app::wire::{Filter, TimeRange};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use server::model::{HistogramIncrement, Observation, RawSamples, Signal, TargetLabels, Value};
use server::query::{QuerySettings, view};
use server::store::{ScrapeReport, ScrapeSuccess, Store, StoreLimits};

const DEPLOYMENTS: usize = 10;
const HISTOGRAMS: [Signal; 6] = [
    Signal::EndToEndSeconds,
    Signal::InferenceSeconds,
    Signal::TimeToFirstByteSeconds,
    Signal::RequestSizeBytes,
    Signal::ResponseSizeBytes,
    Signal::AsyncQueueSeconds,
];
const GAUGES: [Signal; 4] = [
    Signal::GpuUtilization,
    Signal::GpuMemoryUsedBytes,
    Signal::GpuMemoryTotalBytes,
    Signal::ConcurrentRequests,
];
const RAW_RETENTION_MS: i64 = 65 * 60 * 1000;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// One replica's series and its random state.
struct Replica {
    target: TargetLabels,
    rng: SmallRng,
    gauge_levels: Vec<f64>,
}

struct Shapes {
    bounds: Arc<[f64]>,
    details: Vec<Arc<str>>,
}

/// One scrape's observations for a replica covering `seconds` of traffic.
fn observations(replica: &mut Replica, shapes: &Shapes, seconds: f64) -> Vec<Observation> {
    let rng = &mut replica.rng;
    let mut out = Vec::with_capacity(98);
    let rate = 3.0 * seconds;
    for signal in HISTOGRAMS {
        // About `rate` observations over a handful of neighbouring buckets.
        let centre = rng.random_range(6..14u32);
        let mut buckets = Vec::new();
        let mut count = 0.0;
        for offset in 0..5u32 {
            let n =
                (rate * [0.1, 0.25, 0.3, 0.25, 0.1][offset as usize] * rng.random_range(0.5..1.5))
                    .round();
            if n > 0.0 {
                buckets.push((centre + offset - 2, n));
                count += n;
            }
        }
        out.push(Observation {
            signal,
            detail: None,
            model: None,
            value: Value::Histogram(HistogramIncrement {
                bounds: shapes.bounds.clone(),
                buckets,
                sum: count * rng.random_range(0.1..2.0),
                count,
            }),
        });
    }
    for index in 0..39 {
        let increment = (rate * rng.random_range(0.0..2.0) / (1 + index) as f64).round();
        out.push(Observation {
            signal: Signal::Requests,
            detail: Some(shapes.details[index].clone()),
            model: None,
            value: Value::Increment(increment),
        });
    }
    out.push(Observation {
        signal: Signal::CpuSeconds,
        detail: None,
        model: None,
        value: Value::Increment(seconds * rng.random_range(0.5..2.5)),
    });
    for (index, level) in replica.gauge_levels.iter_mut().enumerate() {
        let signal = GAUGES[index % GAUGES.len()];
        let value = match signal {
            // Totals do not move.
            Signal::GpuMemoryTotalBytes => *level,
            // Byte counts move by whole MiB.
            Signal::GpuMemoryUsedBytes => {
                *level = (*level + rng.random_range(-64.0..64.0f64).round() * 1_048_576.0)
                    .clamp(0.0, 80e9);
                *level
            }
            // Ratios and request counts wander.
            _ => {
                *level = (*level * rng.random_range(0.9..1.1)).clamp(0.0, 1e6);
                *level
            }
        };
        out.push(Observation {
            signal,
            detail: Some(shapes.details[index].clone()),
            model: None,
            value: Value::Gauge(value),
        });
    }
    out
}

fn report(replica: &Replica, at_ms: i64, observations: Vec<Observation>) -> ScrapeReport {
    ScrapeReport {
        url: String::new(),
        target: replica.target.clone(),
        at_ms,
        duration_seconds: 0.01,
        outcome: Ok(ScrapeSuccess {
            samples: observations.len() as u64,
            observations,
            raw: RawSamples::default(),
            engines: Vec::new(),
            lookalikes: Vec::new(),
            // Scrapes a second apart (the bench's scrape interval).
            covered_seconds: Some(1.0),
        }),
    }
}

fn main() {
    let replicas: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(1000);
    let start_rss = rss_bytes();
    let shapes = Shapes {
        bounds: Arc::from((0..20).map(|i| 0.005 * 1.6f64.powi(i)).collect::<Vec<_>>()),
        details: (0..52).map(|i| Arc::from(format!("{}", 200 + i))).collect(),
    };
    let mut fleet: Vec<Replica> = (0..replicas)
        .map(|index| {
            let mut rng = SmallRng::seed_from_u64(index as u64);
            let gauge_levels = (0..52).map(|_| rng.random_range(1.0..1000.0)).collect();
            Replica {
                target: TargetLabels::exporter(
                    "production",
                    &format!("model-{}", index % DEPLOYMENTS),
                    &format!("replica-{index}"),
                ),
                rng,
                gauge_levels,
            }
        })
        .collect();
    let mut store = Store::new(StoreLimits {
        retention_ms: RAW_RETENTION_MS,
        max_points_per_series: 2 * 3900 + 16,
        max_series: replicas * 110,
    });
    let now_ms: i64 = 1_800_000_000_000;
    let week_ago = now_ms - 7 * 86_400_000;
    let phases = [
        // (from, to, step): the five-minute rollup's days, the one-minute rollup's day, raw.
        (week_ago, now_ms - 25 * 3_600_000, 300_000),
        (now_ms - 25 * 3_600_000, now_ms - RAW_RETENTION_MS, 60_000),
        (now_ms - RAW_RETENTION_MS, now_ms, 1000),
    ];
    let mut raw_samples = 0u64;
    let mut raw_seconds = 0.0;
    for (phase, (from, to, step)) in phases.into_iter().enumerate() {
        let started = Instant::now();
        let mut samples = 0u64;
        let mut at = from;
        while at < to {
            for replica in &mut fleet {
                let observations = observations(replica, &shapes, step as f64 / 1000.0);
                samples += observations.len() as u64 + 2;
                store.apply(report(replica, at, observations));
            }
            store.expire(at);
            at += step;
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "store-bench phase={phase} step_ms={step} samples={samples} seconds={seconds:.1} rate={:.0}",
            samples as f64 / seconds
        );
        if step == 1000 {
            raw_samples = samples;
            raw_seconds = seconds;
        }
    }
    let rss = rss_bytes();
    let series = store.series_count();
    println!(
        "store-bench replicas={replicas} series={series} rss_bytes={rss} rss_gib={:.2} baseline_rss_bytes={start_rss} bytes_per_series={:.0}",
        rss as f64 / (1u64 << 30) as f64,
        (rss - start_rss) as f64 / series.max(1) as f64
    );
    println!(
        "store-bench ingest_samples_per_second={:.0} (one core, {raw_samples} samples in {raw_seconds:.1} s)",
        raw_samples as f64 / raw_seconds
    );
    let settings = QuerySettings {
        no_gpu_driver: false,
        scrape_interval_ms: 1000,
        raw_retention_ms: RAW_RETENTION_MS,
    };
    for (name, deployment) in [("one_deployment", Some("model-3")), ("whole_fleet", None)] {
        let filter = Filter {
            environment: Some("production".into()),
            deployment: deployment.map(str::to_owned),
            range: TimeRange::Last7d,
            ..Filter::default()
        };
        let mut times = Vec::new();
        let mut points = 0;
        for _ in 0..7 {
            let started = Instant::now();
            let answer = view(&store, &filter, now_ms, settings);
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            points = answer
                .panels
                .iter()
                .flat_map(|panel| &panel.series)
                .map(|series| series.points.iter().filter(|p| p.1.is_some()).count())
                .sum();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "store-bench query=7d_{name} median_ms={:.1} min_ms={:.1} max_ms={:.1} points_with_values={points}",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
}
