//! A TGI-style replica for the truth harness: Text Generation Inference v3.3.7's families, recorded
//! with the `metrics` facade and rendered by `metrics-exporter-prometheus` as TGI does
//! (`router/src/server.rs:1937-1994`: bucket matchers, `/metrics` on the main port), driven by
//! planned requests the harness POSTs.
//!
//! Every event that changes what a scrape reads (a request, a gauge reading, a scrape) is appended
//! to a JSON-lines log under one lock with the metric update itself, so the log's order is the
//! order scrapes saw. The reference (`truth/reference.py`) reads only that log. Nothing here
//! knows inferscope.
//!
//! ```text
//! truth-tgi-exporter --port 9000 --log tgi-0.log
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::{Value, json};

/// TGI's `max_input_tokens` and `max_total_tokens` in this replica (its bucket layouts follow).
const MAX_INPUT_TOKENS: f64 = 4095.0;
const MAX_TOTAL_TOKENS: f64 = 4096.0;

struct Replica {
    handle: PrometheusHandle,
    /// Held across a metric update and its log line, and across a render and its log line.
    log: Mutex<std::fs::File>,
    outage_until_ms: Mutex<f64>,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl Replica {
    fn write(file: &mut std::fs::File, event: &str, mut fields: Value) {
        if let Some(object) = fields.as_object_mut() {
            object.insert("ev".into(), json!(event));
            object.insert("t".into(), json!(now_ms()));
        }
        if let Err(error) = writeln!(file, "{fields}") {
            eprintln!("tgi exporter: cannot write the log: {error}");
        }
    }
}

/// The buckets TGI configures (`server.rs:1937-1986`).
fn builder() -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    let mut duration = Vec::with_capacity(35);
    let mut value = 0.0001;
    for _ in 0..35 {
        value *= 1.5;
        duration.push(value);
    }
    let input: Vec<f64> = (0..100)
        .map(|x| (MAX_INPUT_TOKENS / 100.0) * f64::from(x + 1))
        .collect();
    let total: Vec<f64> = (0..100)
        .map(|x| (MAX_TOTAL_TOKENS / 100.0) * f64::from(x + 1))
        .collect();
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("duration".into()), &duration)?
        .set_buckets_for_metric(Matcher::Full("tgi_request_input_length".into()), &input)?
        .set_buckets_for_metric(Matcher::Full("tgi_request_generated_tokens".into()), &total)
}

fn number(plan: &Value, key: &str) -> f64 {
    plan.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// Applies one planned request as TGI's router records it (`server.rs:415-423`,
/// `infer/mod.rs`, `backends/v3/src/queue.rs`), returning the status to answer.
fn apply(plan: &Value) -> u16 {
    metrics::counter!("tgi_request_count").increment(1);
    let outcome = plan.get("outcome").and_then(Value::as_str).unwrap_or("");
    if outcome != "validation" {
        // Validation records the input length of every valid request.
        metrics::histogram!("tgi_request_input_length").record(number(plan, "prompt_tokens"));
    }
    match outcome {
        "success" => {
            metrics::counter!("tgi_request_success").increment(1);
            metrics::histogram!("tgi_request_duration").record(number(plan, "e2e"));
            metrics::histogram!("tgi_request_queue_duration").record(number(plan, "queue"));
            metrics::histogram!("tgi_request_inference_duration").record(number(plan, "inference"));
            metrics::histogram!("tgi_request_generated_tokens").record(number(plan, "gen_tokens"));
            // `time_per_token = inference_time / generated_tokens` (a Duration over a u32).
            let generated = plan
                .get("gen_tokens")
                .and_then(Value::as_u64)
                .and_then(|tokens| u32::try_from(tokens).ok())
                .unwrap_or(1)
                .max(1);
            let inference = Duration::from_secs_f64(number(plan, "inference").max(0.0));
            metrics::histogram!("tgi_request_mean_time_per_token_duration")
                .record((inference / generated).as_secs_f64());
        }
        err => {
            metrics::counter!("tgi_request_failure", "err" => err.to_owned()).increment(1);
        }
    }
    plan.get("http_status")
        .and_then(Value::as_u64)
        .and_then(|status| u16::try_from(status).ok())
        .unwrap_or(200)
}

async fn scrape(State(replica): State<Arc<Replica>>) -> Response {
    let Ok(mut log) = replica.log.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let outage = replica.outage_until_ms.lock().map_or(0.0, |until| *until);
    if now_ms() < outage {
        Replica::write(&mut log, "scrape", json!({"ok": false}));
        return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
    }
    let page = replica.handle.render();
    Replica::write(&mut log, "scrape", json!({"ok": true}));
    page.into_response()
}

async fn generate(State(replica): State<Arc<Replica>>, body: String) -> Response {
    let Ok(plan) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a plan").into_response();
    };
    let status = {
        let Ok(mut log) = replica.log.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        Replica::write(&mut log, "req", json!({"plan": plan}));
        apply(&plan)
    };
    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), "{}").into_response()
}

async fn control(State(replica): State<Arc<Replica>>, body: String) -> Response {
    let Ok(order) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not an order").into_response();
    };
    let Ok(mut log) = replica.log.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Some(seconds) = order.get("outage_s").and_then(Value::as_f64) {
        if let Ok(mut until) = replica.outage_until_ms.lock() {
            *until = now_ms() + seconds * 1000.0;
        }
        Replica::write(&mut log, "outage", json!({"seconds": seconds}));
    }
    if let Some(gauges) = order.get("gauges") {
        Replica::write(&mut log, "gauge", json!({"values": gauges}));
        if let Some(value) = gauges.get("running").and_then(Value::as_f64) {
            metrics::gauge!("tgi_batch_current_size").set(value);
        }
        if let Some(value) = gauges.get("waiting").and_then(Value::as_f64) {
            metrics::gauge!("tgi_queue_size").set(value);
        }
    }
    "{}".into_response()
}

fn arguments() -> Result<(u16, String), String> {
    let mut args = std::env::args().skip(1);
    let (mut port, mut log) = (None, None);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()),
            "--log" => log = args.next(),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    match (port, log) {
        (Some(port), Some(log)) => Ok((port, log)),
        _ => Err("usage: truth-tgi-exporter --port PORT --log FILE".into()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let (port, log_path) = arguments()?;
    let recorder = builder()
        .map_err(|error| error.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|error| error.to_string())?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|error| format!("{log_path}: {error}"))?;
    let replica = Arc::new(Replica {
        handle: handle.clone(),
        log: Mutex::new(file),
        outage_until_ms: Mutex::new(0.0),
    });
    if let Ok(mut log) = replica.log.lock() {
        Replica::write(&mut log, "start", json!({"pid": std::process::id()}));
    }
    // The gauges exist from the start, as TGI's backend sets them at once.
    metrics::gauge!("tgi_batch_current_size").set(0.0);
    metrics::gauge!("tgi_queue_size").set(0.0);
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new()
        .route("/metrics", get(scrape))
        .route("/generate", post(generate))
        .route("/control", post(control))
        .route("/health", get(|| async { "{}" }))
        .with_state(replica);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("{address}: {error}"))?;
    axum::serve(listener, app)
        .await
        .map_err(|error| error.to_string())
}
