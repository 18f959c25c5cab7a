//! What each panel is: its title, unit, how its lines look in either theme, and the one-line
//! "now" summary under its title. Shared by the server rendering and the browser.

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
    /// Seconds (shown as ms or s).
    Seconds,
    /// A count of replicas.
    Replicas,
    /// A count of requests.
    Requests,
}

impl Unit {
    /// The label above the y axis.
    pub fn axis_label(self) -> &'static str {
        match self {
            Unit::RequestsPerSecond => "req/s",
            Unit::Seconds => "seconds",
            Unit::Replicas => "replicas",
            Unit::Requests => "requests",
        }
    }

    /// One value in this unit, for tooltips and summaries.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::RequestsPerSecond => format::rate(value),
            Unit::Seconds => format::seconds(value),
            Unit::Replicas | Unit::Requests => format::number(value),
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
}

/// A panel's fixed description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanelSpec {
    /// Which panel.
    pub id: PanelId,
    /// Title on the card.
    pub title: &'static str,
    /// Unit of its values.
    pub unit: Unit,
    /// How it is drawn.
    pub shape: Shape,
    /// Which exporter families feed it, said when no target provides them.
    pub source_hint: &'static str,
}

/// The description of a panel.
pub fn spec(id: PanelId) -> PanelSpec {
    match id {
        PanelId::InferenceVolume => PanelSpec {
            id,
            title: "Inference volume",
            unit: Unit::RequestsPerSecond,
            shape: Shape::StackedArea,
            source_hint: "a request counter by status code, such as inferscope_inference_requests_total",
        },
        PanelId::ResponseTime => PanelSpec {
            id,
            title: "Response time",
            unit: Unit::Seconds,
            shape: Shape::Lines,
            source_hint: "an end-to-end latency histogram, such as inferscope_end_to_end_response_time_seconds",
        },
        PanelId::Replicas => PanelSpec {
            id,
            title: "Replicas",
            unit: Unit::Replicas,
            shape: Shape::Steps,
            source_hint: "replica gauges, such as inferscope_replicas_active and inferscope_replicas_starting",
        },
        PanelId::ConcurrentRequests => PanelSpec {
            id,
            title: "Concurrent requests",
            unit: Unit::Requests,
            shape: Shape::StackedArea,
            source_hint: "a concurrency gauge, such as inferscope_concurrent_requests",
        },
    }
}

/// How one line looks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesStyle {
    /// Legend and tooltip label.
    pub label: &'static str,
    /// Colour on the light theme.
    pub light: &'static str,
    /// Colour on the dark theme.
    pub dark: &'static str,
    /// Line width, pixels.
    pub width: f64,
    /// Dashed line.
    pub dashed: bool,
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

/// The style of a series; the same series looks the same in every panel.
pub fn series_style(id: SeriesId) -> SeriesStyle {
    let style = |label, light, dark, width, dashed| SeriesStyle {
        label,
        light,
        dark,
        width,
        dashed,
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
    }
}

/// The last point of a series that has a value.
fn last_value(points: &[Point]) -> Option<(i64, f64)> {
    points
        .iter()
        .rev()
        .find_map(|Point(time, value)| value.map(|value| (*time, value)))
}

/// The newest time at which any series of the panel has a value.
pub fn latest_time(panel: &Panel) -> Option<i64> {
    panel
        .series
        .iter()
        .filter_map(|series| last_value(&series.points).map(|(time, _)| time))
        .max()
}

fn value_at(panel: &Panel, id: SeriesId, time: i64) -> Option<f64> {
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
    let get = |id| value_at(panel, id, now);
    match panel.id {
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
        PanelId::ResponseTime => {
            let show = |id| match get(id) {
                Some(value) if panel.top_bucket == Some(value) => {
                    format!("> {}", format::seconds(value))
                }
                Some(value) => format::seconds(value),
                None => "–".into(),
            };
            format!(
                "p99 {} now · p50 {}",
                show(SeriesId::P99),
                show(SeriesId::P50)
            )
        }
        PanelId::Replicas => {
            let active = get(SeriesId::Active).unwrap_or(0.0);
            let starting = get(SeriesId::Starting).unwrap_or(0.0);
            format!(
                "{} active · {} starting",
                format::number(active),
                format::number(starting)
            )
        }
        PanelId::ConcurrentRequests => {
            let in_progress = get(SeriesId::InProgress).unwrap_or(0.0);
            let queued = get(SeriesId::Queued).unwrap_or(0.0);
            format!(
                "{} in progress · {} queued",
                format::number(in_progress),
                format::number(queued)
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
                    id: *id,
                    points: values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Point(i as i64 * 1000, *v))
                        .collect(),
                })
                .collect(),
            top_bucket: top,
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
            ],
            None,
        );
        assert_eq!(summary(&volume), "100 req/s now · 4xx 4.0% · 5xx 1.0%");
    }

    #[test]
    fn percentile_summary_says_above_for_the_top_bucket() {
        let latency = panel(
            PanelId::ResponseTime,
            &[
                (SeriesId::P50, &[Some(0.612)]),
                (SeriesId::P99, &[Some(60.0)]),
            ],
            Some(60.0),
        );
        assert_eq!(summary(&latency), "p99 > 60.0 s now · p50 612 ms");
    }

    #[test]
    fn empty_panels_say_so() {
        let empty = panel(PanelId::Replicas, &[], None);
        assert_eq!(summary(&empty), "no data in this range yet");
        let replicas = panel(PanelId::Replicas, &[(SeriesId::Active, &[Some(3.0)])], None);
        assert_eq!(summary(&replicas), "3 active · 0 starting");
    }
}
