//! Everything that crosses the network: the live protocol (WebSocket) and the query API (HTTP).
//!
//! This is the only module with serialisable types. The server converts its store and query
//! results into these at its edge; the browser and any other client read them as JSON.
//! `docs/LIVE.md` is the prose version of this file; keep the two in step.
//!
//! # The live protocol in one paragraph
//! A client opens `/api/v1/live` and sends [`ClientMessage::Subscribe`] naming a [`Filter`]. The
//! server answers with one [`ServerMessage::Snapshot`] holding the whole [`View`], then a
//! [`ServerMessage::Delta`] whenever something changed (at most about once a second). Every
//! message of a stream carries the stream's id and a sequence number that grows by one per
//! message. A client that reconnects sends `Subscribe` again with a [`Resume`] naming the stream
//! and the last sequence number it applied: it gets exactly the deltas it missed, or a fresh
//! snapshot when they are no longer kept. A client too slow to keep up is not buffered without
//! bound: it gets a fresh snapshot whose `skipped` field says how many deltas it never saw.

use serde::{Deserialize, Serialize};

/// Version of the live protocol. A client sends the version it speaks in `Subscribe`; a server
/// that speaks another answers with [`ErrorCode::UnsupportedProtocol`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Path of the WebSocket endpoint.
pub const LIVE_PATH: &str = "/api/v1/live";

/// Path of the HTTP endpoint that returns one [`View`] as JSON (query parameters as in the page URL).
pub const VIEW_PATH: &str = "/api/v1/view";

/// Path of the HTTP endpoint that returns scrape health, one [`TargetHealth`] per target.
pub const TARGETS_PATH: &str = "/api/v1/targets";

/// What a view shows: a scope (environment, deployment), a time range, and which panels are
/// split by replica.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filter {
    /// Only this environment. Absent: every environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Only this deployment (in every environment the other field allows). Absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// Only this model (or LoRA adapter), as the engines label their series: series of other
    /// models are left out, and series of a whole replica (CPU, GPUs, replicas, the HTTP
    /// layer) count only for replicas that serve this model. Absent: every model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The live window ending now. Absent: [`TimeRange::default`]. Ignored when `from_ms` and
    /// `to_ms` are both given.
    #[serde(default)]
    pub range: TimeRange,
    /// Start of an absolute range, Unix milliseconds (with `to_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ms: Option<i64>,
    /// End of an absolute range, Unix milliseconds (with `from_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ms: Option<i64>,
    /// Panels drawn one line per replica, sorted. Absent: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<PanelId>,
    /// Panels drawn one line per model, sorted (a panel in both lists is split by model).
    /// Only panels whose series carry a model ([`Panel::by_model`]) split; others are drawn
    /// whole. Absent: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_model: Vec<PanelId>,
    /// Only these panels, sorted (an embedded view, a scoped link). Absent: every panel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panels: Vec<PanelId>,
    /// Set by the server, never by a client: the viewer holds a scoped token, so the view lists
    /// only the deployments the filter names. Never serialised, so a scoped stream is distinct
    /// from an unscoped one on the server while both look alike on the wire.
    #[serde(skip)]
    pub scoped: bool,
}

/// The latest time an absolute range may name: the end of year 9999, Unix milliseconds. Bounds
/// every sum a grid makes from it.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

impl Filter {
    /// The absolute range `(from_ms, to_ms)`, when one is set, not empty, and within
    /// `0..=MAX_TIME_MS` (a filter from any source — URL, WebSocket — is read through here).
    pub fn absolute(&self) -> Option<(i64, i64)> {
        match (self.from_ms, self.to_ms) {
            (Some(from), Some(to)) if 0 <= from && from < to && to <= MAX_TIME_MS => {
                Some((from, to))
            }
            _ => None,
        }
    }

    /// Whether a panel is split by replica (and not by model).
    pub fn splits(&self, panel: PanelId) -> bool {
        self.split.contains(&panel) && !self.by_model.contains(&panel)
    }

    /// Whether a panel is split by model.
    pub fn splits_by_model(&self, panel: PanelId) -> bool {
        self.by_model.contains(&panel)
    }

    /// Whether the view shows a panel (every panel when `panels` is empty).
    pub fn shows(&self, panel: PanelId) -> bool {
        self.panels.is_empty() || self.panels.contains(&panel)
    }
}

/// A live window that ends now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeRange {
    /// The last five minutes.
    #[serde(rename = "5m")]
    Last5m,
    /// The last fifteen minutes.
    #[default]
    #[serde(rename = "15m")]
    Last15m,
    /// The last hour.
    #[serde(rename = "1h")]
    Last1h,
    /// The last six hours.
    #[serde(rename = "6h")]
    Last6h,
    /// The last day.
    #[serde(rename = "24h")]
    Last24h,
    /// The last week.
    #[serde(rename = "7d")]
    Last7d,
}

