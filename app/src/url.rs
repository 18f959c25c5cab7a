//! The view's filter in the URL query: `?environment=…&deployment=…&range=5m|15m|1h`.
//! The page, the HTTP API and links all use these two functions, so a link reproduces a view.

use thiserror::Error;

use crate::wire::{Filter, TimeRange};

/// Raw query parameters, as found in a URL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterParams<'a> {
    /// `environment`.
    pub environment: Option<&'a str>,
    /// `deployment`.
    pub deployment: Option<&'a str>,
    /// `range`.
    pub range: Option<&'a str>,
}

/// A query parameter with a value the server does not know.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown range {0:?}: use 5m, 15m or 1h")]
pub struct UnknownRange(pub String);

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
        Some(text) => TimeRange::from_param(text).ok_or_else(|| UnknownRange(text.into()))?,
    };
    Ok(Filter {
        environment: name(params.environment),
        deployment: name(params.deployment),
        range,
    })
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
    push("range", filter.range.as_param());
    query
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
        })
        .expect("valid");
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
            Err(UnknownRange("2d".into()))
        );
    }

    #[test]
    fn query_strings_encode_names() {
        let filter = Filter {
            environment: Some("prod eu".into()),
            deployment: Some("chat/llm&x".into()),
            range: TimeRange::Last5m,
        };
        assert_eq!(
            filter_query(&filter),
            "?environment=prod%20eu&deployment=chat%2Fllm%26x&range=5m"
        );
        assert_eq!(filter_query(&Filter::default()), "?range=15m");
    }
}
