//! The rules of OpenMetrics 1.0 that reach beyond one line: metric families and their
//! metadata, the suffixes each type allows, sample grouping and timestamp order, type-specific
//! values, exemplar placement, and histogram bucket rules. The parser feeds every event through
//! a [`Checker`] in OpenMetrics mode.
//!
//! The rules follow the reference parser of the OpenMetrics project (the Python client's
//! `openmetrics/parser.py`), which the conformance suite in `../shared/conformance/` exercises.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::exposition::{Event, Labels, MetricType, ParseErrorKind, Sample};

fn rule(message: impl Into<String>) -> ParseErrorKind {
    ParseErrorKind::Rule(message.into())
}

fn suffixes(metric_type: Option<MetricType>) -> &'static [&'static str] {
    match metric_type {
        Some(MetricType::Counter) => &["_total", "_created"],
        Some(MetricType::Summary) => &["", "_count", "_sum", "_created"],
        Some(MetricType::Histogram) => &["_count", "_sum", "_bucket", "_created"],
        Some(MetricType::GaugeHistogram) => &["_gcount", "_gsum", "_bucket"],
        Some(MetricType::Info) => &["_info"],
        _ => &[""],
    }
}

/// Running state of one histogram group (one label set, one timestamp).
#[derive(Debug)]
struct HistogramGroup {
    key: (u64, Option<i64>),
    bucket: Option<f64>,
    value: f64,
    count: Option<f64>,
    has_sum: bool,
    has_gsum: bool,
    has_negative_buckets: bool,
    has_negative_gsum: bool,
}

impl HistogramGroup {
    fn new(key: (u64, Option<i64>)) -> HistogramGroup {
        HistogramGroup {
            key,
            bucket: None,
            value: 0.0,
            count: None,
            has_sum: false,
            has_gsum: false,
            has_negative_buckets: false,
            has_negative_gsum: false,
        }
    }

    fn check(&self, name: &str) -> Result<(), ParseErrorKind> {
        if self.bucket != Some(f64::INFINITY) {
            return Err(rule(format!("histogram {name}: +Inf bucket missing")));
        }
        if self.count.is_some_and(|count| count != self.value) {
            return Err(rule(format!(
                "histogram {name}: count does not match the +Inf bucket"
            )));
        }
        if (self.has_sum || self.has_gsum) && self.count.is_none() {
            return Err(rule(format!("histogram {name}: a sum needs a count")));
        }
        if !(self.has_sum || self.has_gsum) && self.count.is_some() {
            return Err(rule(format!("histogram {name}: a count needs a sum")));
        }
        if self.has_negative_buckets && self.has_sum {
            return Err(rule(format!(
                "histogram {name}: _sum is not allowed with negative buckets"
            )));
        }
        if !self.has_negative_buckets && self.has_negative_gsum {
            return Err(rule(format!(
                "histogram {name}: negative _gsum needs negative buckets"
            )));
        }
        Ok(())
    }
}

/// One metric family being read.
#[derive(Debug)]
struct Family {
    name: String,
    metric_type: Option<MetricType>,
    help: bool,
    unit: Option<String>,
    has_samples: bool,
    group: Option<u64>,
    group_timestamp: Option<i64>,
    seen_groups: HashSet<u64>,
    histogram: Option<HistogramGroup>,
}

impl Family {
    fn new(name: &str, metric_type: Option<MetricType>) -> Family {
        Family {
            name: name.to_owned(),
            metric_type,
            help: false,
            unit: None,
            has_samples: false,
            group: None,
            group_timestamp: None,
            seen_groups: HashSet::new(),
            histogram: None,
        }
    }

    fn allows(&self, sample_name: &str) -> bool {
        sample_name
            .strip_prefix(self.name.as_str())
            .is_some_and(|suffix| suffixes(self.metric_type).contains(&suffix))
    }
}

/// Checks a page's events against the OpenMetrics rules, in order.
#[derive(Debug, Default)]
pub struct Checker {
    family: Option<Family>,
    seen_names: HashSet<String>,
}

/// An order-independent hash of a label set, leaving out one label.
fn group_hash(labels: &Labels<'_>, without: Option<&str>) -> u64 {
    let mut total: u64 = 0;
    for (name, value) in labels.iter() {
        if Some(name) == without {
            continue;
        }
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        value.hash(&mut hasher);
        total = total.wrapping_add(hasher.finish());
    }
    total
}