impl TimeRange {
    /// Every range, in the order the page offers them.
    pub const ALL: [TimeRange; 6] = [
        TimeRange::Last5m,
        TimeRange::Last15m,
        TimeRange::Last1h,
        TimeRange::Last6h,
        TimeRange::Last24h,
        TimeRange::Last7d,
    ];

    /// Length of the window in milliseconds.
    pub fn duration_ms(self) -> i64 {
        const MINUTE: i64 = 60_000;
        match self {
            TimeRange::Last5m => 5 * MINUTE,
            TimeRange::Last15m => 15 * MINUTE,
            TimeRange::Last1h => 60 * MINUTE,
            TimeRange::Last6h => 6 * 60 * MINUTE,
            TimeRange::Last24h => 24 * 60 * MINUTE,
            TimeRange::Last7d => 7 * 24 * 60 * MINUTE,
        }
    }

    /// The value used in URLs and on the wire (`5m`, `15m`, `1h`, `6h`, `24h`, `7d`).
    pub fn as_param(self) -> &'static str {
        match self {
            TimeRange::Last5m => "5m",
            TimeRange::Last15m => "15m",
            TimeRange::Last1h => "1h",
            TimeRange::Last6h => "6h",
            TimeRange::Last24h => "24h",
            TimeRange::Last7d => "7d",
        }
    }

    /// Parses the URL form; `None` for anything else.
    pub fn from_param(value: &str) -> Option<TimeRange> {
        TimeRange::ALL
            .into_iter()
            .find(|range| range.as_param() == value)
    }
}

/// The panels of the dashboard, in page order. Several are shown as tabs of one card (response
/// time, inference time and time to first byte; request size and prompt tokens; response size
/// and generated tokens).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelId {
    /// Requests per second by status class (and by exact code, for the tooltip).
    InferenceVolume,
    /// End-to-end response time percentiles, seconds.
    ResponseTime,
    /// Time in the model, percentiles, seconds.
    InferenceTime,
    /// Time to the first response byte (first token), percentiles, seconds.
    TimeToFirstByte,
    /// Time requests waited in the engine's scheduler queue before it started on them,
    /// percentiles, seconds (not the async queue).
    EngineQueueTime,
    /// Replicas active and starting.
    Replicas,
    /// Requests in progress and queued, summed over replicas.
    ConcurrentRequests,
    /// Request body size percentiles, bytes.
    RequestSize,
    /// Prompt length percentiles, tokens.
    PromptTokens,
    /// Response body size percentiles, bytes.
    ResponseSize,
    /// Generated length percentiles, tokens.
    GenerationTokens,
    /// CPU used per replica and on average, cores.
    Cpu,
    /// Memory working set per replica and on average, bytes.
    Memory,
    /// GPU utilisation per GPU and on average, ratio 0–1, with the KV cache usage.
    GpuUsage,
    /// GPU memory used per GPU, bytes, with the capacity.
    GpuMemory,
    /// Time async requests waited in the queue, percentiles, seconds.
    AsyncQueueTime,
    /// Async requests waiting.
    AsyncQueueSize,
    /// Prompt tokens processed and tokens generated per second.
    TokenThroughput,
    /// Inter-token latency (time per output token) percentiles, seconds.
    InterTokenLatency,
    /// Time in prefill per request, percentiles, seconds.
    PrefillTime,
    /// Time in decode per request, percentiles, seconds.
    DecodeTime,
    /// Share of the engine's KV cache in use, per replica and on average, ratio 0–1.
    KvCacheUsage,
    /// Prompt tokens found in the prefix cache over those looked up, in each point's window,
    /// ratio 0–1.
    PrefixCacheHitRate,
    /// Requests preempted (vLLM) or retracted (SGLang) per second.
    Preemptions,
    /// Draft tokens accepted over draft tokens proposed (speculative decoding), in each point's
    /// window, ratio 0–1.
    SpecDecodeAcceptance,
    /// Requests the engine finished per second, by finish reason.
    FinishedReasons,
}

impl PanelId {
    /// Every panel, in page order.
    pub const ALL: [PanelId; 26] = [
        PanelId::InferenceVolume,
        PanelId::ResponseTime,
        PanelId::InferenceTime,
        PanelId::TimeToFirstByte,
        PanelId::EngineQueueTime,
        PanelId::Replicas,
        PanelId::ConcurrentRequests,
        PanelId::RequestSize,
        PanelId::PromptTokens,
        PanelId::ResponseSize,
        PanelId::GenerationTokens,
        PanelId::Cpu,
        PanelId::Memory,
        PanelId::GpuUsage,
        PanelId::GpuMemory,
        PanelId::AsyncQueueTime,
        PanelId::AsyncQueueSize,
        PanelId::TokenThroughput,
        PanelId::InterTokenLatency,
        PanelId::PrefillTime,
        PanelId::DecodeTime,
        PanelId::KvCacheUsage,
        PanelId::PrefixCacheHitRate,
        PanelId::Preemptions,
        PanelId::SpecDecodeAcceptance,
        PanelId::FinishedReasons,
    ];

