//! Parser for the Prometheus text format (0.0.4) and OpenMetrics 1.0 text.
//!
//! Written for speed: lines are found with `memchr`, names checked against a byte table, values
//! take an integer fast path, and nothing is allocated per sample. A [`Sample`] borrows from the
//! page; its labels are kept as the raw text between the braces (validated once) and unescaped
//! only when read.
//!
//! The Prometheus format is read leniently, as Prometheus does (spaces and tabs between tokens,
//! any comment, no end marker). OpenMetrics is read strictly and checked as a whole by
//! [`super::openmetrics::Checker`]: metadata placement, family grouping, type-specific sample
//! rules, histogram bucket rules, exemplars and the final `# EOF`.

use std::borrow::Cow;

use thiserror::Error;

use super::openmetrics::Checker;

/// Which text format a page is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain`).
    Prometheus,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// The format a scrape response's `Content-Type` announces (Prometheus text when absent or
    /// unknown, as Prometheus does).
    pub fn from_content_type(content_type: Option<&str>) -> Format {
        match content_type {
            Some(value)
                if value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/openmetrics-text") =>
            {
                Format::OpenMetrics
            }
            _ => Format::Prometheus,
        }
    }
}

/// The type a `# TYPE` line declares for a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// A monotonically increasing count (`_total`, `_created`).
    Counter,
    /// A value that can go up and down.
    Gauge,
    /// Cumulative buckets (`_bucket{le}`), `_sum`, `_count`, `_created`.
    Histogram,
    /// A histogram of a current state (`_bucket{le}`, `_gsum`, `_gcount`).
    GaugeHistogram,
    /// Client-side quantiles, `_sum`, `_count`, `_created`.
    Summary,
    /// A set of boolean states, one label named like the family.
    StateSet,
    /// Constant information (`_info`, value 1).
    Info,
    /// No type given (`untyped` in the Prometheus format, `unknown` in OpenMetrics).
    Unknown,
}

impl MetricType {
    fn parse(word: &str, format: Format) -> Option<MetricType> {
        match word {
            "counter" => Some(MetricType::Counter),
            "gauge" => Some(MetricType::Gauge),
            "histogram" => Some(MetricType::Histogram),
            "summary" => Some(MetricType::Summary),
            "unknown" => Some(MetricType::Unknown),
            "gaugehistogram" => Some(MetricType::GaugeHistogram),
            "stateset" => Some(MetricType::StateSet),
            "info" => Some(MetricType::Info),
            "untyped" if format == Format::Prometheus => Some(MetricType::Unknown),
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
    /// `# HELP family text` (text still escaped).
    Help {
        /// Family name.
        family: &'a str,
        /// The help text, escaped as on the page.
        text: &'a str,
    },
    /// `# UNIT family unit` (OpenMetrics).
    Unit {
        /// Family name.
        family: &'a str,
        /// The unit (may be empty).
        unit: &'a str,
    },
    /// A sample line.
    Sample(Sample<'a>),
}

/// One sample: a series name, its labels, a value, an optional timestamp and exemplar.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample<'a> {
    /// Series name (for histograms, with its `_bucket` / `_sum` / `_count` suffix).
    pub name: &'a str,
    /// Labels, still escaped.
    pub labels: Labels<'a>,
    /// The value (may be NaN or ±Inf).
    pub value: f64,
    /// Milliseconds since the Unix epoch, when the exporter gave one (OpenMetrics gives seconds;
    /// they are converted).
    pub timestamp_ms: Option<i64>,
    /// The exemplar, when the line carries one (OpenMetrics). Boxed: rare, and it would
    /// double the size of every sample moved through the parser.
    pub exemplar: Option<Box<Exemplar<'a>>>,
}

/// An exemplar: a trace of one observation that landed in a bucket or counter.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar<'a> {
    /// Its labels (a trace id, typically).
    pub labels: Labels<'a>,
    /// The observed value.
    pub value: f64,
    /// When it was observed, milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

/// The labels of a sample: the validated text between `{` and `}`, with what the parser
/// learned while validating it (how many labels, the longest value) for limit checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Labels<'a> {
    raw: &'a str,
    count: u32,
    longest_value: u32,
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
        self.count == 0
    }

