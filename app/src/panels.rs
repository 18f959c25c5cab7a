//! What each panel is: its title, unit, how its lines look in either theme, the cards that
//! group panels as tabs, and the one-line "now" summary under each title. Shared by the server
//! rendering and the browser.

use crate::format;
use crate::wire::{Panel, PanelId, Point, SeriesId};

/// The page's colour theme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    /// Light background.
    #[default]
    Light,
    /// Dark background.
    Dark,
}

impl Theme {
    /// The value of the `data-theme` attribute and of the stored preference.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// Parses a stored preference.
    pub fn parse(value: &str) -> Option<Theme> {
        match value {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    /// The other theme.
    pub fn toggled(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }
}

/// How a panel's values read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Requests per second.
    RequestsPerSecond,
    /// Tokens per second.
    TokensPerSecond,
    /// Events per second (preemptions).
    PerSecond,
    /// Seconds (shown as ms or s).
    Seconds,
    /// A count of replicas.
    Replicas,
    /// A count of requests.
    Requests,
    /// Bytes (shown as B, KiB, MiB, GiB: powers of 1024).
    Bytes,
    /// Tokens.
    Tokens,
    /// CPU cores.
    Cores,
    /// A share, 0–1 (shown as %).
    Ratio,
    /// A value as exported, unit unknown (families no adapter knows).
    Plain,
}

impl Unit {
    /// The label above the y axis (empty where tick labels carry the unit).
    pub fn axis_label(self) -> &'static str {
        match self {
            Unit::RequestsPerSecond => "req/s",
            Unit::TokensPerSecond => "tok/s",
            Unit::PerSecond => "/s",
            Unit::Seconds | Unit::Bytes | Unit::Ratio | Unit::Plain => "",
            Unit::Replicas => "replicas",
            Unit::Requests => "requests",
            Unit::Tokens => "tokens",
            Unit::Cores => "cores",
        }
    }

    /// One value in this unit, for tooltips and summaries.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::RequestsPerSecond => format::rate(value),
            Unit::TokensPerSecond => format!("{} tok/s", format::number(value)),
            Unit::PerSecond => format!("{} /s", format::number(value)),
            Unit::Seconds => format::seconds(value),
            Unit::Bytes => format::bytes(value),
            Unit::Ratio => format::percent(value),
            Unit::Cores => format!("{} cores", format::number(value)),
            Unit::Tokens => format!("{} tokens", format::number(value)),
            Unit::Replicas | Unit::Requests | Unit::Plain => format::number(value),
        }
    }
}

/// How a panel is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Stacked areas (the lines add up to a total).
    StackedArea,
    /// Plain lines.
    Lines,
    /// Step lines (values that change in whole numbers).
    Steps,
    /// Bars (counts sampled per step).
    Bars,
}

/// A panel's fixed description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanelSpec {
    /// Which panel.
    pub id: PanelId,
    /// Title on the card (or on its tab).
    pub title: &'static str,
    /// Unit of its values.
    pub unit: Unit,
    /// How it is drawn.
    pub shape: Shape,
    /// Whether it offers "split by replica" (panels drawn per member anyway do not).
    pub splittable: bool,
    /// Which exporter families feed it, said when no target provides them.
    pub source_hint: &'static str,
}

const fn panel(
    id: PanelId,
    title: &'static str,
    unit: Unit,
    shape: Shape,
    splittable: bool,
    source_hint: &'static str,
) -> PanelSpec {
    PanelSpec {
        id,
        title,
        unit,
        shape,
        splittable,
        source_hint,
    }
}

