//! The OpenMetrics parser conformance suite (`../shared/conformance/openmetrics/`, the
//! OpenMetrics project's own cases): every case through the parser in OpenMetrics mode, with
//! the tally printed as `openmetrics conformance: PASSED/TOTAL`.
//!
//! Without `../shared` this suite says so and checks nothing; CI sets
//! `INFERSCOPE_REQUIRE_SHARED=1`, which turns a missing directory into a failure.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking
#![allow(clippy::print_stdout)] // the tally line is this suite's report

use std::path::{Path, PathBuf};

use server::ingest::exposition::{Format, Parser};

/// Cases where inferscope deliberately differs from the reference parser, with the reason.
/// Empty: every case is followed.
const EXCEPTIONS: &[(&str, &str)] = &[];

fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("INFERSCOPE_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let cases = dir.join("conformance/openmetrics");
    if cases.is_dir() {
        return Some(cases);
    }
    assert!(
        std::env::var("INFERSCOPE_REQUIRE_SHARED").as_deref() != Ok("1"),
        "INFERSCOPE_REQUIRE_SHARED=1 but {} is missing",
        cases.display()
    );
    eprintln!(
        "conformance cases not found at {}: this suite checks nothing here",
        cases.display()
    );
    None
}

fn should_parse(test: &serde_json::Value) -> bool {
    test.get("shouldParse")
        .and_then(serde_json::Value::as_bool)
        .or_else(|| test["outcome"]["parseResult"]["valid"].as_bool())
        .expect("test.json says whether the case parses")
}

#[test]
fn openmetrics_conformance() {
    let Some(dir) = conformance_dir() else {
        return;
    };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("readable case directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.join("test.json").is_file())
        .collect();
    cases.sort();
    let mut passed = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let test: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("test.json")).expect("test.json"))
                .expect("test.json is JSON");
        let file = test["file"].as_str().unwrap_or("metrics");
        let bytes = std::fs::read(case.join(file)).unwrap_or_default();
        let outcome = match std::str::from_utf8(&bytes) {
            Ok(text) => Parser::with_format(text, Format::OpenMetrics)
                .find_map(Result::err)
                .map_or(Ok(()), Err),
            Err(_) => Err(server::ingest::exposition::ParseError {
                line: 0,
                kind: server::ingest::exposition::ParseErrorKind::Rule("not UTF-8".into()),
            }),
        };
        let expected = should_parse(&test);
        let agrees = outcome.is_ok() == expected;
        let excepted = EXCEPTIONS.iter().any(|(case, _)| *case == name);
        if agrees {
            passed += 1;
        } else if !excepted {
            failures.push(format!(
                "{name}: expected {}, got {:?}",
                if expected { "accept" } else { "reject" },
                outcome
            ));
        }
    }
    println!("openmetrics conformance: {passed}/{}", cases.len());
    for (case, reason) in EXCEPTIONS {
        println!("openmetrics conformance exception: {case}: {reason}");
    }
    assert_eq!(cases.len(), 211, "the suite has 211 cases");
    assert!(
        failures.is_empty(),
        "{} cases disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