    /// How many labels there are.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Length in bytes (as written, escapes included) of the longest label value.
    pub fn longest_value(&self) -> usize {
        self.longest_value as usize
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
        // The text was validated when the line was parsed, so this walk cannot fail; it stops
        // quietly if it ever meets something unexpected.
        let rest = self.rest.trim_start_matches([' ', '\t', ',']);
        let eq = rest.find('=')?;
        let name = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let body = after.strip_prefix('"')?;
        let end = closing_quote(body.as_bytes())?;
        let escaped = &body[..end];
        self.rest = &body[end + 1..];
        Some((name, unescape(escaped)))
    }
}

/// A page that does not follow the format, with the line where it went wrong.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line number (the line after the last one for problems found at the end).
    pub line: usize,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

/// What was wrong with a line or a page.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ParseErrorKind {
    /// A metric or label name with characters the format does not allow.
    #[error("invalid name {0:?}")]
    InvalidName(String),
    /// Label text that does not parse.
    #[error("malformed labels: {0}")]
    MalformedLabels(&'static str),
    /// The same label twice on one sample.
    #[error("duplicate label {0:?}")]
    DuplicateLabel(String),
    /// A value that is not a number.
    #[error("invalid value {0:?}")]
    InvalidValue(String),
    /// A timestamp that is not a number (or not finite).
    #[error("invalid timestamp {0:?}")]
    InvalidTimestamp(String),
    /// A `# TYPE` line naming an unknown type.
    #[error("unknown metric type {0:?}")]
    UnknownType(String),
    /// A comment line that is not well-formed metadata (OpenMetrics allows no other comments).
    #[error("malformed metadata line")]
    MalformedMetadata,
    /// Text after the value, timestamp and exemplar.
    #[error("unexpected text after the sample: {0:?}")]
    TrailingText(String),
    /// A sample line with a name but no value.
    #[error("missing value")]
    MissingValue,
    /// An exemplar that does not parse.
    #[error("malformed exemplar: {0}")]
    MalformedExemplar(&'static str),
    /// An empty line (not allowed in OpenMetrics).
    #[error("blank line")]
    BlankLine,
    /// Text after `# EOF`.
    #[error("text after # EOF")]
    AfterEof,
    /// The page does not end with `# EOF` (OpenMetrics).
    #[error("missing # EOF at the end")]
    MissingEof,
    /// A rule of OpenMetrics about families, groups or values is broken.
    #[error("{0}")]
    Rule(String),
}

impl ParseErrorKind {
    /// The problem without any text of the page: what the targets page and the API show to
    /// viewers (an exporter's body, or a page that is not an exporter's, may hold anything).
    /// The full message goes to the server log.
    pub fn without_page_text(&self) -> String {
        let what = match self {
            ParseErrorKind::InvalidName(_) => "invalid name",
            ParseErrorKind::DuplicateLabel(_) => "duplicate label",
            ParseErrorKind::InvalidValue(_) => "invalid value",
            ParseErrorKind::InvalidTimestamp(_) => "invalid timestamp",
            ParseErrorKind::UnknownType(_) => "unknown metric type",
            ParseErrorKind::TrailingText(_) => "unexpected text after the sample",
            ParseErrorKind::Rule(_) => "breaks a rule of OpenMetrics",
            other => return other.to_string(),
        };
        format!("{what} (the server log quotes it)")
    }
}

/// Iterates over the events of a page; stops after the first error.
#[derive(Debug)]
pub struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    format: Format,
    finished: bool,
    eof: bool,
    checker: Option<Checker>,
}

