//! A demo model replica: a real HTTP server that takes a while to load (cold start), then
//! answers predictions after a realistic, load-dependent time, streaming its output, and
//! exports on `/metrics` what it measured of itself.
//!
//! Run by the `inferscope` binary, each replica is a child process of its own (the hidden
//! `demo-replica` subcommand), and its CPU and memory are read from `/proc` for that process by
//! the same code that reads real replicas (`scrape::host`): request handling plus real work per
//! token, and the buffers it really holds (the loaded "weights" and per-request context). Where
//! no binary was registered (tests and tools that embed the server), a replica runs on an OS
//! thread with a single-threaded runtime instead, and reports its thread's CPU and the bytes it
//! holds. A child process exits when its standard input closes, so replicas never outlive the
//! server, however it ends. There is no GPU here, so the GPU figures are a stated simulation:
//! utilisation is the mean batch in the model as a share of a full batch, memory is weights
//! plus KV cache per token in flight, on an 80 GiB device.
//!
//! `POST /v1/predict` with `{"prompt_tokens": N, "max_tokens": M}`:
//! - malformed JSON → 400, a prompt longer than the context or `max_tokens` above
//!   [`MAX_OUTPUT_TOKENS`] → 422, still loading → 503,
//!   an occasional internal failure → 500;
//! - otherwise a first chunk after the prefill time, then one chunk per ten output tokens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::metrics::{
    AtomicF64, Histogram, escape_label, geometric_bounds, render_counter, render_gauge,
    render_header,
};

/// How a model behaves.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Real CPU work per token processed (prompt or output), on the replica's thread.
    pub cpu_per_token: Duration,
    /// Host memory the loaded model holds, bytes (allocated and written at start).
    pub host_weights_bytes: usize,
    /// Host memory a request holds per token of context while in flight, bytes.
    pub host_bytes_per_token: usize,
    /// Simulated container: the CPU it may use, cores (0: no limit).
    pub cpu_limit_cores: f64,
    /// Simulated container: the memory it may use, bytes (0: no limit), as for
    /// [`ModelProfile::cpu_limit_cores`].
    pub memory_limit_bytes: u64,
    /// Simulated GPU: bytes the weights occupy.
    pub gpu_weights_bytes: u64,
    /// Simulated GPU: KV cache bytes per token in flight.
    pub gpu_kv_bytes_per_token: u64,
    /// Simulated GPU: tokens the KV cache holds when full.
    pub kv_capacity_tokens: u64,
    /// Simulated GPU: requests in the model at once that keep it fully busy.
    pub gpu_full_batch: f64,
    /// How it behaves as an LLM engine (caches, speculative decoding, stopping early).
    pub llm: LlmBehaviour,
}

/// What an LLM engine does beyond the request's timing, as the replica exports it under
/// inferscope's own names (`docs/ENGINES.md`, "LLM engine signals").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmBehaviour {
    /// Mean share of a prompt's tokens found in the prefix cache (0: no prefix cache). Hits
    /// are whole blocks of [`CACHE_BLOCK_TOKENS`] and skip their prefill time.
    pub prefix_cache_share: f64,
    /// Draft tokens proposed per decode step (0: no speculative decoding).
    pub spec_tokens: u32,
    /// Chance that each draft token is accepted (a step keeps the accepted tokens before the
    /// first rejected one, plus one token of its own).
    pub spec_acceptance: f64,
    /// Share of generating requests that stop (an end-of-sequence token) before `max_tokens`.
    pub stop_rate: f64,
}

impl LlmBehaviour {
    /// None of it: no prefix cache, no speculative decoding, every request runs to its length.
    pub const NONE: LlmBehaviour = LlmBehaviour {
        prefix_cache_share: 0.0,
        spec_tokens: 0,
        spec_acceptance: 0.0,
        stop_rate: 0.0,
    };
}

/// Tokens in one block of the simulated prefix cache.
pub const CACHE_BLOCK_TOKENS: u32 = 16;

/// How an adapter (a model after the first) differs from its base model: decode is slower,
/// fewer prompts share a cached prefix, drafts are accepted less often.
const ADAPTER: ModelFactors = ModelFactors {
    decode: 1.15,
    prefix_cache: 0.35,
    acceptance: 0.8,
};

/// Multipliers on the profile for one served model.
#[derive(Clone, Copy, Debug)]
struct ModelFactors {
    decode: f64,
    prefix_cache: f64,
    acceptance: f64,
}

const BASE: ModelFactors = ModelFactors {
    decode: 1.0,
    prefix_cache: 1.0,
    acceptance: 1.0,
};

