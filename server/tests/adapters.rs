//! Every engine's page through ingest, checked against expectations written by hand from the
//! engines' own definitions (`tests/expectations/*.expect`, sources named in each file and in
//! docs/ENGINES.md) — never generated from inferscope's output.
//!
//! Each page is read twice: as it is (the baseline), then "advanced": every counter sample,
//! histogram bucket, sum and count grown by an amount of its own (distinct per series and per
//! bucket, so a swapped mapping or a bucket read at the wrong bound fails). An expectation file
//! lists, line by line, every observation the second read must yield and how its value follows
//! from the page, in a small language the test evaluates with its own reader of the text format
//! (not inferscope's parser):
//!
//! ```text
//! engines: process, vllm
//! Requests 200 = counter vllm:request_success_total{finished_reason=~"stop|length"}
//! EndToEndSeconds - = histogram vllm:e2e_request_latency_seconds
//! GpuMemoryTotalBytes 0 = gauge DCGM_FI_DEV_FB_USED{gpu="0"} * 1048576 + gauge DCGM_FI_DEV_FB_FREE{gpu="0"} * 1048576
//! KvCacheUsage - = max vllm:kv_cache_usage_perc
//! ```
//!
//! `<signal> <detail or -> [@<model>] = <terms>` (the model, where the engine labels the series
//! by model: `@meta-llama/Llama-3.1-8B`; none for a series of the whole replica); a term is `counter` (the growth of the matching series,
//! summed), `gauge` (their values, summed), `max` (the largest), or `histogram` (the matching
//! children's bucket growth merged; `* f` scales bounds and sum), with `* factor`, joined by
//! `+` and `-`. Matchers are PromQL's `=`, `!=`, `=~`, `!~` (anchored). The observations must be
//! exactly those listed: one more or one less fails.
//!
//! The project's own pages (`tests/pages/`) always run; the real pages of
//! `../shared/fixtures/exporters/` run when present (CI requires them) and are listed by name.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stdout)] // a test fails by panicking

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use server::ingest::exposition::Format;
use server::ingest::{IngestLimits, Ingestor};
use server::model::{HistogramIncrement, Value};

// ---- An independent reader of the text format: just what expectations need. ----

#[derive(Clone, Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    /// Byte range of the value in its line, to write an advanced copy.
    value_at: (usize, usize),
    line: usize,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn parse_value(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => f64::INFINITY,
        "-Inf" | "-inf" => f64::NEG_INFINITY,
        "NaN" | "nan" => f64::NAN,
        other => other
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {other:?}")),
    }
}

/// Samples and `# TYPE`s of a page.
fn read_page(page: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for (line_index, line) in page.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(family), Some(kind)) = (parts.next(), parts.next()) {
                types.insert(family.to_owned(), kind.to_owned());
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let offset = line.len() - trimmed.len();
        let bytes = trimmed.as_bytes();
        let name_end = trimmed
            .find(|c: char| c == '{' || c.is_whitespace())
            .unwrap_or(trimmed.len());
        let name = trimmed[..name_end].to_owned();
        let mut labels = Vec::new();
        let mut at = name_end;
        if bytes.get(at) == Some(&b'{') {
            at += 1;
            loop {
                while bytes.get(at).is_some_and(|b| *b == b' ' || *b == b',') {
                    at += 1;
                }
                if bytes.get(at) == Some(&b'}') {
                    at += 1;
                    break;
                }
                let eq = at + trimmed[at..].find('=').expect("label =");
                let key = trimmed[at..eq].trim().to_owned();
                at = eq + 1;
                assert_eq!(bytes[at], b'"', "line {}: quoted value", line_index + 1);
                at += 1;
                let mut value = String::new();
                loop {
                    match bytes[at] {
                        b'\\' => {
                            match bytes[at + 1] {
                                b'n' => value.push('\n'),
                                b'\\' => value.push('\\'),
                                b'"' => value.push('"'),
                                other => {
                                    value.push('\\');
                                    value.push(other as char);
                                }
                            }
                            at += 2;
                        }
                        b'"' => {
                            at += 1;
                            break;
                        }
                        _ => {
                            let c = trimmed[at..].chars().next().expect("char");
                            value.push(c);
                            at += c.len_utf8();
                        }
                    }
                }
                labels.push((key, value));
            }
        }
        let rest = &trimmed[at..];
        let start = at + (rest.len() - rest.trim_start().len());
        let end = start
            + trimmed[start..]
                .find(char::is_whitespace)
                .unwrap_or(trimmed.len() - start);
        samples.push(Sample {
            name,
            labels,
            value: parse_value(&trimmed[start..end]),
            value_at: (offset + start, offset + end),
            line: line_index,
        });
    }
    (samples, types)
}