impl<'a> Parser<'a> {
    /// Starts parsing `text` in the Prometheus text format.
    pub fn new(text: &'a str) -> Parser<'a> {
        Parser::with_format(text, Format::Prometheus)
    }

    /// Starts parsing `text` in the given format.
    pub fn with_format(text: &'a str, format: Format) -> Parser<'a> {
        Parser {
            text,
            pos: 0,
            line: 0,
            format,
            finished: false,
            eof: false,
            checker: (format == Format::OpenMetrics).then(Checker::new),
        }
    }

    /// The 1-based number of the line last read.
    pub fn line(&self) -> usize {
        self.line
    }

    fn fail(&mut self, kind: ParseErrorKind) -> Option<Result<Event<'a>, ParseError>> {
        self.finished = true;
        Some(Err(ParseError {
            line: self.line,
            kind,
        }))
    }

    /// Called when the text is exhausted.
    fn finish(&mut self) -> Option<Result<Event<'a>, ParseError>> {
        self.finished = true;
        if let Some(checker) = self.checker.as_mut() {
            if let Err(kind) = checker.finish() {
                return self.fail(kind);
            }
            if !self.eof {
                self.line += 1;
                return self.fail(ParseErrorKind::MissingEof);
            }
        }
        None
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Event<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        loop {
            if self.pos >= self.text.len() {
                return self.finish();
            }
            let bytes = &self.text.as_bytes()[self.pos..];
            let (end, next) = match memchr::memchr(b'\n', bytes) {
                Some(index) => (self.pos + index, self.pos + index + 1),
                None => (self.text.len(), self.text.len()),
            };
            let line = &self.text[self.pos..end];
            self.pos = next;
            self.line += 1;
            let parsed = match self.format {
                Format::Prometheus => prometheus_line(line),
                Format::OpenMetrics => {
                    if self.eof {
                        return self.fail(ParseErrorKind::AfterEof);
                    }
                    if line == "# EOF" {
                        self.eof = true;
                        continue;
                    }
                    openmetrics_line(line)
                }
            };
            match parsed {
                Ok(None) => continue,
                Ok(Some(event)) => {
                    if let Some(checker) = self.checker.as_mut()
                        && let Err(kind) = checker.check(&event)
                    {
                        return self.fail(kind);
                    }
                    return Some(Ok(event));
                }
                Err(kind) => return self.fail(kind),
            }
        }
    }
}

/// Bytes allowed in metric names (`[a-zA-Z0-9_:]`; not a digit first).
static NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || b == b'_' || b == b':';
        byte += 1;
    }
    table
};

/// Bytes allowed in label names (`[a-zA-Z0-9_]`; not a digit first).
static LABEL_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || b == b'_';
        byte += 1;
    }
    table
};

/// True for names matching `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && !bytes[0].is_ascii_digit()
        && bytes.iter().fold(true, |ok, b| ok & is_name_byte(*b))
}

/// True for names matching `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty() && !bytes[0].is_ascii_digit() && bytes.iter().all(|b| LABEL_BYTE[*b as usize])
}

/// `[a-zA-Z0-9_:]`, written with comparisons so that checking a whole name vectorises.
#[inline]
fn is_name_byte(b: u8) -> bool {
    (b | 0x20).wrapping_sub(b'a') < 26 || b.wrapping_sub(b'0') < 10 || b == b'_' || b == b':'
}

/// Length of the metric name at the start of a sample line: up to the first blank or `{`
/// (found with a vectorised search), provided every byte before it may be in a name; otherwise
/// up to the first byte that may not.
fn name_end(bytes: &[u8]) -> usize {
    let end = memchr::memchr3(b' ', b'{', b'\t', bytes).unwrap_or(bytes.len());
    let candidate = &bytes[..end];
    // No early exit: the fold vectorises, and names are almost always valid.
    if candidate.iter().fold(true, |ok, b| ok & is_name_byte(*b)) {
        return end;
    }
    candidate
        .iter()
        .position(|b| !NAME_BYTE[*b as usize])
        .unwrap_or(end)
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn prometheus_line(line: &str) -> Result<Option<Event<'_>>, ParseErrorKind> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = &line[skip_blanks(line.as_bytes(), 0)..];
    if line.is_empty() {
        return Ok(None);
    }
    if let Some(comment) = line.strip_prefix('#') {
        return prometheus_comment(comment);
    }
    prometheus_sample(line).map(|sample| Some(Event::Sample(sample)))
}

/// Index of the first byte at or after `from` that is not a blank.
fn skip_blanks(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() && is_blank(bytes[i]) {
        i += 1;
    }
    i
}

/// Index of the first blank at or after `from` (or the end).
fn next_blank(bytes: &[u8], from: usize) -> usize {
    memchr::memchr2(b' ', b'\t', &bytes[from..]).map_or(bytes.len(), |offset| from + offset)
}

