//! The example live client (`server/examples/live_p99.rs`) runs against the demo fleet and prints
//! a deployment's p99 — the program, as a user runs it, over a real socket.
//!
//! `cargo test` builds the examples before it runs the tests; the binary is looked up beside
//! this test's own.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::path::PathBuf;
use std::time::Duration;

use server::config::DemoMode;

fn example_binary() -> PathBuf {
    // target/<profile>/deps/live_example-<hash> → target/<profile>/examples/live_p99
    let test = std::env::current_exe().expect("own path");
    let profile = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let binary = profile.join("examples").join("live_p99");
    assert!(
        binary.exists(),
        "{} is missing: run the tests with `cargo test` (which builds examples) or `cargo build -p server --example live_p99` first",
        binary.display()
    );
    binary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_client_prints_the_demo_fleets_p99() {
    let binary = example_binary();
    let mut config = common::fast_config();
    config.demo = DemoMode::On;
    let server = common::start(config).await;
    let url = format!("ws://{}/api/v1/live", server.addr);
    // The demo fleet needs a few scrapes before requests show; retry until a line has a value.
    let line = common::eventually(Duration::from_secs(90), "a p99 line", || {
        let binary = binary.clone();
        let url = url.clone();
        async move {
            let output = tokio::task::spawn_blocking(move || {
                std::process::Command::new(&binary)
                    .args([
                        "--url",
                        &url,
                        "--environment",
                        "production",
                        "--deployment",
                        "chat-llm",
                        "--updates",
                        "3",
                    ])
                    .output()
            })
            .await
            .expect("joins")
            .expect("the example runs");
            assert!(
                output.status.success(),
                "live_p99 failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let stdout = String::from_utf8(output.stdout).expect("UTF-8");
            assert_eq!(stdout.lines().count(), 3, "{stdout}");
            stdout
                .lines()
                .find(|line| line.contains(" p99 "))
                .map(str::to_owned)
        }
    })
    .await;
    // `2026-11-28 15:04:05 production/chat-llm p99 612.3 ms seq 41`
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[2], "production/chat-llm", "{line}");
    assert_eq!(
        (fields[3], fields[5], fields[6]),
        ("p99", "ms", "seq"),
        "{line}"
    );
    let p99: f64 = fields[4].parse().expect("a number");
    assert!(p99 > 0.0 && p99 < 60_000.0, "{line}");

    // A server that refuses: the example says why and fails.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&binary)
            .args(["--url", "ws://127.0.0.1:9/api/v1/live", "--deployment", "x"])
            .output()
    })
    .await
    .expect("joins")
    .expect("the example runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("live_p99: ws://127.0.0.1:9"));
    server.stop().await.expect("stops");
}