/// The description of a panel.
pub fn spec(id: PanelId) -> PanelSpec {
    use PanelId as P;
    use Shape::{Bars, Lines, StackedArea, Steps};
    match id {
        P::InferenceVolume => panel(
            id,
            "Inference volume",
            Unit::RequestsPerSecond,
            StackedArea,
            true,
            "a request counter by status code (inferscope_inference_requests_total, vllm:request_success_total, tgi_request_success, nv_inference_request_success, bentoml_service_request_total)",
        ),
        P::ResponseTime => panel(
            id,
            "End-to-end",
            Unit::Seconds,
            Lines,
            true,
            "an end-to-end latency histogram (inferscope_end_to_end_response_time_seconds, vllm:e2e_request_latency_seconds, tgi_request_duration, nv_inference_request_summary_us)",
        ),
        P::InferenceTime => panel(
            id,
            "Inference",
            Unit::Seconds,
            Lines,
            true,
            "an inference-time histogram (inferscope_inference_time_seconds, vllm:request_inference_time_seconds, tgi_request_inference_duration)",
        ),
        P::TimeToFirstByte => panel(
            id,
            "First byte",
            Unit::Seconds,
            Lines,
            true,
            "a time-to-first-byte or first-token histogram (inferscope_time_to_first_byte_seconds, vllm:time_to_first_token_seconds, sglang:time_to_first_token_seconds)",
        ),
        P::EngineQueueTime => panel(
            id,
            "Queue",
            Unit::Seconds,
            Lines,
            true,
            "the engine's scheduler queue time (vllm:request_queue_time_seconds, sglang:queue_time_seconds, tgi_request_queue_duration, nv_inference_queue_duration_us)",
        ),
        P::Replicas => panel(
            id,
            "Replicas",
            Unit::Replicas,
            Steps,
            false,
            "replica gauges (inferscope_replicas_active and _starting, baseten_replicas_active)",
        ),
        P::ConcurrentRequests => panel(
            id,
            "Concurrent requests",
            Unit::Requests,
            StackedArea,
            true,
            "concurrency gauges (inferscope_concurrent_requests, vllm:num_requests_running and _waiting, tgi_queue_size)",
        ),
        P::RequestSize => panel(
            id,
            "Request size",
            Unit::Bytes,
            Lines,
            true,
            "a request-size histogram (inferscope_request_size_bytes)",
        ),
        P::PromptTokens => panel(
            id,
            "Prompt tokens",
            Unit::Tokens,
            Lines,
            true,
            "a prompt-length histogram (vllm:request_prompt_tokens, tgi_request_input_length, sglang:prompt_tokens_histogram)",
        ),
        P::ResponseSize => panel(
            id,
            "Response size",
            Unit::Bytes,
            Lines,
            true,
            "a response-size histogram (inferscope_response_size_bytes)",
        ),
        P::GenerationTokens => panel(
            id,
            "Generated tokens",
            Unit::Tokens,
            Lines,
            true,
            "a generation-length histogram (vllm:request_generation_tokens, tgi_request_generated_tokens)",
        ),
        P::Cpu => panel(
            id,
            "CPU",
            Unit::Cores,
            Lines,
            false,
            "a CPU-seconds counter (inferscope_container_cpu_usage_seconds_total, process_cpu_seconds_total, node_cpu_seconds_total)",
        ),
        P::Memory => panel(
            id,
            "Memory",
            Unit::Bytes,
            Lines,
            false,
            "a memory gauge (inferscope_container_memory_working_set_bytes, process_resident_memory_bytes)",
        ),
        P::GpuUsage => panel(
            id,
            "GPU usage",
            Unit::Ratio,
            Lines,
            false,
            "GPU utilisation gauges (inferscope_gpu_utilization_ratio, DCGM_FI_DEV_GPU_UTIL, nv_gpu_utilization) or a KV-cache gauge",
        ),
        P::GpuMemory => panel(
            id,
            "GPU memory",
            Unit::Bytes,
            Lines,
            false,
            "GPU memory gauges (inferscope_gpu_memory_used_bytes, DCGM_FI_DEV_FB_USED, nv_gpu_memory_used_bytes)",
        ),
        P::AsyncQueueTime => panel(
            id,
            "Async queue",
            Unit::Seconds,
            Lines,
            true,
            "an async-queue time histogram (inferscope_time_in_async_queue_seconds, baseten_time_in_async_queue_seconds); an engine's scheduler queue is under Response time, Queue",
        ),
        P::AsyncQueueSize => panel(
            id,
            "Async queue size",
            Unit::Requests,
            Bars,
            true,
            "an async-queue size gauge (inferscope_async_queue_size, baseten_async_queue_size); requests waiting in an engine's scheduler are queued under Concurrent requests",
        ),
        P::TokenThroughput => panel(
            id,
            "Token throughput",
            Unit::TokensPerSecond,
            Lines,
            true,
            "token counters: vLLM (every version) vllm:prompt_tokens_total and vllm:generation_tokens_total, SGLang sglang:prompt_tokens_total, NIM 1.x prompt_tokens_total",
        ),
        P::InterTokenLatency => panel(
            id,
            "Inter-token",
            Unit::Seconds,
            Lines,
            true,
            "an inter-token latency histogram: vLLM v0.10.2+ vllm:inter_token_latency_seconds (vllm:time_per_output_token_seconds before v0.15), SGLang 0.4.6+ sglang:inter_token_latency_seconds, TGI tgi_request_mean_time_per_token_duration",
        ),
        P::PrefillTime => panel(
            id,
            "Prefill",
            Unit::Seconds,
            Lines,
            true,
            "a per-request prefill histogram: vLLM V1 (v0.7+) vllm:request_prefill_time_seconds",
        ),
        P::DecodeTime => panel(
            id,
            "Decode",
            Unit::Seconds,
            Lines,
            true,
            "a per-request decode histogram: vLLM V1 (v0.7+) vllm:request_decode_time_seconds",
        ),
        P::KvCacheUsage => panel(
            id,
            "KV cache",
            Unit::Ratio,
            Lines,
            false,
            "a KV-cache gauge: vLLM v0.9.2+ vllm:kv_cache_usage_perc (vllm:gpu_cache_usage_perc before), SGLang sglang:token_usage, NIM gpu_cache_usage_perc",
        ),
        P::PrefixCacheHitRate => panel(
            id,
            "Prefix cache",
            Unit::Ratio,
            Lines,
            true,
            "prefix-cache counters: vLLM v0.9.2+ vllm:prefix_cache_queries_total and _hits_total, SGLang sglang:cached_tokens_total over sglang:prompt_tokens_total",
        ),
        P::Preemptions => panel(
            id,
            "Preemptions",
            Unit::PerSecond,
            Lines,
            true,
            "a preemption counter: vLLM vllm:num_preemptions_total, SGLang 0.5.8+ sglang:num_retracted_requests_total",
        ),
        P::SpecDecodeAcceptance => panel(
            id,
            "Speculative decoding",
            Unit::Ratio,
            Lines,
            true,
            "speculative-decoding counters: vLLM V1 vllm:spec_decode_num_draft_tokens_total and vllm:spec_decode_num_accepted_tokens_total (only with a drafter configured)",
        ),
        P::FinishedReasons => panel(
            id,
            "Finished by reason",
            Unit::RequestsPerSecond,
            StackedArea,
            true,
            "a finish-reason counter: vLLM vllm:request_success_total{finished_reason}, NIM 1.x request_finish_total{finished_reason}",
        ),
    }
}