/// Why a request left the engine, as vLLM's `finished_reason` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Finish {
    /// An end-of-sequence token (or, for an embedder, done).
    Stop,
    /// `max_tokens` reached.
    Length,
    /// The client went away first.
    Abort,
    /// The model failed.
    Error,
}

impl Finish {
    const ALL: [Finish; 4] = [Finish::Stop, Finish::Length, Finish::Abort, Finish::Error];

    fn name(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::Abort => "abort",
            Finish::Error => "error",
        }
    }
}

/// What a replica counts of one model it serves.
#[derive(Debug)]
struct ModelStats {
    /// `model="…"`, escaped, as every series of the model carries it.
    label: String,
    factors: ModelFactors,
    prompt_tokens: AtomicF64,
    generation_tokens: AtomicF64,
    prefix_queries: AtomicF64,
    prefix_hits: AtomicF64,
    preemptions: AtomicF64,
    spec_draft: AtomicF64,
    spec_accepted: AtomicF64,
    /// By [`Finish::ALL`]'s order.
    finished: [AtomicF64; 4],
    inter_token: Histogram,
    prefill: Histogram,
    decode: Histogram,
}

impl ModelStats {
    fn new(name: &str, factors: ModelFactors) -> ModelStats {
        let seconds = || Histogram::new(geometric_bounds(0.001, 120.0, 1.05));
        ModelStats {
            label: format!("model=\"{}\"", escape_label(name)),
            factors,
            prompt_tokens: AtomicF64::default(),
            generation_tokens: AtomicF64::default(),
            prefix_queries: AtomicF64::default(),
            prefix_hits: AtomicF64::default(),
            preemptions: AtomicF64::default(),
            spec_draft: AtomicF64::default(),
            spec_accepted: AtomicF64::default(),
            finished: Default::default(),
            inter_token: Histogram::new(geometric_bounds(0.0005, 5.0, 1.05)),
            prefill: seconds(),
            decode: seconds(),
        }
    }

    fn finish(&self, finish: Finish) {
        if let Some(index) = Finish::ALL.iter().position(|f| *f == finish) {
            self.finished[index].add(1.0);
        }
    }
}

/// The models a replica serves when none are named: one, called `model`.
pub const DEFAULT_MODEL: &str = "model";

/// Most tokens one request may ask to generate (each is held in memory while in flight).
pub const MAX_OUTPUT_TOKENS: u32 = 16_384;

/// Memory of the simulated GPU, bytes (an 80 GiB device).
pub const GPU_TOTAL_BYTES: u64 = 80 * 1024 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct PredictRequest {
    prompt_tokens: u32,
    #[serde(default)]
    max_tokens: u32,
    /// One of the models the replica serves; the first where absent.
    #[serde(default)]
    model: Option<String>,
}

struct ReplicaState {
    profile: ModelProfile,
    ready_at: Instant,
    in_flight: AtomicUsize,
    inference_time: Histogram,
    prompt_tokens: Histogram,
    generation_tokens: Histogram,
    /// The models it serves, by name: the base model first, then its adapters.
    models: Vec<(String, ModelStats)>,
    rng: std::sync::Mutex<SmallRng>,
    /// The model's host memory; held for the replica's life.
    weights: Vec<u8>,
    /// Bytes held by requests in flight.
    held_bytes: AtomicUsize,
    /// Tokens of context held by requests in flight (the simulated KV cache).
    kv_tokens: AtomicUsize,
    busy: std::sync::Mutex<BusyClock>,
    /// The replica is a process of its own: read CPU and memory from `/proc` for it.
    own_process: bool,
}

/// Requests in the model integrated over time: the simulated GPU's utilisation is the mean
/// number in the model over a reading's interval, as a share of a full batch.
#[derive(Debug)]
struct BusyClock {
    in_model: usize,
    last_change: Instant,
    /// Request-seconds spent in the model so far.
    request_seconds: f64,
    /// When utilisation was last read, and `request_seconds` then.
    last_read: (Instant, f64),
}

impl BusyClock {
    fn new(now: Instant) -> BusyClock {
        BusyClock {
            in_model: 0,
            last_change: now,
            request_seconds: 0.0,
            last_read: (now, 0.0),
        }
    }

    fn advance(&mut self, now: Instant) {
        self.request_seconds += self.in_model as f64 * (now - self.last_change).as_secs_f64();
        self.last_change = now;
    }

    fn enter(&mut self, now: Instant) {
        self.advance(now);
        self.in_model += 1;
    }

    fn leave(&mut self, now: Instant) {
        self.advance(now);
        self.in_model = self.in_model.saturating_sub(1);
    }

