//! The labelled evaluation of the autoscaling diagnosis: every scenario preset, several seeded
//! runs in accelerated time (two simulated hours each, observed on a 10 s grid), diagnosed; each
//! preset is labelled with the finding it is built to produce (steady: none). Prints one line per
//! finding, as kept in docs/AUTOSCALING.md:
//!
//!   finding=<name> precision=<0..1> recall=<0..1> runs=<n>
//!
//!   cargo run --release -p server --example autoscale_eval -- [seeds per preset]   (default 20)
#![allow(clippy::print_stdout)] // a command-line tool that reports on stdout

use std::collections::BTreeMap;
use std::time::Duration;

use server::insight::sim::{PRESETS, simulate};
use server::insight::{FindingKind, diagnose};

fn label(preset: &str) -> Option<FindingKind> {
    match preset {
        "thrash-prone" => Some(FindingKind::Thrash),
        "under-capacity" => Some(FindingKind::InsufficientCapacity),
        "cold-start-heavy" => Some(FindingKind::ColdStarts),
        "bursty" => Some(FindingKind::ScaleDownTooQuick),
        "async-backlog" => Some(FindingKind::AsyncQueueGrowing),
        "high-concurrency-target" => Some(FindingKind::ConcurrencyTargetTooHigh),
        _ => None,
    }
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    // Per finding: (true positives, false positives, false negatives, labelled runs).
    let mut tally: BTreeMap<FindingKind, (u32, u32, u32, u32)> = BTreeMap::new();
    let mut runs = 0;
    for scenario in PRESETS {
        let expected = label(scenario.name);
        for seed in 1..=seeds {
            runs += 1;
            let observed = simulate(
                &scenario,
                seed,
                Duration::from_secs(7200),
                Duration::from_secs(10),
            );
            let found: Vec<FindingKind> = diagnose(&observed, &scenario.settings)
                .into_iter()
                .map(|finding| finding.kind)
                .collect();
            for kind in FindingKind::ALL {
                let entry = tally.entry(kind).or_default();
                let labelled = expected == Some(kind);
                let seen = found.contains(&kind);
                match (labelled, seen) {
                    (true, true) => entry.0 += 1,
                    (false, true) => entry.1 += 1,
                    (true, false) => entry.2 += 1,
                    (false, false) => {}
                }
                if labelled {
                    entry.3 += 1;
                }
            }
            if std::env::var_os("VERBOSE").is_some() {
                let names: Vec<&str> = found.iter().map(|k| k.name()).collect();
                eprintln!("{} seed {seed}: {}", scenario.name, names.join(","));
            }
        }
    }
    eprintln!(
        "{} presets × {seeds} seeds = {runs} runs of 2 simulated hours",
        PRESETS.len()
    );
    for kind in FindingKind::ALL {
        let (tp, fp, fn_, labelled) = tally.get(&kind).copied().unwrap_or_default();
        let precision = if tp + fp == 0 {
            0.0
        } else {
            f64::from(tp) / f64::from(tp + fp)
        };
        let recall = if tp + fn_ == 0 {
            0.0
        } else {
            f64::from(tp) / f64::from(tp + fn_)
        };
        println!(
            "finding={} precision={precision:.2} recall={recall:.2} runs={labelled}",
            kind.name()
        );
    }
}