/// A card of the grid: one panel, or several as tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Card {
    /// The group of cards it belongs to (a heading over the grid where it changes).
    pub group: Group,
    /// The card's title.
    pub title: &'static str,
    /// Its panels; more than one are tabs, the first shown first.
    pub panels: &'static [PanelId],
}

/// The groups of cards, in page order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// What every model server has: requests, latency, replicas, resources.
    Deployment,
    /// What LLM engines report of their own work: tokens, caches, scheduling.
    LlmEngine,
}

impl Group {
    /// Its heading; the first group has none.
    pub fn heading(self) -> Option<&'static str> {
        match self {
            Group::Deployment => None,
            Group::LlmEngine => Some("LLM engine"),
        }
    }
}

/// The cards of the page, in order.
pub const CARDS: [Card; 18] = [
    Card {
        group: Group::Deployment,
        title: "Inference volume",
        panels: &[PanelId::InferenceVolume],
    },
    Card {
        group: Group::Deployment,
        title: "Response time",
        panels: &[
            PanelId::ResponseTime,
            PanelId::InferenceTime,
            PanelId::TimeToFirstByte,
            PanelId::EngineQueueTime,
        ],
    },
    Card {
        group: Group::Deployment,
        title: "Replicas",
        panels: &[PanelId::Replicas],
    },
    Card {
        group: Group::Deployment,
        title: "Concurrent requests",
        panels: &[PanelId::ConcurrentRequests],
    },
    Card {
        group: Group::Deployment,
        title: "Request size",
        panels: &[PanelId::RequestSize, PanelId::PromptTokens],
    },
    Card {
        group: Group::Deployment,
        title: "Response size",
        panels: &[PanelId::ResponseSize, PanelId::GenerationTokens],
    },
    Card {
        group: Group::Deployment,
        title: "CPU",
        panels: &[PanelId::Cpu],
    },
    Card {
        group: Group::Deployment,
        title: "Memory",
        panels: &[PanelId::Memory],
    },
    Card {
        group: Group::Deployment,
        title: "GPU usage",
        panels: &[PanelId::GpuUsage],
    },
    Card {
        group: Group::Deployment,
        title: "GPU memory",
        panels: &[PanelId::GpuMemory],
    },
    Card {
        group: Group::Deployment,
        title: "Async queue",
        panels: &[PanelId::AsyncQueueTime],
    },
    Card {
        group: Group::Deployment,
        title: "Async queue size",
        panels: &[PanelId::AsyncQueueSize],
    },
    Card {
        group: Group::LlmEngine,
        title: "Token throughput",
        panels: &[PanelId::TokenThroughput],
    },
    Card {
        group: Group::LlmEngine,
        title: "Token latency",
        panels: &[
            PanelId::InterTokenLatency,
            PanelId::PrefillTime,
            PanelId::DecodeTime,
        ],
    },
    Card {
        group: Group::LlmEngine,
        title: "KV cache usage",
        panels: &[PanelId::KvCacheUsage],
    },
    Card {
        group: Group::LlmEngine,
        title: "Prefix cache hit rate",
        panels: &[PanelId::PrefixCacheHitRate],
    },
    Card {
        group: Group::LlmEngine,
        title: "Preemptions",
        panels: &[PanelId::Preemptions],
    },
    Card {
        group: Group::LlmEngine,
        title: "Finished by reason",
        panels: &[PanelId::FinishedReasons, PanelId::SpecDecodeAcceptance],
    },
];