fn prometheus_comment(comment: &str) -> Result<Option<Event<'_>>, ParseErrorKind> {
    let bytes = comment.as_bytes();
    let keyword_start = skip_blanks(bytes, 0);
    let keyword_end = next_blank(bytes, keyword_start);
    let is_type = match &bytes[keyword_start..keyword_end] {
        b"TYPE" => true,
        b"HELP" => false,
        // Free comments carry nothing.
        _ => return Ok(None),
    };
    let family_start = skip_blanks(bytes, keyword_end);
    let family_end = next_blank(bytes, family_start);
    let family = &comment[family_start..family_end];
    if family.is_empty() {
        return Err(ParseErrorKind::MalformedMetadata);
    }
    if !is_metric_name(family) {
        return Err(ParseErrorKind::InvalidName(family.to_owned()));
    }
    let tail_start = (family_end + 1).min(comment.len());
    if !is_type {
        return Ok(Some(Event::Help {
            family,
            text: &comment[tail_start..],
        }));
    }
    let word = comment[tail_start..].trim_matches([' ', '\t']);
    if word.is_empty() {
        return Err(ParseErrorKind::MalformedMetadata);
    }
    let metric_type = MetricType::parse(word, Format::Prometheus)
        .ok_or_else(|| ParseErrorKind::UnknownType(word.to_owned()))?;
    Ok(Some(Event::Type {
        family,
        metric_type,
    }))
}

fn prometheus_sample(line: &str) -> Result<Sample<'_>, ParseErrorKind> {
    let bytes = line.as_bytes();
    let end = name_end(bytes);
    let name = &line[..end];
    if end == 0 || bytes[0].is_ascii_digit() {
        let token = line.split([' ', '\t', '{']).next().unwrap_or(line);
        return Err(ParseErrorKind::InvalidName(token.to_owned()));
    }
    let mut pos = end;
    while bytes.get(pos).is_some_and(|b| is_blank(*b)) {
        pos += 1;
    }
    let mut labels = Labels::default();
    if bytes.get(pos) == Some(&b'{') {
        let scanned = scan_labels(&bytes[pos + 1..], false)?;
        labels = labels_at(line, pos, &scanned);
        pos += scanned.close + 2;
    } else if pos == end && bytes.get(pos).is_some_and(|b| !is_blank(*b)) {
        let token = line.split([' ', '\t']).next().unwrap_or(line);
        return Err(ParseErrorKind::InvalidName(token.to_owned()));
    }
    let rest = &line[pos..];
    let (value_text, rest) = next_field(rest).ok_or(ParseErrorKind::MissingValue)?;
    let value =
        parse_value(value_text).ok_or_else(|| ParseErrorKind::InvalidValue(value_text.into()))?;
    let timestamp_ms = match next_field(rest) {
        None => None,
        Some((text, rest)) => {
            if let Some((extra, _)) = next_field(rest) {
                return Err(ParseErrorKind::TrailingText(extra.into()));
            }
            Some(
                text.parse::<i64>()
                    .map_err(|_| ParseErrorKind::InvalidTimestamp(text.into()))?,
            )
        }
    };
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
        exemplar: None,
    })
}

/// The next blank-separated field of `text` and what follows it.
fn next_field(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let start = skip_blanks(bytes, 0);
    if start == bytes.len() {
        return None;
    }
    let mut end = start;
    while end < bytes.len() && !is_blank(bytes[end]) {
        end += 1;
    }
    Some((&text[start..end], &text[end..]))
}

fn openmetrics_line(line: &str) -> Result<Option<Event<'_>>, ParseErrorKind> {
    if line.is_empty() {
        return Err(ParseErrorKind::BlankLine);
    }
    if line.starts_with('#') {
        return openmetrics_metadata(line).map(Some);
    }
    openmetrics_sample(line).map(|sample| Some(Event::Sample(sample)))
}

fn openmetrics_metadata(line: &str) -> Result<Event<'_>, ParseErrorKind> {
    // `# KEYWORD name text`: exactly single spaces, four parts (the text may be empty).
    let mut parts = line.splitn(4, ' ');
    let (Some("#"), Some(keyword), Some(family), Some(text)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseErrorKind::MalformedMetadata);
    };
    if !is_metric_name(family) {
        return Err(ParseErrorKind::InvalidName(family.to_owned()));
    }
    match keyword {
        "HELP" => Ok(Event::Help { family, text }),
        "UNIT" => Ok(Event::Unit { family, unit: text }),
        "TYPE" => {
            let metric_type = MetricType::parse(text, Format::OpenMetrics)
                .ok_or_else(|| ParseErrorKind::UnknownType(text.to_owned()))?;
            Ok(Event::Type {
                family,
                metric_type,
            })
        }
        _ => Err(ParseErrorKind::MalformedMetadata),
    }
}