    /// Mean requests in the model since the last reading over `full_batch`, clamped to 0–1.
    fn utilisation(&mut self, now: Instant, full_batch: f64) -> f64 {
        self.advance(now);
        let (then, before) = self.last_read;
        self.last_read = (now, self.request_seconds);
        let wall = (now - then).as_secs_f64();
        if wall <= 0.0 || full_batch <= 0.0 {
            return 0.0;
        }
        ((self.request_seconds - before) / wall / full_batch).clamp(0.0, 1.0)
    }
}

impl ReplicaState {
    fn lock_busy(&self) -> std::sync::MutexGuard<'_, BusyClock> {
        self.busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Spends `duration` of real CPU time on this thread (the model's arithmetic).
fn compute(duration: Duration) {
    let end = Instant::now() + duration;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    while Instant::now() < end {
        for _ in 0..64 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
        }
    }
    std::hint::black_box(state);
}

/// CPU seconds this thread has used: `/proc/thread-self/schedstat` (nanoseconds), else
/// `/proc/thread-self/stat` (clock ticks of 1/100 s). `None` where neither exists.
pub fn thread_cpu_seconds() -> Option<f64> {
    if let Ok(text) = std::fs::read_to_string("/proc/thread-self/schedstat")
        && let Some(nanos) = text
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
        && nanos > 0
    {
        return Some(nanos as f64 / 1e9);
    }
    let text = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at the state, field 3;
    // utime and stime are fields 14 and 15.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// The program replicas run as (the `inferscope` binary), once registered.
static REPLICA_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// From now on, replicas start as child processes of `program`, run with the hidden
/// `demo-replica` subcommand. Without this, they run on threads of this process.
pub fn run_replicas_as_processes(program: PathBuf) {
    let _set_once_only = REPLICA_PROGRAM.set(program);
}

/// How a replica runs.
#[derive(Debug)]
enum Running {
    /// On a thread of this process.
    Thread {
        shutdown: Option<oneshot::Sender<()>>,
        finished: Option<oneshot::Receiver<()>>,
    },
    /// As a child process.
    Process(Option<std::process::Child>),
}

/// A running replica.
#[derive(Debug)]
pub struct Replica {
    /// The replica's name (its `replica` label).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id, when it is a process of its own.
    pub pid: Option<u32>,
    running: Running,
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Running::Process(Some(child)) = &mut self.running {
            let _already_gone = child.kill();
            let _reaped = child.wait();
        }
    }
}

impl Replica {
    /// Starts a replica listening on a free loopback port (as a process when a program is
    /// registered, else on a thread); it is ready after `cold_start`.
    /// It serves `models` (the base model first, then adapters; [`DEFAULT_MODEL`] when empty).
    pub async fn start(
        name: String,
        profile: ModelProfile,
        models: Vec<String>,
        cold_start: Duration,
        seed: u64,
    ) -> std::io::Result<Replica> {
        if let Some(program) = REPLICA_PROGRAM.get() {
            return Replica::start_process(program, name, profile, models, cold_start, seed).await;
        }
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let (done, finished) = oneshot::channel::<()>();
        let thread_name = name.clone();
        std::thread::Builder::new()
            .name(format!("replica {name}"))
            .spawn(move || {
                serve_on_this_thread(
                    &thread_name,
                    listener,
                    profile,
                    &models,
                    cold_start,
                    seed,
                    stop,
                    false,
                );
                let _owner_may_be_gone = done.send(());
            })?;
        Ok(Replica {
            name,
            addr,
            pid: None,
            running: Running::Thread {
                shutdown: Some(shutdown),
                finished: Some(finished),
            },
        })
    }