    /// The name used in URLs (`split=`) and DOM ids: the JSON name.
    pub fn key(self) -> &'static str {
        match self {
            PanelId::InferenceVolume => "inference_volume",
            PanelId::ResponseTime => "response_time",
            PanelId::InferenceTime => "inference_time",
            PanelId::TimeToFirstByte => "time_to_first_byte",
            PanelId::EngineQueueTime => "engine_queue_time",
            PanelId::Replicas => "replicas",
            PanelId::ConcurrentRequests => "concurrent_requests",
            PanelId::RequestSize => "request_size",
            PanelId::PromptTokens => "prompt_tokens",
            PanelId::ResponseSize => "response_size",
            PanelId::GenerationTokens => "generation_tokens",
            PanelId::Cpu => "cpu",
            PanelId::Memory => "memory",
            PanelId::GpuUsage => "gpu_usage",
            PanelId::GpuMemory => "gpu_memory",
            PanelId::AsyncQueueTime => "async_queue_time",
            PanelId::AsyncQueueSize => "async_queue_size",
            PanelId::TokenThroughput => "token_throughput",
            PanelId::InterTokenLatency => "inter_token_latency",
            PanelId::PrefillTime => "prefill_time",
            PanelId::DecodeTime => "decode_time",
            PanelId::KvCacheUsage => "kv_cache_usage",
            PanelId::PrefixCacheHitRate => "prefix_cache_hit_rate",
            PanelId::Preemptions => "preemptions",
            PanelId::SpecDecodeAcceptance => "spec_decode_acceptance",
            PanelId::FinishedReasons => "finished_reasons",
        }
    }

    /// Parses [`PanelId::key`].
    pub fn from_key(key: &str) -> Option<PanelId> {
        PanelId::ALL.into_iter().find(|panel| panel.key() == key)
    }
}

/// One line of a panel. Series of a panel are listed in the order of this enum.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SeriesId {
    /// Requests answered 200–299, per second.
    #[serde(rename = "2xx")]
    Status2xx,
    /// Requests answered 400–499, per second.
    #[serde(rename = "4xx")]
    Status4xx,
    /// Requests answered 500–599, per second.
    #[serde(rename = "5xx")]
    Status5xx,
    /// Median.
    #[serde(rename = "p50")]
    P50,
    /// 90th percentile.
    #[serde(rename = "p90")]
    P90,
    /// 95th percentile.
    #[serde(rename = "p95")]
    P95,
    /// 99th percentile.
    #[serde(rename = "p99")]
    P99,
    /// Replicas ready to serve.
    #[serde(rename = "active")]
    Active,
    /// Replicas started but not yet ready (paying their cold start).
    #[serde(rename = "starting")]
    Starting,
    /// Requests being processed by a replica.
    #[serde(rename = "in_progress")]
    InProgress,
    /// Requests waiting for a free replica slot (or, on the async queue panel, in the queue).
    #[serde(rename = "queued")]
    Queued,
    /// The mean, where exporters give only totals and counts (Triton's default duration
    /// counters, a summary without quantiles): total over count in each point's window.
    #[serde(rename = "mean")]
    Mean,
    /// The average over replicas or GPUs.
    #[serde(rename = "avg")]
    Average,
    /// Share of the engine's KV cache in use (GPU usage panel).
    #[serde(rename = "kv_cache")]
    KvCache,
    /// Capacity (GPU memory in all).
    #[serde(rename = "total")]
    Total,
    /// The replica's container limit (CPU and memory panels): where replicas' limits differ,
    /// the lowest, the first a replica reaches.
    #[serde(rename = "limit")]
    Limit,
    /// Prompt tokens processed per second.
    #[serde(rename = "prompt")]
    Prompt,
    /// Tokens generated per second.
    #[serde(rename = "generated")]
    Generated,
    /// A hit rate: hits over lookups in each point's window (prefix cache).
    #[serde(rename = "hit_rate")]
    HitRate,
    /// Requests preempted or retracted per second.
    #[serde(rename = "preemptions")]
    Preemptions,
    /// Accepted over proposed draft tokens in each point's window (speculative decoding).
    #[serde(rename = "acceptance")]
    Acceptance,
    /// Requests answered with exactly this status code, per second (drawn only in tooltips).
    #[serde(rename = "code")]
    Code(u16),
    /// One replica's line (split panels, CPU, memory). The empty name is a deployment-level
    /// exporter.
    #[serde(rename = "replica")]
    Replica(String),
    /// One GPU's line (`replica/gpu` when several replicas report GPUs).
    #[serde(rename = "gpu")]
    Gpu(String),
    /// One model's line (panels split by model). The empty name is what no model label
    /// covers (the HTTP layer beside an engine, say).
    #[serde(rename = "model")]
    Model(String),
    /// Requests finished for one reason, as the engine names it (`stop`, `length`, `abort`,
    /// `error`, …), per second.
    #[serde(rename = "reason")]
    Reason(String),
    /// What-if replay: what was recorded.
    #[serde(rename = "recorded")]
    Recorded,
    /// What-if replay: what the edited settings would have done.
    #[serde(rename = "replayed")]
    Replayed,
    /// What-if replay: the recorded in-flight load it replays.
    #[serde(rename = "load")]
    Load,
}

