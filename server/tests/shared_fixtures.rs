//! Real `/metrics` pages from model servers and GPU exporters, read from `../shared/fixtures/`
//! beside the clone (they are others' data and are not copied into the repository).
//!
//! Without `../shared` this suite says so and checks nothing; CI sets
//! `INFERSCOPE_REQUIRE_SHARED=1`, which turns a missing directory into a failure.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

use std::path::{Path, PathBuf};

use server::ingest::exposition::{Event, Format, Parser};
use server::ingest::{IngestLimits, Ingestor};

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("INFERSCOPE_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    if dir.join("fixtures/exporters").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("INFERSCOPE_REQUIRE_SHARED").as_deref() != Ok("1"),
        "INFERSCOPE_REQUIRE_SHARED=1 but {} has no fixtures/exporters",
        dir.display()
    );
    eprintln!(
        "shared fixtures not found at {}: this suite checks nothing here",
        dir.display()
    );
    None
}

fn pages(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.join("fixtures/exporters")];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("readable fixture directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "prom") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_real_exporter_page_parses_completely() {
    let Some(dir) = shared_dir() else {
        return;
    };
    let pages = pages(&dir);
    assert!(
        pages.len() >= 10,
        "expected the fixture pages, found {}",
        pages.len()
    );
    for path in pages {
        let text = std::fs::read_to_string(&path).expect("UTF-8 page");
        let sample_lines = text
            .lines()
            .map(str::trim_start)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .count();
        let mut samples = 0;
        for event in Parser::new(&text) {
            match event {
                Ok(Event::Sample(_)) => samples += 1,
                Ok(_) => {}
                Err(error) => panic!("{}: {error}", path.display()),
            }
        }
        assert_eq!(
            samples,
            sample_lines,
            "{}: every sample line",
            path.display()
        );
        // The same page twice through ingest (the second time as a next scrape) is accepted.
        let mut ingestor = Ingestor::new();
        let limits = IngestLimits::GENEROUS;
        for _ in 0..2 {
            let output = ingestor
                .ingest(&text, Format::Prometheus, limits, 0)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            assert_eq!(output.samples, sample_lines);
        }
    }
}
