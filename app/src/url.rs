//! The view's filter in the URL query: `?environment=…&deployment=…&model=…&range=5m|15m|1h`.
//! The page, the HTTP API and links all use these two functions, so a link reproduces a view.

use thiserror::Error;

use crate::wire::{Filter, PanelId, TimeRange};

/// Raw query parameters, as found in a URL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterParams<'a> {
    /// `environment`.
    pub environment: Option<&'a str>,
    /// `deployment`.
    pub deployment: Option<&'a str>,
    /// `model`.
    pub model: Option<&'a str>,
    /// `range`.
    pub range: Option<&'a str>,
    /// `from` (Unix milliseconds).
    pub from: Option<&'a str>,
    /// `to` (Unix milliseconds).
    pub to: Option<&'a str>,
    /// `split` (panel keys, comma-separated).
    pub split: Option<&'a str>,
    /// `by_model` (panel keys, comma-separated): split by model.
    pub by_model: Option<&'a str>,
    /// `panels` (panel keys, comma-separated): only these.
    pub panels: Option<&'a str>,
}

impl<'a> FilterParams<'a> {
    /// The filter's parameters, looked up by name in a URL query.
    pub fn read(get: impl Fn(&str) -> Option<&'a str>) -> FilterParams<'a> {
        FilterParams {
            environment: get("environment"),
            deployment: get("deployment"),
            model: get("model"),
            range: get("range"),
            from: get("from"),
            to: get("to"),
            split: get("split"),
            by_model: get("by_model"),
            panels: get("panels"),
        }
    }
}

/// A query parameter with a value the server does not understand.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum UnknownRange {
    /// `range` is not one of the offered windows.
    #[error("unknown range {0:?}: use 5m, 15m, 1h, 6h, 24h or 7d")]
    Range(String),
    /// `from` or `to` is not a time in Unix milliseconds (up to year 9999), or `from` is not
    /// before `to`.
    #[error(
        "invalid absolute range: from and to must be Unix milliseconds (0 to year 9999) with from before to"
    )]
    Absolute,
    /// `split` or `panels` names a panel that does not exist.
    #[error("unknown panel {0:?} in split or panels")]
    Panel(String),
}

/// The filter the parameters describe. Empty names mean "all".
pub fn parse_filter(params: &FilterParams<'_>) -> Result<Filter, UnknownRange> {
    let name = |value: Option<&str>| {
        value
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let range = match params.range.map(str::trim).filter(|r| !r.is_empty()) {
        None => TimeRange::default(),
        Some(text) => {
            TimeRange::from_param(text).ok_or_else(|| UnknownRange::Range(text.into()))?
        }
    };
    let time = |value: Option<&str>| -> Result<Option<i64>, UnknownRange> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|time| (0..=crate::wire::MAX_TIME_MS).contains(time))
                .map(Some)
                .ok_or(UnknownRange::Absolute),
        }
    };
    let (from_ms, to_ms) = match (time(params.from)?, time(params.to)?) {
        (Some(from), Some(to)) if from < to => (Some(from), Some(to)),
        (None, None) => (None, None),
        _ => return Err(UnknownRange::Absolute),
    };
    Ok(Filter {
        environment: name(params.environment),
        deployment: name(params.deployment),
        model: name(params.model),
        range,
        from_ms,
        to_ms,
        split: panel_list(params.split)?,
        by_model: panel_list(params.by_model)?,
        panels: panel_list(params.panels)?,
        scoped: false,
    })
}

/// Panel keys, comma-separated, as a sorted list without repeats.
pub fn panel_list(keys: Option<&str>) -> Result<Vec<PanelId>, UnknownRange> {
    let mut panels = Vec::new();
    for key in keys.unwrap_or("").split(',').map(str::trim) {
        if key.is_empty() {
            continue;
        }
        let panel = PanelId::from_key(key).ok_or_else(|| UnknownRange::Panel(key.into()))?;
        panels.push(panel);
    }
    panels.sort();
    panels.dedup();
    Ok(panels)
}

/// Panel keys joined with commas.
pub fn panel_keys(panels: &[PanelId]) -> String {
    let keys: Vec<&str> = panels.iter().map(|panel| panel.key()).collect();
    keys.join(",")
}

/// The query string (with its leading `?`) that reproduces `filter`.
pub fn filter_query(filter: &Filter) -> String {
    let mut query = String::from("?");
    let mut push = |key: &str, value: &str| {
        if query.len() > 1 {
            query.push('&');
        }
        query.push_str(key);
        query.push('=');
        encode_into(value, &mut query);
    };
    if let Some(environment) = &filter.environment {
        push("environment", environment);
    }
    if let Some(deployment) = &filter.deployment {
        push("deployment", deployment);
    }
    if let Some(model) = &filter.model {
        push("model", model);
    }
    match filter.absolute() {
        Some((from, to)) => {
            push("from", &from.to_string());
            push("to", &to.to_string());
        }
        None => push("range", filter.range.as_param()),
    }
    if !filter.split.is_empty() {
        push("split", &panel_keys(&filter.split));
    }
    if !filter.by_model.is_empty() {
        push("by_model", &panel_keys(&filter.by_model));
    }
    if !filter.panels.is_empty() {
        push("panels", &panel_keys(&filter.panels));
    }
    query
}

/// Parameters the page carries through filter changes without reading them into the filter:
/// embed mode, the fixed theme and a signed link's token.
pub const PAGE_PARAMS: [&str; 3] = ["embed", "theme", "token"];