/// How one line looks.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesStyle {
    /// Legend and tooltip label.
    pub label: String,
    /// Colour on the light theme.
    pub light: &'static str,
    /// Colour on the dark theme.
    pub dark: &'static str,
    /// Line width, pixels.
    pub width: f64,
    /// Dashed line.
    pub dashed: bool,
    /// Drawn at all (exact status codes only appear in the tooltip).
    pub drawn: bool,
}

impl SeriesStyle {
    /// The colour for a theme.
    pub fn color(&self, theme: Theme) -> &'static str {
        match theme {
            Theme::Light => self.light,
            Theme::Dark => self.dark,
        }
    }
}

/// Colours for members (replicas, GPUs), light and dark. Member *i* has colour *i* everywhere.
const MEMBER_COLOURS: [(&str, &str); 10] = [
    ("#3E63DD", "#7D95F0"),
    ("#12A594", "#2EC4B0"),
    ("#E5484D", "#EC5D62"),
    ("#EFA23A", "#F2AE50"),
    ("#8E4EC6", "#A875D6"),
    ("#30A46C", "#3DB07F"),
    ("#D6409F", "#E061B0"),
    ("#0091FF", "#3DA9FF"),
    ("#A35829", "#C27242"),
    ("#6B7280", "#9AA3B2"),
];

/// The member index a name stands for: its trailing number when it has one (`chat-llm-3`,
/// GPU `2`), otherwise a stable hash.
pub fn member_index(name: &str) -> usize {
    let digits: String = name
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    match digits.parse::<usize>() {
        Ok(number) => number,
        Err(_) => name.bytes().fold(0usize, |hash, b| {
            hash.wrapping_mul(31).wrapping_add(usize::from(b))
        }),
    }
}