fn openmetrics_sample(line: &str) -> Result<Sample<'_>, ParseErrorKind> {
    let bytes = line.as_bytes();
    let end = name_end(bytes);
    let name = &line[..end];
    if end == 0 || bytes[0].is_ascii_digit() {
        let token = line.split([' ', '{']).next().unwrap_or(line);
        return Err(ParseErrorKind::InvalidName(token.to_owned()));
    }
    let mut pos = end;
    let mut labels = Labels::default();
    if bytes.get(pos) == Some(&b'{') {
        let scanned = scan_labels(&bytes[pos + 1..], true)?;
        labels = labels_at(line, pos, &scanned);
        pos += scanned.close + 2;
    }
    match bytes.get(pos) {
        Some(b' ') => pos += 1,
        None => return Err(ParseErrorKind::MissingValue),
        Some(_) => {
            let token = line.split(' ').next().unwrap_or(line);
            return Err(ParseErrorKind::InvalidName(token.to_owned()));
        }
    }
    let rest = &line[pos..];
    let (value_text, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let value = parse_openmetrics_number(value_text)
        .ok_or_else(|| ParseErrorKind::InvalidValue(value_text.into()))?;
    let mut sample = Sample {
        name,
        labels,
        value,
        timestamp_ms: None,
        exemplar: None,
    };
    if rest.is_empty() {
        if line.len() > pos + value_text.len() {
            // `a 1 ` — a trailing space.
            return Err(ParseErrorKind::TrailingText(" ".into()));
        }
        return Ok(sample);
    }
    let exemplar_text = if let Some(exemplar) = rest.strip_prefix("# ") {
        Some(exemplar)
    } else if rest == "#" {
        return Err(ParseErrorKind::MalformedExemplar("nothing after '#'"));
    } else {
        let (timestamp_text, after) = rest.split_once(' ').unwrap_or((rest, ""));
        sample.timestamp_ms = Some(parse_openmetrics_timestamp(timestamp_text)?);
        if rest.len() > timestamp_text.len() {
            match after.strip_prefix("# ") {
                Some(exemplar) => Some(exemplar),
                None => return Err(ParseErrorKind::TrailingText(after.into())),
            }
        } else {
            None
        }
    };
    if let Some(text) = exemplar_text {
        sample.exemplar = Some(Box::new(openmetrics_exemplar(text)?));
    }
    Ok(sample)
}

fn openmetrics_exemplar(text: &str) -> Result<Exemplar<'_>, ParseErrorKind> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'{') {
        return Err(ParseErrorKind::MalformedExemplar("labels must follow '# '"));
    }
    let scanned = scan_labels(&bytes[1..], true)?;
    let labels = labels_at(text, 0, &scanned);
    let rest =
        text[scanned.close + 2..]
            .strip_prefix(' ')
            .ok_or(ParseErrorKind::MalformedExemplar(
                "a space must follow the labels",
            ))?;
    let (value_text, timestamp_text) = rest.split_once(' ').unwrap_or((rest, ""));
    let value = parse_openmetrics_number(value_text)
        .ok_or(ParseErrorKind::MalformedExemplar("invalid value"))?;
    let timestamp_ms = if rest.len() > value_text.len() {
        Some(parse_openmetrics_timestamp(timestamp_text)?)
    } else {
        None
    };
    let length: usize = labels
        .iter()
        .map(|(name, value)| name.chars().count() + value.chars().count())
        .sum();
    if length > 128 {
        return Err(ParseErrorKind::MalformedExemplar(
            "labels longer than 128 characters",
        ));
    }
    Ok(Exemplar {
        labels,
        value,
        timestamp_ms,
    })
}

/// A number in OpenMetrics: decimal integer or float, `NaN`, `+Inf`, `-Inf` (any case), no
/// spaces, underscores or other bases.
fn parse_openmetrics_number(text: &str) -> Option<f64> {
    if text.is_empty()
        || text
            .bytes()
            .any(|b| b == b'_' || b == b' ' || b == b'\t' || b == b'x' || b == b'X')
    {
        return None;
    }
    if let Some(value) = parse_integer(text) {
        return Some(value);
    }
    text.parse::<f64>().ok()
}