/// One point: `[time in Unix milliseconds, value]`. A `null` value is a gap: no data for that
/// step (the target was down, stale, or had not reported yet), drawn as a break in the line.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point(pub i64, pub Option<f64>);

/// One line of a panel over the view's window, oldest point first, one point per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Which line this is.
    pub id: SeriesId,
    /// Points on the step grid, ascending by time.
    pub points: Vec<Point>,
}

/// One panel's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    /// Which panel.
    pub id: PanelId,
    /// Its lines. A line no target reports is absent rather than empty.
    pub series: Vec<Series>,
    /// For percentile panels: the largest finite histogram bucket bound among the merged
    /// histograms. A percentile whose rank falls into the `+Inf` bucket is reported as exactly
    /// this value and means "above this". Absent when no histogram was merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_bucket: Option<f64>,
    /// For percentile panels: the finite bucket bounds of the merged histograms (at most
    /// [`MAX_BOUNDS`]), so a reader can say which bucket a value lies in. Empty: none known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bounds: Vec<f64>,
    /// For percentile panels: the exporters give quantiles (summaries), not buckets; the lines
    /// are the largest of the replicas' own quantiles, not a merge.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_summaries: bool,
    /// For percentile panels: the points whose value is a lower bound, not an estimate — the
    /// percentile's rank fell among observations known only to lie above that value (a `+Inf`
    /// bucket). Shown as "> value". Absent: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub above: Vec<AbovePoint>,
    /// Some of the panel's series carry a model label, so it can be split by model
    /// ([`Filter::by_model`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_model: bool,
    /// For a panel no target feeds: families on the targets' pages that look like what it
    /// reads under another name (a rename, another prefix, an averaged gauge the adapter does
    /// not read), at most [`MAX_HINTS`]. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<Lookalike>,
}

/// Most [`Lookalike`]s a panel or a target lists.
pub const MAX_HINTS: usize = 8;

/// A family on an exporter's page that looks like one inferscope reads, under another name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Lookalike {
    /// The family found on the page, as named there.
    pub found: String,
    /// The family the adapter reads for this (the engine's current name).
    pub expected: String,
    /// Why the found one is not read, in a phrase (`another prefix`, `renamed in vLLM
    /// v0.11`, `an average the engine computes; the counters give the true rate`).
    pub why: String,
    /// The panels it would feed.
    pub panels: Vec<PanelId>,
}

/// A point of a percentile line that is a lower bound ([`Panel::above`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AbovePoint {
    /// The line.
    pub series: SeriesId,
    /// The point's time, Unix milliseconds.
    pub at_ms: i64,
}

/// Most bucket bounds a panel carries.
pub const MAX_BOUNDS: usize = 1000;

impl Panel {
    /// A panel with no lines.
    pub fn empty(id: PanelId) -> Panel {
        Panel {
            id,
            series: Vec::new(),
            top_bucket: None,
            bounds: Vec::new(),
            from_summaries: false,
            above: Vec::new(),
            by_model: false,
            hints: Vec::new(),
        }
    }

    /// The series with this id, if the panel has it.
    pub fn series(&self, id: &SeriesId) -> Option<&Series> {
        self.series.iter().find(|series| series.id == *id)
    }

    /// Whether this line's point at `at_ms` is a lower bound ("> value").
    pub fn is_above(&self, series: &SeriesId, at_ms: i64) -> bool {
        self.above
            .iter()
            .any(|point| point.at_ms == at_ms && point.series == *series)
    }
}

/// One environment and deployment that some target reports.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeploymentRef {
    /// Environment name, e.g. `production`.
    pub environment: String,
    /// Deployment name, e.g. `chat-llm`.
    pub deployment: String,
}