impl Checker {
    /// A checker at the start of a page.
    pub fn new() -> Checker {
        Checker::default()
    }

    /// Checks one event.
    pub fn check(&mut self, event: &Event<'_>) -> Result<(), ParseErrorKind> {
        match event {
            Event::Help { family, .. }
            | Event::Type { family, .. }
            | Event::Unit { family, .. } => self.metadata(family, event),
            Event::Sample(sample) => self.sample(sample),
        }
    }

    /// Checks what can only be checked at the end of the page.
    pub fn finish(&mut self) -> Result<(), ParseErrorKind> {
        self.finish_family()
    }

    fn metadata(&mut self, name: &str, event: &Event<'_>) -> Result<(), ParseErrorKind> {
        let same = self.family.as_ref().is_some_and(|f| f.name == name);
        if same && self.family.as_ref().is_some_and(|f| f.has_samples) {
            return Err(rule(format!("metadata for {name} after its samples")));
        }
        if !same {
            self.finish_family()?;
            self.family = Some(Family::new(name, None));
        }
        let Some(family) = self.family.as_mut() else {
            return Ok(());
        };
        match event {
            Event::Help { .. } => {
                if family.help {
                    return Err(rule(format!("more than one HELP for {name}")));
                }
                family.help = true;
            }
            Event::Type { metric_type, .. } => {
                if family.metric_type.is_some() {
                    return Err(rule(format!("more than one TYPE for {name}")));
                }
                family.metric_type = Some(*metric_type);
            }
            Event::Unit { unit, .. } => {
                if family.unit.is_some() {
                    return Err(rule(format!("more than one UNIT for {name}")));
                }
                family.unit = Some((*unit).to_owned());
            }
            Event::Sample(_) => {}
        }
        Ok(())
    }

    fn finish_family(&mut self) -> Result<(), ParseErrorKind> {
        let Some(family) = self.family.take() else {
            return Ok(());
        };
        let metric_type = family.metric_type.unwrap_or(MetricType::Unknown);
        let mut names: Vec<&str> = suffixes(Some(metric_type)).to_vec();
        if !names.contains(&"") {
            names.push("");
        }
        for suffix in names {
            let full = format!("{}{suffix}", family.name);
            if !self.seen_names.insert(full.clone()) {
                return Err(rule(format!("clashing name {full}")));
            }
        }
        if let Some(unit) = family.unit.as_deref().filter(|unit| !unit.is_empty()) {
            if !family.name.ends_with(&format!("_{unit}")) {
                return Err(rule(format!(
                    "unit {unit} does not match the name {}",
                    family.name
                )));
            }
            if matches!(metric_type, MetricType::Info | MetricType::StateSet) {
                return Err(rule(format!("{} may not have a unit", family.name)));
            }
        }
        if let Some(histogram) = &family.histogram {
            histogram.check(&family.name)?;
        }
        Ok(())
    }

