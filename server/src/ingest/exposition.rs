//! Parser for the Prometheus text exposition format (version 0.0.4).
//!
//! It borrows from the input: a [`Sample`] holds slices of the page, and its labels are kept as
//! the raw text between the braces (validated once) and unescaped only when read, so parsing a
//! page allocates nothing per sample.

use std::borrow::Cow;

use thiserror::Error;

/// The type a `# TYPE` line declares for a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// A monotonically increasing count.
    Counter,
    /// A value that can go up and down.
    Gauge,
    /// Cumulative buckets (`_bucket{le}`), `_sum` and `_count`.
    Histogram,
    /// Client-side quantiles, `_sum` and `_count`.
    Summary,
    /// No type given.
    Untyped,
}

impl MetricType {
    fn parse(word: &str) -> Option<MetricType> {
        match word {
            "counter" => Some(MetricType::Counter),
            "gauge" => Some(MetricType::Gauge),
            "histogram" => Some(MetricType::Histogram),
            "summary" => Some(MetricType::Summary),
            "untyped" | "unknown" => Some(MetricType::Untyped),
            _ => None,
        }
    }
}

/// One line of meaning in an exposition page.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<'a> {
    /// `# TYPE family type`.
    Type {
        /// Family name.
        family: &'a str,
        /// Declared type.
        metric_type: MetricType,
    },
    /// A sample line.
    Sample(Sample<'a>),
}

/// One sample: a series name, its labels, a value and an optional timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample<'a> {
    /// Series name (for histograms, with its `_bucket` / `_sum` / `_count` suffix).
    pub name: &'a str,
    /// Labels, still escaped.
    pub labels: Labels<'a>,
    /// The value (may be NaN or ±Inf).
    pub value: f64,
    /// Milliseconds since the Unix epoch, when the exporter gave one.
    pub timestamp_ms: Option<i64>,
}

/// The labels of a sample: the validated text between `{` and `}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Labels<'a> {
    raw: &'a str,
}

impl<'a> Labels<'a> {
    /// The raw, still escaped text between the braces; identical label sets give identical
    /// text when an exporter prints them in a stable order (as exporters do).
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Iterates over `(name, value)` pairs, unescaping values (borrowed when nothing is escaped).
    pub fn iter(&self) -> LabelIter<'a> {
        LabelIter { rest: self.raw }
    }

    /// The value of the label `name`, if present.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.iter()
            .find(|(label, _)| *label == name)
            .map(|(_, value)| value)
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.raw.trim().is_empty()
    }
}

/// Iterator over validated labels.
#[derive(Clone, Debug)]
pub struct LabelIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        // The text was validated by `scan_labels`, so this walk cannot fail; it stops quietly
        // if it ever meets something unexpected.
        let rest = self.rest.trim_start_matches([' ', '\t', ',']);
        let eq = rest.find('=')?;
        let name = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let body = after.strip_prefix('"')?;
        let end = closing_quote(body)?;
        let escaped = &body[..end];
        self.rest = &body[end + 1..];
        Some((name, unescape(escaped)))
    }
}

/// A page that does not follow the format, with the line where it went wrong.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

/// What was wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ParseErrorKind {
    /// A metric or label name with characters the format does not allow.
    #[error("invalid name {0:?}")]
    InvalidName(String),
    /// Label text that does not parse.
    #[error("malformed labels: {0}")]
    MalformedLabels(&'static str),
    /// A value that is not a number.
    #[error("invalid value {0:?}")]
    InvalidValue(String),
    /// A timestamp that is not an integer.
    #[error("invalid timestamp {0:?}")]
    InvalidTimestamp(String),
    /// A `# TYPE` line naming an unknown type.
    #[error("unknown metric type {0:?}")]
    UnknownType(String),
    /// A `# TYPE` line without a family or type.
    #[error("incomplete TYPE line")]
    IncompleteType,
    /// Text after the value and timestamp.
    #[error("unexpected text after the sample: {0:?}")]
    TrailingText(String),
    /// A sample line with a name but no value.
    #[error("missing value")]
    MissingValue,
}

/// Iterates over the events of a page; stops after the first error.
#[derive(Clone, Debug)]
pub struct Parser<'a> {
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
    failed: bool,
}

impl<'a> Parser<'a> {
    /// Starts parsing `text`.
    pub fn new(text: &'a str) -> Parser<'a> {
        Parser {
            lines: text.lines().enumerate(),
            failed: false,
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Event<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        for (index, line) in self.lines.by_ref() {
            let result = match parse_line(line) {
                Ok(Some(event)) => Ok(event),
                Ok(None) => continue,
                Err(kind) => Err(ParseError {
                    line: index + 1,
                    kind,
                }),
            };
            self.failed = result.is_err();
            return Some(result);
        }
        None
    }
}

fn parse_line(line: &str) -> Result<Option<Event<'_>>, ParseErrorKind> {
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() {
        return Ok(None);
    }
    if let Some(comment) = line.strip_prefix('#') {
        return parse_comment(comment);
    }
    parse_sample(line).map(|sample| Some(Event::Sample(sample)))
}

fn parse_comment(comment: &str) -> Result<Option<Event<'_>>, ParseErrorKind> {
    let mut words = comment.split_ascii_whitespace();
    if words.next() != Some("TYPE") {
        // HELP lines and free comments carry nothing the dashboard uses.
        return Ok(None);
    }
    let family = words.next().ok_or(ParseErrorKind::IncompleteType)?;
    let type_word = words.next().ok_or(ParseErrorKind::IncompleteType)?;
    if !is_metric_name(family) {
        return Err(ParseErrorKind::InvalidName(family.to_owned()));
    }
    let metric_type = MetricType::parse(type_word)
        .ok_or_else(|| ParseErrorKind::UnknownType(type_word.to_owned()))?;
    Ok(Some(Event::Type {
        family,
        metric_type,
    }))
}

