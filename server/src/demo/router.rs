//! A demo deployment's router: the front door that limits concurrency per replica, queues the
//! rest, autoscales its replicas with the reference algorithm, and exports what it measured.
//!
//! `POST /v1/predict` answers synchronously, streaming the replica's output through.
//! `POST /v1/async_predict` answers 201 with a request id at once and puts the request on a
//! bounded async queue (full: 429); a few workers take requests off it, run them like
//! synchronous ones and record how long each waited.
//!
//! One dispatcher task owns the replicas, the queue and the autoscaler; request handlers ask it
//! for a slot over a bounded channel and give the slot back by dropping it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::autoscale::{Autoscaler, AutoscalerSettings};
use crate::scrape::now_ms;

use serde::Deserialize;

use super::metrics::{
    AtomicF64, Histogram, StatusCounter, escape_label, geometric_bounds, render_gauge,
    render_header,
};
use super::replica::{ModelProfile, Replica};

/// Largest request body the router accepts.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// How one deployment is served.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentSettings {
    /// Environment label.
    pub environment: String,
    /// Deployment label.
    pub deployment: String,
    /// The model's behaviour.
    pub profile: ModelProfile,
    /// The models every replica serves: the base model first, then its adapters (LoRA). A
    /// request names one in its `model` field; the router counts requests by it.
    pub models: Vec<String>,
    /// Requests one replica serves at once; the rest queue.
    pub concurrency_per_replica: usize,
    /// Most requests waiting; more are refused with 429.
    pub queue_limit: usize,
    /// Longest a request waits in the queue before a 504.
    pub queue_timeout: Duration,
    /// The autoscaler's settings.
    pub autoscaler: AutoscalerSettings,
    /// Shortest cold start of a new replica.
    pub cold_start_min: Duration,
    /// Longest cold start of a new replica.
    pub cold_start_max: Duration,
    /// Seed for the replicas' randomness.
    pub seed: u64,
    /// Requests taken off the async queue at once.
    pub async_workers: usize,
    /// Most requests waiting on the async queue; more are refused with 429.
    pub async_queue_limit: usize,
}

/// A replica the router runs, as discovery lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaTarget {
    /// Its name (the `replica` label).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

struct RouterMetrics {
    /// By model (`model` label) where the request named one the deployment serves.
    requests: StatusCounter,
    /// Of requests no model could be told for (a malformed body, a model not served).
    end_to_end: Histogram,
    time_to_first_byte: Histogram,
    /// Per model the deployment serves, in [`DeploymentSettings::models`]' order.
    models: Vec<ModelLines>,
    request_size: Histogram,
    response_size: Histogram,
    in_progress: AtomicF64,
    queued: AtomicF64,
    active: AtomicF64,
    starting: AtomicF64,
    async_queue_time: Histogram,
    /// The autoscaler's settings, as `inferscope_autoscaler_setting` labels and values.
    settings: Vec<(String, f64)>,
}

/// What the router measures of one model's requests.
struct ModelLines {
    /// `model="…"`, escaped.
    label: String,
    end_to_end: Histogram,
    time_to_first_byte: Histogram,
}

/// The body's `model` field, where it has one.
#[derive(Deserialize)]
struct NamedModel {
    #[serde(default)]
    model: Option<String>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(geometric_bounds(0.001, 120.0, 1.02))
}

impl RouterMetrics {
    fn new(autoscaler: &AutoscalerSettings, models: &[String]) -> RouterMetrics {
        let seconds = latency_histogram;
        let bytes = || Histogram::new(geometric_bounds(16.0, 16.0 * 1024.0 * 1024.0, 1.02));
        RouterMetrics {
            requests: StatusCounter::default(),
            end_to_end: seconds(),
            time_to_first_byte: seconds(),
            models: models
                .iter()
                .map(|name| ModelLines {
                    label: format!("model=\"{}\"", escape_label(name)),
                    end_to_end: seconds(),
                    time_to_first_byte: seconds(),
                })
                .collect(),
            request_size: bytes(),
            response_size: bytes(),
            in_progress: AtomicF64::default(),
            queued: AtomicF64::default(),
            active: AtomicF64::default(),
            starting: AtomicF64::default(),
            async_queue_time: seconds(),
            settings: [
                f64::from(autoscaler.min_replicas),
                f64::from(autoscaler.max_replicas),
                autoscaler.concurrency_target,
                autoscaler.target_utilization,
                autoscaler.window.as_secs_f64(),
                autoscaler.scale_down_delay.as_secs_f64(),
                autoscaler.max_scale_down_rate,
            ]
            .into_iter()
            .zip(crate::autoscale::SETTING_NAMES)
            .map(|(value, name)| (format!("setting=\"{name}\""), value))
            .collect(),
        }
    }

