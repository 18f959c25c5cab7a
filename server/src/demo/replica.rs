//! A demo model replica: a real HTTP server that takes a while to load (cold start), then
//! answers predictions after a realistic, load-dependent time, streaming its output, and
//! exports the time it spent in the model on `/metrics`.
//!
//! `POST /v1/predict` with `{"prompt_tokens": N, "max_tokens": M}`:
//! - malformed JSON → 400, a prompt longer than the context → 422, still loading → 503,
//!   an occasional internal failure → 500;
//! - otherwise a first chunk after the prefill time, then one chunk per ten output tokens.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::debug;

use super::metrics::{Histogram, geometric_bounds};

/// How a model behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelProfile {
    /// Longest prompt accepted, tokens.
    pub max_context_tokens: u32,
    /// Fixed cost of every request.
    pub overhead: Duration,
    /// Prefill time per prompt token.
    pub prefill_per_token: Duration,
    /// Decode time per output token (zero for an embedder).
    pub decode_per_token: Duration,
    /// Output bytes per generated token.
    pub bytes_per_token: usize,
    /// Bytes of the first chunk (an embedding, or a stream header).
    pub first_chunk_bytes: usize,
    /// Probability that a request fails inside the model.
    pub failure_rate: f64,
    /// Slow-down per other request in progress (batching contention).
    pub contention_per_request: f64,
}

#[derive(Debug, Deserialize)]
struct PredictRequest {
    prompt_tokens: u32,
    #[serde(default)]
    max_tokens: u32,
}

struct ReplicaState {
    profile: ModelProfile,
    ready_at: Instant,
    in_flight: AtomicUsize,
    inference_time: Histogram,
    rng: std::sync::Mutex<SmallRng>,
}

/// A running replica.
#[derive(Debug)]
pub struct Replica {
    /// The replica's name (its `replica` label).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Replica {
    /// Starts a replica listening on a free loopback port; it is ready after `cold_start`.
    pub async fn start(
        name: String,
        profile: ModelProfile,
        cold_start: Duration,
        seed: u64,
    ) -> std::io::Result<Replica> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ReplicaState {
            profile,
            ready_at: Instant::now() + cold_start,
            in_flight: AtomicUsize::new(0),
            inference_time: Histogram::new(geometric_bounds(0.001, 120.0, 1.02)),
            rng: std::sync::Mutex::new(SmallRng::seed_from_u64(seed)),
        });
        let app = Router::new()
            .route("/v1/predict", post(predict))
            .route("/healthz", get(health))
            .route("/metrics", get(metrics))
            .with_state(state);
        let (shutdown, stop) = oneshot::channel::<()>();
        let server_name = name.clone();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                // Either an explicit stop or the handle being dropped ends the server.
                let _stop_or_dropped = stop.await;
            });
            if let Err(error) = serve.await {
                debug!(replica = %server_name, %error, "replica server ended with an error");
            }
        });
        Ok(Replica {
            name,
            addr,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// Stops the replica (in-flight responses are cut off) and waits briefly for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _already_stopped = shutdown.send(());
        }
        let task = &mut self.task;
        if tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn health(State(state): State<Arc<ReplicaState>>) -> StatusCode {
    if Instant::now() >= state.ready_at {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn metrics(State(state): State<Arc<ReplicaState>>) -> impl IntoResponse {
    let mut page = String::with_capacity(32 * 1024);
    state.inference_time.render(
        "inferscope_inference_time_seconds",
        "Time the model spent on a request, seconds.",
        &mut page,
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        page,
    )
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        format!("{{\"error\":{message:?}}}"),
    )
        .into_response()
}

/// Counts a request in progress and records its inference time when it ends, however it ends.
struct InFlight {
    state: Arc<ReplicaState>,
    started: Instant,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.state
            .inference_time
            .observe(self.started.elapsed().as_secs_f64());
    }
}

async fn predict(State(state): State<Arc<ReplicaState>>, body: Bytes) -> Response {
    if Instant::now() < state.ready_at {
        return error(StatusCode::SERVICE_UNAVAILABLE, "model is still loading");
    }
    let request: PredictRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(parse_error) => {
            return error(StatusCode::BAD_REQUEST, &parse_error.to_string());
        }
    };
    let profile = state.profile;
    if request.prompt_tokens > profile.max_context_tokens {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "prompt is longer than the model's context",
        );
    }
    let others = state.in_flight.fetch_add(1, Ordering::Relaxed);
    let guard = InFlight {
        state: state.clone(),
        started: Instant::now(),
    };
    let (jitter, fails) = {
        let mut rng = state
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (
            rng.random_range(0.85..1.25),
            rng.random_bool(profile.failure_rate),
        )
    };
    let slowdown = jitter * (1.0 + profile.contention_per_request * others as f64);
    let prefill =
        (profile.overhead + profile.prefill_per_token * request.prompt_tokens).mul_f64(slowdown);
    if fails {
        tokio::time::sleep(prefill / 2).await;
        drop(guard);
        return error(StatusCode::INTERNAL_SERVER_ERROR, "inference failed");
    }
    let decode_chunk = profile.decode_per_token.mul_f64(slowdown) * 10;
    let first = Bytes::from(vec![b'{'; profile.first_chunk_bytes.max(1)]);
    let chunk = Bytes::from(vec![b'x'; profile.bytes_per_token * 10]);
    let stream = futures::stream::unfold(
        (Some(guard), request.max_tokens, true),
        move |(guard, remaining, first_chunk)| {
            let first = first.clone();
            let chunk = chunk.clone();
            async move {
                if first_chunk {
                    tokio::time::sleep(prefill).await;
                    return Some((
                        Ok::<_, std::convert::Infallible>(first),
                        (guard, remaining, false),
                    ));
                }
                if remaining == 0 {
                    drop(guard);
                    return None;
                }
                let tokens = remaining.min(10);
                tokio::time::sleep(decode_chunk * tokens / 10).await;
                let bytes = chunk.slice(..chunk.len() * tokens as usize / 10);
                Some((Ok(bytes), (guard, remaining - tokens, false)))
            }
        },
    );
    (
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}
