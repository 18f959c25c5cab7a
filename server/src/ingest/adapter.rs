//! Adapter tables: which exposition family feeds which canonical signal, in which unit.
//!
//! **Engine knowledge is data.** Each row names an engine, a family (as its samples are named),
//! how to read it, the canonical signal, the factor to the signal's unit, where the signal's
//! detail comes from, and a rank: when two families on one page feed the same signal and detail
//! (vLLM's `gpu_cache_usage_perc` and its successor `kv_cache_usage_perc`, or a process's own
//! memory beside a container's), the lower rank wins. Adding an engine or a renamed family is
//! adding rows.

use std::sync::LazyLock;

use crate::hashing::FastMap;
use crate::model::{DETAIL_COUNT, DETAIL_PROCESS, DETAIL_SUM, Signal};

/// The exporter a family comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// inferscope's own names (the demo fleet, instrumented servers).
    Inferscope,
    /// The hosted reference platform's metrics export (`baseten_*`).
    HostedPlatform,
    /// vLLM (v0 and v1 names), also as re-exported by Ray Serve LLM (`ray_vllm:`).
    Vllm,
    /// prometheus-fastapi-instrumentator's `http_*` families (vLLM's API server, FastAPI model
    /// servers).
    FastApi,
    /// NVIDIA NIM for LLMs (vLLM-style names without a prefix).
    Nim,
    /// SGLang.
    Sglang,
    /// Hugging Face Text Generation Inference.
    Tgi,
    /// NVIDIA Triton Inference Server (microsecond summaries).
    Triton,
    /// TorchServe.
    TorchServe,
    /// BentoML.
    BentoMl,
    /// Ray Serve (milliseconds).
    RayServe,
    /// NVIDIA DCGM exporter (GPU utilisation in percent, memory in MiB).
    Dcgm,
    /// Prometheus node_exporter (host CPU and memory).
    NodeExporter,
    /// The standard `process_*` families every Prometheus client library exports.
    Process,
}

impl Engine {
    /// Every engine, in the order their tables are listed.
    pub const ALL: [Engine; 14] = [
        Engine::Inferscope,
        Engine::HostedPlatform,
        Engine::Vllm,
        Engine::FastApi,
        Engine::Nim,
        Engine::Sglang,
        Engine::Tgi,
        Engine::Triton,
        Engine::TorchServe,
        Engine::BentoMl,
        Engine::RayServe,
        Engine::Dcgm,
        Engine::NodeExporter,
        Engine::Process,
    ];

    /// The name used in config files and shown on the targets page.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Inferscope => "inferscope",
            Engine::HostedPlatform => "baseten",
            Engine::Vllm => "vllm",
            Engine::FastApi => "fastapi",
            Engine::Nim => "nim",
            Engine::Sglang => "sglang",
            Engine::Tgi => "tgi",
            Engine::Triton => "triton",
            Engine::TorchServe => "torchserve",
            Engine::BentoMl => "bentoml",
            Engine::RayServe => "ray-serve",
            Engine::Dcgm => "dcgm",
            Engine::NodeExporter => "node",
            Engine::Process => "process",
        }
    }

    /// The label that names the model (or LoRA adapter) a series is of, where the engine
    /// labels its families by model: vLLM's and NIM's `model_name` (the served model name;
    /// vLLM labels a LoRA adapter's requests with the base model's served name too, v0.34.0
    /// `vllm/v1/metrics/loggers.py`, so adapters are not told apart there), SGLang's
    /// `model_name`, Triton's and TorchServe's model labels, and inferscope's own `model`
    /// (which names adapters). Families of the whole replica (CPU, GPUs, the HTTP layer) have
    /// none.
    pub fn model_label(self) -> Option<&'static str> {
        match self {
            Engine::Inferscope | Engine::Triton => Some("model"),
            Engine::Vllm | Engine::Nim | Engine::Sglang | Engine::TorchServe => Some("model_name"),
            Engine::HostedPlatform
            | Engine::FastApi
            | Engine::Tgi
            | Engine::BentoMl
            | Engine::RayServe
            | Engine::Dcgm
            | Engine::NodeExporter
            | Engine::Process => None,
        }
    }

    /// Parses a name as [`Engine::name`] writes it.
    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|engine| engine.name() == name)
    }
}

/// How a family is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyKind {
    /// Cumulative counter: ingest turns it into increments.
    Counter,
    /// Instantaneous value.
    Gauge,
    /// Cumulative histogram with `_bucket{le}`, `_sum`, `_count` series.
    Histogram,
    /// Client-side quantiles (`{quantile}` samples); `_sum` and `_count` are not used.
    Summary,
}

