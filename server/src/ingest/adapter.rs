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
use crate::model::Signal;

/// The exporter a family comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// inferscope's own names (the demo fleet, instrumented servers).
    Inferscope,
    /// The hosted reference platform's metrics export (`baseten_*`).
    HostedPlatform,
    /// vLLM (v0 and v1 names), also as re-exported by Ray Serve LLM (`ray_vllm:`).
    Vllm,
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
    pub const ALL: [Engine; 13] = [
        Engine::Inferscope,
        Engine::HostedPlatform,
        Engine::Vllm,
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
    /// Samples whose label has this value are ignored (node_exporter's idle CPU).
    pub skip: Option<(&'static str, &'static str)>,
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
        skip: None,
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

    fn skip(mut self, label: &'static str, value: &'static str) -> FamilyRule {
        self.skip = Some((label, value));
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

/// vLLM's families under a prefix (`vllm:`, Ray Serve LLM's `ray_vllm:`, none for NIM).
fn vllm_style(engine: Engine, prefix: &str) -> Vec<FamilyRule> {
    let name = |suffix: &str| format!("{prefix}{suffix}");
    vec![
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
        row(
            engine,
            &name("request_queue_time_seconds"),
            Histogram,
            Signal::AsyncQueueSeconds,
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
            &name("request_success_total"),
            Counter,
            Signal::Requests,
        )
        .detail(Fixed("200")),
        row(
            engine,
            &name("request_failure_total"),
            Counter,
            Signal::Requests,
        )
        .detail(Fixed("500")),
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
        row(
            engine,
            &name("num_requests_waiting"),
            Gauge,
            Signal::AsyncQueueSize,
        ),
        // v1 renamed the cache gauge; when a page has both, the new name wins.
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
    ]
}

fn other_engines() -> Vec<FamilyRule> {
    use Engine::{BentoMl, Dcgm, NodeExporter, Process, RayServe, Sglang, Tgi, TorchServe, Triton};
    const MICROS: f64 = 1e-6;
    const MILLIS: f64 = 1e-3;
    vec![
        // SGLang.
        row(
            Sglang,
            "sglang:e2e_request_latency_seconds",
            Histogram,
            Signal::EndToEndSeconds,
        ),
        row(
            Sglang,
            "sglang:time_to_first_token_seconds",
            Histogram,
            Signal::TimeToFirstByteSeconds,
        ),
        row(
            Sglang,
            "sglang:queue_time_seconds",
            Histogram,
            Signal::AsyncQueueSeconds,
        ),
        row(
            Sglang,
            "sglang:prompt_tokens_histogram",
            Histogram,
            Signal::PromptTokens,
        ),
        row(
            Sglang,
            "sglang:generation_tokens_histogram",
            Histogram,
            Signal::GenerationTokens,
        ),
        row(
            Sglang,
            "sglang:num_requests_total",
            Counter,
            Signal::Requests,
        )
        .detail(Fixed("200")),
        row(
            Sglang,
            "sglang:num_running_reqs",
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("in_progress")),
        row(
            Sglang,
            "sglang:num_queue_reqs",
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("queued")),
        row(
            Sglang,
            "sglang:num_queue_reqs",
            Gauge,
            Signal::AsyncQueueSize,
        ),
        row(Sglang, "sglang:token_usage", Gauge, Signal::KvCacheUsage),
        // Text Generation Inference.
        row(Tgi, "tgi_request_success", Counter, Signal::Requests).detail(Fixed("200")),
        row(Tgi, "tgi_request_failure", Counter, Signal::Requests).detail(Mapped(
            "err",
            &[("validation", "422"), ("overloaded", "429")],
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
        row(
            Tgi,
            "tgi_request_queue_duration",
            Histogram,
            Signal::AsyncQueueSeconds,
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
        row(Tgi, "tgi_queue_size", Gauge, Signal::AsyncQueueSize),
        // Triton: durations are microsecond summaries.
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
        .detail(Fixed("500")),
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
            Signal::AsyncQueueSeconds,
        )
        .scale(MICROS),
        row(
            Triton,
            "nv_inference_pending_request_count",
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("queued")),
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
        // TorchServe: status classes are counters of their own; GPU in percent and MiB.
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
        // BentoML.
        row(
            BentoMl,
            "bentoml_service_request_total",
            Counter,
            Signal::Requests,
        )
        .detail(Label("http_response_code")),
        row(
            BentoMl,
            "bentoml_service_request_duration_seconds",
            Histogram,
            Signal::EndToEndSeconds,
        ),
        row(
            BentoMl,
            "bentoml_service_request_in_progress",
            Gauge,
            Signal::ConcurrentRequests,
        )
        .detail(Fixed("in_progress")),
        // Ray Serve: milliseconds; counters with and without `_total` across versions.
        row(
            RayServe,
            "ray_serve_num_http_requests_total",
            Counter,
            Signal::Requests,
        )
        .detail(Label("status_code"))
        .rank(0),
        row(
            RayServe,
            "ray_serve_num_http_requests",
            Counter,
            Signal::Requests,
        )
        .detail(Label("status_code")),
        row(
            RayServe,
            "ray_serve_http_request_latency_ms",
            Histogram,
            Signal::EndToEndSeconds,
        )
        .scale(MILLIS),
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
        // DCGM exporter.
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
            "DCGM_FI_DEV_FB_TOTAL",
            Gauge,
            Signal::GpuMemoryTotalBytes,
        )
        .scale(MIB)
        .detail(Label("gpu")),
        // node_exporter: busy CPU is every mode but idle; used memory is total minus available.
        row(
            NodeExporter,
            "node_cpu_seconds_total",
            Counter,
            Signal::CpuSeconds,
        )
        .skip("mode", "idle")
        .rank(3),
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
        // Every Prometheus client library.
        row(
            Process,
            "process_cpu_seconds_total",
            Counter,
            Signal::CpuSeconds,
        )
        .rank(2),
        row(
            Process,
            "process_resident_memory_bytes",
            Gauge,
            Signal::MemoryWorkingSetBytes,
        )
        .rank(2),
    ]
}

/// Every rule, in table order.
pub static RULES: LazyLock<Vec<FamilyRule>> = LazyLock::new(|| {
    let mut rules = own_and_platform();
    rules.extend(vllm_style(Engine::Vllm, "vllm:"));
    rules.extend(vllm_style(Engine::Vllm, "ray_vllm:"));
    rules.extend(vllm_style(Engine::Nim, ""));
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

/// Signals computed from others on the same page: `(result, minuend, subtrahend)`.
pub const DERIVED: &[(Signal, Signal, Signal)] = &[(
    Signal::MemoryWorkingSetBytes,
    Signal::HostMemoryTotalBytes,
    Signal::HostMemoryAvailableBytes,
)];

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
    let histogram = |base: &str, part: Part| -> Option<(Part, &'static [&'static FamilyRule])> {
        by_name
            .get(base)
            .filter(|rules| rules.iter().all(|rule| rule.kind == FamilyKind::Histogram))
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
        let (_, rules) = lookup("vllm:num_requests_waiting");
        let signals: Vec<Signal> = rules.iter().map(|r| r.signal).collect();
        assert_eq!(
            signals,
            vec![Signal::ConcurrentRequests, Signal::AsyncQueueSize]
        );
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
        let mut seen = std::collections::HashSet::new();
        for rule in RULES.iter() {
            assert!(
                seen.insert((rule.family.as_str(), rule.signal)),
                "{} feeds {:?} twice",
                rule.family,
                rule.signal
            );
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