    /// Records one answered request of `model` (an index into [`RouterMetrics::models`];
    /// `None`: no model could be told).
    fn answered(
        &self,
        model: Option<usize>,
        status: u16,
        is_async: bool,
        first_byte_s: f64,
        end_to_end_s: f64,
        bytes: usize,
    ) {
        let lines = model.and_then(|index| self.models.get(index));
        let label = lines.map_or("", |lines| lines.label.as_str());
        self.requests.record_with(label, status, is_async);
        let (first_byte, end_to_end) = match lines {
            Some(lines) => (&lines.time_to_first_byte, &lines.end_to_end),
            None => (&self.time_to_first_byte, &self.end_to_end),
        };
        first_byte.observe(first_byte_s);
        end_to_end.observe(end_to_end_s);
        self.response_size.observe(bytes as f64);
    }

    /// A histogram family per model, and the requests of no model where there were any.
    fn render_by_model(
        &self,
        name: &str,
        help: &str,
        of: impl Fn(&ModelLines) -> &Histogram,
        unattributed: &Histogram,
        page: &mut String,
    ) {
        render_header(name, help, "histogram", page);
        for lines in &self.models {
            of(lines).render_samples(name, &lines.label, page);
        }
        if unattributed.count() > 0 || self.models.is_empty() {
            unattributed.render_samples(name, "", page);
        }
    }

    fn render(&self, async_queue_size: usize) -> String {
        let mut page = String::with_capacity(256 * 1024);
        self.requests.render(
            "inferscope_inference_requests_total",
            "Requests answered, by model and status code.",
            &mut page,
        );
        self.render_by_model(
            "inferscope_end_to_end_response_time_seconds",
            "Time from request received to last byte sent, queueing included, seconds.",
            |lines| &lines.end_to_end,
            &self.end_to_end,
            &mut page,
        );
        self.render_by_model(
            "inferscope_time_to_first_byte_seconds",
            "Time from request received to the first response byte, seconds.",
            |lines| &lines.time_to_first_byte,
            &self.time_to_first_byte,
            &mut page,
        );
        self.request_size.render(
            "inferscope_request_size_bytes",
            "Request body size, bytes.",
            &mut page,
        );
        self.response_size.render(
            "inferscope_response_size_bytes",
            "Response body size, bytes.",
            &mut page,
        );
        render_gauge(
            "inferscope_concurrent_requests",
            "Requests in the deployment now, by state.",
            &[
                ("state=\"in_progress\"", self.in_progress.get()),
                ("state=\"queued\"", self.queued.get()),
            ],
            &mut page,
        );
        self.async_queue_time.render(
            "inferscope_time_in_async_queue_seconds",
            "Time an async request waited on the queue before a worker took it, seconds.",
            &mut page,
        );
        render_gauge(
            "inferscope_async_queue_size",
            "Async requests waiting on the queue.",
            &[("", async_queue_size as f64)],
            &mut page,
        );
        render_gauge(
            "inferscope_replicas_active",
            "Replicas ready to serve.",
            &[("", self.active.get())],
            &mut page,
        );
        render_gauge(
            "inferscope_replicas_starting",
            "Replicas loading, not yet ready.",
            &[("", self.starting.get())],
            &mut page,
        );
        let settings: Vec<(&str, f64)> = self
            .settings
            .iter()
            .map(|(labels, value)| (labels.as_str(), *value))
            .collect();
        render_gauge(
            "inferscope_autoscaler_setting",
            "The autoscaler's settings (seconds for the window and the delay).",
            &settings,
            &mut page,
        );
        page
    }
}

/// A place on a replica; dropping it gives the place back.
struct Slot {
    addr: SocketAddr,
    in_flight: Arc<AtomicUsize>,
    freed: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.freed.notify_one();
    }
}

#[derive(Debug)]
enum Refusal {
    QueueFull,
}

type SlotReply = oneshot::Sender<Result<Slot, Refusal>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Starting,
    Active,
    Draining,
}

struct Entry {
    id: u64,
    replica: Replica,
    in_flight: Arc<AtomicUsize>,
    phase: Phase,
}

