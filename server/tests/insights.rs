//! The autoscaling diagnosis over HTTP on a recorded deployment: an exporter whose replica count
//! flips every two seconds is diagnosed as thrash, with evidence on the replicas panel and the fix
//! in numbers; bad requests are refused with reasons.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use server::config::TargetConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipping_replica_count_is_diagnosed_as_thrash() {
    let app = Router::new().route(
        "/metrics",
        get(|| async {
            let now_ms = server::scrape::now_ms();
            let active = if (now_ms / 2000) % 2 == 0 { 4 } else { 2 };
            format!(
                "inferscope_replicas_active {active}\ninferscope_replicas_starting 0\n\
                 inferscope_concurrent_requests{{state=\"in_progress\"}} 3\n\
                 inferscope_concurrent_requests{{state=\"queued\"}} 0\n"
            )
        }),
    );
    let addr = common::serve(app).await;
    let mut config = common::fast_config();
    config.targets.push(TargetConfig {
        url: format!("http://{addr}/metrics"),
        environment: "test".into(),
        deployment: "flappy".into(),
        replica: String::new(),
        engine: None,
        pid: None,
        gpus: Vec::new(),
    });
    let server = common::start(config).await;
    let base = format!("http://{}/api/v1/insights", server.addr);
    let url = format!("{base}?environment=test&deployment=flappy&range=5m&scale_down_delay_s=1");
    let answer = common::eventually(Duration::from_secs(60), "a thrash finding", || {
        let url = url.clone();
        async move {
            let answer: serde_json::Value = reqwest::get(url).await.ok()?.json().await.ok()?;
            let found = answer["findings"]
                .as_array()?
                .iter()
                .any(|f| f["kind"] == "thrash");
            found.then_some(answer)
        }
    })
    .await;
    let thrash = answer["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "thrash")
        .unwrap();
    assert_eq!(thrash["panel"], "replicas");
    assert!(
        thrash["evidence"].as_array().unwrap().len() >= 3,
        "{thrash}"
    );
    assert_eq!(thrash["fix"], "scale-down delay 1 s → 600 s or more");
    assert_eq!(answer["settings"]["scale_down_delay_s"], 1);

    for (query, reason) in [
        ("environment=test&range=5m", "deployment is required"),
        (
            "deployment=flappy&max_replicas=0",
            "max_replicas is out of range",
        ),
        (
            "deployment=flappy&min_replicas=9&max_replicas=3",
            "min_replicas is above max_replicas",
        ),
    ] {
        let response = reqwest::get(format!("{base}?{query}")).await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().starts_with(reason),
            "{query}: {body}"
        );
    }
    server.stop().await.expect("stops");
}
