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
    assert_eq!(answer["settings"]["scale_down_delay_s"], 1.0);
    assert_eq!(answer["settings"]["source"], "request+defaults");
    // The flips are replica events too, with the evidence's times.
    let events = answer["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["kind"] == "scale_down"),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["kind"] == "scale_up"), "{events:?}");

    // The same deployment's load replayed with a long delay: fewer scale events, and the
    // recorded ones counted.
    let whatif: serde_json::Value = reqwest::get(format!(
        "http://{}/api/v1/whatif?environment=test&deployment=flappy&range=5m&scale_down_delay_s=600",
        server.addr
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        whatif["replayed_settings"]["scale_down_delay_s"], 600.0,
        "{whatif}"
    );
    assert!(
        whatif["actual"]["scale_events"].as_u64().unwrap() >= 3,
        "{whatif}"
    );
    assert!(
        whatif["predicted"]["scale_events"].as_u64().unwrap()
            < whatif["actual"]["scale_events"].as_u64().unwrap(),
        "{whatif}"
    );
    assert_eq!(
        whatif["predicted_replicas"].as_array().unwrap().len(),
        whatif["load"].as_array().unwrap().len()
    );

    for (query, reason) in [
        ("environment=test&range=5m", "deployment is required"),
        (
            "deployment=flappy&max_replicas=0",
            "autoscaler setting max_replicas = 0 is out of range",
        ),
        (
            "deployment=flappy&window_s=soon",
            "window_s is not a number",
        ),
        (
            "deployment=flappy&min_replicas=9&max_replicas=3",
            "min_replicas (9) is above max_replicas (3)",
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
    let missing = reqwest::get(format!("{base}?deployment=nobody"))
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    server.stop().await.expect("stops");
}