struct Dispatcher {
    settings: DeploymentSettings,
    metrics: Arc<RouterMetrics>,
    replicas: Vec<Entry>,
    queue: VecDeque<SlotReply>,
    freed: Arc<Notify>,
    autoscaler: Autoscaler,
    rng: SmallRng,
    next_id: u64,
    ready: mpsc::Sender<u64>,
    targets: watch::Sender<Vec<ReplicaTarget>>,
    client: reqwest::Client,
}

impl Dispatcher {
    fn try_assign(&mut self) -> Option<Slot> {
        let limit = self.settings.concurrency_per_replica;
        let entry = self
            .replicas
            .iter()
            .filter(|entry| entry.phase == Phase::Active)
            .filter(|entry| entry.in_flight.load(Ordering::Relaxed) < limit)
            .min_by_key(|entry| entry.in_flight.load(Ordering::Relaxed))?;
        entry.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            addr: entry.replica.addr,
            in_flight: entry.in_flight.clone(),
            freed: self.freed.clone(),
        })
    }

    fn acquire(&mut self, reply: SlotReply) {
        if self.queue.is_empty()
            && let Some(slot) = self.try_assign()
        {
            // If the handler is gone, the slot is dropped and given back at once.
            let _handler_may_be_gone = reply.send(Ok(slot));
            self.update_gauges();
            return;
        }
        self.queue.retain(|waiting| !waiting.is_closed());
        if self.queue.len() >= self.settings.queue_limit {
            let _handler_may_be_gone = reply.send(Err(Refusal::QueueFull));
        } else {
            self.queue.push_back(reply);
        }
        self.update_gauges();
    }

    fn serve_queue(&mut self) {
        while let Some(waiting) = self.queue.front() {
            if waiting.is_closed() {
                self.queue.pop_front();
                continue;
            }
            let Some(slot) = self.try_assign() else {
                break;
            };
            if let Some(waiting) = self.queue.pop_front() {
                let _handler_may_be_gone = waiting.send(Ok(slot));
            }
        }
        self.update_gauges();
    }

    fn update_gauges(&self) {
        let in_progress: usize = self
            .replicas
            .iter()
            .map(|entry| entry.in_flight.load(Ordering::Relaxed))
            .sum();
        let queued = self.queue.iter().filter(|w| !w.is_closed()).count();
        let count = |phase| self.replicas.iter().filter(|e| e.phase == phase).count();
        self.metrics.in_progress.set(in_progress as f64);
        self.metrics.queued.set(queued as f64);
        self.metrics.active.set(count(Phase::Active) as f64);
        self.metrics.starting.set(count(Phase::Starting) as f64);
    }

    async fn start_replica(&mut self, cold_start: Duration) {
        self.next_id += 1;
        let id = self.next_id;
        let name = format!("{}-{}", self.settings.deployment, id);
        let seed = self.settings.seed.wrapping_mul(1000).wrapping_add(id);
        match Replica::start(
            name.clone(),
            self.settings.profile,
            self.settings.models.clone(),
            cold_start,
            seed,
        )
        .await
        {
            Ok(replica) => {
                info!(
                    environment = %self.settings.environment,
                    replica = %name,
                    cold_start_s = cold_start.as_secs_f64(),
                    "demo replica starting"
                );
                let health = format!("http://{}/healthz", replica.addr);
                let client = self.client.clone();
                let ready = self.ready.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        let answer = client
                            .get(&health)
                            .timeout(Duration::from_secs(1))
                            .send()
                            .await;
                        match answer {
                            Ok(response) if response.status().is_success() => {
                                let _router_may_be_gone = ready.send(id).await;
                                return;
                            }
                            Ok(_) => {}
                            Err(error) if error.is_connect() => return,
                            Err(_) => {}
                        }
                    }
                });
                self.replicas.push(Entry {
                    id,
                    replica,
                    in_flight: Arc::new(AtomicUsize::new(0)),
                    phase: Phase::Starting,
                });
            }
            Err(error) => warn!(replica = %name, %error, "could not start a demo replica"),
        }
    }

    fn cold_start(&mut self) -> Duration {
        let min = self.settings.cold_start_min.as_secs_f64();
        let max = self.settings.cold_start_max.as_secs_f64().max(min);
        Duration::from_secs_f64(if max > min {
            self.rng.random_range(min..max)
        } else {
            min
        })
    }

    async fn tick(&mut self) {
        self.queue.retain(|waiting| !waiting.is_closed());
        let in_progress: usize = self
            .replicas
            .iter()
            .map(|entry| entry.in_flight.load(Ordering::Relaxed))
            .sum();
        let load = (in_progress + self.queue.len()) as f64;
        let now = now_ms();
        self.autoscaler.observe(now, load);
        let serving: Vec<usize> = (0..self.replicas.len())
            .filter(|&i| self.replicas[i].phase != Phase::Draining)
            .collect();
        let current = serving.len() as u32;
        let desired = self.autoscaler.decide(now, current);
        if desired > current {
            for _ in current..desired {
                let cold_start = self.cold_start();
                self.start_replica(cold_start).await;
            }
        } else if desired < current {
            // Remove starting replicas first, then the newest active ones.
            let mut order = serving;
            order.sort_by_key(|&i| {
                let entry = &self.replicas[i];
                (entry.phase == Phase::Active, std::cmp::Reverse(entry.id))
            });
            for &index in order.iter().take((current - desired) as usize) {
                let entry = &mut self.replicas[index];
                info!(replica = %entry.replica.name, "demo replica draining (scale down)");
                entry.phase = Phase::Draining;
            }
        }
        let mut index = 0;
        while index < self.replicas.len() {
            let entry = &self.replicas[index];
            if entry.phase == Phase::Draining && entry.in_flight.load(Ordering::Relaxed) == 0 {
                let entry = self.replicas.remove(index);
                debug!(replica = %entry.replica.name, "demo replica stopped");
                entry.replica.stop().await;
            } else {
                index += 1;
            }
        }
        let targets: Vec<ReplicaTarget> = self
            .replicas
            .iter()
            .map(|entry| ReplicaTarget {
                name: entry.replica.name.clone(),
                addr: entry.replica.addr,
            })
            .collect();
        self.targets.send_if_modified(|known| {
            let changed = *known != targets;
            if changed {
                *known = targets;
            }
            changed
        });
        self.serve_queue();
    }

    fn mark_ready(&mut self, id: u64) {
        if let Some(entry) = self.replicas.iter_mut().find(|entry| entry.id == id)
            && entry.phase == Phase::Starting
        {
            info!(replica = %entry.replica.name, "demo replica active");
            entry.phase = Phase::Active;
        }
        self.serve_queue();
    }
}