/// How a sample grows between the two reads.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Growth {
    None,
    By(f64),
}

/// Growth for every counter-like sample: counters by `1 + 2i` (i-th counter series of the
/// page); histogram child `j`'s `k`-th bucket (ascending `le`) by `c + k` more than the bucket
/// below it, `c = 1 + 7j`, so its own increment is `c + k` (the `+Inf` bucket and `_count` get
/// the total, `_sum` grows by `0.5 + j`); summaries' `_count` by `3 + j` and `_sum` by
/// `0.25 (j + 1)`.
fn growth(samples: &[Sample], types: &BTreeMap<String, String>) -> Vec<Growth> {
    let type_of = |name: &str| types.get(name).map(String::as_str);
    let base_of = |name: &str, suffix: &str, kind: &str| {
        name.strip_suffix(suffix)
            .filter(|base| type_of(base) == Some(kind))
            .map(str::to_owned)
    };
    let child_key = |sample: &Sample, base: &str| {
        let mut labels: Vec<_> = sample.labels.iter().filter(|(k, _)| k != "le").collect();
        labels.sort();
        format!("{base}{labels:?}")
    };
    let mut children: BTreeMap<String, usize> = BTreeMap::new();
    let mut child_index = |key: String| {
        let next = children.len();
        *children.entry(key).or_insert(next)
    };
    // Buckets of each histogram child, by bound, to rank them.
    let mut bucket_bounds: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for sample in samples {
        if let Some(base) = base_of(&sample.name, "_bucket", "histogram") {
            let bound = parse_value(sample.label("le").unwrap_or("+Inf"));
            bucket_bounds
                .entry(child_key(sample, &base))
                .or_default()
                .push(bound);
        }
    }
    for bounds in bucket_bounds.values_mut() {
        bounds.sort_by(f64::total_cmp);
    }
    let mut counters = 0usize;
    samples
        .iter()
        .map(|sample| {
            let name = sample.name.as_str();
            if let Some(base) = base_of(name, "_bucket", "histogram") {
                let key = child_key(sample, &base);
                let j = child_index(key.clone()) as f64;
                let c = 1.0 + 7.0 * j;
                let bound = parse_value(sample.label("le").unwrap_or("+Inf"));
                let bounds = &bucket_bounds[&key];
                let k = bounds.iter().position(|b| *b == bound).expect("own bound");
                let finite = bounds.iter().filter(|b| b.is_finite()).count();
                let k = if bound.is_finite() { k } else { finite };
                // Σ_{i ≤ k} (c + i)
                return Growth::By((0..=k).map(|i| c + i as f64).sum());
            }
            if let Some(base) = base_of(name, "_count", "histogram") {
                let key = child_key(sample, &base);
                let j = child_index(key.clone()) as f64;
                let c = 1.0 + 7.0 * j;
                let finite = bucket_bounds
                    .get(&key)
                    .map_or(0, |b| b.iter().filter(|b| b.is_finite()).count());
                return Growth::By((0..=finite).map(|i| c + i as f64).sum());
            }
            if let Some(base) = base_of(name, "_sum", "histogram") {
                let j = child_index(child_key(sample, &base)) as f64;
                return Growth::By(0.5 + j);
            }
            if let Some(base) = base_of(name, "_count", "summary") {
                let j = child_index(child_key(sample, &base)) as f64;
                return Growth::By(3.0 + j);
            }
            if let Some(base) = base_of(name, "_sum", "summary") {
                let j = child_index(child_key(sample, &base)) as f64;
                return Growth::By(0.25 * (j + 1.0));
            }
            let counter =
                type_of(name) == Some("counter") || base_of(name, "_total", "counter").is_some();
            if counter && !name.ends_with("_created") {
                counters += 1;
                return Growth::By(1.0 + 2.0 * (counters - 1) as f64);
            }
            Growth::None
        })
        .collect()
}