fn parse_sample(line: &str) -> Result<Sample<'_>, ParseErrorKind> {
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(ParseErrorKind::InvalidName(name.to_owned()));
    }
    let mut rest = &line[name_end..];
    let mut labels = Labels::default();
    if let Some(after_brace) = rest.strip_prefix('{') {
        let close = scan_labels(after_brace)?;
        labels = Labels {
            raw: &after_brace[..close],
        };
        rest = &after_brace[close + 1..];
    }
    let mut fields = rest.split_ascii_whitespace();
    let value_text = fields.next().ok_or(ParseErrorKind::MissingValue)?;
    let value =
        parse_value(value_text).ok_or_else(|| ParseErrorKind::InvalidValue(value_text.into()))?;
    let timestamp_ms = match fields.next() {
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| ParseErrorKind::InvalidTimestamp(text.into()))?,
        ),
        None => None,
    };
    if let Some(extra) = fields.next() {
        return Err(ParseErrorKind::TrailingText(extra.into()));
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// Parses a sample value: a float, or `NaN`, `+Inf`, `-Inf` (any case, as Prometheus accepts).
pub fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => {
            // Rust also accepts words such as "infinity"; the format does not.
            if text
                .bytes()
                .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
            {
                return None;
            }
            text.parse::<f64>().ok()
        }
    }
}

/// Validates the label text that starts after `{`; returns the index of the closing `}`.
fn scan_labels(text: &str) -> Result<usize, ParseErrorKind> {
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if i >= bytes.len() {
            return Err(ParseErrorKind::MalformedLabels("no closing brace"));
        }
        if bytes[i] == b'}' {
            return Ok(i);
        }
        let name_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i == name_start || bytes[name_start].is_ascii_digit() {
            return Err(ParseErrorKind::MalformedLabels("invalid label name"));
        }
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            return Err(ParseErrorKind::MalformedLabels(
                "expected '=' after label name",
            ));
        }
        i += 1;
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'"' {
            return Err(ParseErrorKind::MalformedLabels(
                "label value must be quoted",
            ));
        }
        i += 1;
        let close = closing_quote(&text[i..])
            .ok_or(ParseErrorKind::MalformedLabels("unterminated label value"))?;
        i += close + 1;
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i),
            _ => return Err(ParseErrorKind::MalformedLabels("expected ',' or '}'")),
        }
    }
}

/// Index of the quote that ends a label value (skipping backslash escapes).
fn closing_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

fn unescape(escaped: &str) -> Cow<'_, str> {
    if !escaped.contains('\\') {
        return Cow::Borrowed(escaped);
    }
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// True for names matching `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(first) if first.is_ascii_alphabetic() || first == b'_' || first == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(text: &str) -> Vec<Sample<'_>> {
        Parser::new(text)
            .filter_map(|event| match event {
                Ok(Event::Sample(sample)) => Some(sample),
                Ok(_) => None,
                Err(error) => panic!("unexpected parse error: {error}"),
            })
            .collect()
    }

    #[test]
    fn parses_names_labels_values_and_timestamps() {
        let page = "# HELP x_total Some help\n# TYPE x_total counter\n\
                    x_total{code=\"200\",path=\"/a\"} 12 1700000000000\n\
                    vllm:num_requests_running 3.5\n";
        let parsed = samples(page);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].name, "x_total");
        assert_eq!(parsed[0].labels.get("code").as_deref(), Some("200"));
        assert_eq!(parsed[0].labels.get("path").as_deref(), Some("/a"));
        assert_eq!(parsed[0].value, 12.0);
        assert_eq!(parsed[0].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(parsed[1].name, "vllm:num_requests_running");
        assert!(parsed[1].labels.is_empty());
        assert_eq!(parsed[1].value, 3.5);
    }

    #[test]
    fn unescapes_label_values_only_when_read() {
        let page = "m{a=\"x\\\"y\\\\z\\nw\",b=\"plain, with } brace\"} 1\n";
        let parsed = samples(page);
        assert_eq!(parsed[0].labels.get("a").as_deref(), Some("x\"y\\z\nw"));
        assert_eq!(
            parsed[0].labels.get("b").as_deref(),
            Some("plain, with } brace")
        );
        assert!(matches!(parsed[0].labels.get("b"), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn accepts_special_values() {
        let page = "a NaN\nb +Inf\nc -Inf\nd 1.5e3\n";
        let values: Vec<f64> = samples(page).iter().map(|s| s.value).collect();
        assert!(values[0].is_nan());
        assert_eq!(values[1], f64::INFINITY);
        assert_eq!(values[2], f64::NEG_INFINITY);
        assert_eq!(values[3], 1500.0);
    }

    #[test]
    fn reports_the_line_of_the_first_error() {
        let page = "ok 1\n# TYPE x bogus\n";
        let errors: Vec<ParseError> = Parser::new(page).filter_map(Result::err).collect();
        assert_eq!(
            errors,
            vec![ParseError {
                line: 2,
                kind: ParseErrorKind::UnknownType("bogus".into())
            }]
        );
        for (page, expected_line) in [
            ("a{b=\"c\" 1\n", 1),
            ("\n\na 1 2 3\n", 3),
            ("a infinity\n", 1),
            ("9a 1\n", 1),
            ("a{b=c} 1\n", 1),
            ("a\n", 1),
        ] {
            let error = Parser::new(page)
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("{page:?} should not parse"));
            assert_eq!(error.line, expected_line, "{page:?}: {error}");
        }
    }
}
