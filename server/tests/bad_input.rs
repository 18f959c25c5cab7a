//! Bad input never stops the dashboard: unreachable, garbage-serving, hung and oversized
//! exporters each fail their own scrapes with a clear reason while a good exporter beside them
//! keeps being scraped; an invalid config is refused at start with a message naming the field.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use app::wire::{PanelId, SeriesId, TargetHealth, View};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use futures::StreamExt;
use server::config::TargetConfig;

/// Serves `app` on a free loopback port; returns its address.
async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ended = axum::serve(listener, app).await;
    });
    addr
}

fn target(url: String, replica: &str) -> TargetConfig {
    TargetConfig {
        url,
        environment: "production".into(),
        deployment: "chat-llm".into(),
        replica: replica.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_exporters_fail_alone_with_clear_reasons() {
    // A good exporter: a counter that grows by 10 per scrape.
    let scrapes = Arc::new(AtomicU64::new(0));
    let good = serve(Router::new().route(
        "/metrics",
        get({
            let scrapes = scrapes.clone();
            move || {
                let count = scrapes.fetch_add(1, Ordering::Relaxed) * 10;
                async move {
                    format!(
                        "# TYPE inferscope_inference_requests_total counter\n\
                         inferscope_inference_requests_total{{status_code=\"200\"}} {count}\n\
                         inferscope_replicas_active 1\n"
                    )
                }
            }
        }),
    ))
    .await;
    let garbage = serve(Router::new().route(
        "/metrics",
        get(|| async { "<html><body>Welcome to nginx!</body></html>" }),
    ))
    .await;
    let hung = serve(Router::new().route(
        "/metrics",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        }),
    ))
    .await;
    let huge = serve(Router::new().route(
        "/metrics",
        get(|| async {
            let chunk = bytes::Bytes::from("x_total 1\n".repeat(10_000));
            let stream = futures::stream::repeat(chunk)
                .take(400)
                .map(Ok::<_, std::convert::Infallible>);
            Body::from_stream(stream)
        }),
    ))
    .await;
    // Nothing listens on port 9 of loopback (discard); connecting is refused.
    let unreachable = "http://127.0.0.1:9/metrics".to_owned();

    let mut config = common::fast_config();
    config.scrape_interval_ms = 500;
    config.scrape_timeout_ms = 400;
    config.body_limit_bytes = 1024 * 1024;
    config.targets = vec![
        target(format!("http://{good}/metrics"), "good"),
        target(format!("http://{garbage}/metrics"), "garbage"),
        target(format!("http://{hung}/metrics"), "hung"),
        target(format!("http://{huge}/metrics"), "huge"),
        target(unreachable, "unreachable"),
    ];
    let server = common::start(config).await;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();

    let targets: Vec<TargetHealth> =
        common::eventually(Duration::from_secs(20), "every target scraped", || {
            let client = client.clone();
            let url = format!("{base}/api/v1/targets");
            async move {
                let targets: Vec<TargetHealth> =
                    client.get(url).send().await.ok()?.json().await.ok()?;
                (targets.len() == 5 && targets.iter().all(|t| t.last_scrape_ms.is_some()))
                    .then_some(targets)
            }
        })
        .await;
    let by_replica = |name: &str| {
        targets
            .iter()
            .find(|t| t.replica == name)
            .unwrap_or_else(|| panic!("target {name}"))
            .clone()
    };
    let good_health = by_replica("good");
    assert!(good_health.up, "{good_health:?}");
    assert_eq!(good_health.samples_scraped, 2);
    let reason = |name: &str| {
        let health = by_replica(name);
        assert!(!health.up, "{name} should be down");
        health.last_error.unwrap_or_default()
    };
    assert!(
        reason("garbage").contains("malformed exposition page: line 1"),
        "{}",
        reason("garbage")
    );
    assert!(
        reason("hung").contains("timed out after 400 ms"),
        "{}",
        reason("hung")
    );
    assert!(
        reason("huge").contains("body exceeds 1048576 bytes"),
        "{}",
        reason("huge")
    );
    assert!(
        reason("unreachable").contains("request failed"),
        "{}",
        reason("unreachable")
    );

    // The good exporter's data keeps flowing into the panels: 10 requests per 0.5 s scrape.
    let view: View = common::eventually(Duration::from_secs(20), "a request rate", || {
        let client = client.clone();
        let url = format!("{base}/api/v1/view?range=5m");
        async move {
            let view: View = client.get(url).send().await.ok()?.json().await.ok()?;
            let rate = view
                .panel(PanelId::InferenceVolume)?
                .series(SeriesId::Status2xx)?
                .points
                .iter()
                .rev()
                .find_map(|p| p.1)?;
            (rate > 0.0).then_some(view)
        }
    })
    .await;
    let rate = view
        .panel(PanelId::InferenceVolume)
        .and_then(|p| p.series(SeriesId::Status2xx))
        .and_then(|s| s.points.iter().rev().find_map(|p| p.1))
        .expect("rate");
    assert!(
        (rate - 20.0).abs() < 4.0,
        "10 per 0.5 s scrape is about 20 req/s, got {rate}"
    );

    // The server still serves pages and answers health checks.
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert!(health.status().is_success());
    let bad_query = client
        .get(format!("{base}/api/v1/view?range=3y"))
        .send()
        .await
        .expect("view answers");
    assert_eq!(bad_query.status(), 400);
    let body: serde_json::Value = bad_query.json().await.expect("JSON error");
    assert_eq!(body["error"], "unknown range \"3y\": use 5m, 15m or 1h");
    server.stop().await.expect("clean stop");
}

fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_inferscope"))
        .args(args)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LEPTOS_OUTPUT_NAME", "inferscope")
        .output()
        .expect("run the binary");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn invalid_config_values_are_refused_with_the_field_named() {
    let dir = std::env::temp_dir().join(format!("inferscope-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write config");
        path.to_string_lossy().into_owned()
    };

    let timeout = write(
        "timeout.toml",
        "scrape_interval_ms = 1000\nscrape_timeout_ms = 3000\n",
    );
    let (code, stderr) = run_binary(&["--config", &timeout]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("invalid config value scrape_timeout_ms = 3000: must be less than scrape_interval_ms (1000)"),
        "{stderr}"
    );

    let url = write(
        "url.toml",
        "[[targets]]\nurl = \"not a url\"\nenvironment = \"p\"\ndeployment = \"d\"\n",
    );
    let (code, stderr) = run_binary(&["--config", &url]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("targets[0].url"), "{stderr}");

    let typo = write("typo.toml", "scrape_intervall_ms = 1000\n");
    let (code, stderr) = run_binary(&["--config", &typo]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("unknown field `scrape_intervall_ms`"),
        "{stderr}"
    );

    let (code, stderr) = run_binary(&["--config", "/nonexistent/inferscope.toml"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("cannot read config file /nonexistent/inferscope.toml"),
        "{stderr}"
    );

    let (code, stderr) = run_binary(&["--scrape-interval-ms", "50"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("scrape_interval_ms = 50: must be between 100 and 3600000"),
        "{stderr}"
    );
    let _cleanup = std::fs::remove_dir_all(&dir);
}