/// The whole state of a view: what a snapshot carries and what deltas keep up to date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// The filter this view answers (normalised by the server).
    pub filter: Filter,
    /// Start of the window, Unix milliseconds (inclusive): the first point's time.
    pub start_ms: i64,
    /// End of the window, Unix milliseconds (inclusive): the last point's time.
    pub end_ms: i64,
    /// Distance between points, milliseconds.
    pub step_ms: i64,
    /// Every deployment known to the server, sorted, for the filter menus.
    pub deployments: Vec<DeploymentRef>,
    /// The models (and adapters) series in the filter's environment and deployment are
    /// labelled with, sorted, for the model menu (at most [`MAX_MODELS`]). Empty: no engine
    /// there labels by model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// The panels, in [`PanelId::ALL`] order.
    pub panels: Vec<Panel>,
    /// Why this server has no GPU readings of its own (no NVIDIA driver), shown on empty GPU
    /// panels. Fixed for a server run: sent in snapshots, never changed by a delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_note: Option<String>,
    /// The autoscaling diagnosis of each deployment in scope (at most
    /// [`MAX_DIAGNOSED_DEPLOYMENTS`]): findings with their evidence, and replica events. Empty
    /// for a view limited to some panels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub autoscaling: Vec<Autoscaling>,
}

/// Most models a view lists.
pub const MAX_MODELS: usize = 64;

/// Most deployments one view diagnoses.
pub const MAX_DIAGNOSED_DEPLOYMENTS: usize = 24;

/// Most replica events listed per deployment (the newest).
pub const MAX_REPLICA_EVENTS: usize = 50;

/// One deployment's autoscaling, as the server diagnosed it over the view's range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Autoscaling {
    /// Environment.
    pub environment: String,
    /// Deployment.
    pub deployment: String,
    /// The autoscaler settings the diagnosis assumed, and where they came from.
    pub settings: AutoscalerSettingsInfo,
    /// What is wrong, in report order (empty: nothing).
    pub findings: Vec<Finding>,
    /// Scale-ups and scale-downs in the range, oldest first (the newest
    /// [`MAX_REPLICA_EVENTS`]).
    pub events: Vec<ReplicaEvent>,
}

/// Autoscaler settings with their source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoscalerSettingsInfo {
    /// Fewest replicas.
    pub min_replicas: u32,
    /// Most replicas.
    pub max_replicas: u32,
    /// Requests one replica should handle at once.
    pub concurrency_target: f64,
    /// Fraction of the concurrency target aimed for (0–1].
    pub target_utilization: f64,
    /// Autoscaling window, seconds.
    pub window_s: f64,
    /// Scale-down delay, seconds.
    pub scale_down_delay_s: f64,
    /// Largest fraction of replicas removed in one step (0–1].
    pub max_scale_down_rate: f64,
    /// `config` (the server's `[[autoscaling]]` table), `exporter` (the deployment's
    /// `inferscope_autoscaler_setting` gauges), `defaults` (the documented defaults), or
    /// `request` (given with the request); a mix is named by its parts, e.g. `exporter+defaults`.
    pub source: String,
}

/// The six findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Replicas removed and added back again and again.
    Thrash,
    /// At the maximum replicas with requests queued.
    InsufficientCapacity,
    /// Requests queued while new replicas were starting.
    ColdStarts,
    /// Latency grows with each request a replica runs at once, and the target lets it.
    ConcurrencyTargetTooHigh,
    /// Replicas removed, then needed again soon after, with requests queued.
    ScaleDownTooQuick,
    /// The async queue keeps growing.
    AsyncQueueGrowing,
}

impl FindingKind {
    /// Every finding, in report order.
    pub const ALL: [FindingKind; 6] = [
        FindingKind::Thrash,
        FindingKind::InsufficientCapacity,
        FindingKind::ColdStarts,
        FindingKind::ConcurrencyTargetTooHigh,
        FindingKind::ScaleDownTooQuick,
        FindingKind::AsyncQueueGrowing,
    ];

    /// Its name in reports and the API.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Thrash => "thrash",
            FindingKind::InsufficientCapacity => "insufficient_capacity",
            FindingKind::ColdStarts => "cold_starts",
            FindingKind::ConcurrencyTargetTooHigh => "concurrency_target_too_high",
            FindingKind::ScaleDownTooQuick => "scale_down_too_quick",
            FindingKind::AsyncQueueGrowing => "async_queue_growing",
        }
    }

    /// Its title on the page.
    pub fn title(self) -> &'static str {
        match self {
            FindingKind::Thrash => "Replica thrash",
            FindingKind::InsufficientCapacity => "Insufficient capacity",
            FindingKind::ColdStarts => "Cold starts delay requests",
            FindingKind::ConcurrencyTargetTooHigh => "Concurrency target too high",
            FindingKind::ScaleDownTooQuick => "Scale-down too quick",
            FindingKind::AsyncQueueGrowing => "Async queue growing",
        }
    }
}