/// The style of a series; the same series looks the same in every panel.
pub fn series_style(id: &SeriesId) -> SeriesStyle {
    let style = |label: &str, light, dark, width, dashed| SeriesStyle {
        label: label.to_owned(),
        light,
        dark,
        width,
        dashed,
        drawn: true,
    };
    match id {
        SeriesId::Status2xx => style("2xx", "#36A273", "#3DB07F", 1.5, false),
        SeriesId::Status4xx => style("4xx", "#EFA23A", "#F2AE50", 1.5, false),
        SeriesId::Status5xx => style("5xx", "#E5484D", "#EC5D62", 1.5, false),
        SeriesId::P50 => style("p50", "#B3C0EE", "#4A5BA8", 1.2, false),
        SeriesId::P90 => style("p90", "#8196E0", "#6F83D6", 1.4, false),
        SeriesId::P95 => style("p95", "#5169D0", "#9DAEF0", 1.7, false),
        SeriesId::P99 => style("p99", "#263A99", "#DCE3FF", 2.4, false),
        SeriesId::Active => style("active", "#3E63DD", "#7D95F0", 2.0, false),
        SeriesId::Starting => style("starting", "#EFA23A", "#F2AE50", 1.5, true),
        SeriesId::InProgress => style("in progress", "#8196E0", "#6F83D6", 1.5, false),
        SeriesId::Queued => style("queued", "#EFA23A", "#F2AE50", 1.5, false),
        SeriesId::Average => style("avg", "#111318", "#E8EAEF", 2.4, false),
        SeriesId::Mean => style("mean", "#5169D0", "#9DAEF0", 2.2, false),
        SeriesId::KvCache => style("KV cache", "#12A594", "#2EC4B0", 2.0, true),
        SeriesId::Total => style("total", "#6B7280", "#9AA3B2", 1.2, true),
        // A capacity line, as the GPU total is: grey and dashed, a little heavier, because
        // the replica lines run up to it when a container is throttled or near its OOM kill.
        SeriesId::Limit => style("limit", "#6B7280", "#9AA3B2", 1.6, true),
        SeriesId::Prompt => style("prompt", "#8196E0", "#6F83D6", 1.6, false),
        SeriesId::Generated => style("generated", "#12A594", "#2EC4B0", 2.0, false),
        SeriesId::HitRate => style("hit rate", "#12A594", "#2EC4B0", 2.0, false),
        SeriesId::Preemptions => style("preemptions", "#E5484D", "#EC5D62", 1.8, false),
        SeriesId::Acceptance => style("accepted", "#8E4EC6", "#A875D6", 2.0, false),
        SeriesId::Reason(reason) => {
            // Finished answers in the greens and blues, aborts amber, errors red: the status
            // colours, so the reasons read as the volume panel does.
            let (light, dark) = match reason.as_str() {
                "stop" => ("#36A273", "#3DB07F"),
                "length" => ("#3E63DD", "#7D95F0"),
                "repetition" => ("#12A594", "#2EC4B0"),
                "abort" => ("#EFA23A", "#F2AE50"),
                "error" => ("#E5484D", "#EC5D62"),
                other => MEMBER_COLOURS[member_index(other) % MEMBER_COLOURS.len()],
            };
            let label = if reason.is_empty() { "(none)" } else { reason };
            style(label, light, dark, 1.5, false)
        }
        SeriesId::Model(name) => {
            // Models are few: colour them by name, offset from the replicas' colours.
            let (light, dark) = MEMBER_COLOURS[(member_index(name) + 3) % MEMBER_COLOURS.len()];
            let label = if name.is_empty() {
                "(no model label)"
            } else {
                name
            };
            style(label, light, dark, 1.6, false)
        }
        SeriesId::Recorded => style("what happened", "#6B7280", "#9AA3B2", 1.6, false),
        SeriesId::Replayed => style(
            "replayed with these settings",
            "#3E63DD",
            "#7D95F0",
            2.2,
            false,
        ),
        SeriesId::Load => style("in flight (recorded)", "#C9CED8", "#3A4150", 1.2, true),
        SeriesId::Code(code) => SeriesStyle {
            drawn: false,
            ..style(&code.to_string(), "#6B7280", "#9AA3B2", 0.0, false)
        },
        SeriesId::Replica(name) => {
            let (light, dark) = MEMBER_COLOURS[member_index(name) % MEMBER_COLOURS.len()];
            let label = if name.is_empty() {
                "(deployment)"
            } else {
                name
            };
            style(label, light, dark, 1.2, false)
        }
        SeriesId::Gpu(name) => {
            // `replica/gpu` when several replicas each have GPUs: colour by both numbers.
            let (index, label) = match name.rsplit_once('/') {
                Some((replica, gpu)) => {
                    (member_index(replica) + 5 * member_index(gpu), name.clone())
                }
                None => (member_index(name), format!("GPU {name}")),
            };
            let (light, dark) = MEMBER_COLOURS[index % MEMBER_COLOURS.len()];
            style(&label, light, dark, 1.2, false)
        }
    }
}

/// The last point of a series that has a value.
fn last_value(points: &[Point]) -> Option<(i64, f64)> {
    points
        .iter()
        .rev()
        .find_map(|Point(time, value)| value.map(|value| (*time, value)))
}

/// The newest time at which any drawn series of the panel has a value.
pub fn latest_time(panel: &Panel) -> Option<i64> {
    panel
        .series
        .iter()
        .filter(|series| !matches!(series.id, SeriesId::Code(_)))
        .filter_map(|series| last_value(&series.points).map(|(time, _)| time))
        .max()
}