struct Shared {
    metrics: Arc<RouterMetrics>,
    acquire: mpsc::Sender<SlotReply>,
    client: reqwest::Client,
    queue_timeout: Duration,
    async_jobs: mpsc::Sender<AsyncJob>,
    next_async_id: AtomicU64,
    /// The models the deployment serves, by name.
    models: Vec<String>,
}

impl Shared {
    /// The model a request body asks for, as the replicas read it: its `model` field, the
    /// first model where it has none. `None` for a body that cannot be read or a model not
    /// served (the label's values stay the deployment's own, however many names clients send).
    fn model_of(&self, body: &[u8]) -> Option<usize> {
        match serde_json::from_slice::<NamedModel>(body).ok()?.model {
            None => (!self.models.is_empty()).then_some(0),
            Some(name) => self.models.iter().position(|served| *served == name),
        }
    }
}

/// A request waiting on the async queue.
struct AsyncJob {
    body: Bytes,
    enqueued: Instant,
}

/// Largest response an async worker reads back from a replica.
const MAX_ASYNC_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// A running router.
#[derive(Debug)]
pub struct RouterHandle {
    /// Where the router listens (`POST /v1/predict`, `GET /metrics`).
    pub addr: SocketAddr,
    /// The replicas it runs now, for discovery.
    pub replicas: watch::Receiver<Vec<ReplicaTarget>>,
    /// The deployment it serves.
    pub settings: DeploymentSettings,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RouterHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Capacity of the dispatcher's request queue (handlers wait when it is full).
const ACQUIRE_QUEUE: usize = 1024;

/// Starts a router and its initial replicas.
pub async fn start(
    mut settings: DeploymentSettings,
    client: reqwest::Client,
    initial_cold_start: Duration,
) -> std::io::Result<RouterHandle> {
    if settings.models.is_empty() {
        settings.models = vec![super::replica::DEFAULT_MODEL.to_owned()];
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let metrics = Arc::new(RouterMetrics::new(&settings.autoscaler, &settings.models));
    let (acquire_tx, mut acquire_rx) = mpsc::channel::<SlotReply>(ACQUIRE_QUEUE);
    let (ready_tx, mut ready_rx) = mpsc::channel::<u64>(64);
    let (targets_tx, targets_rx) = watch::channel(Vec::new());
    let mut dispatcher = Dispatcher {
        settings: settings.clone(),
        metrics: metrics.clone(),
        replicas: Vec::new(),
        queue: VecDeque::new(),
        freed: Arc::new(Notify::new()),
        autoscaler: Autoscaler::new(settings.autoscaler),
        rng: SmallRng::seed_from_u64(settings.seed),
        next_id: 0,
        ready: ready_tx,
        targets: targets_tx,
        client: client.clone(),
    };
    for _ in 0..settings.autoscaler.min_replicas {
        dispatcher.start_replica(initial_cold_start).await;
    }
    dispatcher.update_gauges();
    // Once a second, or ten times per autoscaling window when that is shorter (a scenario
    // in accelerated time).
    let tick =
        (settings.autoscaler.window / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let dispatcher_task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let freed = dispatcher.freed.clone();
        loop {
            tokio::select! {
                request = acquire_rx.recv() => match request {
                    Some(reply) => dispatcher.acquire(reply),
                    None => break,
                },
                () = freed.notified() => dispatcher.serve_queue(),
                Some(id) = ready_rx.recv() => dispatcher.mark_ready(id),
                _ = ticker.tick() => dispatcher.tick().await,
            }
        }
        for entry in dispatcher.replicas.drain(..) {
            entry.replica.stop().await;
        }
    });
    let (async_tx, async_rx) = mpsc::channel::<AsyncJob>(settings.async_queue_limit.max(1));
    let shared = Arc::new(Shared {
        metrics,
        acquire: acquire_tx,
        client,
        queue_timeout: settings.queue_timeout,
        async_jobs: async_tx,
        next_async_id: AtomicU64::new(1),
        models: settings.models.clone(),
    });
    let workers_task = tokio::spawn(async_workers(
        shared.clone(),
        async_rx,
        settings.async_workers,
    ));
    let app = Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/async_predict", post(async_predict))
        .route("/metrics", get(metrics_page))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(shared);
    let server_task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            warn!(%error, "demo router server ended");
        }
    });
    Ok(RouterHandle {
        addr,
        replicas: targets_rx,
        settings,
        tasks: vec![dispatcher_task, server_task, workers_task],
    })
}