    fn sample(&mut self, sample: &Sample<'_>) -> Result<(), ParseErrorKind> {
        if !self.family.as_ref().is_some_and(|f| f.allows(sample.name)) {
            self.finish_family()?;
            self.family = Some(Family::new(sample.name, Some(MetricType::Unknown)));
        }
        let Some(family) = self.family.as_mut() else {
            return Ok(());
        };
        let name = family.name.as_str();
        let metric_type = family.metric_type.unwrap_or(MetricType::Unknown);
        let suffix = &sample.name[name.len()..];
        let is_histogram = matches!(
            metric_type,
            MetricType::Histogram | MetricType::GaugeHistogram
        );
        let is_bucket = is_histogram && suffix == "_bucket";
        let is_quantile = metric_type == MetricType::Summary && suffix.is_empty();

        if metric_type == MetricType::StateSet && sample.labels.get(name).is_none() {
            return Err(rule(format!(
                "stateset {name}: sample lacks the {name} label"
            )));
        }
        let mut bound = None;
        if is_bucket {
            let le = sample
                .labels
                .get("le")
                .filter(|le| le != "NaN")
                .ok_or_else(|| rule(format!("{}: invalid or missing le label", sample.name)))?;
            let value = parse_float(&le)
                .ok_or_else(|| rule(format!("{}: invalid le label {le:?}", sample.name)))?;
            if value == f64::INFINITY && le != "+Inf" {
                return Err(rule(format!(
                    "{}: +Inf must be written \"+Inf\"",
                    sample.name
                )));
            }
            bound = Some(value);
        }
        if is_quantile {
            let quantile = sample.labels.get("quantile").and_then(|q| parse_float(&q));
            if !quantile.is_some_and(|q| (0.0..=1.0).contains(&q)) {
                return Err(rule(format!("{}: invalid quantile label", sample.name)));
            }
        }

        let without = if metric_type == MetricType::Info {
            None
        } else if is_quantile {
            Some("quantile")
        } else if metric_type == MetricType::StateSet {
            Some(name)
        } else if is_bucket {
            Some("le")
        } else {
            None
        };
        let group = if metric_type == MetricType::Info {
            0
        } else {
            group_hash(&sample.labels, without)
        };
        if family.group.is_some_and(|current| current != group)
            && family.seen_groups.contains(&group)
        {
            return Err(rule(format!(
                "{}: samples of a group are not together",
                sample.name
            )));
        }
        if family.group == Some(group) {
            if sample.timestamp_ms.is_some() != family.group_timestamp.is_some() {
                return Err(rule(format!(
                    "{}: timestamps given for some samples of a group only",
                    sample.name
                )));
            }
            if let (Some(before), Some(now)) = (family.group_timestamp, sample.timestamp_ms)
                && before > now
                && metric_type != MetricType::Info
            {
                return Err(rule(format!("{}: timestamps went backwards", sample.name)));
            }
        }
        family.group = Some(group);
        family.group_timestamp = sample.timestamp_ms;
        family.seen_groups.insert(group);

        let value = sample.value;
        if metric_type == MetricType::StateSet && value != 0.0 && value != 1.0 {
            return Err(rule(format!("{}: stateset values are 0 or 1", sample.name)));
        }
        if metric_type == MetricType::Info && value != 1.0 {
            return Err(rule(format!("{}: info values are 1", sample.name)));
        }
        if is_quantile && value < 0.0 {
            return Err(rule(format!(
                "{}: quantile values cannot be negative",
                sample.name
            )));
        }
        let counter_like = matches!(
            suffix,
            "_total" | "_sum" | "_count" | "_bucket" | "_gcount" | "_gsum"
        );
        if counter_like && value.is_nan() {
            return Err(rule(format!(
                "{}: counter-like values cannot be NaN",
                sample.name
            )));
        }
        if counter_like && suffix != "_gsum" && value < 0.0 {
            return Err(rule(format!(
                "{}: counter-like values cannot be negative",
                sample.name
            )));
        }
        if sample.exemplar.is_some()
            && !(is_bucket || (metric_type == MetricType::Counter && suffix == "_total"))
        {
            return Err(rule(format!(
                "{}: only buckets and counters can have exemplars",
                sample.name
            )));
        }

        if is_histogram {
            let labels_key = if is_bucket {
                group
            } else {
                group_hash(&sample.labels, None)
            };
            let key = (labels_key, sample.timestamp_ms);
            if family.histogram.as_ref().is_some_and(|h| h.key != key)
                && let Some(previous) = family.histogram.take()
            {
                previous.check(&family.name)?;
            }
            let histogram = family
                .histogram
                .get_or_insert_with(|| HistogramGroup::new(key));
            match suffix {
                "_bucket" => {
                    let bound = bound.unwrap_or(f64::NAN);
                    if bound < 0.0 {
                        histogram.has_negative_buckets = true;
                    }
                    if histogram.bucket.is_some_and(|previous| bound <= previous) {
                        return Err(rule(format!("{}: buckets out of order", family.name)));
                    }
                    if value < histogram.value {
                        return Err(rule(format!("{}: bucket counts go down", family.name)));
                    }
                    histogram.bucket = Some(bound);
                    histogram.value = value;
                }
                "_count" | "_gcount" => histogram.count = Some(value),
                "_sum" => histogram.has_sum = true,
                "_gsum" => {
                    histogram.has_gsum = true;
                    if value < 0.0 {
                        histogram.has_negative_gsum = true;
                    }
                }
                _ => {}
            }
        }
        family.has_samples = true;
        Ok(())
    }
}

/// A float as the reference parser reads label values (`le`, `quantile`).
fn parse_float(text: &str) -> Option<f64> {
    if text.is_empty() || text.contains(['_', ' ']) {
        return None;
    }
    text.parse::<f64>().ok()
}