fn value_at(panel: &Panel, id: &SeriesId, time: i64) -> Option<f64> {
    panel
        .series(id)?
        .points
        .iter()
        .find(|Point(t, _)| *t == time)
        .and_then(|Point(_, value)| *value)
}

/// The one-line summary under a panel's title, describing its newest values.
pub fn summary(panel: &Panel) -> String {
    let Some(now) = latest_time(panel) else {
        return "no data in this range yet".into();
    };
    let unit = spec(panel.id).unit;
    let get = |id: SeriesId| value_at(panel, &id, now);
    let members = panel
        .series
        .iter()
        .filter(|s| {
            matches!(
                s.id,
                SeriesId::Replica(_) | SeriesId::Gpu(_) | SeriesId::Model(_)
            )
        })
        .filter(|s| value_at(panel, &s.id, now).is_some())
        .count();
    let split = panel
        .series
        .iter()
        .any(|s| matches!(s.id, SeriesId::Replica(_) | SeriesId::Model(_)));
    let by_model = panel
        .series
        .iter()
        .any(|s| matches!(s.id, SeriesId::Model(_)));
    let across = if by_model { "models" } else { "replicas" };
    match panel.id {
        PanelId::InferenceVolume if split => {
            let total: f64 = panel
                .series
                .iter()
                .filter_map(|s| value_at(panel, &s.id, now))
                .sum();
            format!("{} now across {members} {across}", format::rate(total))
        }
        PanelId::InferenceVolume => {
            let ok = get(SeriesId::Status2xx).unwrap_or(0.0);
            let client = get(SeriesId::Status4xx).unwrap_or(0.0);
            let server = get(SeriesId::Status5xx).unwrap_or(0.0);
            let total = ok + client + server;
            if total <= 0.0 {
                return "0 req/s now".into();
            }
            format!(
                "{} now · 4xx {} · 5xx {}",
                format::rate(total),
                format::percent(client / total),
                format::percent(server / total)
            )
        }
        PanelId::ResponseTime
        | PanelId::InferenceTime
        | PanelId::TimeToFirstByte
        | PanelId::EngineQueueTime
        | PanelId::RequestSize
        | PanelId::ResponseSize
        | PanelId::PromptTokens
        | PanelId::GenerationTokens
        | PanelId::AsyncQueueTime
        | PanelId::InterTokenLatency
        | PanelId::PrefillTime
        | PanelId::DecodeTime
            if split =>
        {
            let worst = panel
                .series
                .iter()
                .filter_map(|s| value_at(panel, &s.id, now))
                .fold(f64::NAN, f64::max);
            format!(
                "worst p99 {} now across {members} {across}",
                unit.format(worst)
            )
        }
        PanelId::ResponseTime
        | PanelId::InferenceTime
        | PanelId::TimeToFirstByte
        | PanelId::EngineQueueTime
        | PanelId::RequestSize
        | PanelId::ResponseSize
        | PanelId::PromptTokens
        | PanelId::GenerationTokens
        | PanelId::AsyncQueueTime
        | PanelId::InterTokenLatency
        | PanelId::PrefillTime
        | PanelId::DecodeTime => {
            let show = |id: SeriesId| match get(id.clone()) {
                Some(value) if panel.is_above(&id, now) => format!("> {}", unit.format(value)),
                Some(value) => unit.format(value),
                None => "–".into(),
            };
            if panel.series(&SeriesId::Mean).is_some() {
                return format!("mean {} now · from exporter totals", show(SeriesId::Mean));
            }
            let source = if panel.from_summaries {
                " · from exporter summaries"
            } else {
                ""
            };
            format!(
                "p99 {} now · p50 {}{source}",
                show(SeriesId::P99),
                show(SeriesId::P50)
            )
        }
        PanelId::Replicas => format!(
            "{} active · {} starting",
            format::number(get(SeriesId::Active).unwrap_or(0.0)),
            format::number(get(SeriesId::Starting).unwrap_or(0.0))
        ),
        PanelId::ConcurrentRequests if split => {
            let total: f64 = panel
                .series
                .iter()
                .filter_map(|s| value_at(panel, &s.id, now))
                .sum();
            format!("{} now across {members} {across}", format::number(total))
        }
        PanelId::ConcurrentRequests => format!(
            "{} in progress · {} queued",
            format::number(get(SeriesId::InProgress).unwrap_or(0.0)),
            format::number(get(SeriesId::Queued).unwrap_or(0.0))
        ),
        PanelId::Cpu | PanelId::Memory => {
            let noun = if members == 1 { "replica" } else { "replicas" };
            let mut text = format!(
                "avg {} per replica · {members} {noun}",
                get(SeriesId::Average).map_or("–".into(), |v| unit.format(v))
            );
            if let Some(limit) = get(SeriesId::Limit) {
                text.push_str(&format!(" · limit {}", unit.format(limit)));
            }
            text
        }
        PanelId::GpuUsage => {
            let mut text = match get(SeriesId::Average) {
                Some(value) => format!("avg {} on {members} GPUs", format::percent(value)),
                None => "no GPU readings".to_owned(),
            };
            if let Some(kv) = get(SeriesId::KvCache) {
                text.push_str(&format!(" · KV cache {}", format::percent(kv)));
            }
            text
        }
        PanelId::GpuMemory => {
            let used: Vec<f64> = panel
                .series
                .iter()
                .filter(|s| matches!(s.id, SeriesId::Gpu(_)))
                .filter_map(|s| value_at(panel, &s.id, now))
                .collect();
            let average = used.iter().sum::<f64>() / used.len().max(1) as f64;
            match get(SeriesId::Total) {
                Some(total) if total > 0.0 => format!(
                    "{} of {} used per GPU ({})",
                    format::bytes(average),
                    format::bytes(total),
                    format::percent(average / total)
                ),
                _ => format!("{} used per GPU", format::bytes(average)),
            }
        }
        PanelId::TokenThroughput | PanelId::Preemptions | PanelId::FinishedReasons if split => {
            let total: f64 = panel
                .series
                .iter()
                .filter_map(|s| value_at(panel, &s.id, now))
                .sum();
            format!("{} now across {members} {across}", unit.format(total))
        }
        PanelId::TokenThroughput => format!(
            "{} generated · {} prompt",
            get(SeriesId::Generated).map_or("–".into(), |v| unit.format(v)),
            get(SeriesId::Prompt).map_or("–".into(), |v| unit.format(v))
        ),
        PanelId::Preemptions => format!(
            "{} now",
            unit.format(get(SeriesId::Preemptions).unwrap_or(0.0))
        ),
        PanelId::FinishedReasons => {
            let reasons: Vec<(String, f64)> = panel
                .series
                .iter()
                .filter_map(|s| match &s.id {
                    SeriesId::Reason(reason) => {
                        value_at(panel, &s.id, now).map(|value| (reason.clone(), value))
                    }
                    _ => None,
                })
                .collect();
            let total: f64 = reasons.iter().map(|(_, value)| value).sum();
            let mut text = format!("{} finished now", unit.format(total));
            if total > 0.0 {
                for reason in ["length", "abort", "error"] {
                    if let Some((_, value)) = reasons.iter().find(|(name, _)| name == reason) {
                        text.push_str(&format!(" · {reason} {}", format::percent(value / total)));
                    }
                }
            }
            text
        }
        PanelId::KvCacheUsage if by_model => format!(
            "{} models · highest {}",
            members,
            format::percent(
                panel
                    .series
                    .iter()
                    .filter_map(|s| value_at(panel, &s.id, now))
                    .fold(0.0, f64::max)
            )
        ),
        PanelId::KvCacheUsage => format!(
            "avg {} per replica · {members} replicas",
            get(SeriesId::Average).map_or("–".into(), format::percent)
        ),
        PanelId::PrefixCacheHitRate | PanelId::SpecDecodeAcceptance if split => {
            let values: Vec<f64> = panel
                .series
                .iter()
                .filter_map(|s| value_at(panel, &s.id, now))
                .collect();
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!(
                "{} to {} now across {members} {across}",
                format::percent(low),
                format::percent(high)
            )
        }
        PanelId::PrefixCacheHitRate => format!(
            "{} of prompt tokens from the cache now",
            get(SeriesId::HitRate).map_or("–".into(), format::percent)
        ),
        PanelId::SpecDecodeAcceptance => format!(
            "{} of draft tokens accepted now",
            get(SeriesId::Acceptance).map_or("–".into(), format::percent)
        ),
        PanelId::AsyncQueueSize => {
            let waiting: f64 = panel
                .series
                .iter()
                .filter_map(|s| value_at(panel, &s.id, now))
                .sum();
            let peak = panel
                .series
                .iter()
                .flat_map(|s| s.points.iter().filter_map(|p| p.1))
                .fold(0.0, f64::max);
            format!(
                "{} waiting now · peak {}",
                format::number(waiting),
                format::number(peak)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Series;

    fn panel(id: PanelId, series: &[(SeriesId, &[Option<f64>])], top: Option<f64>) -> Panel {
        Panel {
            id,
            series: series
                .iter()
                .map(|(id, values)| Series {
                    id: id.clone(),
                    points: values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Point(i as i64 * 1000, *v))
                        .collect(),
                })
                .collect(),
            top_bucket: top,
            ..Panel::empty(id)
        }
    }

    #[test]
    fn volume_summary_uses_the_newest_point_with_data() {
        let volume = panel(
            PanelId::InferenceVolume,
            &[
                (SeriesId::Status2xx, &[Some(5.0), Some(95.0), None]),
                (SeriesId::Status4xx, &[Some(1.0), Some(4.0), None]),
                (SeriesId::Status5xx, &[Some(0.0), Some(1.0), None]),
                (SeriesId::Code(200), &[Some(5.0), Some(95.0), Some(7.0)]),
            ],
            None,
        );
        assert_eq!(summary(&volume), "100 req/s now · 4xx 4.0% · 5xx 1.0%");
    }

    #[test]
    fn percentile_summary_says_above_for_the_top_bucket() {
        let mut latency = panel(
            PanelId::ResponseTime,
            &[
                (SeriesId::P50, &[Some(0.612)]),
                (SeriesId::P99, &[Some(60.0)]),
            ],
            Some(60.0),
        );
        // The top bucket's bound alone says nothing: only a point marked above is "> …".
        assert_eq!(summary(&latency), "p99 60.0 s now · p50 612 ms");
        latency.above.push(crate::wire::AbovePoint {
            series: SeriesId::P99,
            at_ms: 0,
        });
        assert_eq!(summary(&latency), "p99 > 60.0 s now · p50 612 ms");
        let mean = panel(
            PanelId::ResponseTime,
            &[(SeriesId::Mean, &[Some(0.25)])],
            None,
        );
        assert_eq!(summary(&mean), "mean 250 ms now · from exporter totals");
    }

    #[test]
    fn member_panels_summarise_averages_and_capacity() {
        let cpu = panel(
            PanelId::Cpu,
            &[
                (SeriesId::Replica("chat-0".into()), &[Some(1.0)]),
                (SeriesId::Replica("chat-1".into()), &[Some(3.0)]),
                (SeriesId::Average, &[Some(2.0)]),
            ],
            None,
        );
        assert_eq!(summary(&cpu), "avg 2 cores per replica · 2 replicas");
        let limited = panel(
            PanelId::Memory,
            &[
                (
                    SeriesId::Replica("chat-0".into()),
                    &[Some(512.0 * 1048576.0)],
                ),
                (SeriesId::Average, &[Some(512.0 * 1048576.0)]),
                (SeriesId::Limit, &[Some(2.0 * 1073741824.0)]),
            ],
            None,
        );
        // The limit is a line, not a member: one replica, and the limit said after it.
        assert_eq!(
            summary(&limited),
            "avg 512 MiB per replica · 1 replica · limit 2 GiB"
        );
        let memory = panel(
            PanelId::GpuMemory,
            &[
                (SeriesId::Gpu("0".into()), &[Some(40.0 * 1073741824.0)]),
                (SeriesId::Total, &[Some(80.0 * 1073741824.0)]),
            ],
            None,
        );
        assert_eq!(summary(&memory), "40 GiB of 80 GiB used per GPU (50%)");
    }

    #[test]
    fn members_keep_their_colour_by_number() {
        assert_eq!(member_index("chat-llm-3"), 3);
        assert_eq!(member_index("3"), 3);
        assert_eq!(
            series_style(&SeriesId::Replica("chat-llm-3".into())).light,
            series_style(&SeriesId::Gpu("3".into())).light
        );
        assert!(!series_style(&SeriesId::Code(404)).drawn);
    }

    #[test]
    fn empty_panels_say_so() {
        let empty = panel(PanelId::Replicas, &[], None);
        assert_eq!(summary(&empty), "no data in this range yet");
        let replicas = panel(PanelId::Replicas, &[(SeriesId::Active, &[Some(3.0)])], None);
        assert_eq!(summary(&replicas), "3 active · 0 starting");
    }
}