/// How much a finding hurts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth fixing.
    Warning,
    /// Affects a quarter of the range or more.
    Critical,
}

/// One finding with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What.
    pub kind: FindingKind,
    /// How bad.
    pub severity: Severity,
    /// Start of the span it covers, Unix milliseconds.
    pub from_ms: i64,
    /// End of that span.
    pub to_ms: i64,
    /// The panel that shows it.
    pub panel: PanelId,
    /// The spans to mark on that panel, `[from_ms, to_ms]` each.
    pub evidence: Vec<(i64, i64)>,
    /// The likely cause, in a sentence.
    pub cause: String,
    /// The fix, in numbers.
    pub fix: String,
}

/// What a replica event was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaEventKind {
    /// Replicas added.
    ScaleUp,
    /// Replicas removed.
    ScaleDown,
}

/// A change in a deployment's replica count (active plus starting).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaEvent {
    /// When, Unix milliseconds (the grid step where the count changed).
    pub at_ms: i64,
    /// Up or down.
    pub kind: ReplicaEventKind,
    /// Replicas before.
    pub from: u32,
    /// Replicas after.
    pub to: u32,
    /// For a scale-up: how long until as many replicas were active (the cold start), ms.
    /// Absent for a scale-down, or when the range ended first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start_ms: Option<i64>,
}

/// Path of the HTTP endpoint that replays a recorded range through edited autoscaler settings.
pub const WHATIF_PATH: &str = "/api/v1/whatif";

/// `GET` what the requester may do with links; `POST` to [`LINKS_PATH`] mints one.
pub const ACCESS_PATH: &str = "/api/v1/access";

/// `POST` mints a signed link (an admin token in the `Authorization` header).
pub const LINKS_PATH: &str = "/api/v1/links";

/// What the server says about links to whoever asks (`GET /api/v1/access`): the Share dialog
/// reads it before offering to mint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessInfo {
    /// Every page and API request needs a token.
    pub tokens_required: bool,
    /// The server has a secret, so it can sign links (for an admin token).
    pub signs_links: bool,
    /// The requester's own token is scoped to part of the fleet.
    pub scoped: bool,
    /// The longest lifetime a minted link may have, seconds.
    pub max_link_ttl_s: i64,
}

/// A request to mint a link (`POST /api/v1/links`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// Only this environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// Only this deployment.
    #[serde(default)]
    pub deployment: Option<String>,
    /// Only these panels (keys).
    #[serde(default)]
    pub panels: Vec<String>,
    /// Lifetime, seconds (capped at `access.max_link_ttl_s`).
    pub ttl_s: i64,
    /// A full-page link instead of an embed link.
    #[serde(default)]
    pub page: bool,
}

/// A minted link (the answer to `POST /api/v1/links`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The bearer token (also inside `path`).
    pub token: String,
    /// Path and query of the link on this server, e.g. `/?embed=1&deployment=…&token=…`.
    pub path: String,
    /// Expiry, Unix seconds.
    pub expires_s: i64,
    /// Expiry, readable (UTC).
    pub expires_utc: String,
}

/// Settings to try in a what-if replay; each absent one keeps the recorded setting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WhatIfEdits {
    /// Fewest replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<u32>,
    /// Most replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
    /// Requests one replica handles at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_target: Option<f64>,
    /// Fraction of the concurrency target aimed for (0–1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_utilization: Option<f64>,
    /// Autoscaling window, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<f64>,
    /// Scale-down delay, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_s: Option<f64>,
    /// Largest fraction of replicas removed per step (0–1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scale_down_rate: Option<f64>,
    /// Cold start of a new replica, seconds. Absent: the median measured in the range (30 s
    /// when none was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start_s: Option<f64>,
}

/// Totals of a recorded or replayed range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WhatIfTotals {
    /// Replica-minutes used (active and starting).
    pub replica_minutes: f64,
    /// Request-seconds spent queued.
    pub queued_request_seconds: f64,
    /// Most replicas at once.
    pub peak_replicas: f64,
    /// Changes of the replica count.
    pub scale_events: usize,
}

