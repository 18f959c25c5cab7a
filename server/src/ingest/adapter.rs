//! Adapter tables: which exposition family feeds which canonical signal, in which unit.
//!
//! Engine knowledge is data. Each row names a family, its kind, the signal, a scale factor to the
//! signal's unit and the label that becomes the signal's detail. Adding an engine is adding rows.

use std::sync::LazyLock;

use crate::hashing::FastMap;
use crate::model::Signal;

/// How a family is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyKind {
    /// Cumulative counter: ingest turns it into increments.
    Counter,
    /// Instantaneous value.
    Gauge,
    /// Cumulative histogram with `_bucket{le}`, `_sum`, `_count` series.
    Histogram,
}

/// One row of an adapter table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FamilyRule {
    /// Family name as exposed (counters with their `_total`, histograms without suffixes).
    pub family: &'static str,
    /// How to read it.
    pub kind: FamilyKind,
    /// The canonical signal it feeds.
    pub signal: Signal,
    /// Multiply values (and histogram bounds) by this to get the signal's unit.
    pub scale: f64,
    /// The label whose value becomes the observation's detail.
    pub detail_label: Option<&'static str>,
}

const fn rule(
    family: &'static str,
    kind: FamilyKind,
    signal: Signal,
    scale: f64,
    detail_label: Option<&'static str>,
) -> FamilyRule {
    FamilyRule {
        family,
        kind,
        signal,
        scale,
        detail_label,
    }
}

use FamilyKind::{Counter, Gauge, Histogram};

/// inferscope's own exposition names (the demo fleet uses them; recommended to model servers).
pub const INFERSCOPE: &[FamilyRule] = &[
    rule(
        "inferscope_inference_requests_total",
        Counter,
        Signal::Requests,
        1.0,
        Some("status_code"),
    ),
    rule(
        "inferscope_end_to_end_response_time_seconds",
        Histogram,
        Signal::EndToEndSeconds,
        1.0,
        None,
    ),
    rule(
        "inferscope_inference_time_seconds",
        Histogram,
        Signal::InferenceSeconds,
        1.0,
        None,
    ),
    rule(
        "inferscope_time_to_first_byte_seconds",
        Histogram,
        Signal::TimeToFirstByteSeconds,
        1.0,
        None,
    ),
    rule(
        "inferscope_request_size_bytes",
        Histogram,
        Signal::RequestSizeBytes,
        1.0,
        None,
    ),
    rule(
        "inferscope_response_size_bytes",
        Histogram,
        Signal::ResponseSizeBytes,
        1.0,
        None,
    ),
    rule(
        "inferscope_concurrent_requests",
        Gauge,
        Signal::ConcurrentRequests,
        1.0,
        Some("state"),
    ),
    rule(
        "inferscope_replicas_active",
        Gauge,
        Signal::ReplicasActive,
        1.0,
        None,
    ),
    rule(
        "inferscope_replicas_starting",
        Gauge,
        Signal::ReplicasStarting,
        1.0,
        None,
    ),
    rule(
        "inferscope_time_in_async_queue_seconds",
        Histogram,
        Signal::AsyncQueueSeconds,
        1.0,
        None,
    ),
    rule(
        "inferscope_async_queue_size",
        Gauge,
        Signal::AsyncQueueSize,
        1.0,
        None,
    ),
    rule(
        "inferscope_container_cpu_usage_seconds_total",
        Counter,
        Signal::CpuSeconds,
        1.0,
        None,
    ),
    rule(
        "inferscope_container_memory_working_set_bytes",
        Gauge,
        Signal::MemoryWorkingSetBytes,
        1.0,
        None,
    ),
    rule(
        "inferscope_gpu_utilization_ratio",
        Gauge,
        Signal::GpuUtilization,
        1.0,
        Some("gpu"),
    ),
    rule(
        "inferscope_gpu_memory_used_bytes",
        Gauge,
        Signal::GpuMemoryUsedBytes,
        1.0,
        Some("gpu"),
    ),
];

