//! A coverage-free fuzzer for the exposition parser and ingest, shared by the short property
//! test (`tests/parser_fuzz.rs`) and the long run (`examples/fuzz_parser.rs`).
//!
//! Inputs are arbitrary bytes and structured mutations of real pages (bit flips, inserted
//! syntax tokens, spliced lines, truncation). Each goes through the parser in both formats and
//! through ingest twice (so increments are computed). A panic is a failure, and so is memory
//! that grows faster than the input: the caller's counting allocator measures the peak.
#![allow(dead_code)] // each user calls part of it
#![allow(clippy::expect_used, clippy::unwrap_used)] // a fuzzer fails by panicking

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use server::ingest::exposition::{Event, Format, Parser};
use server::ingest::{IngestLimits, Ingestor};

/// Tokens worth inserting: the syntax the parser branches on.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "\"",
    "\\",
    ",",
    "=",
    " ",
    "\t",
    "\n",
    "\r\n",
    "#",
    "# EOF\n",
    "# TYPE a counter\n",
    "# TYPE a histogram\n",
    "# HELP a x\n",
    "# UNIT a_s s\n",
    "NaN",
    "+Inf",
    "-Inf",
    "1e308",
    "-0",
    "_total",
    "_bucket",
    "le=\"+Inf\"",
    "quantile=\"0.5\"",
    " # {a=\"b\"} 1",
    "\u{0}",
    "\u{2603}",
    "9999999999999999999999",
    "0.000000001",
];

/// Makes one input from the corpus.
pub fn input(rng: &mut SmallRng, corpus: &[String]) -> String {
    let strategy = rng.random_range(0..6);
    if strategy == 0 || corpus.is_empty() {
        let length = rng.random_range(0..512);
        let bytes: Vec<u8> = (0..length).map(|_| rng.random()).collect();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let base = &corpus[rng.random_range(0..corpus.len())];
    let mut bytes = base.as_bytes().to_vec();
    let edits = rng.random_range(1..8);
    for _ in 0..edits {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..6) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
            2 => {
                let end = (at + rng.random_range(0..64)).min(bytes.len());
                bytes.drain(at..end);
            }
            3 => bytes.truncate(at),
            4 => {
                let other = &corpus[rng.random_range(0..corpus.len())];
                let from = rng.random_range(0..other.len().max(1));
                let to = (from + rng.random_range(0..256)).min(other.len());
                bytes.splice(at..at, other.as_bytes()[from..to].iter().copied());
            }
            _ => {
                let start = bytes[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = bytes[at..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(bytes.len(), |i| at + i + 1);
                let line = bytes[start..end].to_vec();
                bytes.splice(end..end, line);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs one input through everything; returns the samples the parser produced.
pub fn exercise(text: &str) -> usize {
    let mut samples = 0;
    for format in [Format::Prometheus, Format::OpenMetrics] {
        for event in Parser::with_format(text, format) {
            match event {
                Ok(Event::Sample(sample)) => {
                    samples += 1;
                    for (name, value) in sample.labels.iter() {
                        std::hint::black_box((name, value));
                    }
                    std::hint::black_box(sample.labels.get("le"));
                }
                Ok(_) => {}
                Err(error) => {
                    std::hint::black_box(error.to_string());
                }
            }
        }
        let mut ingestor = Ingestor::new();
        for _ in 0..2 {
            let _outcome =
                std::hint::black_box(ingestor.ingest(text, format, IngestLimits::GENEROUS, 0));
        }
    }
    samples
}

/// Pages to mutate: the project's own examples, and the shared fixtures and conformance cases
/// when they are beside the clone.
pub fn corpus() -> Vec<String> {
    let mut pages = vec![
        "# HELP a help\n# TYPE a counter\na_total{x=\"1\",y=\"z\\\"q\"} 3 1700000000000\n".to_owned(),
        "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n# EOF\n".to_owned(),
        "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n# EOF\n".to_owned(),
        "inferscope_inference_requests_total{status_code=\"200\"} 10\ninferscope_replicas_active 2\n".to_owned(),
    ];
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let mut pending = vec![
        shared.join("fixtures/exporters"),
        shared.join("conformance/openmetrics"),
    ];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if (path.extension().is_some_and(|e| e == "prom")
                || path.file_name().is_some_and(|n| n == "metrics"))
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                pages.push(text);
            }
        }
    }
    pages
}

/// A seeded generator.
pub fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}