fn parse_openmetrics_timestamp(text: &str) -> Result<i64, ParseErrorKind> {
    parse_openmetrics_number(text)
        .filter(|seconds| seconds.is_finite())
        // Seconds to milliseconds; absurd values saturate rather than wrap.
        .map(|seconds| (seconds * 1000.0) as i64)
        .ok_or_else(|| ParseErrorKind::InvalidTimestamp(text.into()))
}

/// Up to 15 decimal digits with an optional sign, exactly representable: the common case.
fn parse_integer(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut value: i64 = 0;
    for digit in digits {
        let d = digit.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + i64::from(d);
    }
    let value = value as f64;
    Some(if negative { -value } else { value })
}

/// Parses a sample value in the Prometheus format as Prometheus does (Go's `ParseFloat`): a
/// decimal float, or `NaN`, `Inf`, `Infinity` with an optional sign, in any case.
pub fn parse_value(text: &str) -> Option<f64> {
    match parse_integer(text) {
        Some(value) => Some(value),
        None => text.parse::<f64>().ok(),
    }
}

/// What validating a label set found: where it ends, how many labels, the longest value.
struct Scanned {
    close: usize,
    count: u32,
    longest_value: u32,
}

fn labels_at<'a>(line: &'a str, open: usize, scanned: &Scanned) -> Labels<'a> {
    Labels {
        raw: &line[open + 1..open + 1 + scanned.close],
        count: scanned.count,
        longest_value: scanned.longest_value,
    }
}