/// Where an observation's detail (status code, state, GPU) comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailFrom {
    /// No detail.
    None,
    /// The value of this label (absent label: no detail).
    Label(&'static str),
    /// Always this value (a success counter is status 200; a waiting-requests gauge is
    /// `queued`).
    Fixed(&'static str),
    /// This label's value mapped through the table; values not listed give the default.
    Mapped(
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
    ),
}

/// Which samples of a family a row takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SampleFilter {
    /// Every sample.
    All,
    /// All but those whose label has one of these values (a value ending in `*` is a prefix).
    Skip(&'static str, &'static [&'static str]),
    /// Only those whose label has one of these values (a value ending in `*` is a prefix).
    Only(&'static str, &'static [&'static str]),
}

/// Whether `value` is one of `patterns` (a pattern ending in `*` matches what it begins).
fn listed(patterns: &[&str], value: &str) -> bool {
    patterns
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => value.starts_with(prefix),
            None => *pattern == value,
        })
}

impl SampleFilter {
    /// Whether a sample with this value of the filter's label (if any) is taken.
    pub fn takes(&self, value_of: impl Fn(&str) -> Option<String>) -> bool {
        match self {
            SampleFilter::All => true,
            SampleFilter::Skip(label, values) => {
                value_of(label).is_none_or(|value| !listed(values, &value))
            }
            SampleFilter::Only(label, values) => {
                value_of(label).is_some_and(|value| listed(values, &value))
            }
        }
    }
}

/// When a row applies, by the other engines whose families are on the same page. A family
/// that several servers share (the FastAPI instrumentator's `http_requests_total`) can mean
/// something else beside an engine that counts the same requests itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum When {
    /// On every page.
    Always,
    /// Only beside this engine's families.
    With(Engine),
    /// Only where this engine's families are absent.
    Without(Engine),
}

impl When {
    /// Whether the row applies on a page with these engines.
    pub fn holds(&self, engines: &std::collections::BTreeSet<Engine>) -> bool {
        match self {
            When::Always => true,
            When::With(engine) => engines.contains(engine),
            When::Without(engine) => !engines.contains(engine),
        }
    }
}

/// One row of an adapter table.
#[derive(Clone, Debug, PartialEq)]
pub struct FamilyRule {
    /// The engine whose table this row belongs to.
    pub engine: Engine,
    /// Sample name (counters with their own suffix, histograms and summaries without).
    pub family: String,
    /// How to read it.
    pub kind: FamilyKind,
    /// The canonical signal it feeds.
    pub signal: Signal,
    /// Multiply values (and histogram bounds, summary quantile values) by this to get the
    /// signal's unit.
    pub scale: f64,
    /// Where the detail comes from.
    pub detail: DetailFrom,
    /// Preference among families feeding the same signal on one page: lower wins.
    pub rank: u8,
    /// Which of the family's samples feed the signal (by one label's value).
    pub samples: SampleFilter,
    /// When the row applies, by the other engines on the same page.
    pub when: When,
    /// For a summary: its `_sum` and `_count` feed the signal too (details `sum` and `count`),
    /// so a summary without quantiles still gives a mean.
    pub mean: bool,
}

use DetailFrom::{Fixed, Label, Mapped};
use FamilyKind::{Counter, Gauge, Histogram, Summary};

const MIB: f64 = 1024.0 * 1024.0;

fn row(engine: Engine, family: &str, kind: FamilyKind, signal: Signal) -> FamilyRule {
    FamilyRule {
        engine,
        family: family.to_owned(),
        kind,
        signal,
        scale: 1.0,
        detail: DetailFrom::None,
        rank: 1,
        samples: SampleFilter::All,
        when: When::Always,
        mean: false,
    }
}

impl FamilyRule {
    fn scale(mut self, scale: f64) -> FamilyRule {
        self.scale = scale;
        self
    }

    fn detail(mut self, detail: DetailFrom) -> FamilyRule {
        self.detail = detail;
        self
    }

    fn rank(mut self, rank: u8) -> FamilyRule {
        self.rank = rank;
        self
    }

    /// Ignores samples whose `label` has one of these values (node_exporter's idle CPU).
    fn skip(mut self, label: &'static str, values: &'static [&'static str]) -> FamilyRule {
        self.samples = SampleFilter::Skip(label, values);
        self
    }

    /// Takes only samples whose `label` has one of these values.
    fn only(mut self, label: &'static str, values: &'static [&'static str]) -> FamilyRule {
        self.samples = SampleFilter::Only(label, values);
        self
    }

    /// Applies only when the page also has this engine's families.
    fn with_engine(mut self, engine: Engine) -> FamilyRule {
        self.when = When::With(engine);
        self
    }

    /// Applies only when the page has none of this engine's families.
    fn without_engine(mut self, engine: Engine) -> FamilyRule {
        self.when = When::Without(engine);
        self
    }

    fn with_mean(mut self) -> FamilyRule {
        self.mean = true;
        self
    }
}

/// inferscope's own names and the hosted platform's export (GPU in percent and MiB there).
fn own_and_platform() -> Vec<FamilyRule> {
    use Engine::{HostedPlatform as B, Inferscope as I};
    vec![
        row(
            I,
            "inferscope_inference_requests_total",
            Counter,
            Signal::Requests,
        )
        .detail(Label("status_code"))
        .rank(0),
        row(
            I,
            "inferscope_end_to_end_response_time_seconds",
            Histogram,
            Signal::EndToEndSeconds,
        )
        .rank(0),
        row(
            I,
            "inferscope_inference_time_seconds",
            Histogram,
            Signal::InferenceSeconds,
        )
        .rank(0),
        row(
            I,
            "inferscope_time_to_first_byte_seconds",
            Histogram,
            Signal::TimeToFirstByteSeconds,
        )
        .rank(0),
        row(
            I,
            "inferscope_request_size_bytes",
            Histogram,
            Signal::RequestSizeBytes,
        )
        .rank(0),
        row(
            I,
            "inferscope_response_size_bytes",
            Histogram,
            Signal::ResponseSizeBytes,
        )
        .rank(0),
        row(
            I,
            "inferscope_request_prompt_tokens",
            Histogram,
            Signal::PromptTokens,
        )
        .rank(0),
        row(
            I,
            "inferscope_request_generation_tokens",
            Histogram,
            Signal::GenerationTokens,
        )
        .rank(0),
        row(
            I,
            "inferscope_concurrent_requests",
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Label("state"))
        .rank(0),
        row(
            I,
            "inferscope_replicas_active",
            Gauge,
            Signal::ReplicasActive,
        )
        .rank(0),
        row(
            I,
            "inferscope_replicas_starting",
            Gauge,
            Signal::ReplicasStarting,
        )
        .rank(0),
        row(
            I,
            "inferscope_time_in_async_queue_seconds",
            Histogram,
            Signal::AsyncQueueSeconds,
        )
        .rank(0),
        row(
            I,
            "inferscope_async_queue_size",
            Gauge,
            Signal::AsyncQueueSize,
        )
        .rank(0),
        row(
            I,
            "inferscope_autoscaler_setting",
            Gauge,
            Signal::AutoscalerSetting,
        )
        .detail(Label("setting"))
        .rank(0),
        row(
            I,
            "inferscope_container_cpu_usage_seconds_total",
            Counter,
            Signal::CpuSeconds,
        )
        .rank(0),
        row(
            I,
            "inferscope_container_memory_working_set_bytes",
            Gauge,
            Signal::MemoryWorkingSetBytes,
        )
        .rank(0),
        row(
            I,
            "inferscope_container_cpu_limit_cores",
            Gauge,
            Signal::CpuLimitCores,
        )
        .rank(0),
        row(
            I,
            "inferscope_container_memory_limit_bytes",
            Gauge,
            Signal::MemoryLimitBytes,
        )
        .rank(0),
        row(
            I,
            "inferscope_gpu_utilization_ratio",
            Gauge,
            Signal::GpuUtilization,
        )
        .detail(Label("gpu"))
        .rank(0),
        row(
            I,
            "inferscope_gpu_memory_used_bytes",
            Gauge,
            Signal::GpuMemoryUsedBytes,
        )
        .detail(Label("gpu"))
        .rank(0),
        row(
            I,
            "inferscope_gpu_memory_total_bytes",
            Gauge,
            Signal::GpuMemoryTotalBytes,
        )
        .detail(Label("gpu"))
        .rank(0),
        row(
            I,
            "inferscope_kv_cache_usage_ratio",
            Gauge,
            Signal::KvCacheUsage,
        )
        .rank(0),
        // The LLM engine's families, by `model` (the demo fleet's replicas write them).
        row(
            I,
            "inferscope_prompt_tokens_total",
            Counter,
            Signal::PromptTokensProcessed,
        )
        .rank(0),
        row(
            I,
            "inferscope_generation_tokens_total",
            Counter,
            Signal::GenerationTokensProduced,
        )
        .rank(0),
        row(
            I,
            "inferscope_inter_token_latency_seconds",
            Histogram,
            Signal::InterTokenSeconds,
        )
        .rank(0),
        row(
            I,
            "inferscope_request_prefill_time_seconds",
            Histogram,
            Signal::PrefillSeconds,
        )
        .rank(0),
        row(
            I,
            "inferscope_request_decode_time_seconds",
            Histogram,
            Signal::DecodeSeconds,
        )
        .rank(0),
        row(
            I,
            "inferscope_prefix_cache_queries_total",
            Counter,
            Signal::PrefixCacheQueries,
        )
        .rank(0),
        row(
            I,
            "inferscope_prefix_cache_hits_total",
            Counter,
            Signal::PrefixCacheHits,
        )
        .rank(0),
        row(
            I,
            "inferscope_preemptions_total",
            Counter,
            Signal::Preemptions,
        )
        .rank(0),
        row(
            I,
            "inferscope_spec_decode_draft_tokens_total",
            Counter,
            Signal::SpecDraftTokens,
        )
        .rank(0),
        row(
            I,
            "inferscope_spec_decode_accepted_tokens_total",
            Counter,
            Signal::SpecAcceptedTokens,
        )
        .rank(0),
        row(
            I,
            "inferscope_requests_finished_total",
            Counter,
            Signal::FinishedRequests,
        )
        .detail(Label("reason"))
        .rank(0),
        row(
            B,
            "baseten_inference_requests_total",
            Counter,
            Signal::Requests,
        )
        .detail(Label("status_code")),
        row(
            B,
            "baseten_end_to_end_response_time_seconds",
            Histogram,
            Signal::EndToEndSeconds,
        ),
        row(
            B,
            "baseten_time_to_first_byte_seconds",
            Histogram,
            Signal::TimeToFirstByteSeconds,
        ),
        row(
            B,
            "baseten_request_size_bytes",
            Histogram,
            Signal::RequestSizeBytes,
        ),
        row(
            B,
            "baseten_response_size_bytes",
            Histogram,
            Signal::ResponseSizeBytes,
        ),
        row(B, "baseten_replicas_active", Gauge, Signal::ReplicasActive),
        row(
            B,
            "baseten_replicas_starting",
            Gauge,
            Signal::ReplicasStarting,
        ),
        row(
            B,
            "baseten_concurrent_requests",
            Gauge,
            Signal::ConcurrentRequests,
        ),
        row(
            B,
            "baseten_time_in_async_queue_seconds",
            Histogram,
            Signal::AsyncQueueSeconds,
        ),
        row(B, "baseten_async_queue_size", Gauge, Signal::AsyncQueueSize),
        row(
            B,
            "baseten_container_cpu_usage_seconds_total",
            Counter,
            Signal::CpuSeconds,
        ),
        row(
            B,
            "baseten_container_cpu_memory_working_set_bytes",
            Gauge,
            Signal::MemoryWorkingSetBytes,
        ),
        row(B, "baseten_gpu_utilization", Gauge, Signal::GpuUtilization)
            .scale(0.01)
            .detail(Label("gpu")),
        row(
            B,
            "baseten_gpu_memory_used",
            Gauge,
            Signal::GpuMemoryUsedBytes,
        )
        .scale(MIB)
        .detail(Label("gpu")),
    ]
}

/// vLLM's `finished_reason` as an outcome. vLLM counts every request its engine finished in
/// `request_success_total`, whatever the reason (v0.34.0 `vllm/v1/engine/__init__.py:37`,
/// `vllm/v1/metrics/loggers.py:808-820`): `stop`, `length` and `repetition` are answered 200
/// with that finish reason; `error` is "always converted to 500 Internal Server Error"; `abort`
/// is counted only when the engine drops work itself (pause, shutdown), which is the server's
/// doing: 503. A client's disconnect is never counted there. A reason added later reads as a
/// finished answer.
const VLLM_FINISHED: &[(&str, &str)] = &[
    ("stop", "200"),
    ("length", "200"),
    ("repetition", "200"),
    ("error", "500"),
    ("abort", "503"),
];

/// vLLM's families under a prefix (`vllm:`, Ray Serve LLM's `ray_vllm:`; NIM 1.x's unprefixed
/// names), as vLLM v0.34.0 declares them in `vllm/v1/metrics/loggers.py` (the v0 engine's
/// `vllm/engine/metrics.py` @0.6.6 for the renamed ones).
fn vllm_style(engine: Engine, prefix: &str) -> Vec<FamilyRule> {
    let name = |suffix: &str| format!("{prefix}{suffix}");
    let mut rows = vec![
        row(
            engine,
            &name("e2e_request_latency_seconds"),
            Histogram,
            Signal::EndToEndSeconds,
        ),
        row(
            engine,
            &name("request_inference_time_seconds"),
            Histogram,
            Signal::InferenceSeconds,
        ),
        row(
            engine,
            &name("time_to_first_token_seconds"),
            Histogram,
            Signal::TimeToFirstByteSeconds,
        ),
        // "Time spent in WAITING phase": the engine's scheduler queue, not an async queue.
        row(
            engine,
            &name("request_queue_time_seconds"),
            Histogram,
            Signal::EngineQueueSeconds,
        ),
        row(
            engine,
            &name("request_prompt_tokens"),
            Histogram,
            Signal::PromptTokens,
        ),
        row(
            engine,
            &name("request_generation_tokens"),
            Histogram,
            Signal::GenerationTokens,
        ),
        row(
            engine,
            &name("num_requests_running"),
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("in_progress")),
        row(
            engine,
            &name("num_requests_waiting"),
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("queued")),
        // v0.9.2 renamed the cache gauge (the old name was removed in v0.12.0); when a page has
        // both, the new name wins.
        row(
            engine,
            &name("kv_cache_usage_perc"),
            Gauge,
            Signal::KvCacheUsage,
        )
        .rank(0),
        row(
            engine,
            &name("gpu_cache_usage_perc"),
            Gauge,
            Signal::KvCacheUsage,
        )
        .rank(1),
        // Tokens: "Number of prefill tokens processed" and "Number of generation tokens
        // processed" (counters in V0 and V1).
        row(
            engine,
            &name("prompt_tokens_total"),
            Counter,
            Signal::PromptTokensProcessed,
        ),
        row(
            engine,
            &name("generation_tokens_total"),
            Counter,
            Signal::GenerationTokensProduced,
        ),
        // The time between two output tokens: `inter_token_latency_seconds` since v0.11.0;
        // before, the same observations were `time_per_output_token_seconds` (deprecated in
        // v0.11, hidden in v0.12). A page with both: the new name wins.
        row(
            engine,
            &name("inter_token_latency_seconds"),
            Histogram,
            Signal::InterTokenSeconds,
        )
        .rank(0),
        row(
            engine,
            &name("time_per_output_token_seconds"),
            Histogram,
            Signal::InterTokenSeconds,
        )
        .rank(1),
        // "Histogram of time spent in PREFILL phase for request" and "…in DECODE phase" (V1).
        row(
            engine,
            &name("request_prefill_time_seconds"),
            Histogram,
            Signal::PrefillSeconds,
        ),
        row(
            engine,
            &name("request_decode_time_seconds"),
            Histogram,
            Signal::DecodeSeconds,
        ),
        // V1's prefix cache, in tokens: queried and hit ("Prefix cache queries/hits, in terms
        // of number of queried/hit tokens"). V0's `gpu_prefix_cache_hit_rate` is a gauge the
        // engine averages; it is not read (a lookalike).
        row(
            engine,
            &name("prefix_cache_queries_total"),
            Counter,
            Signal::PrefixCacheQueries,
        ),
        row(
            engine,
            &name("prefix_cache_hits_total"),
            Counter,
            Signal::PrefixCacheHits,
        ),
        // v0.8.x–v0.9.1 named them `gpu_prefix_cache_*` (blocks up to v0.8.5, tokens from
        // v0.9.0: the share is a hit rate either way).
        row(
            engine,
            &name("gpu_prefix_cache_queries_total"),
            Counter,
            Signal::PrefixCacheQueries,
        )
        .rank(2),
        row(
            engine,
            &name("gpu_prefix_cache_hits_total"),
            Counter,
            Signal::PrefixCacheHits,
        )
        .rank(2),
        // "Cumulative number of preemption from the engine" (V0 and V1).
        row(
            engine,
            &name("num_preemptions_total"),
            Counter,
            Signal::Preemptions,
        ),
        // V1's speculative decoding: draft tokens proposed and accepted.
        row(
            engine,
            &name("spec_decode_num_draft_tokens_total"),
            Counter,
            Signal::SpecDraftTokens,
        ),
        row(
            engine,
            &name("spec_decode_num_accepted_tokens_total"),
            Counter,
            Signal::SpecAcceptedTokens,
        ),
    ];
    if engine == Engine::Nim {
        // NIM 1.x (a v0 engine): `request_finish_total{finished_reason}` is the per-reason
        // count; `request_success_total` (stop + length) and `request_failure_total` (the rest)
        // have no reason label and stand in only where it is absent.
        rows.extend([
            row(engine, "request_finish_total", Counter, Signal::Requests).detail(Mapped(
                "finished_reason",
                VLLM_FINISHED,
                "200",
            )),
            row(
                engine,
                "request_finish_total",
                Counter,
                Signal::FinishedRequests,
            )
            .detail(Label("finished_reason")),
            row(engine, "request_success_total", Counter, Signal::Requests)
                .detail(Fixed("200"))
                .rank(2),
            row(engine, "request_failure_total", Counter, Signal::Requests)
                .detail(Fixed("500"))
                .rank(2),
        ]);
    } else {
        rows.extend([
            row(
                engine,
                &name("request_success_total"),
                Counter,
                Signal::Requests,
            )
            .detail(Mapped("finished_reason", VLLM_FINISHED, "200")),
            // The same counter by the reason as vLLM writes it.
            row(
                engine,
                &name("request_success_total"),
                Counter,
                Signal::FinishedRequests,
            )
            .detail(Label("finished_reason")),
            // Requests the front end refused because its queue was full (HTTP 503); the engine
            // never saw them (v0.33+).
            row(
                engine,
                &name("admission_rejections_total"),
                Counter,
                Signal::Requests,
            )
            .detail(Fixed("503")),
        ]);
    }
    rows
}

/// prometheus-fastapi-instrumentator's default families (v8.0.2 `metrics.py:616-828`), which
/// vLLM's OpenAI-compatible server and many custom FastAPI model servers export. Status codes
/// are grouped into classes (`2xx`); sizes are summaries without quantiles (means only).
fn fastapi_instrumentator() -> Vec<FamilyRule> {
    use Engine::{FastApi, Vllm};
    vec![
        // Beside vLLM's engine counters only the refusals the engine never saw are added:
        // client errors (validation, unknown model). A streamed answer is 2xx at the HTTP layer
        // whatever happened after its first byte, and a non-streamed 5xx is also an engine
        // `error`, so those come from the engine (v0.34.0 `entrypoints/.../api_utils.py`).
        row(FastApi, "http_requests_total", Counter, Signal::Requests)
            .detail(Label("status"))
            .only("status", &["4xx"])
            .with_engine(Vllm),
        row(FastApi, "http_requests_total", Counter, Signal::Requests)
            .detail(Label("status"))
            .without_engine(Vllm)
            .rank(2),
        row(
            FastApi,
            "http_request_duration_highr_seconds",
            Histogram,
            Signal::EndToEndSeconds,
        )
        .rank(2),
        row(
            FastApi,
            "http_request_size_bytes",
            Summary,
            Signal::RequestSizeBytes,
        )
        .with_mean()
        .rank(2),
        // A streamed response has no Content-Length and is observed as 0 bytes; vLLM streams.
        row(
            FastApi,
            "http_response_size_bytes",
            Summary,
            Signal::ResponseSizeBytes,
        )
        .with_mean()
        .without_engine(Vllm)
        .rank(2),
    ]
}

/// The endpoints that serve inference in SGLang 0.5.23 (`srt/entrypoints/http_server.py`).
const SGLANG_INFERENCE_ENDPOINTS: &[&str] = &[
    "/generate",
    "/encode",
    "/classify",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/rerank",
    "/v1/score",
    "/v1/responses",
];

/// SGLang's families (0.5.23 `srt/observability/metrics_collector.py`,
/// `srt/observability/http_request_metrics.py`), under `sglang:` and under `sglang_`, which
/// prometheus_client writes when a scraper negotiates OpenMetrics without UTF-8 names.
fn sglang(prefix: &str) -> Vec<FamilyRule> {
    use Engine::Sglang;
    let name = |suffix: &str| format!("{prefix}{suffix}");
    vec![
        row(
            Sglang,
            &name("e2e_request_latency_seconds"),
            Histogram,
            Signal::EndToEndSeconds,
        ),
        row(
            Sglang,
            &name("time_to_first_token_seconds"),
            Histogram,
            Signal::TimeToFirstByteSeconds,
        ),
        // The scheduler's waiting queue until the first forward pass.
        row(
            Sglang,
            &name("queue_time_seconds"),
            Histogram,
            Signal::EngineQueueSeconds,
        ),
        row(
            Sglang,
            &name("prompt_tokens_histogram"),
            Histogram,
            Signal::PromptTokens,
        ),
        row(
            Sglang,
            &name("generation_tokens_histogram"),
            Histogram,
            Signal::GenerationTokens,
        ),
        // HTTP statuses as answered, on the inference endpoints only (scrapes and health
        // checks are counted there too).
        row(
            Sglang,
            &name("http_responses_total"),
            Counter,
            Signal::Requests,
        )
        .detail(Label("status_code"))
        .only("endpoint", SGLANG_INFERENCE_ENDPOINTS),
        // Without the HTTP families (before they existed): finished requests, and aborts —
        // client disconnects and explicit aborts (`TokenizerManager.abort_request`).
        row(
            Sglang,
            &name("num_requests_total"),
            Counter,
            Signal::Requests,
        )
        .detail(Fixed("200"))
        .rank(2),
        row(
            Sglang,
            &name("num_aborted_requests_total"),
            Counter,
            Signal::Requests,
        )
        .detail(Fixed("499"))
        .rank(2),
        row(
            Sglang,
            &name("num_running_reqs"),
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("in_progress")),
        row(
            Sglang,
            &name("num_queue_reqs"),
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("queued"))
        // With priority scheduling each priority has a series beside the total (`""`).
        .skip("priority", PRIORITY_VALUES),
        row(Sglang, &name("token_usage"), Gauge, Signal::KvCacheUsage),
        row(
            Sglang,
            &name("prompt_tokens_total"),
            Counter,
            Signal::PromptTokensProcessed,
        ),
        row(
            Sglang,
            &name("generation_tokens_total"),
            Counter,
            Signal::GenerationTokensProduced,
        ),
        // Prefix cache (RadixAttention), in tokens: every prompt token is looked up, and
        // `cached_tokens_total` counts those found. `cache_hit_rate` is a gauge the scheduler
        // averages; it is not read (a lookalike).
        row(
            Sglang,
            &name("prompt_tokens_total"),
            Counter,
            Signal::PrefixCacheQueries,
        ),
        row(
            Sglang,
            &name("cached_tokens_total"),
            Counter,
            Signal::PrefixCacheHits,
        ),
        // Requests retracted to free KV cache (a counter since 0.5.8; the older
        // `num_retracted_reqs` gauge counts the last step only and is not read).
        row(
            Sglang,
            &name("num_retracted_requests_total"),
            Counter,
            Signal::Preemptions,
        ),
        // The gap between two output tokens (each one observed): `inter_token_latency_seconds`
        // since 0.4.6, `time_per_output_token_seconds` up to 0.4.3.
        row(
            Sglang,
            &name("inter_token_latency_seconds"),
            Histogram,
            Signal::InterTokenSeconds,
        )
        .rank(0),
        row(
            Sglang,
            &name("time_per_output_token_seconds"),
            Histogram,
            Signal::InterTokenSeconds,
        )
        .rank(1),
    ]
}

/// SGLang's per-priority queue series (`priority="<n>"`); the total has `priority=""` or none.
const PRIORITY_VALUES: &[&str] = &[
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "-1", "-2", "-3", "-4", "-5",
];

/// gRPC status names as HTTP codes (the google.rpc convention, with Ray Serve's own HTTP twins
/// where it has one: back-pressure 503, timeout 408, cancel 499). Ray 2.49 writes
/// `StatusCode.OK`, Ray 2.60 `OK`. Never classed by a first digit.
const GRPC_STATUS: &[(&str, &str)] = &[
    ("OK", "200"),
    ("StatusCode.OK", "200"),
    ("CANCELLED", "499"),
    ("StatusCode.CANCELLED", "499"),
    ("UNKNOWN", "500"),
    ("StatusCode.UNKNOWN", "500"),
    ("INVALID_ARGUMENT", "400"),
    ("StatusCode.INVALID_ARGUMENT", "400"),
    ("DEADLINE_EXCEEDED", "408"),
    ("StatusCode.DEADLINE_EXCEEDED", "408"),
    ("NOT_FOUND", "404"),
    ("StatusCode.NOT_FOUND", "404"),
    ("ALREADY_EXISTS", "409"),
    ("StatusCode.ALREADY_EXISTS", "409"),
    ("PERMISSION_DENIED", "403"),
    ("StatusCode.PERMISSION_DENIED", "403"),
    ("RESOURCE_EXHAUSTED", "503"),
    ("StatusCode.RESOURCE_EXHAUSTED", "503"),
    ("FAILED_PRECONDITION", "400"),
    ("StatusCode.FAILED_PRECONDITION", "400"),
    ("ABORTED", "409"),
    ("StatusCode.ABORTED", "409"),
    ("OUT_OF_RANGE", "400"),
    ("StatusCode.OUT_OF_RANGE", "400"),
    ("UNIMPLEMENTED", "501"),
    ("StatusCode.UNIMPLEMENTED", "501"),
    ("INTERNAL", "500"),
    ("StatusCode.INTERNAL", "500"),
    ("UNAVAILABLE", "503"),
    ("StatusCode.UNAVAILABLE", "503"),
    ("DATA_LOSS", "500"),
    ("StatusCode.DATA_LOSS", "500"),
    ("UNAUTHENTICATED", "401"),
    ("StatusCode.UNAUTHENTICATED", "401"),
];

/// TGI's `tgi_request_failure{err}` as the HTTP code TGI answers (v3.3.7 `router/src/server.rs:
/// 2404-2426`, `router/src/infer/mod.rs`): validation and template errors 422, overloaded 429,
/// a shard's generation error 424, an incomplete generation 500; `dropped` counts a client that
/// went away (no answer: 499, as a proxy logs it). A value added later reads as a server error.
const TGI_FAILURE: &[(&str, &str)] = &[
    ("validation", "422"),
    ("template", "422"),
    ("overloaded", "429"),
    ("generation", "424"),
    ("incomplete", "500"),
    ("dropped", "499"),
];

/// Triton's `nv_inference_request_failure{reason}` (core r26.06 `src/infer_stats.cc`; server
/// v2.71.0 `src/http_server.cc:101-124`): REJECTED is a scheduler timeout (UNAVAILABLE, 503),
/// CANCELED a cancellation (499: the client's), BACKEND and OTHER the backend's or core's
/// errors (500). Before 24.07 the family has no `reason`: 500.
const TRITON_FAILURE: &[(&str, &str)] = &[
    ("REJECTED", "503"),
    ("CANCELED", "499"),
    ("BACKEND", "500"),
    ("OTHER", "500"),
];

fn other_engines() -> Vec<FamilyRule> {
    use Engine::{Dcgm, NodeExporter, Process, RayServe, Tgi, TorchServe, Triton};
    const MICROS: f64 = 1e-6;
    const MILLIS: f64 = 1e-3;
    vec![
        // Text Generation Inference (v3.3.7): no HTTP status family; outcomes by counter.
        row(Tgi, "tgi_request_success", Counter, Signal::Requests).detail(Fixed("200")),
        row(Tgi, "tgi_request_failure", Counter, Signal::Requests).detail(Mapped(
            "err",
            TGI_FAILURE,
            "500",
        )),
        row(
            Tgi,
            "tgi_request_duration",
            Histogram,
            Signal::EndToEndSeconds,
        ),
        row(
            Tgi,
            "tgi_request_inference_duration",
            Histogram,
            Signal::InferenceSeconds,
        ),
        // The router's queue until the request's batch is first scheduled.
        row(
            Tgi,
            "tgi_request_queue_duration",
            Histogram,
            Signal::EngineQueueSeconds,
        ),
        row(
            Tgi,
            "tgi_request_input_length",
            Histogram,
            Signal::PromptTokens,
        ),
        row(
            Tgi,
            "tgi_request_generated_tokens",
            Histogram,
            Signal::GenerationTokens,
        ),
        row(
            Tgi,
            "tgi_batch_current_size",
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("in_progress")),
        row(Tgi, "tgi_queue_size", Gauge, Signal::ConcurrentRequests).detail(Fixed("queued")),
        // Each request's mean time per generated token ("Mean time per token", seconds):
        // one observation per request, not per gap (`router/src/server.rs`).
        row(
            Tgi,
            "tgi_request_mean_time_per_token_duration",
            Histogram,
            Signal::InterTokenSeconds,
        ),
        // Triton (v2.71.0): cumulative microsecond counters by default (their mean is the
        // total over the successes, which is all they add up); summaries and the first-response
        // histogram only when enabled (`--metrics-config summary_latencies=true`,
        // `histogram_latencies=true`).
        row(
            Triton,
            "nv_inference_request_success",
            Counter,
            Signal::Requests,
        )
        .detail(Fixed("200")),
        row(
            Triton,
            "nv_inference_request_failure",
            Counter,
            Signal::Requests,
        )
        .detail(Mapped("reason", TRITON_FAILURE, "500")),
        row(
            Triton,
            "nv_inference_request_duration_us",
            Counter,
            Signal::EndToEndSeconds,
        )
        .scale(MICROS)
        .detail(Fixed(DETAIL_SUM)),
        row(
            Triton,
            "nv_inference_request_success",
            Counter,
            Signal::EndToEndSeconds,
        )
        .detail(Fixed(DETAIL_COUNT)),
        row(
            Triton,
            "nv_inference_compute_infer_duration_us",
            Counter,
            Signal::InferenceSeconds,
        )
        .scale(MICROS)
        .detail(Fixed(DETAIL_SUM)),
        row(
            Triton,
            "nv_inference_request_success",
            Counter,
            Signal::InferenceSeconds,
        )
        .detail(Fixed(DETAIL_COUNT)),
        row(
            Triton,
            "nv_inference_queue_duration_us",
            Counter,
            Signal::EngineQueueSeconds,
        )
        .scale(MICROS)
        .detail(Fixed(DETAIL_SUM)),
        row(
            Triton,
            "nv_inference_request_success",
            Counter,
            Signal::EngineQueueSeconds,
        )
        .detail(Fixed(DETAIL_COUNT)),
        row(
            Triton,
            "nv_inference_request_summary_us",
            Summary,
            Signal::EndToEndSeconds,
        )
        .scale(MICROS),
        row(
            Triton,
            "nv_inference_compute_infer_summary_us",
            Summary,
            Signal::InferenceSeconds,
        )
        .scale(MICROS),
        row(
            Triton,
            "nv_inference_queue_summary_us",
            Summary,
            Signal::EngineQueueSeconds,
        )
        .scale(MICROS),
        row(
            Triton,
            "nv_inference_first_response_histogram_ms",
            Histogram,
            Signal::TimeToFirstByteSeconds,
        )
        .scale(MILLIS),
        row(
            Triton,
            "nv_inference_pending_request_count",
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("queued")),
        // A ratio 0–1 ("GPU utilization rate [0.0 - 1.0)"), memory in bytes.
        row(Triton, "nv_gpu_utilization", Gauge, Signal::GpuUtilization).detail(Label("gpu_uuid")),
        row(
            Triton,
            "nv_gpu_memory_used_bytes",
            Gauge,
            Signal::GpuMemoryUsedBytes,
        )
        .detail(Label("gpu_uuid")),
        row(
            Triton,
            "nv_gpu_memory_total_bytes",
            Gauge,
            Signal::GpuMemoryTotalBytes,
        )
        .detail(Label("gpu_uuid")),
        // TorchServe (v0.12.0): status classes are counters of their own (Requests5XX counts
        // every code that is neither 2xx nor 4xx); GPU in percent and MiB.
        row(TorchServe, "Requests2XX", Counter, Signal::Requests).detail(Fixed("2xx")),
        row(TorchServe, "Requests4XX", Counter, Signal::Requests).detail(Fixed("4xx")),
        row(TorchServe, "Requests5XX", Counter, Signal::Requests).detail(Fixed("5xx")),
        row(TorchServe, "GPUUtilization", Gauge, Signal::GpuUtilization)
            .scale(0.01)
            .detail(Label("DeviceId")),
        row(
            TorchServe,
            "GPUMemoryUsed",
            Gauge,
            Signal::GpuMemoryUsedBytes,
        )
        .scale(MIB)
        .detail(Label("DeviceId")),
        row(
            TorchServe,
            "MemoryUsed",
            Gauge,
            Signal::MemoryWorkingSetBytes,
        )
        .scale(MIB)
        .rank(2),
        // Ray Serve (2.49–2.60): milliseconds; counters with `_total`, and (OpenCensus) a
        // deprecated gauge twin without it, used only where `_total` is absent. Health and route
        // listings are left out, as Ray's own dashboards do.
        row(
            RayServe,
            "ray_serve_num_http_requests_total",
            Counter,
            Signal::Requests,
        )
        .detail(Label("status_code"))
        .skip("route", RAY_NOT_INFERENCE)
        .rank(0),
        row(
            RayServe,
            "ray_serve_num_http_requests",
            Counter,
            Signal::Requests,
        )
        .detail(Label("status_code"))
        .skip("route", RAY_NOT_INFERENCE),
        row(
            RayServe,
            "ray_serve_num_grpc_requests_total",
            Counter,
            Signal::Requests,
        )
        .detail(Mapped("status_code", GRPC_STATUS, "500"))
        .rank(0),
        row(
            RayServe,
            "ray_serve_num_grpc_requests",
            Counter,
            Signal::Requests,
        )
        .detail(Mapped("status_code", GRPC_STATUS, "500")),
        row(
            RayServe,
            "ray_serve_http_request_latency_ms",
            Histogram,
            Signal::EndToEndSeconds,
        )
        .scale(MILLIS)
        .skip("route", RAY_NOT_INFERENCE),
        row(
            RayServe,
            "ray_serve_deployment_processing_latency_ms",
            Histogram,
            Signal::InferenceSeconds,
        )
        .scale(MILLIS),
        row(
            RayServe,
            "ray_serve_replica_processing_queries",
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("in_progress")),
        row(
            RayServe,
            "ray_serve_deployment_queued_queries",
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("queued")),
        // DCGM exporter (4.8.2 `etc/default-counters.csv`): percent and MiB. The default counters
        // have no FB_TOTAL; the total is derived from used + free + reserved (`DERIVED`).
        row(Dcgm, "DCGM_FI_DEV_GPU_UTIL", Gauge, Signal::GpuUtilization)
            .scale(0.01)
            .detail(Label("gpu")),
        row(
            Dcgm,
            "DCGM_FI_DEV_FB_USED",
            Gauge,
            Signal::GpuMemoryUsedBytes,
        )
        .scale(MIB)
        .detail(Label("gpu")),
        row(
            Dcgm,
            "DCGM_FI_DEV_FB_FREE",
            Gauge,
            Signal::GpuMemoryFreeBytes,
        )
        .scale(MIB)
        .detail(Label("gpu")),
        row(
            Dcgm,
            "DCGM_FI_DEV_FB_RESERVED",
            Gauge,
            Signal::GpuMemoryReservedBytes,
        )
        .scale(MIB)
        .detail(Label("gpu")),
        row(
            Dcgm,
            "DCGM_FI_DEV_FB_TOTAL",
            Gauge,
            Signal::GpuMemoryTotalBytes,
        )
        .scale(MIB)
        .detail(Label("gpu")),
        // node_exporter (v1.12.1): the host. Busy CPU is every mode but idle and iowait (guest
        // time is inside user and nice already); used memory is total minus available (or, on
        // kernels without MemAvailable, minus free + buffers + cached). Its own `process_*`
        // describe the exporter's process, so these rank above them.
        row(
            NodeExporter,
            "node_cpu_seconds_total",
            Counter,
            Signal::CpuSeconds,
        )
        .skip("mode", &["idle", "iowait"]),
        row(
            NodeExporter,
            "node_memory_MemTotal_bytes",
            Gauge,
            Signal::HostMemoryTotalBytes,
        ),
        row(
            NodeExporter,
            "node_memory_MemAvailable_bytes",
            Gauge,
            Signal::HostMemoryAvailableBytes,
        ),
        row(
            NodeExporter,
            "node_memory_MemFree_bytes",
            Gauge,
            Signal::HostMemoryFreeBytes,
        ),
        row(
            NodeExporter,
            "node_memory_Buffers_bytes",
            Gauge,
            Signal::HostMemoryBuffersBytes,
        ),
        row(
            NodeExporter,
            "node_memory_Cached_bytes",
            Gauge,
            Signal::HostMemoryCachedBytes,
        ),
        // Every Prometheus client library: the exporting process itself.
        // (detail `process`, so a panel can prefer inferscope's reading of the whole replica).
        row(
            Process,
            "process_cpu_seconds_total",
            Counter,
            Signal::CpuSeconds,
        )
        .detail(Fixed(DETAIL_PROCESS))
        .rank(2),
        row(
            Process,
            "process_resident_memory_bytes",
            Gauge,
            Signal::MemoryWorkingSetBytes,
        )
        .detail(Fixed(DETAIL_PROCESS))
        .rank(2),
    ]
}

/// BentoML's families: `bentoml_service_*` for 1.2+ services, `bentoml_api_server_*` for
/// 1.0.6–1.1 and legacy services (v1.4.38 `_internal/server/http/instruments.py`). BentoML counts
/// every endpoint; probes and the docs are left out.
fn bentoml(prefix: &str) -> Vec<FamilyRule> {
    use Engine::BentoMl;
    let name = |suffix: &str| format!("{prefix}{suffix}");
    vec![
        row(BentoMl, &name("request_total"), Counter, Signal::Requests)
            .detail(Label("http_response_code"))
            .skip("endpoint", BENTOML_NOT_INFERENCE),
        row(
            BentoMl,
            &name("request_duration_seconds"),
            Histogram,
            Signal::EndToEndSeconds,
        )
        .skip("endpoint", BENTOML_NOT_INFERENCE),
        row(
            BentoMl,
            &name("request_in_progress"),
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("in_progress"))
        .skip("endpoint", BENTOML_NOT_INFERENCE),
    ]
}

/// BentoML endpoints that are not inference: probes, the metrics page, the docs UI and its files
/// (v1.4.38 `_bentoml_impl/server/app.py`: `/` is the Swagger index, `/docs.json` and
/// `/schema.json` the specs, `/static_content/` and `/assets/` their files).
const BENTOML_NOT_INFERENCE: &[&str] = &[
    "/",
    "/healthz",
    "/livez",
    "/readyz",
    "/metrics",
    "/docs",
    "/docs.json",
    "/schema.json",
    "/static_content/*",
    "/assets/*",
];

/// Ray Serve's own routes: health and the route listing.
const RAY_NOT_INFERENCE: &[&str] = &["/-/healthz", "/-/routes"];

/// Every rule, in table order.
pub static RULES: LazyLock<Vec<FamilyRule>> = LazyLock::new(|| {
    let mut rules = own_and_platform();
    rules.extend(vllm_style(Engine::Vllm, "vllm:"));
    rules.extend(vllm_style(Engine::Vllm, "ray_vllm:"));
    rules.extend(vllm_style(Engine::Nim, ""));
    rules.extend(fastapi_instrumentator());
    rules.extend(sglang("sglang:"));
    rules.extend(sglang("sglang_"));
    rules.extend(bentoml("bentoml_service_"));
    rules.extend(bentoml("bentoml_api_server_"));
    rules.extend(other_engines());
    rules
});

/// Rules by sample name (a family can feed several signals).
static BY_NAME: LazyLock<FastMap<&'static str, Vec<&'static FamilyRule>>> = LazyLock::new(|| {
    let mut map: FastMap<&'static str, Vec<&'static FamilyRule>> = FastMap::default();
    for rule in RULES.iter() {
        map.entry(rule.family.as_str()).or_default().push(rule);
    }
    map
});

/// How a signal is computed from others on the same page (per detail).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Derivation {
    /// The first minus the second (memory used = total − available).
    Difference(Signal, Signal),
    /// The sum of the required readings and of the optional ones present.
    Sum {
        /// Readings that must all be present.
        required: &'static [Signal],
        /// Readings added when present.
        optional: &'static [Signal],
    },
}

impl Derivation {
    /// The readings it needs, and those it adds when present.
    pub fn inputs(&self) -> (Vec<Signal>, &'static [Signal]) {
        match self {
            Derivation::Difference(a, b) => (vec![*a, *b], &[]),
            Derivation::Sum { required, optional } => (required.to_vec(), optional),
        }
    }

    /// The result from the required readings (in order) and the optional ones present.
    pub fn compute(&self, required: &[f64], optional: impl Iterator<Item = f64>) -> f64 {
        match self {
            Derivation::Difference(..) => required[0] - required[1],
            Derivation::Sum { .. } => required.iter().sum::<f64>() + optional.sum::<f64>(),
        }
    }
}

/// Signals computed from others on the same page, where the page does not report them.
pub const DERIVED: &[(Signal, Derivation)] = &[
    // node_exporter on a kernel without MemAvailable: what is free, buffered or cached.
    (
        Signal::HostMemoryAvailableBytes,
        Derivation::Sum {
            required: &[
                Signal::HostMemoryFreeBytes,
                Signal::HostMemoryBuffersBytes,
                Signal::HostMemoryCachedBytes,
            ],
            optional: &[],
        },
    ),
    // node_exporter: memory used is total minus available.
    (
        Signal::MemoryWorkingSetBytes,
        Derivation::Difference(
            Signal::HostMemoryTotalBytes,
            Signal::HostMemoryAvailableBytes,
        ),
    ),
    // DCGM's default counters have no FB_TOTAL: the frame buffer is used + free + reserved
    // (NVML's `nvmlMemory_v2_t`: total = used + free + reserved).
    (
        Signal::GpuMemoryTotalBytes,
        Derivation::Sum {
            required: &[Signal::GpuMemoryUsedBytes, Signal::GpuMemoryFreeBytes],
            optional: &[Signal::GpuMemoryReservedBytes],
        },
    ),
];

/// Families no row reads that stand for something a row does: an engine's own averages of
/// what inferscope computes from counters over each window, and gauges of one step. `{}` is
/// the engine's prefix. `(found, expected, why, signal)`.
const KNOWN_LOOKALIKES: &[(&str, &str, &str, Signal)] = &[
    (
        "{}avg_prompt_throughput_toks_per_s",
        "{}prompt_tokens_total",
        "an average the engine logs over its last interval; the counter gives the rate over each window",
        Signal::PromptTokensProcessed,
    ),
    (
        "{}avg_generation_throughput_toks_per_s",
        "{}generation_tokens_total",
        "an average the engine logs over its last interval; the counter gives the rate over each window",
        Signal::GenerationTokensProduced,
    ),
    (
        "{}gpu_prefix_cache_hit_rate",
        "{}prefix_cache_hits_total",
        "vLLM V0's gauge, averaged by the engine (−1 when unused); vLLM v0.9.2+ counts queried and hit tokens",
        Signal::PrefixCacheHits,
    ),
    (
        "{}cpu_prefix_cache_hit_rate",
        "{}prefix_cache_hits_total",
        "vLLM V0's gauge, averaged by the engine; vLLM v0.9.2+ counts queried and hit tokens",
        Signal::PrefixCacheHits,
    ),
    (
        "{}spec_decode_draft_acceptance_rate",
        "{}spec_decode_num_accepted_tokens_total",
        "vLLM V0's gauge, averaged by the engine; V1 counts draft and accepted tokens",
        Signal::SpecAcceptedTokens,
    ),
    (
        "{}cache_hit_rate",
        "{}cached_tokens_total",
        "SGLang's gauge of the last prefill batch only; the counters give the window's hit rate",
        Signal::PrefixCacheHits,
    ),
    (
        "{}gen_throughput",
        "{}generation_tokens_total",
        "SGLang's gauge of its last log interval; the counter gives the rate over each window",
        Signal::GenerationTokensProduced,
    ),
    (
        "{}num_retracted_reqs",
        "{}num_retracted_requests_total",
        "SGLang's gauge of the last step; the counter (0.5.8+) gives retractions per second",
        Signal::Preemptions,
    ),
];

/// The prefixes [`KNOWN_LOOKALIKES`] are written under.
const LOOKALIKE_PREFIXES: &[&str] = &["vllm:", "ray_vllm:", "", "sglang:", "sglang_"];

/// A family on a page that no row reads, but looks like one that does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Likeness {
    /// The family the adapter reads instead.
    pub expected: &'static str,
    /// Why the found one is not read.
    pub why: &'static str,
    /// The signal the expected family feeds.
    pub signal: Signal,
}

/// Lookalikes by the found family's full name.
static KNOWN_BY_NAME: LazyLock<FastMap<String, Likeness>> = LazyLock::new(|| {
    let mut map = FastMap::default();
    for prefix in LOOKALIKE_PREFIXES {
        for (found, expected, why, signal) in KNOWN_LOOKALIKES {
            let expected: &'static str = Box::leak(expected.replace("{}", prefix).into_boxed_str());
            map.insert(
                found.replace("{}", prefix),
                Likeness {
                    expected,
                    why,
                    signal: *signal,
                },
            );
        }
    }
    map
});

/// A family read under a namespace (`vllm:`, `sglang:`), by its name without it and without
/// a `_total` suffix: what another namespace's or spelling's family of the same name matches.
static BY_STEM: LazyLock<FastMap<&'static str, &'static FamilyRule>> = LazyLock::new(|| {
    let mut map: FastMap<&'static str, &'static FamilyRule> = FastMap::default();
    for rule in RULES.iter() {
        if let Some((_, rest)) = rule.family.split_once(':') {
            map.entry(stem(rest)).or_insert(rule);
        }
    }
    map
});

/// Engine prefixes written with an underscore by scrapers or proxies that escape `:`.
const UNDERSCORE_PREFIXES: &[&str] = &["vllm_", "ray_vllm_"];

fn stem(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

/// The family a sample belongs to, as far as its name tells: without a histogram's or
/// summary's `_bucket`, `_sum`, `_count` suffix.
pub fn family_of(sample_name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| sample_name.strip_suffix(suffix))
        .unwrap_or(sample_name)
}

/// Whether a family no row reads looks like one that does: one of [`KNOWN_LOOKALIKES`], or a
/// namespaced family's name under another namespace or spelling (`my_vllm:num_requests_running`,
/// `vllm_num_requests_running` for `vllm:num_requests_running`). Cheap enough for every
/// unknown sample: slices and at most three map lookups, no allocation.
pub fn lookalike(family: &str) -> Option<Likeness> {
    if let Some(known) = KNOWN_BY_NAME.get(family) {
        return Some(*known);
    }
    let rest = match family.split_once(':') {
        Some((_, rest)) => rest,
        None => UNDERSCORE_PREFIXES
            .iter()
            .find_map(|prefix| family.strip_prefix(prefix))?,
    };
    let rule = BY_STEM.get(stem(rest))?;
    Some(Likeness {
        expected: rule.family.as_str(),
        why: "the same name under another prefix",
        signal: rule.signal,
    })
}

/// How a sample's name relates to a known family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// A counter or gauge sample, or a summary quantile.
    Value,
    /// A histogram's `_bucket` sample.
    Bucket,
    /// A histogram's `_sum` sample.
    Sum,
    /// A histogram's `_count` sample.
    Count,
}

