//! Every engine's page through ingest, checked against expectations written from the page.
//!
//! Each page is read twice: as it is (the baseline), then with every counter, histogram bucket,
//! sum and count advanced by 10, as if ten more requests had happened. The second read's
//! observations are written as text and compared with `tests/snapshots/<page>.snap`, which were
//! reviewed line by line against the page (units, details, which family wins). The project's
//! own small pages (`tests/pages/`) always run; the real pages in `../shared/fixtures/exporters/`
//! run when present (CI requires them).
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p server --test adapters` rewrites the snapshots; review the
//! diff before committing it.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use server::ingest::exposition::{Event, Format, MetricType, Parser};
use server::ingest::{IngestLimits, Ingestor};
use server::model::Value;

/// The page with every counter-like sample advanced by 10.
fn advanced(page: &str) -> String {
    let mut types: BTreeMap<&str, MetricType> = BTreeMap::new();
    for event in Parser::new(page).flatten() {
        if let Event::Type {
            family,
            metric_type,
        } = event
        {
            types.insert(family, metric_type);
        }
    }
    let counter_like = |name: &str| {
        if types.get(name) == Some(&MetricType::Counter) {
            return true;
        }
        let base = |suffix: &str| name.strip_suffix(suffix).and_then(|b| types.get(b));
        matches!(
            base("_bucket").or(base("_count")).or(base("_sum")),
            Some(MetricType::Histogram)
        ) || matches!(base("_count").or(base("_sum")), Some(MetricType::Summary))
            || matches!(base("_total"), Some(MetricType::Counter))
    };
    let mut out = String::new();
    for line in page.lines() {
        let parsed = Parser::new(line).next();
        match parsed {
            Some(Ok(Event::Sample(sample))) if counter_like(sample.name) => {
                let labels = sample.labels.raw();
                if labels.is_empty() {
                    let _ = writeln!(out, "{} {}", sample.name, sample.value + 10.0);
                } else {
                    let _ = writeln!(out, "{}{{{labels}}} {}", sample.name, sample.value + 10.0);
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn render(page: &str) -> String {
    let mut ingestor = Ingestor::new();
    let limits = IngestLimits::GENEROUS;
    ingestor
        .ingest(page, Format::Prometheus, limits)
        .expect("the page parses");
    let output = ingestor
        .ingest(&advanced(page), Format::Prometheus, limits)
        .expect("the advanced page parses");
    let mut text = String::new();
    let engines: Vec<&str> = output.engines.iter().map(|e| e.name()).collect();
    let _ = writeln!(text, "# engines: {}", engines.join(", "));
    let _ = writeln!(
        text,
        "# samples: {}, not adapted (kept raw): {}",
        output.samples, output.unknown_samples
    );
    for observation in &output.observations {
        let detail = observation.detail.as_deref().unwrap_or("-");
        let value = match &observation.value {
            Value::Gauge(value) => format!("gauge {value}"),
            Value::Increment(value) => format!("increment {value}"),
            Value::Histogram(histogram) => {
                let buckets: Vec<String> = histogram
                    .buckets
                    .iter()
                    .map(|(index, count)| {
                        let bound = histogram
                            .bounds
                            .get(*index as usize)
                            .map_or("+Inf".to_owned(), |b| b.to_string());
                        format!("le {bound}: {count}")
                    })
                    .collect();
                format!(
                    "histogram count {} sum {} [{}] over {} bounds",
                    histogram.count,
                    histogram.sum,
                    buckets.join(", "),
                    histogram.bounds.len()
                )
            }
        };
        let _ = writeln!(text, "{:?} {detail} {value}", observation.signal);
    }
    text
}

fn check(name: &str, page: &str, failures: &mut Vec<String>) {
    let rendered = render(page);
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.snap"));
    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(&snapshot, &rendered).expect("write snapshot");
        return;
    }
    match std::fs::read_to_string(&snapshot) {
        Ok(expected) if expected == rendered => {}
        Ok(expected) => failures.push(format!(
            "{name}: observations differ from {}\n--- expected\n{expected}--- got\n{rendered}",
            snapshot.display()
        )),
        Err(_) => failures.push(format!("{name}: no snapshot at {}", snapshot.display())),
    }
}

#[test]
fn own_engine_pages_yield_the_expected_signals() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pages");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/pages")
        .map(|entry| entry.expect("entry").path())
        .collect();
    pages.sort();
    assert!(pages.len() >= 9);
    let mut failures = Vec::new();
    for path in pages {
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let page = std::fs::read_to_string(&path).expect("page");
        check(name, &page, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn real_exporter_pages_yield_the_expected_signals() {
    let shared = std::env::var_os("INFERSCOPE_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let dir = shared.join("fixtures/exporters");
    if !dir.is_dir() {
        assert!(
            std::env::var("INFERSCOPE_REQUIRE_SHARED").as_deref() != Ok("1"),
            "INFERSCOPE_REQUIRE_SHARED=1 but {} is missing",
            dir.display()
        );
        eprintln!(
            "{} not found: this suite checks nothing here",
            dir.display()
        );
        return;
    }
    let mut failures = Vec::new();
    let mut count = 0;
    for engine in std::fs::read_dir(&dir).expect("fixtures").flatten() {
        if !engine.path().is_dir() {
            continue;
        }
        for page in std::fs::read_dir(engine.path())
            .expect("engine dir")
            .flatten()
        {
            let path = page.path();
            if path.extension().is_none_or(|e| e != "prom") {
                continue;
            }
            let name = format!(
                "shared-{}",
                path.file_stem().and_then(|s| s.to_str()).expect("name")
            );
            let text = std::fs::read_to_string(&path).expect("page");
            check(&name, &text, &mut failures);
            count += 1;
        }
    }
    assert!(count >= 14, "expected the fixture pages, found {count}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