async fn metrics_page(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared
            .metrics
            .render(shared.async_jobs.max_capacity() - shared.async_jobs.capacity()),
    )
}

/// `POST /v1/async_predict`: queues the request and answers 201 with its id at once.
async fn async_predict(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let started = Instant::now();
    let asked = Asked {
        started,
        model: shared.model_of(&body),
        is_async: true,
    };
    let job = AsyncJob {
        body,
        enqueued: started,
    };
    match shared.async_jobs.try_send(job) {
        Ok(()) => {
            let id = shared.next_async_id.fetch_add(1, Ordering::Relaxed);
            (
                StatusCode::CREATED,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                format!("{{\"request_id\":\"{id}\"}}"),
            )
                .into_response()
        }
        Err(mpsc::error::TrySendError::Full(_)) => refuse(
            &shared,
            &asked,
            StatusCode::TOO_MANY_REQUESTS,
            "async queue is full",
        ),
        Err(mpsc::error::TrySendError::Closed(_)) => refuse(
            &shared,
            &asked,
            StatusCode::SERVICE_UNAVAILABLE,
            "router is stopping",
        ),
    }
}

/// Takes requests off the async queue, at most `workers` at once, and runs each like a
/// synchronous one, reading the whole answer (as the caller's webhook would receive it).
async fn async_workers(shared: Arc<Shared>, mut jobs: mpsc::Receiver<AsyncJob>, workers: usize) {
    let permits = Arc::new(Semaphore::new(workers.max(1)));
    loop {
        // A worker must be free before a request leaves the queue, so the queue time is the
        // wait for a worker.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let Some(job) = jobs.recv().await else {
            return;
        };
        shared
            .metrics
            .async_queue_time
            .observe(job.enqueued.elapsed().as_secs_f64());
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let response = serve(&shared, job.body, true).await;
            if let Err(error) =
                axum::body::to_bytes(response.into_body(), MAX_ASYNC_RESPONSE_BYTES).await
            {
                debug!(%error, "async request's answer ended early");
            }
        });
    }
}