    async fn start_process(
        program: &std::path::Path,
        name: String,
        profile: ModelProfile,
        models: Vec<String>,
        cold_start: Duration,
        seed: u64,
    ) -> std::io::Result<Replica> {
        use std::io::BufRead as _;
        let profile = serde_json::to_string(&profile).map_err(std::io::Error::other)?;
        let mut child = std::process::Command::new(program)
            .arg("demo-replica")
            .args(["--name", &name])
            .args(["--seed", &seed.to_string()])
            .args(["--cold-start-ms", &cold_start.as_millis().to_string()])
            .args(["--profile", &profile])
            .args(models.iter().flat_map(|model| ["--model", model.as_str()]))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()?;
        let pid = child.id();
        let stdout = child.stdout.take();
        // The child's first line names its address.
        let first_line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            if let Some(stdout) = stdout {
                let _eof_reads_empty = std::io::BufReader::new(stdout).read_line(&mut line);
            }
            line
        });
        let line = match tokio::time::timeout(Duration::from_secs(10), first_line).await {
            Ok(Ok(line)) => line,
            _ => String::new(),
        };
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|addr| addr.parse::<SocketAddr>().ok());
        let replica = Replica {
            name,
            addr: addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            pid: Some(pid),
            running: Running::Process(Some(child)),
        };
        match addr {
            Some(_) => Ok(replica),
            // Dropping the replica kills the child.
            None => Err(std::io::Error::other(format!(
                "demo replica process {pid} did not report its address (got {:?})",
                line.trim()
            ))),
        }
    }

    /// Stops the replica (in-flight responses are cut off) and waits briefly for it.
    pub async fn stop(mut self) {
        match &mut self.running {
            Running::Thread { shutdown, finished } => {
                if let Some(shutdown) = shutdown.take() {
                    let _already_stopped = shutdown.send(());
                }
                if let Some(finished) = finished.take() {
                    let _ended_either_way =
                        tokio::time::timeout(Duration::from_secs(2), finished).await;
                }
            }
            Running::Process(child) => {
                if let Some(mut child) = child.take() {
                    let _already_gone = child.kill();
                    let _reaped = tokio::task::spawn_blocking(move || child.wait()).await;
                }
            }
        }
    }
}

/// The `demo-replica` subcommand: serve one replica in this process until standard input
/// closes (the server that started it went away or stopped it). Prints `listening <addr>` first.
pub fn serve_process(
    name: &str,
    profile: ModelProfile,
    models: &[String],
    cold_start: Duration,
    seed: u64,
) -> std::io::Result<()> {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening {addr}")?;
        stdout.flush()?;
    }
    let (stop_sender, stop) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("stdin watch".into())
        .spawn(move || {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _server_may_be_done = stop_sender.send(());
        })?;
    serve_on_this_thread(
        name, listener, profile, models, cold_start, seed, stop, true,
    );
    Ok(())
}

/// Runs the replica's server on the calling thread until `stop` fires or its sender is dropped.
#[allow(clippy::too_many_arguments)] // one call per way of running; a struct would only rename them
fn serve_on_this_thread(
    name: &str,
    listener: std::net::TcpListener,
    profile: ModelProfile,
    models: &[String],
    cold_start: Duration,
    seed: u64,
    stop: oneshot::Receiver<()>,
    own_process: bool,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            warn!(replica = %name, %error, "could not start a demo replica's runtime");
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(error) => {
                warn!(replica = %name, %error, "demo replica could not listen");
                return;
            }
        };
        let now = Instant::now();
        let tokens = || Histogram::new(geometric_bounds(1.0, 100_000.0, 1.05));
        let state = Arc::new(ReplicaState {
            profile,
            ready_at: now + cold_start,
            in_flight: AtomicUsize::new(0),
            inference_time: Histogram::new(geometric_bounds(0.001, 120.0, 1.02)),
            prompt_tokens: tokens(),
            generation_tokens: tokens(),
            models: served_models(models),
            rng: std::sync::Mutex::new(SmallRng::seed_from_u64(seed)),
            // Written, not just reserved, so the pages are really resident.
            weights: vec![0x5a; profile.host_weights_bytes],
            held_bytes: AtomicUsize::new(0),
            kv_tokens: AtomicUsize::new(0),
            busy: std::sync::Mutex::new(BusyClock::new(now)),
            own_process,
        });
        let app = Router::new()
            .route("/v1/predict", post(predict))
            .route("/healthz", get(health))
            .route("/metrics", get(metrics))
            .with_state(state);
        tokio::select! {
            result = axum::serve(listener, app) => {
                if let Err(error) = result {
                    debug!(replica = %name, %error, "replica server ended with an error");
                }
            }
            // Either an explicit stop or the handle being dropped ends the server; dropping
            // the runtime below cancels the connections still open.
            _stop_or_dropped = stop => {}
        }
    });
}

/// Each served model's name and counters: the first is the base model, the rest adapters.
fn served_models(names: &[String]) -> Vec<(String, ModelStats)> {
    let names: Vec<&str> = if names.is_empty() {
        vec![DEFAULT_MODEL]
    } else {
        names.iter().map(String::as_str).collect()
    };
    names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let factors = if index == 0 { BASE } else { ADAPTER };
            ((*name).to_owned(), ModelStats::new(name, factors))
        })
        .collect()
}