/// `&key=value` for each of [`PAGE_PARAMS`] that `get` finds.
pub fn page_params<'a>(get: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::new();
    for key in PAGE_PARAMS {
        if let Some(value) = get(key) {
            out.push('&');
            out.push_str(key);
            out.push('=');
            encode_into(value, &mut out);
        }
    }
    out
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode_into(value: &str, out: &mut String) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(byte >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(byte & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults() {
        let filter = parse_filter(&FilterParams {
            environment: Some("production"),
            deployment: Some(" "),
            range: Some("1h"),
            split: Some("cpu,inference_volume,cpu"),
            ..FilterParams::default()
        })
        .expect("valid");
        assert_eq!(filter.split, vec![PanelId::InferenceVolume, PanelId::Cpu]);
        assert_eq!(filter.environment.as_deref(), Some("production"));
        assert_eq!(filter.deployment, None);
        assert_eq!(filter.range, TimeRange::Last1h);
        assert_eq!(
            parse_filter(&FilterParams::default()).expect("valid").range,
            TimeRange::Last15m
        );
        assert_eq!(
            parse_filter(&FilterParams {
                range: Some("2d"),
                ..FilterParams::default()
            }),
            Err(UnknownRange::Range("2d".into()))
        );
        let absolute = parse_filter(&FilterParams {
            from: Some("1000"),
            to: Some("5000"),
            ..FilterParams::default()
        })
        .expect("valid");
        assert_eq!(absolute.absolute(), Some((1000, 5000)));
        // A filter that skipped the URL (a WebSocket subscribe) is held to the same bounds.
        let unbounded = Filter {
            from_ms: Some(0),
            to_ms: Some(i64::MAX),
            ..Filter::default()
        };
        assert_eq!(unbounded.absolute(), None);
        for (from, to) in [
            (Some("5"), Some("1")),
            (Some("x"), Some("1")),
            (Some("1"), None),
            (Some("-5"), Some("1")),
            (Some("1"), Some("9223372036854775807")),
        ] {
            assert_eq!(
                parse_filter(&FilterParams {
                    from,
                    to,
                    ..FilterParams::default()
                }),
                Err(UnknownRange::Absolute)
            );
        }
    }

    #[test]
    fn query_strings_encode_names() {
        let filter = Filter {
            environment: Some("prod eu".into()),
            deployment: Some("chat/llm&x".into()),
            range: TimeRange::Last5m,
            split: vec![PanelId::Cpu],
            ..Filter::default()
        };
        assert_eq!(
            filter_query(&filter),
            "?environment=prod%20eu&deployment=chat%2Fllm%26x&range=5m&split=cpu"
        );
        let absolute = Filter {
            from_ms: Some(1000),
            to_ms: Some(2000),
            ..Filter::default()
        };
        assert_eq!(filter_query(&absolute), "?from=1000&to=2000");
        assert_eq!(filter_query(&Filter::default()), "?range=15m");
    }

    #[test]
    fn a_model_and_panels_split_by_model_round_trip() {
        let filter = parse_filter(&FilterParams {
            model: Some(" meta-llama/Llama-3.1-8B "),
            by_model: Some("token_throughput,response_time"),
            split: Some("response_time"),
            ..FilterParams::default()
        })
        .expect("valid");
        assert_eq!(filter.model.as_deref(), Some("meta-llama/Llama-3.1-8B"));
        assert_eq!(
            filter.by_model,
            vec![PanelId::ResponseTime, PanelId::TokenThroughput]
        );
        // A panel split both ways is split by model.
        assert!(filter.splits_by_model(PanelId::ResponseTime));
        assert!(!filter.splits(PanelId::ResponseTime));
        let query = filter_query(&filter);
        assert_eq!(
            query,
            "?model=meta-llama%2FLlama-3.1-8B&range=15m&split=response_time&by_model=response_time%2Ctoken_throughput"
        );
        let again = parse_filter(&FilterParams {
            model: Some("meta-llama/Llama-3.1-8B"),
            split: Some("response_time"),
            by_model: Some("response_time,token_throughput"),
            ..FilterParams::default()
        })
        .expect("valid");
        assert_eq!(again, filter);
    }

    #[test]
    fn page_parameters_are_carried_encoded() {
        let params = |key: &str| match key {
            "embed" => Some("1"),
            "token" => Some("v1.ab_c-d.e"),
            _ => None,
        };
        assert_eq!(page_params(params), "&embed=1&token=v1.ab_c-d.e");
        assert_eq!(
            page_params(|_| Some("a&b")),
            "&embed=a%26b&theme=a%26b&token=a%26b"
        );
    }

    #[test]
    fn panels_round_trip_and_unknown_panels_are_refused() {
        let filter = parse_filter(&FilterParams {
            deployment: Some("chat"),
            panels: Some("replicas, inference_volume,replicas"),
            ..FilterParams::default()
        })
        .expect("valid");
        assert_eq!(
            filter.panels,
            vec![PanelId::InferenceVolume, PanelId::Replicas]
        );
        assert!(filter.shows(PanelId::Replicas) && !filter.shows(PanelId::Cpu));
        assert!(Filter::default().shows(PanelId::Cpu));
        assert_eq!(
            filter_query(&filter),
            "?deployment=chat&range=15m&panels=inference_volume,replicas".replace(',', "%2C")
        );
        assert_eq!(
            parse_filter(&FilterParams {
                panels: Some("gpu_usage,gpu"),
                ..FilterParams::default()
            }),
            Err(UnknownRange::Panel("gpu".into()))
        );
    }
}
