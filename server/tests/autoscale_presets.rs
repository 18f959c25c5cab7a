//! Every scenario preset, simulated for two hours with seeds outside those the evaluation
//! reports, yields exactly the finding it is built to produce (steady: none), each with evidence
//! inside the run and a fix in numbers.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::time::Duration;

use server::insight::sim::{PRESETS, simulate};
use server::insight::{FindingKind, diagnose};

#[test]
fn each_preset_yields_its_finding_and_steady_none() {
    let expected = [
        ("steady", None),
        ("thrash-prone", Some(FindingKind::Thrash)),
        ("under-capacity", Some(FindingKind::InsufficientCapacity)),
        ("cold-start-heavy", Some(FindingKind::ColdStarts)),
        ("bursty", Some(FindingKind::ScaleDownTooQuick)),
        ("async-backlog", Some(FindingKind::AsyncQueueGrowing)),
        (
            "high-concurrency-target",
            Some(FindingKind::ConcurrencyTargetTooHigh),
        ),
    ];
    assert_eq!(expected.len(), PRESETS.len());
    for (name, label) in expected {
        let scenario = PRESETS.iter().find(|s| s.name == name).expect("preset");
        for seed in [1001, 1002] {
            let observed = simulate(
                scenario,
                seed,
                Duration::from_secs(7200),
                Duration::from_secs(10),
            );
            let found = diagnose(&observed, &scenario.settings);
            let kinds: Vec<FindingKind> = found.iter().map(|f| f.kind).collect();
            assert_eq!(
                kinds,
                label.into_iter().collect::<Vec<_>>(),
                "{name} seed {seed}: {found:#?}"
            );
            for finding in found {
                assert!(!finding.evidence.is_empty());
                for (from, to) in &finding.evidence {
                    assert!(
                        0 <= *from && from < to && *to <= 7_200_000,
                        "{name}: {from}..{to}"
                    );
                }
                assert!(finding.fix.contains('→'), "{name}: {}", finding.fix);
            }
        }
    }
}