async fn health(State(state): State<Arc<ReplicaState>>) -> StatusCode {
    if Instant::now() >= state.ready_at {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn metrics(State(state): State<Arc<ReplicaState>>) -> impl IntoResponse {
    let mut page = String::with_capacity(48 * 1024);
    state.inference_time.render(
        "inferscope_inference_time_seconds",
        "Time the model spent on a request, seconds.",
        &mut page,
    );
    state.prompt_tokens.render(
        "inferscope_request_prompt_tokens",
        "Prompt length of each request, tokens.",
        &mut page,
    );
    state.generation_tokens.render(
        "inferscope_request_generation_tokens",
        "Tokens generated for each request.",
        &mut page,
    );
    // A replica process reads itself from /proc, as the host reader reads a process outside a
    // container (inside one, the container's cgroup holds every replica of the fleet, so its
    // figures and limits are no one replica's). On a thread, this handler runs on the
    // replica's own thread, so the thread's CPU is the replica's, and its memory is the bytes
    // it holds.
    let own = state
        .own_process
        .then(|| crate::scrape::host::Proc::default().process_tree(std::process::id()));
    let (cpu, memory) = match own {
        Some(reading) => (Some(reading.cpu_seconds), reading.working_set_bytes),
        None => (
            thread_cpu_seconds(),
            (state.weights.len() + state.held_bytes.load(Ordering::Relaxed)) as f64,
        ),
    };
    if let Some(cpu) = cpu {
        render_counter(
            "inferscope_container_cpu_usage_seconds_total",
            "CPU time the replica has used, seconds.",
            cpu,
            &mut page,
        );
    }
    render_gauge(
        "inferscope_container_memory_working_set_bytes",
        "Host memory of the replica: its process's working set (or, on a thread, the model and its requests' buffers), bytes.",
        &[("", memory)],
        &mut page,
    );
    let profile = state.profile;
    // The limits of the container each replica would have in a real fleet: a stated
    // simulation, as the GPU is.
    if profile.cpu_limit_cores > 0.0 {
        render_gauge(
            "inferscope_container_cpu_limit_cores",
            "The CPU the replica's simulated container may use, cores.",
            &[("", profile.cpu_limit_cores)],
            &mut page,
        );
    }
    if profile.memory_limit_bytes > 0 {
        render_gauge(
            "inferscope_container_memory_limit_bytes",
            "The memory the replica's simulated container may use, bytes.",
            &[("", profile.memory_limit_bytes as f64)],
            &mut page,
        );
    }
    let kv_tokens = state.kv_tokens.load(Ordering::Relaxed) as u64;
    let kv_in_use = kv_tokens.min(profile.kv_capacity_tokens);
    let utilisation = state
        .lock_busy()
        .utilisation(Instant::now(), profile.gpu_full_batch);
    let gpu = "gpu=\"0\"";
    render_gauge(
        "inferscope_gpu_utilization_ratio",
        "Simulated GPU: mean requests in the model since the last scrape over a full batch (0-1).",
        &[(gpu, utilisation)],
        &mut page,
    );
    render_gauge(
        "inferscope_gpu_memory_used_bytes",
        "Simulated GPU: weights plus KV cache in use, bytes.",
        &[(
            gpu,
            (profile.gpu_weights_bytes + kv_in_use * profile.gpu_kv_bytes_per_token) as f64,
        )],
        &mut page,
    );
    render_gauge(
        "inferscope_gpu_memory_total_bytes",
        "Simulated GPU: memory of the device, bytes.",
        &[(gpu, GPU_TOTAL_BYTES as f64)],
        &mut page,
    );
    // A family no adapter knows, as model servers export many: kept raw, browsable by name.
    render_gauge(
        "demo_scheduler_tokens_in_flight",
        "Tokens of context held by requests in flight.",
        &[("", kv_tokens as f64)],
        &mut page,
    );
    if profile.kv_capacity_tokens > 0 {
        render_gauge(
            "inferscope_kv_cache_usage_ratio",
            "Simulated GPU: share of the KV cache in use (0-1).",
            &[("", kv_in_use as f64 / profile.kv_capacity_tokens as f64)],
            &mut page,
        );
    }
    render_llm(&state, &mut page);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        page,
    )
}

/// The LLM engine's families, one series per served model (`model` label), under inferscope's
/// own names; a family the replica's profile has no use for is left off the page.
fn render_llm(state: &ReplicaState, page: &mut String) {
    use std::fmt::Write as _;
    let profile = state.profile;
    let generates = profile.decode_per_token > Duration::ZERO;
    let counter = |page: &mut String, name: &str, help: &str, read: &dyn Fn(&ModelStats) -> f64| {
        render_header(name, help, "counter", page);
        for (_, stats) in &state.models {
            let _ = writeln!(page, "{name}{{{}}} {}", stats.label, read(stats));
        }
    };
    let histogram =
        |page: &mut String, name: &str, help: &str, read: &dyn Fn(&ModelStats) -> &Histogram| {
            render_header(name, help, "histogram", page);
            for (_, stats) in &state.models {
                read(stats).render_samples(name, &stats.label, page);
            }
        };
    counter(
        page,
        "inferscope_prompt_tokens_total",
        "Prompt tokens processed (prefill), cached ones included.",
        &|m| m.prompt_tokens.get(),
    );
    if generates {
        counter(
            page,
            "inferscope_generation_tokens_total",
            "Tokens generated.",
            &|m| m.generation_tokens.get(),
        );
        histogram(
            page,
            "inferscope_inter_token_latency_seconds",
            "Time between two output tokens of a request, seconds.",
            &|m| &m.inter_token,
        );
        histogram(
            page,
            "inferscope_request_decode_time_seconds",
            "Time a finished request spent generating, from its first token to its last, seconds.",
            &|m| &m.decode,
        );
    }
    histogram(
        page,
        "inferscope_request_prefill_time_seconds",
        "Time a request spent in prefill, from admission to its first output, seconds.",
        &|m| &m.prefill,
    );
    if profile.llm.prefix_cache_share > 0.0 {
        counter(
            page,
            "inferscope_prefix_cache_queries_total",
            "Prompt tokens looked up in the prefix cache.",
            &|m| m.prefix_queries.get(),
        );
        counter(
            page,
            "inferscope_prefix_cache_hits_total",
            "Prompt tokens found in the prefix cache.",
            &|m| m.prefix_hits.get(),
        );
    }
    if profile.kv_capacity_tokens > 0 {
        counter(
            page,
            "inferscope_preemptions_total",
            "Requests preempted (their KV cache evicted and recomputed) because the cache was full.",
            &|m| m.preemptions.get(),
        );
    }
    if generates && profile.llm.spec_tokens > 0 {
        counter(
            page,
            "inferscope_spec_decode_draft_tokens_total",
            "Draft tokens proposed by speculative decoding.",
            &|m| m.spec_draft.get(),
        );
        counter(
            page,
            "inferscope_spec_decode_accepted_tokens_total",
            "Draft tokens accepted.",
            &|m| m.spec_accepted.get(),
        );
    }
    let name = "inferscope_requests_finished_total";
    render_header(
        name,
        "Requests the engine finished, by reason.",
        "counter",
        page,
    );
    for (_, stats) in &state.models {
        for (finish, count) in Finish::ALL.iter().zip(&stats.finished) {
            let _ = writeln!(
                page,
                "{name}{{{},reason=\"{}\"}} {}",
                stats.label,
                finish.name(),
                count.get()
            );
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        format!("{{\"error\":{message:?}}}"),
    )
        .into_response()
}

/// Counts a request in progress, with the memory and context it holds, and records its
/// inference time, generated tokens and how it finished when it ends, however it ends.
struct InFlight {
    state: Arc<ReplicaState>,
    /// Index of its model in [`ReplicaState::models`].
    model: usize,
    started: Instant,
    /// The request's context buffer (prompt plus room for the output).
    _context: Vec<u8>,
    context_bytes: usize,
    kv_tokens: usize,
    generated: u32,
    /// The KV cache was full when it came in: it was preempted once and recomputed.
    preempted: bool,
    /// When its first output went out, and its latest.
    first_output: Option<Instant>,
    last_output: Instant,
    /// How it ended; dropped without one, the client went away (abort).
    finish: Option<Finish>,
}

impl InFlight {
    fn new(
        state: Arc<ReplicaState>,
        model: usize,
        prompt_tokens: u32,
        max_tokens: u32,
    ) -> InFlight {
        let now = Instant::now();
        let tokens = (prompt_tokens + max_tokens) as usize;
        let context_bytes = tokens * state.profile.host_bytes_per_token;
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        state.lock_busy().enter(now);
        state.held_bytes.fetch_add(context_bytes, Ordering::Relaxed);
        let before = state.kv_tokens.fetch_add(tokens, Ordering::Relaxed);
        let capacity = state.profile.kv_capacity_tokens as usize;
        let preempted = capacity > 0 && before + tokens > capacity;
        state.prompt_tokens.observe(f64::from(prompt_tokens));
        let stats = &state.models[model].1;
        stats.prompt_tokens.add(f64::from(prompt_tokens));
        if preempted {
            stats.preemptions.add(1.0);
        }
        InFlight {
            state,
            model,
            started: now,
            _context: vec![0x17; context_bytes],
            context_bytes,
            kv_tokens: tokens,
            generated: 0,
            preempted,
            first_output: None,
            last_output: now,
            finish: None,
        }
    }

    fn stats(&self) -> &ModelStats {
        &self.state.models[self.model].1
    }

    /// The first output went out now: the prefill is over.
    fn first_output(&mut self) {
        let now = Instant::now();
        self.first_output = Some(now);
        self.last_output = now;
        self.stats()
            .prefill
            .observe((now - self.started).as_secs_f64());
    }

    /// `tokens` more output tokens went out now, after `draft` draft tokens of which
    /// `accepted` were accepted.
    fn tokens_out(&mut self, tokens: u32, draft: u32, accepted: u32) {
        let now = Instant::now();
        let stats = &self.state.models[self.model].1;
        let gap = (now - self.last_output).as_secs_f64() / f64::from(tokens.max(1));
        for _ in 0..tokens {
            stats.inter_token.observe(gap);
        }
        stats.generation_tokens.add(f64::from(tokens));
        if draft > 0 {
            stats.spec_draft.add(f64::from(draft));
            stats.spec_accepted.add(f64::from(accepted));
        }
        self.last_output = now;
        self.generated += tokens;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = &self.state;
        let now = Instant::now();
        state.in_flight.fetch_sub(1, Ordering::Relaxed);
        state.lock_busy().leave(now);
        state
            .held_bytes
            .fetch_sub(self.context_bytes, Ordering::Relaxed);
        state.kv_tokens.fetch_sub(self.kv_tokens, Ordering::Relaxed);
        state
            .inference_time
            .observe((now - self.started).as_secs_f64());
        let generates = state.profile.decode_per_token > Duration::ZERO;
        if generates {
            state.generation_tokens.observe(f64::from(self.generated));
        }
        let finish = self.finish.unwrap_or(Finish::Abort);
        let stats = &state.models[self.model].1;
        stats.finish(finish);
        if generates
            && matches!(finish, Finish::Stop | Finish::Length)
            && let Some(first) = self.first_output
        {
            stats.decode.observe((now - first).as_secs_f64());
        }
    }
}

/// One stretch of decoding with speculative decoding: each step proposes `k` draft tokens and
/// keeps those before the first rejected one, plus one of its own, until `tokens` are out.
/// Returns (drafts proposed, drafts accepted).
fn speculate(rng: &mut SmallRng, k: u32, acceptance: f64, tokens: u32) -> (u32, u32) {
    let (mut produced, mut draft, mut accepted) = (0, 0, 0);
    while produced < tokens {
        draft += k;
        let mut kept = 0;
        while kept < k && rng.random_bool(acceptance.clamp(0.0, 1.0)) {
            kept += 1;
        }
        let kept = kept.min(tokens - produced - 1);
        accepted += kept;
        produced += kept + 1;
    }
    (draft, accepted)
}

/// A client-supplied name cut short for an error message.
fn shortened(name: &str) -> &str {
    match name.char_indices().nth(64) {
        Some((end, _)) => &name[..end],
        None => name,
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
    let model = match request.model.as_deref() {
        None => 0,
        Some(wanted) => match state.models.iter().position(|(name, _)| name == wanted) {
            Some(index) => index,
            // As vLLM's OpenAI server answers a model it does not serve.
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("The model `{}` does not exist.", shortened(wanted)),
                );
            }
        },
    };
    let profile = state.profile;
    if request.max_tokens > MAX_OUTPUT_TOKENS {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "max_tokens is above the model's output limit",
        );
    }
    if request.prompt_tokens > profile.max_context_tokens {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "prompt is longer than the model's context",
        );
    }
    let others = state.in_flight.load(Ordering::Relaxed);
    let mut guard = InFlight::new(
        state.clone(),
        model,
        request.prompt_tokens,
        request.max_tokens,
    );
    let llm = profile.llm;
    let factors = state.models[model].1.factors;
    let generates = profile.decode_per_token > Duration::ZERO;
    let (jitter, fails, cache_share, length) = {
        let mut rng = state
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let jitter = rng.random_range(0.85..1.25);
        let fails = rng.random_bool(profile.failure_rate);
        let cache_share =
            (llm.prefix_cache_share * factors.prefix_cache * rng.random_range(0.5..1.5))
                .clamp(0.0, 1.0);
        // An early stop ends somewhere in the back 70 % of the allowance.
        let length = if generates
            && request.max_tokens > 0
            && rng.random_bool(llm.stop_rate.clamp(0.0, 1.0))
        {
            ((f64::from(request.max_tokens) * rng.random_range(0.3..1.0)) as u32)
                .clamp(1, request.max_tokens)
        } else {
            request.max_tokens
        };
        (jitter, fails, cache_share, length)
    };
    // Cached prompt tokens come in whole blocks, and skip their prefill.
    let cached = if llm.prefix_cache_share > 0.0 {
        let cached = (f64::from(request.prompt_tokens) * cache_share) as u32;
        let cached = cached / CACHE_BLOCK_TOKENS * CACHE_BLOCK_TOKENS;
        let stats = guard.stats();
        stats.prefix_queries.add(f64::from(request.prompt_tokens));
        stats.prefix_hits.add(f64::from(cached));
        cached
    } else {
        0
    };
    let end = if !generates || length < request.max_tokens {
        Finish::Stop
    } else {
        Finish::Length
    };
    let slowdown = jitter * (1.0 + profile.contention_per_request * others as f64);
    let recompute = if guard.preempted { 2.0 } else { 1.0 };
    let prefill = (profile.overhead + profile.prefill_per_token * (request.prompt_tokens - cached))
        .mul_f64(slowdown * recompute);
    if fails {
        tokio::time::sleep(prefill / 2).await;
        guard.finish = Some(Finish::Error);
        drop(guard);
        return error(StatusCode::INTERNAL_SERVER_ERROR, "inference failed");
    }
    let decode_chunk = profile.decode_per_token.mul_f64(slowdown * factors.decode) * 10;
    let cpu_per_token = profile.cpu_per_token;
    let prompt_tokens = request.prompt_tokens;
    let first = Bytes::from(vec![b'{'; profile.first_chunk_bytes.max(1)]);
    let chunk = Bytes::from(vec![b'x'; profile.bytes_per_token * 10]);
    let acceptance = llm.spec_acceptance * factors.acceptance;
    let stream = futures::stream::unfold(
        (guard, length, true),
        move |(mut guard, remaining, first_chunk)| {
            let first = first.clone();
            let chunk = chunk.clone();
            async move {
                if first_chunk {
                    compute(cpu_per_token * prompt_tokens);
                    tokio::time::sleep(prefill).await;
                    guard.first_output();
                    return Some((
                        Ok::<_, std::convert::Infallible>(first),
                        (guard, remaining, false),
                    ));
                }
                if remaining == 0 {
                    guard.finish = Some(end);
                    drop(guard);
                    return None;
                }
                let tokens = remaining.min(10);
                compute(cpu_per_token * tokens);
                tokio::time::sleep(decode_chunk * tokens / 10).await;
                let (draft, accepted) = if llm.spec_tokens > 0 {
                    let mut rng = guard
                        .state
                        .rng
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    speculate(&mut rng, llm.spec_tokens, acceptance, tokens)
                } else {
                    (0, 0)
                };
                guard.tokens_out(tokens, draft, accepted);
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

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: ModelProfile = ModelProfile {
        max_context_tokens: 100,
        overhead: Duration::from_millis(1),
        prefill_per_token: Duration::ZERO,
        decode_per_token: Duration::from_micros(10),
        bytes_per_token: 1,
        first_chunk_bytes: 1,
        failure_rate: 0.0,
        contention_per_request: 0.0,
        cpu_per_token: Duration::ZERO,
        host_weights_bytes: 1024,
        host_bytes_per_token: 1024,
        cpu_limit_cores: 0.0,
        memory_limit_bytes: 0,
        gpu_weights_bytes: 0,
        gpu_kv_bytes_per_token: 0,
        kv_capacity_tokens: 0,
        gpu_full_batch: 1.0,
        llm: LlmBehaviour::NONE,
    };

    #[tokio::test]
    async fn asking_for_more_output_than_the_limit_is_refused_before_any_allocation() {
        let replica = Replica::start("r-1".into(), PROFILE, Vec::new(), Duration::ZERO, 1)
            .await
            .expect("replica starts");
        let client = reqwest::Client::new();
        let url = format!("http://{}/v1/predict", replica.addr);
        let ask = |max_tokens: u64| {
            client
                .post(&url)
                .body(format!(
                    "{{\"prompt_tokens\":5,\"max_tokens\":{max_tokens}}}"
                ))
                .send()
        };
        let refused = ask(u64::from(MAX_OUTPUT_TOKENS) + 1).await.expect("answer");
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let served = ask(20).await.expect("answer");
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.bytes().await.expect("body").len(), 1 + 20);
        replica.stop().await;
    }
}