/// Finds the rules for a sample name (empty for a family no adapter knows).
pub fn lookup(sample_name: &str) -> (Part, &'static [&'static FamilyRule]) {
    let by_name = &*BY_NAME;
    if let Some(rules) = by_name.get(sample_name) {
        // A histogram's samples always carry a suffix; its bare name is some other family.
        if rules.iter().any(|rule| rule.kind != FamilyKind::Histogram) {
            return (Part::Value, rules.as_slice());
        }
    }
    // A histogram's (or a summary's) `_bucket`, `_sum` and `_count` samples.
    let histogram = |base: &str, part: Part| -> Option<(Part, &'static [&'static FamilyRule])> {
        by_name
            .get(base)
            .filter(|rules| {
                rules.iter().all(|rule| rule.kind == FamilyKind::Histogram)
                    || (part != Part::Bucket
                        && rules.iter().all(|rule| rule.kind == FamilyKind::Summary))
            })
            .map(|rules| (part, rules.as_slice()))
    };
    let found = if let Some(base) = sample_name.strip_suffix("_bucket") {
        histogram(base, Part::Bucket)
    } else if let Some(base) = sample_name.strip_suffix("_sum") {
        histogram(base, Part::Sum)
    } else if let Some(base) = sample_name.strip_suffix("_count") {
        histogram(base, Part::Count)
    } else {
        None
    };
    found.unwrap_or((Part::Value, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_counters_gauges_histogram_parts_and_shared_families() {
        let (part, rules) = lookup("inferscope_inference_requests_total");
        assert_eq!(part, Part::Value);
        assert_eq!(rules[0].signal, Signal::Requests);
        let (part, rules) = lookup("vllm:e2e_request_latency_seconds_bucket");
        assert_eq!(part, Part::Bucket);
        assert_eq!(rules[0].signal, Signal::EndToEndSeconds);
        // The scheduler's waiting requests are queued requests, not the async queue.
        let (_, rules) = lookup("vllm:num_requests_waiting");
        let signals: Vec<Signal> = rules.iter().map(|r| r.signal).collect();
        assert_eq!(signals, vec![Signal::ConcurrentRequests]);
        // Triton's successes are requests, and the count its duration totals divide by.
        let (_, rules) = lookup("nv_inference_request_success");
        let signals: Vec<Signal> = rules.iter().map(|r| r.signal).collect();
        assert_eq!(
            signals,
            vec![
                Signal::Requests,
                Signal::EndToEndSeconds,
                Signal::InferenceSeconds,
                Signal::EngineQueueSeconds
            ]
        );
        // A summary's totals are found under its name.
        assert_eq!(lookup("http_request_size_bytes_sum").0, Part::Sum);
        assert_eq!(lookup("http_request_size_bytes_count").0, Part::Count);
        assert!(lookup("http_request_size_bytes_bucket").1.is_empty());
        let (_, rules) = lookup("baseten_gpu_memory_used");
        assert_eq!(rules[0].scale, MIB);
        assert!(
            lookup("inferscope_end_to_end_response_time_seconds")
                .1
                .is_empty()
        );
        assert!(lookup("some_other_family_total").1.is_empty());
    }

    #[test]
    fn each_family_feeds_a_signal_once_and_histograms_stay_histograms() {
        let mut seen = std::collections::HashMap::new();
        for rule in RULES.iter() {
            // Twice only under conditions that exclude each other.
            if let Some(other) = seen.insert((rule.family.as_str(), rule.signal), rule.when) {
                let exclusive = matches!(
                    (other, rule.when),
                    (When::With(a), When::Without(b)) | (When::Without(a), When::With(b)) if a == b
                );
                assert!(exclusive, "{} feeds {:?} twice", rule.family, rule.signal);
            }
            let others = &BY_NAME[rule.family.as_str()];
            if rule.kind == FamilyKind::Histogram {
                assert!(
                    others.iter().all(|r| r.kind == FamilyKind::Histogram),
                    "{}",
                    rule.family
                );
            }
        }
        for engine in Engine::ALL {
            assert_eq!(Engine::from_name(engine.name()), Some(engine));
        }
    }
}
