//! Scrapes real local exporters (a demo router and its replicas, over HTTP) and checks what the
//! store and the query API report against the requests this test actually sent.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::time::{Duration, Instant};

use app::wire::{PanelId, SeriesId, View};
use server::autoscale::AutoscalerSettings;
use server::config::HttpSdConfig;
use server::demo::replica::{LlmBehaviour, ModelProfile};
use server::demo::router::DeploymentSettings;
use server::demo::traffic::TrafficProfile;
use server::demo::{self, DemoDeployment, DemoOptions};
use server::model::Signal;
use server::query::math::MergedHistogram;
use server::store::Samples;

const BASE: &str = "base-model";
const ADAPTER: &str = "lora-x";

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
                cpu_limit_cores: 0.0,
                memory_limit_bytes: 0,
                gpu_weights_bytes: 1 << 30,
                gpu_kv_bytes_per_token: 1024,
                kv_capacity_tokens: 10_000,
                gpu_full_batch: 4.0,
                llm: LlmBehaviour {
                    prefix_cache_share: 0.5,
                    spec_tokens: 0,
                    spec_acceptance: 0.0,
                    stop_rate: 0.0,
                },
            },
            models: vec![BASE.into(), ADAPTER.into()],
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
            adapter_share: 0.0,
            unknown_model_rate: 0.0,
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

