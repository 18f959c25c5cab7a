//! Scrapes real local exporters (a demo router and its replicas, over HTTP) and checks what the
//! store and the query API report against the requests this test actually sent.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::time::{Duration, Instant};

use app::wire::{PanelId, SeriesId, View};
use server::autoscale::AutoscalerSettings;
use server::config::HttpSdConfig;
use server::demo::replica::ModelProfile;
use server::demo::router::DeploymentSettings;
use server::demo::traffic::TrafficProfile;
use server::demo::{self, DemoDeployment, DemoOptions};
use server::model::Signal;
use server::query::math::MergedHistogram;
use server::store::Samples;

fn deployment() -> DemoDeployment {
    DemoDeployment {
        serving: DeploymentSettings {
            environment: "test".into(),
            deployment: "echo".into(),
            profile: ModelProfile {
                max_context_tokens: 100,
                overhead: Duration::from_millis(20),
                prefill_per_token: Duration::from_millis(1),
                decode_per_token: Duration::from_millis(2),
                bytes_per_token: 4,
                first_chunk_bytes: 16,
                failure_rate: 0.0,
                contention_per_request: 0.0,
                cpu_per_token: Duration::from_micros(1),
                host_weights_bytes: 64 * 1024,
                host_bytes_per_token: 16,
                gpu_weights_bytes: 1 << 30,
                gpu_kv_bytes_per_token: 1024,
                kv_capacity_tokens: 10_000,
                gpu_full_batch: 4.0,
            },
            concurrency_per_replica: 4,
            queue_limit: 100,
            queue_timeout: Duration::from_secs(10),
            autoscaler: AutoscalerSettings {
                min_replicas: 2,
                max_replicas: 2,
                concurrency_target: 4.0,
                target_utilization: 1.0,
                window: Duration::from_secs(10),
                scale_down_delay: Duration::from_secs(60),
                max_scale_down_rate: 0.5,
            },
            cold_start_min: Duration::ZERO,
            cold_start_max: Duration::ZERO,
            seed: 5,
            async_workers: 1,
            async_queue_limit: 10,
        },
        traffic: TrafficProfile {
            base_rate: 0.0,
            drift: 0.0,
            drift_period: Duration::from_secs(1),
            burst_factor: 1.0,
            burst_length: Duration::from_secs(1),
            burst_every: Duration::from_secs(1),
            prompt_tokens: 1.0,
            output_tokens: 1.0,
            malformed_rate: 0.0,
            oversized_rate: 0.0,
            async_fraction: 0.0,
            scenario: None,
        },
    }
}

/// Sum of a rate series times the step: requests counted, when windows equal steps.
fn counted(view: &View, id: SeriesId) -> f64 {
    let step_s = view.step_ms as f64 / 1000.0;
    view.panel(PanelId::InferenceVolume)
        .and_then(|panel| panel.series(&id))
        .map_or(0.0, |series| {
            series.points.iter().filter_map(|p| p.1).sum::<f64>() * step_s
        })
}

fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_results_match_the_requests_sent() {
    let fleet = demo::start(DemoOptions {
        deployments: vec![deployment()],
        traffic: false,
        initial_cold_start: Duration::ZERO,
    })
    .await
    .expect("demo router starts");
    let router = fleet.routers[0].2;
    let mut config = common::fast_config();
    // Windows equal steps at this interval, so rate × step sums back to counts.
    config.scrape_interval_ms = 200;
    config.scrape_timeout_ms = 150;
    config.http_sd = vec![HttpSdConfig {
        url: fleet.discovery_url.clone(),
    }];
    let server = common::start(config).await;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();

    // Wait for the router and both replicas to be scraped, then one full window more.
    common::eventually(Duration::from_secs(20), "three targets up", || {
        let client = client.clone();
        let url = format!("{base}/api/v1/targets");
        async move {
            let targets: Vec<app::wire::TargetHealth> =
                client.get(url).send().await.ok()?.json().await.ok()?;
            (targets.len() == 3 && targets.iter().all(|t| t.up)).then_some(())
        }
    })
    .await;
    common::eventually(Duration::from_secs(10), "both replicas active", || {
        let client = client.clone();
        let url = format!("http://{router}/metrics");
        async move {
            let page = client.get(url).send().await.ok()?.text().await.ok()?;
            page.contains("inferscope_replicas_active 2").then_some(())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // 40 good requests, 6 malformed (400), 4 with a prompt longer than the context (422).
    let mut bodies = Vec::new();
    for i in 0..40 {
        bodies.push(format!(
            "{{\"prompt_tokens\":{},\"max_tokens\":{}}}",
            5 + i % 7,
            10 + i % 13
        ));
    }
    bodies.extend((0..6).map(|_| "{not json".to_owned()));
    bodies.extend((0..4).map(|_| "{\"prompt_tokens\":5000,\"max_tokens\":1}".to_owned()));
    let mut latencies = Vec::new();
    let mut statuses = Vec::new();
    for batch in bodies.chunks(5) {
        let requests = batch.iter().map(|body| {
            let client = client.clone();
            let body = body.clone();
            async move {
                let started = Instant::now();
                let response = client
                    .post(format!("http://{router}/v1/predict"))
                    .body(body)
                    .send()
                    .await
                    .expect("router answers");
                let status = response.status().as_u16();
                response.bytes().await.expect("whole body");
                (status, started.elapsed().as_secs_f64())
            }
        });
        for (status, latency) in futures::future::join_all(requests).await {
            statuses.push(status);
            if status == 200 {
                latencies.push(latency);
            }
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 40);
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 6);
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 4);

    // The store holds exactly what was sent, by status code.
    let store = server.store.clone();
    let by_code = move || {
        let store = store.clone();
        async move {
            store
                .read(|store| {
                    let mut counts = std::collections::BTreeMap::new();
                    for (key, samples) in store.series(Signal::Requests) {
                        if &*key.target.deployment != "echo" {
                            continue;
                        }
                        if let Samples::Counter(series) = samples {
                            let sent: f64 = series.iter().filter_map(|(_, v)| v).sum();
                            *counts
                                .entry(key.detail.as_deref().unwrap_or("").to_owned())
                                .or_insert(0.0) += sent;
                        }
                    }
                    counts
                })
                .await
        }
    };
    common::eventually(Duration::from_secs(15), "all requests stored", || {
        let counts = by_code();
        async move {
            let counts = counts.await.ok()?;
            (counts.values().sum::<f64>() == 50.0).then_some(())
        }
    })
    .await;
    let counts = by_code().await.expect("store answers");
    assert_eq!(counts.get("200"), Some(&40.0), "{counts:?}");
    assert_eq!(counts.get("400"), Some(&6.0), "{counts:?}");
    assert_eq!(counts.get("422"), Some(&4.0), "{counts:?}");
    // And the query API's rates, over windows as long as the step, add back up to them once
    // every window that holds a request has closed: each window divides by the seconds its
    // scrapes spanned, a step give or take the scrapes' jitter of a few milliseconds (the
    // newest, still open window spans less, and shows the rate so far).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let view: View = client
        .get(format!(
            "{base}/api/v1/view?environment=test&deployment=echo&range=5m"
        ))
        .send()
        .await
        .expect("view")
        .json()
        .await
        .expect("view JSON");
    assert_eq!(view.step_ms, 1000);
    let near = |got: f64, sent: f64| (got - sent).abs() <= 0.02 * sent;
    let points = |id: SeriesId| {
        view.panel(PanelId::InferenceVolume)
            .and_then(|panel| panel.series(&id))
            .map(|series| {
                let shown: Vec<_> = series.points.iter().filter(|p| p.1.is_some()).collect();
                format!("{shown:?}")
            })
            .unwrap_or_default()
    };
    assert!(
        near(counted(&view, SeriesId::Status2xx), 40.0),
        "{} from {}",
        counted(&view, SeriesId::Status2xx),
        points(SeriesId::Status2xx)
    );
    assert!(
        near(counted(&view, SeriesId::Status4xx), 10.0),
        "{}",
        counted(&view, SeriesId::Status4xx)
    );
    assert_eq!(counted(&view, SeriesId::Status5xx), 0.0);
    let replicas = view.panel(PanelId::Replicas).expect("replicas panel");
    let active = replicas.series(&SeriesId::Active).expect("active series");
    assert_eq!(active.points.iter().rev().find_map(|p| p.1), Some(2.0));

    // Percentiles merged from the stored buckets agree with the latencies measured here.
    let merged = server
        .store
        .read(|store| {
            let mut merged = MergedHistogram::new();
            for (key, samples) in store.series(Signal::EndToEndSeconds) {
                if &*key.target.deployment != "echo" {
                    continue;
                }
                if let Samples::Histogram(ring) = samples {
                    for (_, increment) in ring.iter() {
                        if let Some(increment) = increment {
                            merged.add(&increment);
                        }
                    }
                }
            }
            merged
        })
        .await
        .expect("store answers");
    assert_eq!(
        merged.count(),
        50.0,
        "every request is in the end-to-end histogram"
    );
    // The router's histogram also holds the ten fast refusals; compare the good ones' p50 and
    // p90 using ranks among all fifty.
    let mut all = latencies.clone();
    all.extend(std::iter::repeat_n(0.0, 10));
    all.sort_by(f64::total_cmp);
    for q in [0.5, 0.9] {
        let estimate = merged.quantile(q).expect("estimate").value();
        let exact = exact_quantile(&all, q);
        let tolerance = 0.1 * exact + 0.015;
        assert!(
            (estimate - exact).abs() <= tolerance,
            "q{q}: estimated {estimate:.4} s, measured {exact:.4} s"
        );
    }
    server.stop().await.expect("clean stop");
}
