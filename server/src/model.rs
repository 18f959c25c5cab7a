//! The vocabulary shared by ingest, store and query: canonical signals, the labels that place a
//! series, and the observations one scrape yields. Nothing here knows exposition formats or the
//! web.

use std::sync::Arc;

/// A canonical signal: what a series measures, whatever engine reported it. Units are fixed per
/// signal (seconds, bytes, counts); adapters convert on the way in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Requests finished, counter; detail label: the HTTP status code.
    Requests,
    /// End-to-end response time, histogram, seconds.
    EndToEndSeconds,
    /// Time spent in the model, histogram, seconds.
    InferenceSeconds,
    /// Time to the first byte of the response, histogram, seconds.
    TimeToFirstByteSeconds,
    /// Request body size, histogram, bytes.
    RequestSizeBytes,
    /// Response body size, histogram, bytes.
    ResponseSizeBytes,
    /// Prompt length per request, histogram, tokens.
    PromptTokens,
    /// Generated length per request, histogram, tokens.
    GenerationTokens,
    /// Requests in the system now, gauge; detail label: `in_progress` or `queued`.
    ConcurrentRequests,
    /// Replicas ready to serve, gauge.
    ReplicasActive,
    /// Replicas started but not ready, gauge.
    ReplicasStarting,
    /// Time async requests waited in the queue, histogram, seconds. Only requests submitted
    /// to an async endpoint: an engine's own scheduler queue is [`Signal::EngineQueueSeconds`].
    AsyncQueueSeconds,
    /// Async requests waiting, gauge (the async endpoint's queue, not the engine's scheduler).
    AsyncQueueSize,
    /// Time requests waited in the engine's scheduler queue before it started on them
    /// (vLLM's `request_queue_time_seconds`, TGI's queue duration, Triton's queue time),
    /// histogram, seconds.
    EngineQueueSeconds,
    /// CPU time used, counter, seconds; detail: none for the replica (or host) as a whole,
    /// [`DETAIL_PROCESS`] for what an exporter says of its own process alone.
    CpuSeconds,
    /// Memory working set, gauge, bytes; detail as for [`Signal::CpuSeconds`].
    MemoryWorkingSetBytes,
    /// The CPU the replica's container may use, gauge, cores (a cgroup's quota over its
    /// period); reported only where a limit is set.
    CpuLimitCores,
    /// The memory the replica's container may use, gauge, bytes; reported only where a limit
    /// is set.
    MemoryLimitBytes,
    /// GPU utilisation, gauge, ratio 0–1; detail label: the GPU index.
    GpuUtilization,
    /// GPU memory used, gauge, bytes; detail label: the GPU index.
    GpuMemoryUsedBytes,
    /// GPU memory in all, gauge, bytes; detail label: the GPU index.
    GpuMemoryTotalBytes,
    /// Share of the engine's KV cache in use, gauge, ratio 0–1.
    KvCacheUsage,
    /// Prompt tokens the engine processed, counter, tokens (a rate: prompt tokens per second).
    PromptTokensProcessed,
    /// Tokens the engine generated, counter, tokens.
    GenerationTokensProduced,
    /// Time between two output tokens of a request (vLLM's inter-token latency, TGI's mean
    /// time per token), histogram, seconds.
    InterTokenSeconds,
    /// Time a request spent in prefill (its prompt's forward passes), histogram, seconds.
    PrefillSeconds,
    /// Time a request spent in decode (generating after the first token), histogram, seconds.
    DecodeSeconds,
    /// Prompt tokens looked up in the prefix cache, counter, tokens.
    PrefixCacheQueries,
    /// Prompt tokens found in the prefix cache, counter, tokens (over
    /// [`Signal::PrefixCacheQueries`]: the hit rate).
    PrefixCacheHits,
    /// Requests preempted (vLLM) or retracted (SGLang) to free KV cache, counter.
    Preemptions,
    /// Tokens proposed by a speculative-decoding drafter, counter, tokens.
    SpecDraftTokens,
    /// Draft tokens the target model accepted, counter, tokens (over
    /// [`Signal::SpecDraftTokens`]: the acceptance rate).
    SpecAcceptedTokens,
    /// Requests the engine finished, counter; detail: the engine's finish reason (`stop`,
    /// `length`, `abort`, `error`, …) as it wrote it.
    FinishedRequests,
    /// The host's memory in all, gauge, bytes (only to derive memory used; not stored).
    HostMemoryTotalBytes,
    /// The host's memory available, gauge, bytes (only to derive memory used; not stored).
    HostMemoryAvailableBytes,
    /// The host's free memory, gauge, bytes (only to derive what is available on kernels
    /// without `MemAvailable`; not stored).
    HostMemoryFreeBytes,
    /// The host's buffer memory, gauge, bytes (as above).
    HostMemoryBuffersBytes,
    /// The host's page cache, gauge, bytes (as above).
    HostMemoryCachedBytes,
    /// GPU memory free, gauge, bytes; detail label: the GPU (only to derive the total where an
    /// exporter does not report it, as DCGM's default counters do not; not stored).
    GpuMemoryFreeBytes,
    /// GPU memory reserved by the driver, gauge, bytes; detail label: the GPU (as above).
    GpuMemoryReservedBytes,
    /// Whether the last scrape of the target succeeded (1) or not (0), gauge, recorded by the
    /// scrape loop itself.
    Up,
    /// How long the last scrape took, gauge, seconds, recorded by the scrape loop itself.
    ScrapeDurationSeconds,
    /// One of the deployment's autoscaler settings, gauge; detail label: the setting's name
    /// (`min_replicas`, `scale_down_delay_seconds`, … — `autoscale::SETTING_NAMES`).
    AutoscalerSetting,
    /// The time a scrape's counter increments span: the seconds since the target's previous
    /// good scrape, counter, recorded with every good scrape that is not a new baseline (the
    /// first one, or the first after a gap longer than the rate window, gets a stale marker
    /// instead). A rate is the increments in a window divided by this over the same window.
    CoveredSeconds,
}