async fn fetch_view(client: &reqwest::Client, url: &str) -> View {
    client
        .get(url)
        .send()
        .await
        .expect("view")
        .json()
        .await
        .expect("view JSON")
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

    // 40 good requests (every fourth for the adapter, the rest for the base model, named or
    // by default), 6 malformed (400), 4 with a prompt longer than the context (422, of the
    // base model) and 2 for a model not served (404).
    let mut bodies = Vec::new();
    // Per model: (requests, prompt tokens, generated tokens) sent.
    let mut sent: std::collections::BTreeMap<&str, (f64, f64, f64)> = Default::default();
    for i in 0..40 {
        let (prompt, output) = (20 + (i % 7) * 9, 10 + i % 13);
        let (model, field) = match i % 4 {
            0 => (ADAPTER, format!("\"model\":\"{ADAPTER}\",")),
            1 => (BASE, format!("\"model\":\"{BASE}\",")),
            _ => (BASE, String::new()),
        };
        let entry = sent.entry(model).or_default();
        entry.0 += 1.0;
        entry.1 += f64::from(prompt);
        entry.2 += f64::from(output);
        bodies.push(format!(
            "{{{field}\"prompt_tokens\":{prompt},\"max_tokens\":{output}}}"
        ));
    }
    bodies.extend((0..6).map(|_| "{not json".to_owned()));
    bodies.extend((0..4).map(|_| "{\"prompt_tokens\":5000,\"max_tokens\":1}".to_owned()));
    bodies.extend(
        (0..2).map(|_| "{\"model\":\"nope\",\"prompt_tokens\":5,\"max_tokens\":1}".to_owned()),
    );
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
    assert_eq!(statuses.iter().filter(|s| **s == 404).count(), 2);

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
                            *counts
                                .entry(format!(
                                    "{}/{}",
                                    key.model.as_deref().unwrap_or("-"),
                                    key.detail.as_deref().unwrap_or("")
                                ))
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
            (counts.values().sum::<f64>() == 2.0 * 52.0).then_some(())
        }
    })
    .await;
    let counts = by_code().await.expect("store answers");
    assert_eq!(counts.get("200"), Some(&40.0), "{counts:?}");
    assert_eq!(counts.get("400"), Some(&6.0), "{counts:?}");
    assert_eq!(counts.get("422"), Some(&4.0), "{counts:?}");
    assert_eq!(counts.get("404"), Some(&2.0), "{counts:?}");
    // By model: the router counts what each body named (the first model where it names
    // none); bodies it cannot read and models not served are of no model.
    assert_eq!(counts.get("lora-x/200"), Some(&10.0), "{counts:?}");
    assert_eq!(counts.get("base-model/200"), Some(&30.0), "{counts:?}");
    assert_eq!(counts.get("base-model/422"), Some(&4.0), "{counts:?}");
    assert_eq!(counts.get("-/400"), Some(&6.0), "{counts:?}");
    assert_eq!(counts.get("-/404"), Some(&2.0), "{counts:?}");

    // The replicas' engine counters, per model, are the tokens sent: prompts in full, outputs
    // to `max_tokens` (nothing stops early), every good request finished by length.
    let read_engine = || {
        server.store.read(|store| {
            let mut totals = std::collections::BTreeMap::<(String, String), f64>::new();
            for signal in [
                Signal::PromptTokensProcessed,
                Signal::GenerationTokensProduced,
                Signal::PrefixCacheQueries,
                Signal::PrefixCacheHits,
                Signal::FinishedRequests,
                Signal::Preemptions,
            ] {
                for (key, samples) in store.series(signal) {
                    if &*key.target.deployment != "echo" {
                        continue;
                    }
                    if let Samples::Counter(series) = samples {
                        let total: f64 = series.iter().filter_map(|(_, v)| v).sum();
                        let name = format!(
                            "{signal:?}{}",
                            key.detail
                                .as_deref()
                                .map_or(String::new(), |d| format!("/{d}"))
                        );
                        *totals
                            .entry((key.model.as_deref().unwrap_or("-").to_owned(), name))
                            .or_default() += total;
                    }
                }
            }
            totals
        })
    };
    // The replicas' last counters arrive with their next scrape.
    let deadline = Instant::now() + Duration::from_secs(10);
    let engine = loop {
        let engine = read_engine().await.expect("store answers");
        let finished: f64 = engine
            .iter()
            .filter(|((_, name), _)| name == "FinishedRequests/length")
            .map(|(_, total)| total)
            .sum();
        if finished == 40.0 || Instant::now() > deadline {
            break engine;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let total = |model: &str, name: &str| {
        engine
            .get(&(model.to_owned(), name.to_owned()))
            .copied()
            .unwrap_or(0.0)
    };
    for (model, (requests, prompt, generated)) in &sent {
        assert_eq!(
            total(model, "PromptTokensProcessed"),
            *prompt,
            "{model}: {engine:?}"
        );
        assert_eq!(
            total(model, "GenerationTokensProduced"),
            *generated,
            "{model}: {engine:?}"
        );
        assert_eq!(
            total(model, "PrefixCacheQueries"),
            *prompt,
            "{model}: {engine:?}"
        );
        assert_eq!(
            total(model, "FinishedRequests/length"),
            *requests,
            "{model}: {engine:?}"
        );
        assert_eq!(
            total(model, "FinishedRequests/stop"),
            0.0,
            "{model}: {engine:?}"
        );
        let hits = total(model, "PrefixCacheHits");
        assert!(hits <= *prompt && hits % 16.0 == 0.0, "{model}: {engine:?}");
        assert_eq!(total(model, "Preemptions"), 0.0, "{model}: {engine:?}");
    }
    assert_eq!(sent.len(), 2);
    // And the query API's rates, over windows as long as the step, add back up to them once
    // every window that holds a request has closed: each window divides by the seconds its
    // scrapes spanned, a step give or take the scrapes' jitter of a few milliseconds (the
    // newest, still open window spans less, and shows the rate so far).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let view = fetch_view(
        &client,
        &format!("{base}/api/v1/view?environment=test&deployment=echo&range=5m"),
    )
    .await;
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
        near(counted(&view, SeriesId::Status4xx), 12.0),
        "{}",
        counted(&view, SeriesId::Status4xx)
    );
    assert_eq!(counted(&view, SeriesId::Status5xx), 0.0);
    // Only the adapter: its ten good requests; of the 4xx, the router's eight of no model
    // (an unlabelled series of a target serving the model counts, docs/API.md), not the
    // base model's four 422s. Its generated tokens, split by model, are what was sent.
    let adapter = fetch_view(
        &client,
        &format!("{base}/api/v1/view?environment=test&deployment=echo&range=5m&model={ADAPTER}&by_model=token_throughput"),
    )
    .await;
    assert!(
        near(counted(&adapter, SeriesId::Status2xx), 10.0),
        "{}",
        counted(&adapter, SeriesId::Status2xx)
    );
    assert!(
        near(counted(&adapter, SeriesId::Status4xx), 8.0),
        "{}",
        counted(&adapter, SeriesId::Status4xx)
    );
    let tokens = adapter
        .panel(PanelId::TokenThroughput)
        .expect("token panel");
    let lines: Vec<&SeriesId> = tokens.series.iter().map(|s| &s.id).collect();
    assert_eq!(lines, vec![&SeriesId::Model(ADAPTER.into())], "{lines:?}");
    let generated: f64 = tokens.series[0]
        .points
        .iter()
        .filter_map(|p| p.1)
        .sum::<f64>()
        * (adapter.step_ms as f64 / 1000.0);
    assert!(
        near(generated, sent[ADAPTER].2),
        "{generated} of {}",
        sent[ADAPTER].2
    );
    assert!(
        adapter.models.contains(&BASE.to_owned()) && adapter.models.contains(&ADAPTER.to_owned()),
        "{:?}",
        adapter.models
    );
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
        52.0,
        "every request is in the end-to-end histogram"
    );
    // The router's histograms also hold the twelve fast refusals; compare the good ones' p50
    // and p90 using ranks among all fifty-two.
    let mut all = latencies.clone();
    all.extend(std::iter::repeat_n(0.0, 12));
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