/// A request as it came in: when, of which model, and whether asynchronously.
struct Asked {
    started: Instant,
    /// Index into the deployment's models; `None` where the body names none it serves (or
    /// cannot be read).
    model: Option<usize>,
    is_async: bool,
}

/// Records a request the router answered itself (refused or failed before a replica answered).
fn refuse(shared: &Shared, request: &Asked, status: StatusCode, message: &str) -> Response {
    let body = format!("{{\"error\":{message:?}}}");
    let elapsed = request.started.elapsed().as_secs_f64();
    shared.metrics.answered(
        request.model,
        status.as_u16(),
        request.is_async,
        elapsed,
        elapsed,
        body.len(),
    );
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Streams a replica's response through, recording what the client experienced when it ends.
struct Passthrough {
    shared: Arc<Shared>,
    started: Instant,
    model: Option<usize>,
    status: u16,
    bytes: usize,
    first_byte: Option<Duration>,
    _slot: Slot,
    recorded: bool,
    is_async: bool,
}

impl Passthrough {
    fn record(&mut self, status: u16) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let elapsed = self.started.elapsed();
        self.shared.metrics.answered(
            self.model,
            status,
            self.is_async,
            self.first_byte.unwrap_or(elapsed).as_secs_f64(),
            elapsed.as_secs_f64(),
            self.bytes,
        );
    }
}

impl Drop for Passthrough {
    fn drop(&mut self) {
        // The client went away before the end (nginx's 499, "client closed request").
        self.record(499);
    }
}

/// `POST /v1/predict`: waits for a place on a replica and streams its answer through.
async fn predict(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    serve(&shared, body, false).await
}

/// Runs one request through a replica, recording what its caller experienced.
async fn serve(shared: &Arc<Shared>, body: Bytes, is_async: bool) -> Response {
    let started = Instant::now();
    let asked = Asked {
        started,
        model: shared.model_of(&body),
        is_async,
    };
    shared.metrics.request_size.observe(body.len() as f64);
    let (reply, answer) = oneshot::channel();
    if shared.acquire.send(reply).await.is_err() {
        return refuse(
            shared,
            &asked,
            StatusCode::SERVICE_UNAVAILABLE,
            "router is stopping",
        );
    }
    let slot = match tokio::time::timeout(shared.queue_timeout, answer).await {
        Ok(Ok(Ok(slot))) => slot,
        Ok(Ok(Err(Refusal::QueueFull))) => {
            return refuse(
                shared,
                &asked,
                StatusCode::TOO_MANY_REQUESTS,
                "queue is full",
            );
        }
        Ok(Err(_)) => {
            return refuse(
                shared,
                &asked,
                StatusCode::SERVICE_UNAVAILABLE,
                "router is stopping",
            );
        }
        Err(_) => {
            return refuse(
                shared,
                &asked,
                StatusCode::GATEWAY_TIMEOUT,
                "waited too long for a free replica",
            );
        }
    };
    let url = format!("http://{}/v1/predict", slot.addr);
    let response = match shared
        .client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(response) => response,
        Err(error) => {
            debug!(%error, "replica unreachable");
            drop(slot);
            return refuse(
                shared,
                &asked,
                StatusCode::BAD_GATEWAY,
                "replica unreachable",
            );
        }
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .cloned();
    let passthrough = Passthrough {
        shared: shared.clone(),
        started,
        model: asked.model,
        status,
        bytes: 0,
        first_byte: None,
        _slot: slot,
        recorded: false,
        is_async,
    };
    let stream = futures::stream::unfold(
        (response, Some(passthrough)),
        |(mut response, passthrough)| async move {
            let mut passthrough = passthrough?;
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    passthrough
                        .first_byte
                        .get_or_insert_with(|| passthrough.started.elapsed());
                    passthrough.bytes += chunk.len();
                    Some((Ok(chunk), (response, Some(passthrough))))
                }
                Ok(None) => {
                    let status = passthrough.status;
                    passthrough.record(status);
                    None
                }
                Err(error) => {
                    passthrough.record(StatusCode::BAD_GATEWAY.as_u16());
                    Some((Err(error), (response, None)))
                }
            }
        },
    );
    let mut builder = Response::builder().status(status);
    if let Some(content_type) = content_type {
        builder = builder.header(axum::http::header::CONTENT_TYPE, content_type);
    }
    match builder.body(Body::from_stream(stream)) {
        Ok(response) => response,
        Err(error) => {
            warn!(%error, "could not build the proxied response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