impl Signal {
    /// Signals read from a page only to compute others ([`crate::ingest::adapter::DERIVED`]);
    /// they are not stored.
    pub fn page_only(self) -> bool {
        matches!(
            self,
            Signal::HostMemoryTotalBytes
                | Signal::HostMemoryAvailableBytes
                | Signal::HostMemoryFreeBytes
                | Signal::HostMemoryBuffersBytes
                | Signal::HostMemoryCachedBytes
                | Signal::GpuMemoryFreeBytes
                | Signal::GpuMemoryReservedBytes
        )
    }
}

/// A rate's window is this many scrape intervals (or a step, when that is longer); a gap in a
/// target's scrapes longer than this many intervals starts its counters from a new baseline.
pub const RATE_WINDOW_SCRAPES: i64 = 5;

/// The detail of a latency or size signal fed by cumulative counters rather than a histogram
/// (Triton's `*_duration_us`, a summary without quantiles): the total of the observations.
pub const DETAIL_SUM: &str = "sum";

/// The detail of a latency or size signal fed by cumulative counters: the number of
/// observations (with [`DETAIL_SUM`], the mean).
pub const DETAIL_COUNT: &str = "count";

/// The detail of CPU and memory an exporter reports of its own process alone (the standard
/// `process_*` families), as opposed to the replica or host as a whole.
pub const DETAIL_PROCESS: &str = "process";

/// Which reader produced a target's series. A target's own page and the readers inferscope
/// runs beside it on this host (its process tree, its GPUs) are separate sources: they never
/// overwrite or stale each other's series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// The exporter's own `/metrics` page.
    #[default]
    Exporter,
    /// inferscope's reading of the replica's processes (`/proc`, cgroup v2).
    Host,
    /// inferscope's reading of the replica's GPUs through NVML.
    Nvml,
}

impl Origin {
    /// How the targets page and logs name it.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Exporter => "exporter",
            Origin::Host => "host",
            Origin::Nvml => "nvml",
        }
    }
}

/// Where a series comes from: the labels every target carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetLabels {
    /// Environment, e.g. `production`.
    pub environment: Arc<str>,
    /// Deployment, e.g. `chat-llm`.
    pub deployment: Arc<str>,
    /// Replica; empty for a deployment-level exporter (a router, a platform export).
    pub replica: Arc<str>,
    /// Which reader: the exporter's page, or one of inferscope's own beside it.
    pub origin: Origin,
}

impl TargetLabels {
    /// The labels of a target's own page.
    pub fn exporter(environment: &str, deployment: &str, replica: &str) -> TargetLabels {
        TargetLabels {
            environment: Arc::from(environment),
            deployment: Arc::from(deployment),
            replica: Arc::from(replica),
            origin: Origin::Exporter,
        }
    }

    /// The same replica, read by another reader.
    pub fn with_origin(&self, origin: Origin) -> TargetLabels {
        TargetLabels {
            origin,
            ..self.clone()
        }
    }
}

/// The detail that splits a signal into several series (status code, state, GPU index).
pub type Detail = Option<Arc<str>>;

/// A histogram's change over one scrape interval, with the bucket layout it was measured in.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramIncrement {
    /// Upper bounds of the finite buckets, ascending; a last `+Inf` bucket is implied.
    pub bounds: Arc<[f64]>,
    /// Observations added per bucket (not cumulative) as `(bucket index, count)`, zero buckets
    /// left out. Index `bounds.len()` is the `+Inf` bucket.
    pub buckets: Vec<(u32, f64)>,
    /// Sum of the observations added.
    pub sum: f64,
    /// Number of observations added.
    pub count: f64,
}

/// What one scrape says about one series.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A gauge reading.
    Gauge(f64),
    /// How much a counter grew since the previous scrape (resets already handled).
    Increment(f64),
    /// How much a histogram grew since the previous scrape.
    Histogram(HistogramIncrement),
}

/// One series' observation from one scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The signal.
    pub signal: Signal,
    /// The detail label value, for signals that have one.
    pub detail: Detail,
    /// The model (or adapter) the engine labelled it with, where it labels by model
    /// ([`crate::ingest::adapter::Engine::model_label`]); `None` for a series of the whole
    /// replica.
    pub model: Detail,
    /// The reading.
    pub value: Value,
}

impl Observation {
    /// An observation of the whole replica (no model).
    pub fn new(signal: Signal, detail: Detail, value: Value) -> Observation {
        Observation {
            signal,
            detail,
            model: None,
            value,
        }
    }
}

/// A family on a page that no adapter row reads but that looks like one that does: the same
/// name under another prefix or suffix, or an engine's own average of what inferscope computes
/// from counters ([`crate::ingest::adapter::lookalike`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lookalike {
    /// The family as the page names it.
    pub found: Box<str>,
    /// The family the adapter reads instead.
    pub expected: &'static str,
    /// Why the found one is not read.
    pub why: &'static str,
    /// The signal the expected family feeds.
    pub signal: Signal,
}

/// Samples of families no adapter knows, kept as they are (counters stay cumulative), so that
/// nothing an exporter says is dropped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawSamples {
    /// `(series id, value)` for every such sample on the page. The id is a hash of the series
    /// name and labels, stable across scrapes of the same target.
    pub values: Vec<(u64, f64)>,
    /// `(series id, "name{labels}")` for the series not on the target's previous page.
    pub names: Vec<(u64, Box<str>)>,
}