/// A what-if replay: the recorded in-flight load of a range run through the shared autoscaling
/// algorithm with edited settings, beside what happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhatIf {
    /// Environment.
    pub environment: String,
    /// Deployment.
    pub deployment: String,
    /// First step, Unix milliseconds.
    pub start_ms: i64,
    /// Last step.
    pub end_ms: i64,
    /// Step, milliseconds.
    pub step_ms: i64,
    /// The settings in force (as the diagnosis resolves them).
    pub recorded_settings: AutoscalerSettingsInfo,
    /// The settings replayed.
    pub replayed_settings: AutoscalerSettingsInfo,
    /// Cold start assumed for new replicas, seconds.
    pub cold_start_s: f64,
    /// `measured` (median of the range's scale-ups), `request` or `default` (30 s).
    pub cold_start_source: String,
    /// Recorded in-flight requests (in progress plus queued): the replay's input.
    pub load: Vec<Point>,
    /// Recorded replicas (active plus starting).
    pub actual_replicas: Vec<Point>,
    /// Recorded queued requests.
    pub actual_queued: Vec<Point>,
    /// Replayed replicas (active plus starting).
    pub predicted_replicas: Vec<Point>,
    /// Replayed queued requests: load beyond `concurrency_target` per active replica.
    pub predicted_queued: Vec<Point>,
    /// What happened.
    pub actual: WhatIfTotals,
    /// The recorded settings replayed through the same model: the yardstick for `predicted`.
    pub baseline: WhatIfTotals,
    /// The edited settings replayed.
    pub predicted: WhatIfTotals,
}

impl View {
    /// The panel with this id, if present.
    pub fn panel(&self, id: PanelId) -> Option<&Panel> {
        self.panels.iter().find(|panel| panel.id == id)
    }

    /// Applies a delta in place, as every client must (see [`ViewDelta`]).
    pub fn apply(&mut self, delta: &ViewDelta) {
        self.start_ms = delta.start_ms;
        self.end_ms = delta.end_ms;
        if let Some(deployments) = &delta.deployments {
            self.deployments.clone_from(deployments);
        }
        if let Some(models) = &delta.models {
            self.models.clone_from(models);
        }
        if let Some(autoscaling) = &delta.autoscaling {
            self.autoscaling.clone_from(autoscaling);
        }
        for panel_delta in &delta.panels {
            let position = self
                .panels
                .iter()
                .position(|panel| panel.id == panel_delta.id);
            let panel = match position {
                Some(index) => &mut self.panels[index],
                None => {
                    self.panels.push(Panel::empty(panel_delta.id));
                    let last = self.panels.len() - 1;
                    &mut self.panels[last]
                }
            };
            panel.top_bucket = panel_delta.top_bucket;
            panel.from_summaries = panel_delta.from_summaries;
            panel.by_model = panel_delta.by_model;
            if let Some(hints) = &panel_delta.hints {
                panel.hints.clone_from(hints);
            }
            if let Some(bounds) = &panel_delta.bounds {
                panel.bounds.clone_from(bounds);
            }
            if let Some(above) = &panel_delta.above {
                panel.above.clone_from(above);
            }
            for series_delta in &panel_delta.series {
                let position = panel.series.iter().position(|s| s.id == series_delta.id);
                let series = match position {
                    Some(index) => &mut panel.series[index],
                    None => {
                        panel.series.push(Series {
                            id: series_delta.id.clone(),
                            points: Vec::new(),
                        });
                        let last = panel.series.len() - 1;
                        &mut panel.series[last]
                    }
                };
                series
                    .points
                    .retain(|Point(time_ms, _)| *time_ms < series_delta.from_ms);
                series.points.extend_from_slice(&series_delta.points);
            }
            for removed in &panel_delta.removed {
                panel.series.retain(|series| series.id != *removed);
            }
            panel.series.sort_by(|a, b| a.id.cmp(&b.id));
        }
        self.panels.sort_by_key(|panel| panel.id);
        let start_ms = self.start_ms;
        for panel in &mut self.panels {
            for series in &mut panel.series {
                series
                    .points
                    .retain(|Point(time_ms, _)| *time_ms >= start_ms);
            }
            panel.above.retain(|point| point.at_ms >= start_ms);
        }
    }
}

/// What changed in a view since the previous message of the stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewDelta {
    /// New start of the window. Points older than this are dropped from every series.
    pub start_ms: i64,
    /// New end of the window.
    pub end_ms: i64,
    /// The new deployment list. Absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployments: Option<Vec<DeploymentRef>>,
    /// The new model list. Absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Panels with a change. A panel not listed has not changed (apart from the window moving).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panels: Vec<PanelDelta>,
    /// The new autoscaling diagnosis, whole. Absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Vec<Autoscaling>>,
}

impl ViewDelta {
    /// True when the delta changes nothing but could still move the window.
    pub fn is_empty(&self) -> bool {
        self.deployments.is_none()
            && self.models.is_none()
            && self.panels.is_empty()
            && self.autoscaling.is_none()
    }
}

