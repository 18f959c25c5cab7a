//! Exporters misbehaving over real sockets, all at once, beside one good exporter: refused
//! connections, a hang past the timeout, a trickle of bytes, 100 MB of body, garbage (HTML and
//! binary), counter resets and flapping. The server keeps serving, names each target's problem,
//! and the good exporter's data is complete.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use app::wire::TargetHealth;
use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::StreamExt;
use server::config::TargetConfig;
use server::model::Signal;
use server::store::Samples;

/// The health of one replica's target, as `/api/v1/targets` listed it.
fn health_of(targets: &[TargetHealth], replica: &str) -> TargetHealth {
    targets
        .iter()
        .find(|t| t.replica == replica)
        .unwrap_or_else(|| panic!("target {replica}"))
        .clone()
}

/// A port nothing listens on: bound, then released.
async fn refused_port() -> u16 {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    listener.local_addr().expect("address").port()
}

/// A raw TCP server that accepts and then says nothing, ever.
async fn silent_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

fn counter_page(value: u64) -> String {
    format!(
        "# TYPE inferscope_inference_requests_total counter\n\
         inferscope_inference_requests_total{{status_code=\"200\"}} {value}\n\
         inferscope_replicas_active 1\n"
    )
}

fn target(url: String, replica: &str) -> TargetConfig {
    TargetConfig {
        url,
        environment: "production".into(),
        deployment: if replica == "good" { "good" } else { "faulty" }.into(),
        replica: replica.into(),
        engine: None,
        pid: None,
        gpus: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_exporters_fail_alone_and_good_data_stays_complete() {
    // The good exporter: +10 requests per scrape; it counts the scrapes it served.
    let good_scrapes = Arc::new(AtomicU64::new(0));
    let good = common::serve(Router::new().route(
        "/metrics",
        get({
            let scrapes = good_scrapes.clone();
            move || {
                let served = scrapes.fetch_add(1, Ordering::SeqCst);
                async move { counter_page(served * 10) }
            }
        }),
    ))
    .await;
    // Counter resets: 0, 10, 20, 30, then a restart: 5, 15, 25, 35, then 5 again…
    let reset_scrapes = Arc::new(AtomicU64::new(0));
    let resetting = common::serve(Router::new().route(
        "/metrics",
        get({
            let scrapes = reset_scrapes.clone();
            move || {
                let served = scrapes.fetch_add(1, Ordering::SeqCst);
                let value = if served < 4 {
                    served * 10
                } else {
                    5 + (served - 4) % 4 * 10
                };
                async move { counter_page(value) }
            }
        }),
    ))
    .await;
    // Flapping: every other scrape fails with 503.
    let flap_scrapes = Arc::new(AtomicU64::new(0));
    let flapping = common::serve(Router::new().route(
        "/metrics",
        get({
            let scrapes = flap_scrapes.clone();
            move || {
                let served = scrapes.fetch_add(1, Ordering::SeqCst);
                async move {
                    if served % 2 == 1 {
                        (StatusCode::SERVICE_UNAVAILABLE, "down for a moment").into_response()
                    } else {
                        counter_page(served).into_response()
                    }
                }
            }
        }),
    ))
    .await;
    let html = common::serve(Router::new().route(
        "/metrics",
        get(|| async { "<html><body>Welcome to nginx!</body></html>" }),
    ))
    .await;
    let binary = common::serve(Router::new().route(
        "/metrics",
        get(|| async { Body::from(vec![0xff_u8, 0xfe, 0x00, 0x9f, 0x92, 0x96]) }),
    ))
    .await;
    let trickle = common::serve(Router::new().route(
        "/metrics",
        get(|| async {
            let drip = futures::stream::unfold(0u32, |n| async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((
                    Ok::<_, std::convert::Infallible>(bytes::Bytes::from_static(b"x")),
                    n + 1,
                ))
            });
            Body::from_stream(drip)
        }),
    ))
    .await;
    let huge = common::serve(Router::new().route(
        "/metrics",
        get(|| async {
            // 100 MB of valid samples, made lazily (1,600 chunks of 64 KiB).
            let chunk = bytes::Bytes::from("a_total 1\n".repeat(6554));
            let stream = futures::stream::repeat(chunk)
                .take(1600)
                .map(Ok::<_, std::convert::Infallible>);
            Body::from_stream(stream)
        }),
    ))
    .await;
    let hung = silent_server().await;
    let refused = refused_port().await;

    let mut config = common::fast_config();
    config.scrape_interval_ms = 500;
    config.scrape_timeout_ms = 400;
    config.targets = vec![
        target(format!("http://{good}/metrics"), "good"),
        target(format!("http://{resetting}/metrics"), "resetting"),
        target(format!("http://{flapping}/metrics"), "flapping"),
        target(format!("http://{html}/metrics"), "html"),
        target(format!("http://{binary}/metrics"), "binary"),
        target(format!("http://{trickle}/metrics"), "trickle"),
        target(format!("http://{huge}/metrics"), "huge"),
        target(format!("http://{hung}/metrics"), "hung"),
        target(format!("http://127.0.0.1:{refused}/metrics"), "refused"),
    ];
    let server = common::start(config).await;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();

    // Let every target be scraped several times.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let targets: Vec<TargetHealth> = client
        .get(format!("{base}/api/v1/targets"))
        .send()
        .await
        .expect("targets answer")
        .json()
        .await
        .expect("targets JSON");
    assert_eq!(targets.len(), 9);
    let health = |replica: &str| health_of(&targets, replica);
    let reason = |replica: &str| {
        let target = health(replica);
        assert!(!target.up, "{replica} should be down: {target:?}");
        target.last_error.unwrap_or_default()
    };
    assert!(health("good").up);
    assert!(health("resetting").up);
    for (replica, expected) in [
        ("html", "malformed exposition page: line 1"),
        ("binary", "body is not UTF-8 text"),
        ("trickle", "timed out after 400 ms"),
        ("huge", "body exceeds 16777216 bytes (body_limit_bytes)"),
        ("hung", "timed out after 400 ms"),
        ("refused", "request failed"),
    ] {
        let why = reason(replica);
        assert!(why.contains(expected), "{replica}: {why}");
    }
    // The page's own text is not shown to viewers (it is in the server log): an HTML page,
    // or anything else a wrong URL returns, stays out of the API and the targets page.
    let html = reason("html");
    assert!(
        !html.contains("nginx") && !html.contains('<'),
        "the page's text is shown: {html}"
    );
    assert!(html.contains("(the server log quotes it)"), "{html}");
    let flapping = health("flapping");
    if !flapping.up {
        assert_eq!(flapping.last_error.as_deref(), Some("HTTP status 503"));
    }

    // The store holds, for the good exporter, an increment of 10 for every scrape after the
    // first and an `up` of 1 for every scrape; for the resetting one, the real increments;
    // for the flapping one, gaps (stale markers) between its successes.
    let (good_increments, good_up, reset_total, flap_points) = server
        .store
        .read(|store| {
            let counter = |replica: &str| -> Vec<Option<f64>> {
                store
                    .series(Signal::Requests)
                    .filter(|(key, _)| &*key.target.replica == replica)
                    .flat_map(|(_, samples)| match samples {
                        Samples::Counter(ring) => ring.iter().map(|(_, v)| v).collect::<Vec<_>>(),
                        _ => Vec::new(),
                    })
                    .collect()
            };
            let up: Vec<Option<f64>> = store
                .series(Signal::Up)
                .filter(|(key, _)| &*key.target.replica == "good")
                .flat_map(|(_, samples)| match samples {
                    Samples::Gauge(ring) => ring.iter().map(|(_, v)| v).collect(),
                    _ => Vec::new(),
                })
                .collect();
            let reset_total: f64 = counter("resetting").into_iter().flatten().sum();
            (counter("good"), up, reset_total, counter("flapping"))
        })
        .await
        .expect("store answers");
    let served = good_scrapes.load(Ordering::SeqCst);
    assert!(served >= 8, "the good exporter was scraped {served} times");
    assert!(good_up.iter().all(|up| *up == Some(1.0)), "{good_up:?}");
    // Scrapes in flight when the store was read may be one ahead of it.
    assert!(
        good_up.len() as u64 >= served - 1,
        "{} up points, {served} scrapes",
        good_up.len()
    );
    assert!(
        good_increments.iter().all(|v| *v == Some(10.0)),
        "{good_increments:?}"
    );
    assert_eq!(
        good_increments.len(),
        good_up.len() - 1,
        "an increment per scrape after the first"
    );
    // What the resetting exporter really counted, scrape by scrape after the first.
    let reset_served = reset_scrapes.load(Ordering::SeqCst);
    let values: Vec<u64> = (0..reset_served)
        .map(|n| if n < 4 { n * 10 } else { 5 + (n - 4) % 4 * 10 })
        .collect();
    let real: u64 = values
        .windows(2)
        .map(|pair| {
            if pair[1] >= pair[0] {
                pair[1] - pair[0]
            } else {
                pair[1]
            }
        })
        .sum();
    // The store may be one scrape behind the exporter's count.
    let last_step = values.windows(2).last().map_or(0, |pair| {
        if pair[1] >= pair[0] {
            pair[1] - pair[0]
        } else {
            pair[1]
        }
    });
    assert!(
        reset_total == real as f64 || reset_total == (real - last_step) as f64,
        "store counted {reset_total}, exporter counted {real}"
    );
    assert!(
        flap_points.contains(&None),
        "flapping leaves gaps: {flap_points:?}"
    );

    // The good exporter's rate reads right on the panel: 10 requests per 0.5 s scrape.
    let view: app::wire::View = client
        .get(format!("{base}/api/v1/view?deployment=good&range=5m"))
        .send()
        .await
        .expect("view answers")
        .json()
        .await
        .expect("view JSON");
    let rate = view
        .panel(app::wire::PanelId::InferenceVolume)
        .and_then(|panel| panel.series(&app::wire::SeriesId::Status2xx))
        .and_then(|series| {
            // The median of the finished steps: the newest step is still filling, and one step
            // can catch one scrape more or less on a loaded machine.
            let mut rates: Vec<f64> = series.points.iter().filter_map(|point| point.1).collect();
            rates.pop();
            rates.sort_by(f64::total_cmp);
            rates.get(rates.len() / 2).copied()
        })
        .expect("a request rate");
    assert!((rate - 20.0).abs() < 4.0, "about 20 req/s, got {rate}");
    let bad_query = client
        .get(format!("{base}/api/v1/view?range=3y"))
        .send()
        .await
        .expect("view answers");
    assert_eq!(bad_query.status(), 400);
    let body: serde_json::Value = bad_query.json().await.expect("JSON error");
    assert_eq!(
        body["error"],
        "unknown range \"3y\": use 5m, 15m, 1h, 6h, 24h or 7d"
    );

    // The server still serves everything.
    for path in ["/healthz", "/api/v1/view?range=5m", "/targets"] {
        let response = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    server.stop().await.expect("clean stop");
}

/// Exporters that redirect: to another host (here another port of loopback, which is another
/// origin: the same rule keeps inferscope away from any other address), to itself in a loop,
/// and within themselves. And a target URL with credentials in it, whose password must show
/// nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_on_the_same_host_only_and_credentials_never_shown() {
    const PAGE: &str = "# TYPE inferscope_inference_requests_total counter\ninferscope_inference_requests_total{code=\"200\"} 7\n";
    // Where an off-host redirect would lead; it counts the requests it gets (none allowed).
    let elsewhere_hits = Arc::new(AtomicU64::new(0));
    let hits = elsewhere_hits.clone();
    let elsewhere = common::serve(Router::new().route(
        "/metrics",
        get(move || {
            hits.fetch_add(1, Ordering::Relaxed);
            async { PAGE }
        }),
    ))
    .await;
    let redirect = |to: String| {
        move || {
            let to = to.clone();
            async move { (StatusCode::FOUND, [("location", to)]).into_response() }
        }
    };
    let off_host = common::serve(Router::new().route(
        "/metrics",
        get(redirect(format!("http://{elsewhere}/metrics"))),
    ))
    .await;
    let looping =
        common::serve(Router::new().route("/metrics", get(redirect("/metrics".into())))).await;
    let moved = common::serve(
        Router::new()
            .route("/metrics", get(redirect("/v2/metrics".into())))
            .route("/v2/metrics", get(|| async { PAGE })),
    )
    .await;
    let mut config = common::fast_config();
    config.targets = vec![
        target(format!("http://{off_host}/metrics"), "off-host"),
        target(format!("http://{looping}/metrics"), "looping"),
        target(format!("http://{moved}/metrics"), "moved"),
        target(
            format!(
                "http://scraper:hunter2-secret@127.0.0.1:{}/metrics",
                refused_port().await
            ),
            "credentials",
        ),
    ];
    let server = common::start(config).await;
    let base = format!("http://{}", server.addr);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let body = reqwest::get(format!("{base}/api/v1/targets"))
        .await
        .expect("targets answer")
        .text()
        .await
        .expect("body");
    assert!(!body.contains("hunter2"), "the password shows: {body}");
    let targets: Vec<TargetHealth> = serde_json::from_str(&body).expect("targets JSON");
    let health = |replica: &str| health_of(&targets, replica);
    let off = health("off-host");
    assert!(!off.up);
    let why = off.last_error.unwrap_or_default();
    assert!(
        why.contains("redirected to another host or scheme"),
        "{why}"
    );
    assert_eq!(
        elsewhere_hits.load(Ordering::Relaxed),
        0,
        "the other host was never asked"
    );
    let why = health("looping").last_error.unwrap_or_default();
    assert!(why.contains("more than 3 redirects"), "{why}");
    assert!(
        health("moved").up,
        "a redirect on the same host is followed"
    );
    let credentials = health("credentials");
    assert!(
        credentials.url.contains("scraper:xxxxx@"),
        "{}",
        credentials.url
    );
    assert!(
        credentials
            .last_error
            .as_deref()
            .is_some_and(|e| !e.contains("hunter2")),
        "{credentials:?}"
    );
    // The targets page shows neither.
    let page = reqwest::get(format!("{base}/targets"))
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(page.contains("scraper:xxxxx@") && !page.contains("hunter2"));
    server.stop().await.expect("clean stop");
}