/// The hosted reference platform's metrics export (GPU utilisation in percent, GPU memory in MiB).
pub const HOSTED_PLATFORM: &[FamilyRule] = &[
    rule(
        "baseten_inference_requests_total",
        Counter,
        Signal::Requests,
        1.0,
        Some("status_code"),
    ),
    rule(
        "baseten_end_to_end_response_time_seconds",
        Histogram,
        Signal::EndToEndSeconds,
        1.0,
        None,
    ),
    rule(
        "baseten_time_to_first_byte_seconds",
        Histogram,
        Signal::TimeToFirstByteSeconds,
        1.0,
        None,
    ),
    rule(
        "baseten_request_size_bytes",
        Histogram,
        Signal::RequestSizeBytes,
        1.0,
        None,
    ),
    rule(
        "baseten_response_size_bytes",
        Histogram,
        Signal::ResponseSizeBytes,
        1.0,
        None,
    ),
    rule(
        "baseten_replicas_active",
        Gauge,
        Signal::ReplicasActive,
        1.0,
        None,
    ),
    rule(
        "baseten_replicas_starting",
        Gauge,
        Signal::ReplicasStarting,
        1.0,
        None,
    ),
    rule(
        "baseten_concurrent_requests",
        Gauge,
        Signal::ConcurrentRequests,
        1.0,
        None,
    ),
    rule(
        "baseten_time_in_async_queue_seconds",
        Histogram,
        Signal::AsyncQueueSeconds,
        1.0,
        None,
    ),
    rule(
        "baseten_async_queue_size",
        Gauge,
        Signal::AsyncQueueSize,
        1.0,
        None,
    ),
    rule(
        "baseten_container_cpu_usage_seconds_total",
        Counter,
        Signal::CpuSeconds,
        1.0,
        None,
    ),
    rule(
        "baseten_container_cpu_memory_working_set_bytes",
        Gauge,
        Signal::MemoryWorkingSetBytes,
        1.0,
        None,
    ),
    rule(
        "baseten_gpu_utilization",
        Gauge,
        Signal::GpuUtilization,
        0.01,
        Some("gpu"),
    ),
    rule(
        "baseten_gpu_memory_used",
        Gauge,
        Signal::GpuMemoryUsedBytes,
        1024.0 * 1024.0,
        Some("gpu"),
    ),
];

/// Every table, looked up by family name.
static RULES: LazyLock<FastMap<&'static str, FamilyRule>> = LazyLock::new(|| {
    INFERSCOPE
        .iter()
        .chain(HOSTED_PLATFORM)
        .map(|rule| (rule.family, *rule))
        .collect()
});

/// How a sample's name relates to a known family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Match {
    /// A counter or gauge sample of the family.
    Value(FamilyRule),
    /// A histogram's `_bucket` sample.
    Bucket(FamilyRule),
    /// A histogram's `_sum` sample.
    Sum(FamilyRule),
    /// A histogram's `_count` sample.
    Count(FamilyRule),
}

/// Every prefix a known family starts with: names that start with none of them are not looked
/// up at all (most samples of a typical page).
const PREFIXES: &[&str] = &["inferscope_", "baseten_"];

/// Finds the rule for a sample name, or `None` for a family no adapter knows.
pub fn lookup(sample_name: &str) -> Option<Match> {
    if !PREFIXES
        .iter()
        .any(|prefix| sample_name.starts_with(prefix))
    {
        return None;
    }
    let rules = &*RULES;
    if let Some(rule) = rules.get(sample_name)
        && rule.kind != FamilyKind::Histogram
    {
        return Some(Match::Value(*rule));
    }
    let histogram = |base: &str| {
        rules
            .get(base)
            .filter(|rule| rule.kind == FamilyKind::Histogram)
            .copied()
    };
    if let Some(base) = sample_name.strip_suffix("_bucket") {
        return histogram(base).map(Match::Bucket);
    }
    if let Some(base) = sample_name.strip_suffix("_sum") {
        return histogram(base).map(Match::Sum);
    }
    if let Some(base) = sample_name.strip_suffix("_count") {
        return histogram(base).map(Match::Count);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_counters_gauges_and_histogram_parts() {
        assert!(matches!(
            lookup("inferscope_inference_requests_total"),
            Some(Match::Value(FamilyRule {
                signal: Signal::Requests,
                ..
            }))
        ));
        assert!(matches!(
            lookup("inferscope_end_to_end_response_time_seconds_bucket"),
            Some(Match::Bucket(FamilyRule {
                signal: Signal::EndToEndSeconds,
                ..
            }))
        ));
        assert!(matches!(
            lookup("baseten_gpu_memory_used"),
            Some(Match::Value(FamilyRule { scale, .. })) if scale == 1_048_576.0
        ));
        assert_eq!(lookup("inferscope_end_to_end_response_time_seconds"), None);
        assert_eq!(lookup("some_other_family_total"), None);
    }

    #[test]
    fn every_family_starts_with_a_listed_prefix() {
        for rule in INFERSCOPE.iter().chain(HOSTED_PLATFORM) {
            assert!(
                PREFIXES.iter().any(|p| rule.family.starts_with(p)),
                "{} needs its prefix in PREFIXES",
                rule.family
            );
        }
    }

    #[test]
    fn family_names_are_unique_across_tables() {
        let all = INFERSCOPE.len() + HOSTED_PLATFORM.len();
        assert_eq!(RULES.len(), all);
    }
}