/// The page with every sample grown as `growth` says.
fn advanced(page: &str, samples: &[Sample], growth: &[Growth]) -> (String, Vec<f64>) {
    let mut lines: Vec<String> = page.lines().map(str::to_owned).collect();
    let mut values = Vec::with_capacity(samples.len());
    // Replace from the right so earlier byte offsets stay valid (one value per line).
    for (sample, growth) in samples.iter().zip(growth) {
        let value = match growth {
            Growth::None => sample.value,
            Growth::By(by) => sample.value + by,
        };
        values.push(value);
        if let Growth::By(_) = growth {
            let line = &mut lines[sample.line];
            let (start, end) = sample.value_at;
            line.replace_range(start..end, &format!("{value:?}"));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    (text, values)
}

// ---- The expectation language. ----

#[derive(Clone, Debug)]
enum Matcher {
    Equal(String, String),
    NotEqual(String, String),
    Regex(String, Vec<String>),
    NotRegex(String, Vec<String>),
}

impl Matcher {
    fn matches(&self, sample: &Sample) -> bool {
        let value = |label: &str| sample.label(label).unwrap_or("");
        match self {
            Matcher::Equal(label, wanted) => value(label) == wanted,
            Matcher::NotEqual(label, wanted) => value(label) != wanted,
            Matcher::Regex(label, options) => options.iter().any(|o| o == value(label)),
            Matcher::NotRegex(label, options) => !options.iter().any(|o| o == value(label)),
        }
    }
}

#[derive(Clone, Debug)]
struct Selector {
    name: String,
    matchers: Vec<Matcher>,
}

impl Selector {
    /// `name{a="x",b=~"y|z"}`. Regexes are alternations of literal values (all the files use).
    fn parse(text: &str) -> Selector {
        let text = text.trim();
        let Some(open) = text.find('{') else {
            return Selector {
                name: text.to_owned(),
                matchers: Vec::new(),
            };
        };
        let name = text[..open].to_owned();
        let body = text[open + 1..].strip_suffix('}').expect("closing }");
        let mut matchers = Vec::new();
        let mut rest = body;
        while !rest.trim().is_empty() {
            let rest_trimmed = rest.trim_start_matches([' ', ',']);
            let op_at = rest_trimmed.find(['=', '!']).expect("a matcher operator");
            let label = rest_trimmed[..op_at].trim().to_owned();
            let after = &rest_trimmed[op_at..];
            let (op, after) = ["=~", "!~", "!=", "="]
                .iter()
                .find_map(|op| after.strip_prefix(op).map(|a| (*op, a)))
                .expect("operator");
            let after = after.trim_start().strip_prefix('"').expect("quoted value");
            let close = after.find('"').expect("closing quote");
            let value = after[..close].to_owned();
            rest = &after[close + 1..];
            let options = || value.split('|').map(str::to_owned).collect();
            matchers.push(match op {
                "=" => Matcher::Equal(label, value),
                "!=" => Matcher::NotEqual(label, value),
                "=~" => Matcher::Regex(label, options()),
                _ => Matcher::NotRegex(label, options()),
            });
        }
        Selector { name, matchers }
    }

    fn matches(&self, sample: &Sample, name: &str) -> bool {
        sample.name == name && self.matchers.iter().all(|m| m.matches(sample))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum TermKind {
    Counter,
    Gauge,
    Max,
    Histogram,
}

#[derive(Clone, Debug)]
struct Term {
    sign: f64,
    kind: TermKind,
    selector: Selector,
    factor: f64,
}

#[derive(Clone, Debug)]
struct Expectation {
    signal: String,
    detail: Option<String>,
    model: Option<String>,
    terms: Vec<Term>,
    line: usize,
}

struct Expectations {
    engines: Vec<String>,
    lines: Vec<Expectation>,
}

fn parse_expectations(text: &str, file: &Path) -> Expectations {
    let mut engines = None;
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(list) = line.strip_prefix("engines:") {
            engines = Some(
                list.split(',')
                    .map(|e| e.trim().to_owned())
                    .filter(|e| !e.is_empty())
                    .collect(),
            );
            continue;
        }
        let (head, body) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("{}:{}: `<signal> <detail> = …`", file.display(), index + 1));
        let mut head = head.split_whitespace();
        let signal = head.next().expect("signal").to_owned();
        let detail = head.next().expect("detail or -");
        let detail = (detail != "-").then(|| detail.to_owned());
        let model = head.next().map(|model| {
            model
                .strip_prefix('@')
                .unwrap_or_else(|| panic!("{}:{}: `@<model>`", file.display(), index + 1))
                .to_owned()
        });
        // Split into terms on top-level " + " / " - " (never inside braces).
        let mut terms = Vec::new();
        let mut sign = 1.0;
        let mut depth = 0;
        let mut start = 0;
        let bytes = body.as_bytes();
        let mut pieces = Vec::new();
        for (at, byte) in bytes.iter().enumerate() {
            match byte {
                b'{' => depth += 1,
                b'}' => depth -= 1,
                b'+' | b'-'
                    if depth == 0
                        && at > 0
                        && bytes[at - 1] == b' '
                        && bytes.get(at + 1) == Some(&b' ') =>
                {
                    pieces.push((sign, &body[start..at]));
                    sign = if *byte == b'+' { 1.0 } else { -1.0 };
                    start = at + 1;
                }
                _ => {}
            }
        }
        pieces.push((sign, &body[start..]));
        for (sign, piece) in pieces {
            let piece = piece.trim();
            let (kind, rest) = piece.split_once(' ').expect("kind and selector");
            let kind = match kind {
                "counter" => TermKind::Counter,
                "gauge" => TermKind::Gauge,
                "max" => TermKind::Max,
                "histogram" => TermKind::Histogram,
                other => panic!("{}:{}: unknown kind {other}", file.display(), index + 1),
            };
            let (selector, factor) = match rest.rsplit_once(" * ") {
                Some((selector, factor)) if !selector.contains('{') || selector.ends_with('}') => {
                    (selector, factor.trim().parse::<f64>().expect("factor"))
                }
                _ => (rest, 1.0),
            };
            terms.push(Term {
                sign,
                kind,
                selector: Selector::parse(selector),
                factor,
            });
        }
        lines.push(Expectation {
            signal,
            detail,
            model,
            terms,
            line: index + 1,
        });
    }
    Expectations {
        engines: engines.unwrap_or_else(|| panic!("{}: no `engines:` line", file.display())),
        lines,
    }
}

/// What an expectation's terms give for the two reads.
#[derive(Debug)]
enum Expected {
    Increment(f64),
    Gauge(f64),
    Histogram {
        bounds: Vec<f64>,
        buckets: Vec<(u32, f64)>,
        sum: f64,
        count: f64,
    },
}

fn evaluate(
    expectation: &Expectation,
    samples: &[Sample],
    before: &[f64],
    after: &[f64],
    types: &BTreeMap<String, String>,
) -> Expected {
    let mut total = 0.0;
    let mut kind_seen = None;
    for term in &expectation.terms {
        let selector = &term.selector;
        match term.kind {
            TermKind::Counter | TermKind::Gauge | TermKind::Max => {
                let mut value: Option<f64> = None;
                for (index, sample) in samples.iter().enumerate() {
                    if !selector.matches(sample, &selector.name) {
                        continue;
                    }
                    let reading = match term.kind {
                        TermKind::Counter => after[index] - before[index],
                        _ => after[index],
                    };
                    value = Some(match (term.kind, value) {
                        (TermKind::Max, Some(known)) => known.max(reading),
                        (_, Some(known)) => known + reading,
                        (_, None) => reading,
                    });
                }
                let value = value.unwrap_or_else(|| {
                    panic!(
                        "line {}: no sample matches {}",
                        expectation.line, selector.name
                    )
                });
                total += term.sign * value * term.factor;
                kind_seen = Some(term.kind);
            }
            TermKind::Histogram => {
                assert_eq!(expectation.terms.len(), 1, "a histogram term stands alone");
                assert_eq!(
                    types.get(&selector.name).map(String::as_str),
                    Some("histogram"),
                    "line {}: {} is not a histogram",
                    expectation.line,
                    selector.name
                );
                let bucket_name = format!("{}_bucket", selector.name);
                let sum_name = format!("{}_sum", selector.name);
                let count_name = format!("{}_count", selector.name);
                // Per child: cumulative growth by bound.
                let mut children: BTreeMap<String, BTreeMap<u64, f64>> = BTreeMap::new();
                let (mut sum, mut count) = (0.0, 0.0);
                for (index, sample) in samples.iter().enumerate() {
                    let grown = after[index] - before[index];
                    if selector.matches(sample, &bucket_name) {
                        let bound = parse_value(sample.label("le").expect("le")) * term.factor;
                        let mut key: Vec<_> =
                            sample.labels.iter().filter(|(k, _)| k != "le").collect();
                        key.sort();
                        children
                            .entry(format!("{key:?}"))
                            .or_default()
                            .insert(bound.to_bits(), grown);
                    } else if selector.matches(sample, &sum_name) {
                        sum += grown * term.factor;
                    } else if selector.matches(sample, &count_name) {
                        count += grown;
                    }
                }
                assert!(
                    !children.is_empty(),
                    "line {}: no buckets of {}",
                    expectation.line,
                    selector.name
                );
                let mut bounds: Option<Vec<f64>> = None;
                let mut merged: BTreeMap<u32, f64> = BTreeMap::new();
                for cumulative in children.values() {
                    let mut by_bound: Vec<(f64, f64)> = cumulative
                        .iter()
                        .map(|(bits, grown)| (f64::from_bits(*bits), *grown))
                        .collect();
                    by_bound.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let finite: Vec<f64> = by_bound
                        .iter()
                        .map(|(b, _)| *b)
                        .filter(|b| b.is_finite())
                        .collect();
                    match &bounds {
                        None => bounds = Some(finite.clone()),
                        Some(known) => assert_eq!(
                            known, &finite,
                            "line {}: children with other buckets",
                            expectation.line
                        ),
                    }
                    let mut below = 0.0;
                    for (index, (_, grown)) in by_bound.iter().enumerate() {
                        let own = grown - below;
                        below = *grown;
                        if own > 0.0 {
                            *merged.entry(index as u32).or_default() += own;
                        }
                    }
                }
                return Expected::Histogram {
                    bounds: bounds.unwrap_or_default(),
                    buckets: merged.into_iter().collect(),
                    sum,
                    count,
                };
            }
        }
    }
    match kind_seen {
        Some(TermKind::Counter) => Expected::Increment(total),
        _ => Expected::Gauge(total),
    }
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

fn check_value(got: &Value, want: &Expected) -> Result<(), String> {
    match (got, want) {
        (Value::Increment(g), Expected::Increment(w)) | (Value::Gauge(g), Expected::Gauge(w)) => {
            if close(*g, *w) {
                Ok(())
            } else {
                Err(format!("got {g}, expected {w}"))
            }
        }
        (
            Value::Histogram(HistogramIncrement {
                bounds,
                buckets,
                sum,
                count,
            }),
            Expected::Histogram {
                bounds: want_bounds,
                buckets: want_buckets,
                sum: want_sum,
                count: want_count,
            },
        ) => {
            let bounds_match = bounds.len() == want_bounds.len()
                && bounds.iter().zip(want_bounds).all(|(a, b)| close(*a, *b));
            let buckets_match = buckets.len() == want_buckets.len()
                && buckets
                    .iter()
                    .zip(want_buckets)
                    .all(|(a, b)| a.0 == b.0 && close(a.1, b.1));
            if bounds_match && buckets_match && close(*sum, *want_sum) && close(*count, *want_count)
            {
                Ok(())
            } else {
                Err(format!(
                    "got bounds {bounds:?} buckets {buckets:?} sum {sum} count {count}, expected \
                     bounds {want_bounds:?} buckets {want_buckets:?} sum {want_sum} count {want_count}"
                ))
            }
        }
        (got, want) => Err(format!("got {got:?}, expected {want:?}")),
    }
}

/// Checks one page against its expectations; returns (observations checked, failures).
fn check(page_path: &Path, expectations_path: &Path) -> (usize, Vec<String>) {
    let page = std::fs::read_to_string(page_path).expect("page");
    let text = std::fs::read_to_string(expectations_path).unwrap_or_else(|_| {
        panic!(
            "{} has no expectations at {}",
            page_path.display(),
            expectations_path.display()
        )
    });
    let expectations = parse_expectations(&text, expectations_path);
    let (samples, types) = read_page(&page);
    let grow = growth(&samples, &types);
    let before: Vec<f64> = samples.iter().map(|s| s.value).collect();
    let (next_page, after) = advanced(&page, &samples, &grow);
    // The advanced page reads back the same with the test's reader.
    let (reread, _) = read_page(&next_page);
    assert_eq!(reread.len(), samples.len(), "{}", page_path.display());

    let mut ingestor = Ingestor::new();
    let limits = IngestLimits::GENEROUS;
    ingestor
        .ingest(&page, Format::Prometheus, limits, 1_000)
        .expect("the page parses");
    let output = ingestor
        .ingest(&next_page, Format::Prometheus, limits, 2_000)
        .expect("the advanced page parses");
    let name = page_path.display();
    let mut failures = Vec::new();
    let engines: Vec<&str> = output.engines.iter().map(|e| e.name()).collect();
    if engines != expectations.engines {
        failures.push(format!(
            "{name}: engines {engines:?}, expected {:?}",
            expectations.engines
        ));
    }
    type Key = (String, Option<String>, Option<String>);
    let mut got: BTreeMap<Key, &Value> = BTreeMap::new();
    for observation in &output.observations {
        got.insert(
            (
                format!("{:?}", observation.signal),
                observation.detail.as_deref().map(str::to_owned),
                observation.model.as_deref().map(str::to_owned),
            ),
            &observation.value,
        );
    }
    let mut wanted: BTreeSet<Key> = BTreeSet::new();
    for expectation in &expectations.lines {
        let key = (
            expectation.signal.clone(),
            expectation.detail.clone(),
            expectation.model.clone(),
        );
        wanted.insert(key.clone());
        let want = evaluate(expectation, &samples, &before, &after, &types);
        match got.get(&key) {
            None => failures.push(format!(
                "{name}: line {}: no {} {:?} @{:?} observed (expected {want:?})",
                expectation.line, key.0, key.1, key.2
            )),
            Some(value) => {
                if let Err(why) = check_value(value, &want) {
                    failures.push(format!(
                        "{name}: line {}: {} {:?} @{:?}: {why}",
                        expectation.line, key.0, key.1, key.2
                    ));
                }
            }
        }
    }
    for (key, value) in &got {
        if !wanted.contains(key) {
            failures.push(format!(
                "{name}: observed {} {:?} @{:?} = {value:?}, which no expectation lists",
                key.0, key.1, key.2
            ));
        }
    }
    (expectations.lines.len(), failures)
}

fn expectations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expectations")
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
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let (checked, mut found) = check(
            &path,
            &expectations_dir().join(format!("own-{stem}.expect")),
        );
        println!(
            "{stem}: {checked} observations checked, {} wrong",
            found.len()
        );
        failures.append(&mut found);
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
        println!(
            "{} not found: the real exporter pages were NOT checked here",
            dir.display()
        );
        return;
    }
    let mut failures = Vec::new();
    let mut count = 0;
    let mut engines: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    engines.sort();
    for engine in engines {
        let mut pages: Vec<PathBuf> = std::fs::read_dir(&engine)
            .expect("engine dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "prom"))
            .collect();
        pages.sort();
        for path in pages {
            let stem = path.file_stem().and_then(|s| s.to_str()).expect("name");
            let (checked, mut found) =
                check(&path, &expectations_dir().join(format!("{stem}.expect")));
            println!(
                "{stem}: {checked} observations checked, {} wrong",
                found.len()
            );
            failures.append(&mut found);
            count += 1;
        }
    }
    assert!(count >= 14, "expected the fixture pages, found {count}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_language_reads_and_the_growth_differs_per_series_and_bucket() {
    let page = "# TYPE a_total counter\na_total{x=\"1\"} 5\na_total{x=\"2\"} 5\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 2\nh_bucket{le=\"+Inf\"} 3\n\
                h_sum 4\nh_count 3\n# TYPE g gauge\ng{q=\"a\\\"b\"} 7\n";
    let (samples, types) = read_page(page);
    assert_eq!(samples.len(), 8);
    assert_eq!(samples[7].label("q"), Some("a\"b"));
    let grow = growth(&samples, &types);
    assert_eq!(grow[0], Growth::By(1.0));
    assert_eq!(grow[1], Growth::By(3.0));
    // Buckets: own growth 1, 2, 3 (cumulative 1, 3, 6); count 6.
    assert_eq!(grow[2], Growth::By(1.0));
    assert_eq!(grow[3], Growth::By(3.0));
    assert_eq!(grow[4], Growth::By(6.0));
    assert_eq!(grow[6], Growth::By(6.0));
    assert_eq!(grow[7], Growth::None);
    let selector = Selector::parse("a_total{x=~\"2|3\"}");
    assert!(selector.matches(&samples[1], "a_total"));
    assert!(!selector.matches(&samples[0], "a_total"));
}
