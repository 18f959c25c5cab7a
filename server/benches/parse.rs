//! Exposition parsing speed: inferscope's parser against the Rust crates `prom_text_format_parser`,
//! `prometheus-parse` and `openmetrics-parser`, on the same pages in the same run.
//!
//! Pages: one the project makes (a demo router's page plus varied families), and, when
//! `../shared/fixtures/exporters/` is beside the clone, Prometheus's all-types page and a real
//! vLLM page. Run with `scripts/bench-parse.sh`, which also prints MiB/s, samples/s and ratios
//! from criterion's medians.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stdout)] // a bench reports

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use server::demo::metrics::{Histogram, StatusCounter, geometric_bounds, render_gauge};
use server::ingest::exposition::{Event, Format, Parser};

/// A page of the project's own making: a demo router's histograms and counters plus gauges
/// with labels (some escaped) and a summary.
fn own_page() -> String {
    let mut page = String::new();
    let latency = Histogram::new(geometric_bounds(0.001, 120.0, 1.05));
    let sizes = Histogram::new(geometric_bounds(16.0, 16.0 * 1024.0 * 1024.0, 1.05));
    for i in 0..5000 {
        latency.observe(0.002 * f64::from(i % 997 + 1));
        sizes.observe(64.0 * f64::from(i % 431 + 1));
    }
    latency.render(
        "inferscope_end_to_end_response_time_seconds",
        "End-to-end time.",
        &mut page,
    );
    sizes.render(
        "inferscope_response_size_bytes",
        "Response size.",
        &mut page,
    );
    let requests = StatusCounter::default();
    for status in [200, 200, 200, 400, 422, 429, 500, 503] {
        requests.record(status);
    }
    requests.render(
        "inferscope_inference_requests_total",
        "Requests.",
        &mut page,
    );
    for replica in 0..40 {
        let labels = format!(
            "replica=\"chat-llm-{replica}\",zone=\"eu \\\"west\\\" 1\",gpu=\"{}\"",
            replica % 8
        );
        render_gauge(
            "inferscope_gpu_utilization_ratio",
            "GPU use.",
            &[(&labels, f64::from(replica) / 40.0)],
            &mut page,
        );
    }
    page.push_str("# TYPE rpc_duration_seconds summary\n");
    for (q, value) in [("0.5", "0.0123"), ("0.9", "0.0456"), ("0.99", "1.5e-1")] {
        page.push_str(&format!(
            "rpc_duration_seconds{{quantile=\"{q}\"}} {value}\n"
        ));
    }
    page.push_str("rpc_duration_seconds_sum 1.7560473e+07\nrpc_duration_seconds_count 2693\n");
    page
}

fn shared_page(relative: &str) -> Option<(String, String)> {
    let dir = std::env::var_os("INFERSCOPE_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let path = dir.join("fixtures/exporters").join(relative);
    let text = std::fs::read_to_string(&path).ok()?;
    let name = Path::new(relative)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(relative)
        .to_owned();
    Some((name, text))
}

fn inferscope(text: &str) -> usize {
    let mut samples = 0;
    for event in Parser::with_format(text, Format::Prometheus) {
        if let Ok(Event::Sample(sample)) = event {
            black_box(sample.value);
            black_box(sample.labels.raw());
            samples += 1;
        }
    }
    samples
}

fn prom_text_format_parser(text: &str) -> usize {
    match prom_text_format_parser::Scrape::parse(text) {
        Ok(scrape) => scrape.metrics.iter().map(|m| m.samples.len()).sum(),
        Err(_) => 0,
    }
}

fn prometheus_parse(text: &str) -> usize {
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    prometheus_parse::Scrape::parse(lines).map_or(0, |scrape| scrape.samples.len())
}

/// Sample lines the crate returned (a histogram counts its buckets, sum and count).
fn openmetrics_parser(text: &str) -> usize {
    use openmetrics_parser::PrometheusValue;
    let Ok(exposition) = openmetrics_parser::prometheus::parse_prometheus(text) else {
        return 0;
    };
    exposition
        .families
        .values()
        .flat_map(|family| family.iter_samples())
        .map(|sample| match &sample.value {
            PrometheusValue::Histogram(h) => {
                h.buckets.len() + usize::from(h.sum.is_some()) + usize::from(h.count.is_some())
            }
            PrometheusValue::Summary(s) => {
                s.quantiles.len() + usize::from(s.sum.is_some()) + usize::from(s.count.is_some())
            }
            _ => 1,
        })
        .sum()
}

type ParseFn = fn(&str) -> usize;

const PARSERS: [(&str, ParseFn); 4] = [
    ("inferscope", inferscope),
    ("prom_text_format_parser", prom_text_format_parser),
    ("prometheus-parse", prometheus_parse),
    ("openmetrics-parser", openmetrics_parser),
];

fn bench(c: &mut Criterion) {
    let mut pages = vec![("inferscope-own".to_owned(), own_page())];
    for relative in [
        "prometheus/prometheus-alltypes-237mfs.prom",
        "vllm/datadog-vllm-metrics.prom",
    ] {
        match shared_page(relative) {
            Some(page) => pages.push(page),
            None => println!("bench: {relative} not found beside the clone; skipped"),
        }
    }
    for (name, text) in &pages {
        let lines = text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .count();
        // What each parser returns, once, outside the timing (written for the summary script).
        for (parser, parse) in PARSERS {
            println!(
                "bench-samples page={name} parser={parser} samples={} sample_lines={lines} bytes={}",
                parse(text),
                text.len()
            );
        }
        let mut group = c.benchmark_group(name.as_str());
        group.throughput(Throughput::Bytes(text.len() as u64));
        for (parser, parse) in PARSERS {
            group.bench_function(parser, |b| b.iter(|| parse(black_box(text))));
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