/// Validates the label text that starts after `{`; finds the closing `}`.
/// `strict` is OpenMetrics: no blanks, no trailing comma.
fn scan_labels(bytes: &[u8], strict: bool) -> Result<Scanned, ParseErrorKind> {
    let mut i = 0;
    let mut longest_value = 0usize;
    // A one-word filter of the names seen so far on this line; only when it says "maybe"
    // are the earlier names compared for a duplicate.
    let mut seen_names: u64 = 0;
    let mut count = 0usize;
    let skip_blanks = |i: &mut usize| {
        if !strict {
            while *i < bytes.len() && is_blank(bytes[*i]) {
                *i += 1;
            }
        }
    };
    loop {
        skip_blanks(&mut i);
        match bytes.get(i) {
            None => return Err(ParseErrorKind::MalformedLabels("no closing brace")),
            Some(b'}') if !strict || count == 0 => {
                return Ok(Scanned {
                    close: i,
                    count: count as u32,
                    longest_value: longest_value as u32,
                });
            }
            Some(_) => {}
        }
        let name_start = i;
        while i < bytes.len() && LABEL_BYTE[bytes[i] as usize] {
            i += 1;
        }
        if i == name_start || bytes[name_start].is_ascii_digit() {
            return Err(ParseErrorKind::MalformedLabels("invalid label name"));
        }
        let name = &bytes[name_start..i];
        // Duplicate names make a sample ambiguous.
        let bit = 1u64
            << ((name.len()
                ^ usize::from(name[0]).wrapping_mul(7)
                ^ usize::from(name[name.len() - 1]).wrapping_mul(13))
                & 63);
        if seen_names & bit != 0 && earlier_label_named(&bytes[..name_start], name) {
            return Err(ParseErrorKind::DuplicateLabel(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        seen_names |= bit;
        count += 1;
        skip_blanks(&mut i);
        if bytes.get(i) != Some(&b'=') {
            return Err(ParseErrorKind::MalformedLabels(
                "expected '=' after label name",
            ));
        }
        i += 1;
        skip_blanks(&mut i);
        if bytes.get(i) != Some(&b'"') {
            return Err(ParseErrorKind::MalformedLabels(
                "label value must be quoted",
            ));
        }
        i += 1;
        let close = closing_quote(&bytes[i..])
            .ok_or(ParseErrorKind::MalformedLabels("unterminated label value"))?;
        longest_value = longest_value.max(close);
        i += close + 1;
        skip_blanks(&mut i);
        match bytes.get(i) {
            Some(b',') => {
                i += 1;
                if strict && bytes.get(i) == Some(&b'}') {
                    return Err(ParseErrorKind::MalformedLabels("trailing comma"));
                }
            }
            Some(b'}') => {
                return Ok(Scanned {
                    close: i,
                    count: count as u32,
                    longest_value: longest_value as u32,
                });
            }
            _ => return Err(ParseErrorKind::MalformedLabels("expected ',' or '}'")),
        }
    }
}

/// Whether the (already validated) label text before a label has one named `name`.
fn earlier_label_named(before: &[u8], name: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(before) else {
        return false;
    };
    Labels {
        raw: text,
        count: 0,
        longest_value: 0,
    }
    .iter()
    .any(|(earlier, _)| earlier.as_bytes() == name)
}

/// Index of the quote that ends a label value (skipping backslash escapes). Label values are
/// short, so a plain loop beats setting up a vectorised search.
fn closing_quote(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Unescapes `\\`, `\"` and `\n`; other backslashes stay as written.
pub fn unescape(escaped: &str) -> Cow<'_, str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(text: &str, format: Format) -> Vec<Sample<'_>> {
        Parser::with_format(text, format)
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
                    vllm:num_requests_running 3.5\n\
                    spaced { a = \"1\" , b=\"2\", }\t7\r\n";
        let parsed = samples(page, Format::Prometheus);
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].name, "x_total");
        assert_eq!(parsed[0].labels.get("code").as_deref(), Some("200"));
        assert_eq!(parsed[0].labels.get("path").as_deref(), Some("/a"));
        assert_eq!(parsed[0].value, 12.0);
        assert_eq!(parsed[0].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(parsed[1].name, "vllm:num_requests_running");
        assert!(parsed[1].labels.is_empty());
        assert_eq!(parsed[1].value, 3.5);
        assert_eq!(parsed[2].labels.get("b").as_deref(), Some("2"));
        assert_eq!(parsed[2].value, 7.0);
    }

    #[test]
    fn unescapes_label_values_only_when_read() {
        let page = "m{a=\"x\\\"y\\\\z\\nw\",b=\"plain, with } brace\"} 1\n";
        let parsed = samples(page, Format::Prometheus);
        assert_eq!(parsed[0].labels.get("a").as_deref(), Some("x\"y\\z\nw"));
        assert_eq!(
            parsed[0].labels.get("b").as_deref(),
            Some("plain, with } brace")
        );
        assert!(matches!(parsed[0].labels.get("b"), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn accepts_special_values() {
        let page = "a NaN\nb +Inf\nc -Inf\nd 1.5e3\ne -12\n";
        let values: Vec<f64> = samples(page, Format::Prometheus)
            .iter()
            .map(|s| s.value)
            .collect();
        assert!(values[0].is_nan());
        assert_eq!(values[1], f64::INFINITY);
        assert_eq!(values[2], f64::NEG_INFINITY);
        assert_eq!(values[3], 1500.0);
        assert_eq!(values[4], -12.0);
    }

    #[test]
    fn openmetrics_timestamps_are_seconds_and_exemplars_are_read() {
        let page = "# TYPE a counter\n\
                    a_total{x=\"y\"} 3 1.5 # {trace_id=\"abc\"} 0.25 1.25\n\
                    # EOF\n";
        let parsed = samples(page, Format::OpenMetrics);
        assert_eq!(parsed[0].timestamp_ms, Some(1500));
        let exemplar = parsed[0].exemplar.as_ref().expect("exemplar");
        assert_eq!(exemplar.labels.get("trace_id").as_deref(), Some("abc"));
        assert_eq!(exemplar.value, 0.25);
        assert_eq!(exemplar.timestamp_ms, Some(1250));
    }

    #[test]
    fn content_types_choose_the_format() {
        assert_eq!(
            Format::from_content_type(Some(
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_content_type(Some("text/plain; version=0.0.4")),
            Format::Prometheus
        );
        assert_eq!(Format::from_content_type(None), Format::Prometheus);
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
            ("a 1x\n", 1),
            ("9a 1\n", 1),
            ("a{b=c} 1\n", 1),
            ("a\n", 1),
            ("a{b=\"1\",b=\"2\"} 1\n", 1),
        ] {
            let error = Parser::new(page)
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("{page:?} should not parse"));
            assert_eq!(error.line, expected_line, "{page:?}: {error}");
        }
        let missing_eof = Parser::with_format("a 1\n", Format::OpenMetrics)
            .find_map(Result::err)
            .expect("OpenMetrics needs # EOF");
        assert_eq!(missing_eof.kind, ParseErrorKind::MissingEof);
    }
}