/// What changed in one panel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelDelta {
    /// Which panel.
    pub id: PanelId,
    /// The panel's `top_bucket` now (always sent; absent means none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_bucket: Option<f64>,
    /// The panel's `from_summaries` now (always sent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_summaries: bool,
    /// The panel's `by_model` now (always sent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_model: bool,
    /// The panel's new `hints`, whole. Absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Vec<Lookalike>>,
    /// The panel's new `bounds`. Absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Vec<f64>>,
    /// The panel's new `above` list, whole. Absent: unchanged (apart from points that left the
    /// window, which are dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<Vec<AbovePoint>>,
    /// Series with new or revised points. A series not listed has not changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<SeriesDelta>,
    /// Series no target reports any more: remove them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<SeriesId>,
}

/// New and revised points of one series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesDelta {
    /// Which series (created if the client has not seen it).
    pub id: SeriesId,
    /// Drop every point at or after this time, then append `points`. The last points of a live
    /// view are revised while late scrapes arrive; this is how.
    pub from_ms: i64,
    /// The replacement points, ascending by time, all at or after `from_ms`.
    pub points: Vec<Point>,
}

/// Identifies a stream of messages for one filter on one server run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamId(pub u64);

/// Where a reconnecting client left off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The stream it was reading.
    pub stream: StreamId,
    /// The last sequence number it applied.
    pub seq: u64,
}

/// Messages from a client to the server, as JSON text frames tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Start (or replace) this connection's subscription.
    Subscribe {
        /// The protocol version the client speaks ([`PROTOCOL_VERSION`]).
        protocol: u32,
        /// What to watch.
        filter: Filter,
        /// Where the client left off, when it reconnects. Absent: start with a snapshot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
}

/// Messages from the server to a client, as JSON text frames tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The whole view. Replaces anything the client held.
    Snapshot {
        /// The protocol version of the server.
        protocol: u32,
        /// The stream this subscription reads; name it in [`Resume`].
        stream: StreamId,
        /// Sequence number of this message. The next delta carries `seq + 1`.
        seq: u64,
        /// Deltas this client did not receive because it was too slow or resumed too late
        /// (0 on a first subscription). The snapshot already includes their effect.
        skipped: u64,
        /// The view.
        view: Box<View>,
    },
    /// A change to the view.
    Delta {
        /// The stream.
        stream: StreamId,
        /// Sequence number: exactly one more than the previous message of the stream. A gap
        /// means the client must resubscribe (it cannot happen on one open connection).
        seq: u64,
        /// The change.
        delta: ViewDelta,
    },
    /// The server could not act on a client message. The connection stays open unless the
    /// code says otherwise.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
}

/// Why the server refused a client message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not a valid [`ClientMessage`].
    BadMessage,
    /// The client speaks another protocol version; the server closes the connection.
    UnsupportedProtocol,
    /// The server has as many streams as it will keep; try again later.
    Overloaded,
    /// The connection's token expired (or none was given where one is required); the server
    /// closes the connection.
    Unauthorized,
    /// The filter asks for more than the connection's token allows (another deployment,
    /// environment or panel); the subscription is refused, the connection stays open.
    Forbidden,
}

/// A family no adapter knows, as `/api/v1/families` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// The metric name.
    pub name: String,
    /// Series with this name in scope.
    pub series: usize,
    /// Targets exporting it.
    pub targets: usize,
}

/// One series of such a family on a view grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FamilySeries {
    /// Environment label of the target.
    pub environment: String,
    /// Deployment label of the target.
    pub deployment: String,
    /// Replica label of the target (empty for a deployment-level exporter).
    pub replica: String,
    /// The series as exported: `name{labels}`.
    pub series: String,
    /// `[time_ms, value]`; `null` where the series had no value.
    pub points: Vec<Point>,
}

/// One family's series for a filter and range, as `/api/v1/family` returns them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FamilyView {
    /// The family's name.
    pub name: String,
    /// First point.
    pub start_ms: i64,
    /// Last point.
    pub end_ms: i64,
    /// Distance between points.
    pub step_ms: i64,
    /// The series, sorted by target and name.
    pub series: Vec<FamilySeries>,
    /// Whether more series matched than were returned.
    pub truncated: bool,
}

/// Scrape health of one target, as the targets API returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetHealth {
    /// The URL scraped.
    pub url: String,
    /// Environment label.
    pub environment: String,
    /// Deployment label.
    pub deployment: String,
    /// Replica label (empty for a deployment-level exporter such as a router).
    pub replica: String,
    /// Whether the last scrape succeeded.
    pub up: bool,
    /// Unix milliseconds of the last scrape attempt, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scrape_ms: Option<i64>,
    /// Duration of the last scrape attempt in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_duration_seconds: Option<f64>,
    /// Samples the last successful scrape returned.
    pub samples_scraped: u64,
    /// Why the last scrape failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Engines recognised on its last good page (`vllm`, `dcgm`, `process`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engines: Vec<String>,
    /// Families on its last good page that look like ones inferscope reads under another
    /// name (at most [`MAX_HINTS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lookalikes: Vec<Lookalike>,
}
