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
    /// Time async requests waited in the queue, histogram, seconds.
    AsyncQueueSeconds,
    /// Async requests waiting, gauge.
    AsyncQueueSize,
    /// CPU time used, counter, seconds.
    CpuSeconds,
    /// Memory working set, gauge, bytes.
    MemoryWorkingSetBytes,
    /// GPU utilisation, gauge, ratio 0–1; detail label: the GPU index.
    GpuUtilization,
    /// GPU memory used, gauge, bytes; detail label: the GPU index.
    GpuMemoryUsedBytes,
    /// GPU memory in all, gauge, bytes; detail label: the GPU index.
    GpuMemoryTotalBytes,
    /// Share of the engine's KV cache in use, gauge, ratio 0–1.
    KvCacheUsage,
    /// The host's memory in all, gauge, bytes (to derive memory used).
    HostMemoryTotalBytes,
    /// The host's memory available, gauge, bytes (to derive memory used).
    HostMemoryAvailableBytes,
    /// Whether the last scrape of the target succeeded (1) or not (0), gauge, recorded by the
    /// scrape loop itself.
    Up,
    /// How long the last scrape took, gauge, seconds, recorded by the scrape loop itself.
    ScrapeDurationSeconds,
    /// One of the deployment's autoscaler settings, gauge; detail label: the setting's name
    /// (`min_replicas`, `scale_down_delay_seconds`, … — `autoscale::SETTING_NAMES`).
    AutoscalerSetting,
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
    /// The reading.
    pub value: Value,
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
