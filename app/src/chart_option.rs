//! A panel as an ECharts option, built with `charming`. Pure: the browser hands the result to
//! ECharts; tests inspect it natively.

use std::collections::BTreeMap;

use charming::Chart;
use charming::component::{Axis, Feature, Grid, Legend, LegendType, Toolbox, ToolboxDataZoom};
use charming::datatype::{CompositeValue, NumericValue};
use charming::element::{
    AreaStyle, AxisLabel, AxisLine, AxisPointer, AxisPointerType, AxisTick, AxisType, ItemStyle,
    JsFunction, Label, LabelPosition, LineStyle, LineStyleType, MarkArea, MarkAreaData, MarkLine,
    MarkLineData, MarkLineVariant, SplitLine, Step, Symbol, TextStyle, Tooltip, Trigger,
};
use charming::series::{Bar, Line};

use crate::panels::{PanelSpec, Shape, Theme, Unit, series_style};
use crate::wire::{Panel, Point, SeriesId};

/// Colours of the chart furniture for a theme.
struct Furniture {
    text: &'static str,
    grid_line: &'static str,
    tooltip_background: &'static str,
    tooltip_border: &'static str,
}

fn furniture(theme: Theme) -> Furniture {
    match theme {
        Theme::Light => Furniture {
            text: "#6B7280",
            grid_line: "#EEF0F3",
            tooltip_background: "#FFFFFF",
            tooltip_border: "#E4E7EC",
        },
        Theme::Dark => Furniture {
            text: "#9AA3B2",
            grid_line: "#1E232C",
            tooltip_background: "#12151B",
            tooltip_border: "#232833",
        },
    }
}

/// JavaScript that formats one value `v` of `unit` (tooltips, axis labels of seconds/bytes/%).
fn formatter_body(unit: Unit) -> &'static str {
    match unit {
        Unit::Seconds => {
            "if (v == null || isNaN(v)) return '–'; \
             if (v === 0) return '0'; \
             if (v < 1) { var ms = v * 1000; return (ms < 10 ? +ms.toFixed(1) : Math.round(ms)) + ' ms'; } \
             return (v < 10 ? +v.toFixed(2) : +v.toFixed(1)) + ' s';"
        }
        Unit::RequestsPerSecond => {
            "if (v == null || isNaN(v)) return '–'; \
             return (v < 1 ? +v.toFixed(2) : v < 10 ? +v.toFixed(1) : Math.round(v)).toLocaleString() + ' req/s';"
        }
        Unit::TokensPerSecond => {
            "if (v == null || isNaN(v)) return '–'; \
             return (v < 1 ? +v.toFixed(2) : v < 10 ? +v.toFixed(1) : Math.round(v)).toLocaleString() + ' tok/s';"
        }
        Unit::PerSecond => {
            "if (v == null || isNaN(v)) return '–'; \
             return (v < 1 ? +v.toFixed(2) : v < 10 ? +v.toFixed(1) : Math.round(v)).toLocaleString() + ' /s';"
        }
        Unit::Bytes => {
            "if (v == null || isNaN(v)) return '–'; \
             var u = ['B','KiB','MiB','GiB','TiB'], i = 0; \
             while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; } \
             return (v < 10 ? +v.toFixed(1) : Math.round(v)) + ' ' + u[i];"
        }
        Unit::Ratio => {
            "if (v == null || isNaN(v)) return '–'; \
             var p = v * 100; return (p < 10 ? +p.toFixed(1) : Math.round(p)) + '%';"
        }
        Unit::Cores => {
            "if (v == null || isNaN(v)) return '–'; \
             return (v < 10 ? +v.toFixed(2) : +v.toFixed(1)) + ' cores';"
        }
        Unit::Tokens => {
            "if (v == null || isNaN(v)) return '–'; \
             return Math.round(v).toLocaleString() + ' tokens';"
        }
        Unit::Replicas | Unit::Requests | Unit::Plain => {
            "if (v == null || isNaN(v)) return '–'; \
             return (v < 10 ? +v.toFixed(1) : Math.round(v)).toLocaleString();"
        }
    }
}

/// Axis tick labels: units where the axis has no name above it, bare numbers elsewhere, with
/// as many decimals as the ticks' spacing needs (an axis up to `max`), so that no two
/// neighbouring labels read the same (`0.002, 0.004`, not `0, 0.01`).
fn axis_formatter_body(unit: Unit, max: f64) -> String {
    match unit {
        // Bytes and ratios have axes of their own (powers of 1024, quarters).
        Unit::Bytes | Unit::Ratio => formatter_body(unit).to_owned(),
        Unit::Seconds => format!(
            "if (v == null || isNaN(v)) return '–'; \
             if (v === 0) return '0'; \
             if (v < 1) return (+(v * 1000).toFixed({ms})) + ' ms'; \
             return (+v.toFixed({s})) + ' s';",
            ms = axis_decimals(max * 1000.0),
            s = axis_decimals(max),
        ),
        _ => format!(
            "return (+v.toFixed({d})).toLocaleString(undefined, {{maximumFractionDigits: {d}}});",
            d = axis_decimals(max),
        ),
    }
}

/// Decimals that tell apart the ticks of a value axis from 0 to `max`: ECharts spaces its
/// four splits at a round interval (1, 2, 3 or 5 × 10ⁿ, rounded to the nearest), never less
/// than two thirds of `max / 4`; one decimal finer than that spacing's order is enough. With
/// nothing above zero ECharts draws 0 to 1.
pub fn axis_decimals(max: f64) -> usize {
    let max = if max > 0.0 { max } else { 1.0 };
    let spacing = max / 4.0 / 1.5;
    if !(spacing > 0.0 && spacing.is_finite()) {
        return 0;
    }
    (-spacing.log10()).ceil().clamp(0.0, 6.0) as usize
}

/// A tooltip for percentile panels: each value with the histogram bucket it lies in, and
/// "> X" for values in the top (`+Inf`) bucket.
fn percentile_tooltip(unit: Unit, panel: &Panel) -> JsFunction {
    let bounds = serde_json::to_string(&panel.bounds).unwrap_or_else(|_| "[]".into());
    // The points that are lower bounds, by the line's name as the tooltip sees it.
    let mut above: BTreeMap<String, BTreeMap<String, u8>> = BTreeMap::new();
    for point in &panel.above {
        above
            .entry(crate::panels::series_style(&point.series).label)
            .or_default()
            .insert(point.at_ms.to_string(), 1);
    }
    let above = serde_json::to_string(&above).unwrap_or_else(|_| "{}".into());
    let source = if panel.from_summaries {
        "'<div style=\"opacity:.7\">from exporter summaries: the largest of the replicas\\' own quantiles</div>'"
    } else if panel.series(&SeriesId::Mean).is_some() {
        "'<div style=\"opacity:.7\">from exporter totals: the mean (no percentiles reported)</div>'"
    } else {
        "''"
    };
    let body = format!(
        "var f = function(v) {{ {format} }}; \
         var bounds = {bounds}; var above = {above}; \
         if (!params.length) return ''; \
         var out = '<div style=\"margin-bottom:4px\">' + new Date(params[0].value[0]).toLocaleString() + '</div>'; \
         for (var k = 0; k < params.length; k++) {{ \
           var p = params[k]; var v = p.value[1]; if (v == null) continue; \
           var lower = above[p.seriesName] && above[p.seriesName][String(p.value[0])]; \
           var text = lower ? '&gt; ' + f(v) : f(v); \
           var bucket = ''; \
           if (lower) {{ bucket = ' <span style=\"opacity:.6\">(above the highest bound the data supports)</span>'; }} \
           else if (bounds.length) {{ var i = 0; while (i < bounds.length && bounds[i] < v) i++; \
             if (i < bounds.length) {{ var lo = i > 0 ? bounds[i - 1] : 0; \
               bucket = ' <span style=\"opacity:.6\">(bucket ' + f(lo) + '–' + f(bounds[i]) + ')</span>'; }} \
             else {{ bucket = ' <span style=\"opacity:.6\">(top bucket)</span>'; }} }} \
           out += p.marker + p.seriesName + ' <b>' + text + '</b>' + bucket + '<br/>'; \
         }} \
         return out + {source};",
        format = formatter_body(unit),
    );
    compiled("params", &body)
}

/// Most functions kept compiled (in the browser a `JsFunction` is a compiled JavaScript function).
const COMPILED_CACHE: usize = 128;

thread_local! {
    static COMPILED: std::cell::RefCell<std::collections::HashMap<(String, String), JsFunction>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// A function compiled once per distinct source: every chart needs the same formatters once a
/// second, and compiling them again each time showed in the page's CPU profile.
fn compiled(args: &str, body: &str) -> JsFunction {
    COMPILED.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = (args.to_owned(), body.to_owned());
        if let Some(function) = cache.get(&key) {
            return function.clone();
        }
        if cache.len() >= COMPILED_CACHE {
            cache.clear();
        }
        let function = JsFunction::new_with_args(args, body);
        cache.insert(key, function.clone());
        function
    })
}

/// A tooltip for the volume panel: the status classes drawn, then the exact status codes at
/// that time (kept out of the plot: drawing them, even invisibly, costs as much as any line).
fn codes_tooltip(unit: Unit, panel: &Panel) -> JsFunction {
    let mut by_time: BTreeMap<i64, Vec<(u16, f64)>> = BTreeMap::new();
    for line in &panel.series {
        if let SeriesId::Code(code) = line.id {
            for Point(time, value) in &line.points {
                if let Some(value) = value.filter(|v| *v > 0.0) {
                    by_time.entry(*time).or_default().push((code, value));
                }
            }
        }
    }
    let table = serde_json::to_string(&by_time).unwrap_or_else(|_| "{}".into());
    let body = format!(
        "var f = function(v) {{ {format} }}; var codes = {table}; \
         if (!params.length) return ''; \
         var t = params[0].value[0]; \
         var out = '<div style=\"margin-bottom:4px\">' + new Date(t).toLocaleString() + '</div>'; \
         for (var k = 0; k < params.length; k++) {{ var p = params[k]; if (p.value[1] == null) continue; \
           out += p.marker + p.seriesName + ' <b>' + f(p.value[1]) + '</b><br/>'; }} \
         var list = codes[t]; \
         if (list && list.length) {{ out += '<div style=\"margin-top:4px;opacity:.75\">'; \
           for (var i = 0; i < list.length; i++) out += list[i][0] + ': ' + f(list[i][1]) + '<br/>'; \
           out += '</div>'; }} \
         return out;",
        format = formatter_body(unit),
    );
    JsFunction::new_with_args("params", &body)
}

fn is_percentile_panel(panel: &Panel) -> bool {
    panel.series.iter().any(|s| {
        matches!(
            s.id,
            SeriesId::P50 | SeriesId::P90 | SeriesId::P95 | SeriesId::P99
        )
    }) || !panel.bounds.is_empty()
}

/// What is drawn over a chart's lines: the evidence of findings (shaded spans) and replica
/// events (vertical lines).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marks {
    /// Shaded spans.
    pub areas: Vec<MarkSpan>,
    /// Vertical lines.
    pub lines: Vec<MarkAt>,
}

impl Marks {
    /// Whether nothing is drawn.
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty() && self.lines.is_empty()
    }
}

/// A shaded span of a finding's evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkSpan {
    /// Start, Unix milliseconds.
    pub from_ms: i64,
    /// End.
    pub to_ms: i64,
    /// Label drawn at its top (the finding's short name); empty for none.
    pub label: String,
    /// Critical (red) or a warning (amber).
    pub critical: bool,
}

/// A vertical line at a replica event.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkAt {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// A scale-up (or a scale-down).
    pub up: bool,
}

/// Name of the series that carries the marks (no data of its own, no legend entry).
pub const MARKS_SERIES: &str = "marks";

/// A Unix time in milliseconds as ISO 8601 UTC (`2026-11-28T17:04:05.000Z`): how ECharts reads
/// a time axis value in a mark area.
pub fn iso_utc(ms: i64) -> String {
    let (year, month, day) = crate::format::civil_date(ms.div_euclid(86_400_000));
    let in_day = ms.rem_euclid(86_400_000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The series that draws `marks` over the chart.
fn marks_series(marks: &Marks, theme: Theme) -> Line {
    let (warning, critical, events) = match theme {
        Theme::Light => ("#EFA23A", "#E5484D", "#6B7280"),
        Theme::Dark => ("#F2AE50", "#EC5D62", "#9AA3B2"),
    };
    let mut line = Line::new()
        .name(MARKS_SERIES)
        .silent(true)
        .data(Vec::<Vec<CompositeValue>>::new());
    if !marks.areas.is_empty() {
        // One colour per chart: the worst finding's.
        let colour = if marks.areas.iter().any(|a| a.critical) {
            critical
        } else {
            warning
        };
        line = line.mark_area(
            MarkArea::new()
                .silent(true)
                .item_style(ItemStyle::new().color(colour).opacity(0.16))
                .label(
                    Label::new()
                        .position(LabelPosition::InsideTop)
                        .color(colour)
                        .font_size(10),
                )
                .data(
                    marks
                        .areas
                        .iter()
                        .map(|area| {
                            (
                                MarkAreaData::new()
                                    .name(area.label.as_str())
                                    .x_axis(iso_utc(area.from_ms)),
                                MarkAreaData::new().x_axis(iso_utc(area.to_ms)),
                            )
                        })
                        .collect(),
                ),
        );
    }
    if !marks.lines.is_empty() {
        line = line.mark_line(
            MarkLine::new()
                .silent(true)
                .symbol(vec![Symbol::None, Symbol::None])
                .label(Label::new().show(false))
                .line_style(
                    LineStyle::new()
                        .color(events)
                        .width(1)
                        .type_(LineStyleType::Dotted)
                        .opacity(0.7),
                )
                .data(
                    marks
                        .lines
                        .iter()
                        .map(|mark| {
                            MarkLineVariant::Simple(
                                MarkLineData::new()
                                    .name(if mark.up { "scale-up" } else { "scale-down" })
                                    .x_axis(mark.at_ms as f64),
                            )
                        })
                        .collect(),
                ),
        );
    }
    line
}

/// The ECharts option for one panel over the window `[start_ms, end_ms]`, with `marks` drawn
/// over it.
pub fn chart(
    panel: &Panel,
    spec: &PanelSpec,
    theme: Theme,
    start_ms: i64,
    end_ms: i64,
    marks: &Marks,
) -> Chart {
    let colors = furniture(theme);
    let small_text = |color: &'static str| TextStyle::new().color(color).font_size(11);
    let mut tooltip = Tooltip::new()
        .trigger(Trigger::Axis)
        .axis_pointer(AxisPointer::new().type_(AxisPointerType::Line))
        .background_color(colors.tooltip_background)
        .border_color(colors.tooltip_border);
    let has_codes = panel
        .series
        .iter()
        .any(|s| matches!(s.id, SeriesId::Code(_)));
    tooltip = if is_percentile_panel(panel) && spec.unit != Unit::Replicas {
        tooltip.formatter(percentile_tooltip(spec.unit, panel))
    } else if has_codes {
        tooltip.formatter(codes_tooltip(spec.unit, panel))
    } else {
        tooltip.value_formatter(compiled("v", formatter_body(spec.unit)))
    };
    // Series drawn one per member (replica, GPU) read better without a stack.
    let per_member = panel
        .series
        .iter()
        .any(|s| matches!(s.id, SeriesId::Replica(_) | SeriesId::Gpu(_)));
    let mut legend = Legend::new()
        .right(8)
        .top(0)
        .item_width(14)
        .item_height(8)
        .item_gap(10)
        .text_style(small_text(colors.text));
    let labels: Vec<String> = panel
        .series
        .iter()
        .map(|line| series_style(&line.id))
        .filter(|style| style.drawn)
        .map(|style| style.label)
        .collect();
    // Many members (a deployment that scaled through dozens of replicas): one scrolling row
    // instead of a legend that covers the plot.
    if labels.len() > MAX_LEGEND_ROW {
        legend = legend.type_(LegendType::Scroll).left(60);
    }
    legend = legend.data(labels.iter().map(String::as_str).collect::<Vec<_>>());
    // The top of the drawn values: byte ticks and label decimals follow it.
    let max = drawn_max(panel);
    let mut chart = Chart::new()
        .animation(false)
        .grid(Grid::new().left(52).right(14).top(30).bottom(24))
        .legend(legend)
        .tooltip(tooltip)
        // The drag-to-zoom tool, switched on by the page; its icons are drawn at size 0 (the
        // tool does nothing while the toolbox is hidden).
        .toolbox(
            Toolbox::new()
                .show(true)
                .feature(Feature::new().data_zoom(ToolboxDataZoom::new().y_axis_index("none"))),
        )
        .x_axis(
            Axis::new()
                .type_(AxisType::Time)
                .min(start_ms)
                .max(end_ms)
                .split_number(5)
                .axis_label(AxisLabel::new().color(colors.text).font_size(11))
                .axis_line(AxisLine::new().show(false))
                .axis_tick(AxisTick::new().show(false))
                .split_line(SplitLine::new().show(false)),
        )
        .y_axis({
            let axis = Axis::new();
            // Whole things (replicas, requests) have no half ticks.
            let axis = if matches!(spec.unit, Unit::Replicas | Unit::Requests) {
                axis.min_interval(1.0)
            } else {
                axis
            };
            let axis = if spec.unit == Unit::Ratio {
                axis.max(1).interval(0.25)
            } else if spec.unit == Unit::Bytes
                && let Some((interval, top)) = byte_axis(max)
            {
                // ECharts picks decimal ticks; bytes read better on powers of 1024.
                axis.interval(interval).max(top)
            } else {
                axis
            };
            axis.type_(AxisType::Value)
                .name(spec.unit.axis_label())
                .name_text_style(small_text(colors.text))
                .name_gap(10)
                .min(0)
                .split_number(4)
                .axis_label(
                    AxisLabel::new()
                        .color(colors.text)
                        .font_size(11)
                        .formatter(compiled("v", &axis_formatter_body(spec.unit, max))),
                )
                .split_line(SplitLine::new().line_style(LineStyle::new().color(colors.grid_line)))
        });
    // Drawn in reverse for percentiles so p99 (darkest, thickest) is on top.
    let mut series: Vec<_> = panel.series.iter().collect();
    if spec.shape == Shape::Lines {
        series.reverse();
    }
    for (index, line) in series.into_iter().enumerate() {
        let style = series_style(&line.id);
        if !style.drawn {
            // In the tooltip only (see `codes_tooltip`).
            continue;
        }
        let color = style.color(theme);
        if spec.shape == Shape::Bars && style.drawn {
            chart = chart.series(
                Bar::new()
                    .name(style.label.as_str())
                    .item_style(ItemStyle::new().color(color))
                    .data(points(&line.points)),
            );
            continue;
        }
        let mut line_style = LineStyle::new().color(color).width(style.width);
        if style.dashed {
            line_style = line_style.type_(LineStyleType::Dashed);
        }
        if !style.drawn {
            // In the tooltip only: an invisible line.
            line_style = line_style.opacity(0.0);
        }
        // A line of a few points (a long range just begun, points between gaps) shows them as
        // dots; denser lines draw no symbols.
        let sparse = line.points.iter().filter(|p| p.1.is_some()).count() < SPARSE_POINTS;
        let mut drawn = Line::new()
            .name(style.label.as_str())
            .show_symbol(sparse && style.drawn)
            .symbol(if sparse { Symbol::Circle } else { Symbol::None })
            .symbol_size(4)
            // No hover effects per series (the tooltip follows the axis): less work per update.
            .silent(true)
            .line_style(line_style)
            .item_style(ItemStyle::new().color(color))
            .data(points(&line.points));
        match spec.shape {
            Shape::StackedArea if style.drawn && !per_member => {
                // The base layer's line is drawn over the layers above it, so a layer that
                // adds nothing (no 5xx, nothing queued) does not paint the total in its colour.
                drawn = drawn
                    .stack("total")
                    .z(10 - index as i32)
                    .area_style(AreaStyle::new().color(color).opacity(0.22));
            }
            Shape::Steps => drawn = drawn.step(Step::End),
            _ => {}
        }
        chart = chart.series(drawn);
    }
    if !marks.is_empty() {
        chart = chart.series(marks_series(marks, theme));
    }
    chart
}

/// Legends with more entries than this scroll.
const MAX_LEGEND_ROW: usize = 8;

/// Below this many points a line shows its points as dots.
const SPARSE_POINTS: usize = 12;

/// The largest value of the drawn series.
fn drawn_max(panel: &Panel) -> f64 {
    panel
        .series
        .iter()
        .filter(|line| series_style(&line.id).drawn)
        .flat_map(|line| line.points.iter().filter_map(|Point(_, value)| *value))
        .filter(|value| value.is_finite())
        .fold(0.0, f64::max)
}

/// A tick interval on a power of 1024 (1, 2, 5, 10, 20, 50, 100, 200, 500 KiB, MiB, …) giving
/// about four ticks up to `max`, and the axis top (a whole number of intervals).
pub fn byte_axis(max: f64) -> Option<(f64, f64)> {
    if !(max > 0.0 && max.is_finite()) {
        return None;
    }
    let target = max / 4.0;
    let mut unit = 1.0;
    while unit * 1024.0 <= target {
        unit *= 1024.0;
    }
    let interval = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1024.0]
        .into_iter()
        .map(|step| step * unit)
        .find(|interval| *interval >= target)?;
    Some((interval, (max / interval).ceil() * interval))
}

/// `[time, value]` pairs; `null` values are gaps.
fn points(points: &[Point]) -> Vec<CompositeValue> {
    points
        .iter()
        .map(|Point(time, value)| {
            CompositeValue::Array(vec![
                CompositeValue::Number(NumericValue::Integer(*time)),
                CompositeValue::OptionalNumber(value.map(NumericValue::Float)),
            ])
        })
        .collect()
}

#[cfg(test)]
mod marks_tests {
    use super::*;
    use crate::panels::spec;
    use crate::wire::PanelId;

    #[test]
    fn times_are_written_as_iso_utc() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(1_795_885_476_123), "2026-11-28T17:04:36.123Z");
        assert_eq!(iso_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn marks_ride_on_a_series_of_their_own() {
        let panel = Panel::empty(PanelId::Replicas);
        let marks = Marks {
            areas: vec![MarkSpan {
                from_ms: 0,
                to_ms: 60_000,
                label: "thrash".into(),
                critical: true,
            }],
            lines: vec![MarkAt {
                at_ms: 30_000,
                up: true,
            }],
        };
        let option = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::Replicas),
            Theme::Light,
            0,
            60_000,
            &marks,
        ))
        .unwrap();
        let series = option["series"].as_array().unwrap();
        let carrier = series.iter().find(|s| s["name"] == MARKS_SERIES).unwrap();
        let area = &carrier["markArea"]["data"][0];
        assert_eq!(area[0]["name"], "thrash");
        assert_eq!(area[0]["xAxis"], "1970-01-01T00:00:00.000Z");
        assert_eq!(area[1]["xAxis"], "1970-01-01T00:01:00.000Z");
        assert_eq!(carrier["markLine"]["data"][0]["xAxis"], 30_000.0);
        // Without marks there is no such series.
        let plain = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::Replicas),
            Theme::Light,
            0,
            60_000,
            &Marks::default(),
        ))
        .unwrap();
        assert!(plain["series"].as_array().is_none_or(|s| s.is_empty()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panels::spec;
    use crate::wire::{PanelId, Series, SeriesId};

    fn panel(id: PanelId, series: Vec<(SeriesId, Vec<Point>)>) -> Panel {
        Panel {
            id,
            series: series
                .into_iter()
                .map(|(id, points)| Series { id, points })
                .collect(),
            ..Panel::empty(id)
        }
    }

    /// ECharts' interval for a value axis (`numberUtil.nice(extent / splitNumber, true)` in
    /// its `IntervalScale`): the rough interval rounded to 1, 2, 3, 5 or 10 × 10ⁿ.
    fn echarts_interval(max: f64, splits: f64) -> f64 {
        let rough = max / splits;
        let exponent = rough.log10().floor();
        let power = 10f64.powf(exponent);
        let fraction = rough / power;
        let nice = match fraction {
            f if f < 1.5 => 1.0,
            f if f < 2.5 => 2.0,
            f if f < 4.0 => 3.0,
            f if f < 7.0 => 5.0,
            _ => 10.0,
        };
        nice * power
    }

    #[test]
    fn neighbouring_axis_ticks_never_print_the_same() {
        // Small, large and in-between axis tops, as a CPU, latency or rate axis meets them.
        let mut max = 0.000_37;
        while max < 2.0e6 {
            let interval = echarts_interval(max, 4.0);
            let decimals = axis_decimals(max);
            let labels: Vec<String> = (0..=6)
                .map(|k| format!("{:.decimals$}", f64::from(k) * interval))
                .collect();
            for pair in labels.windows(2) {
                assert_ne!(pair[0], pair[1], "axis up to {max}: ticks every {interval}");
            }
            max *= 1.17;
        }
        // What the thrash-prone CPU axis showed as "0.01, 0.01, 0.01, 0.01, 0, 0".
        assert_eq!(axis_decimals(0.008), 3);
        assert_eq!(axis_decimals(12.0), 0);
        // A line at zero (no preemptions): ECharts' axis runs 0, 0.3, … 1.2.
        assert_eq!(axis_decimals(0.0), 1);
    }

    #[test]
    fn byte_axes_tick_on_powers_of_1024() {
        let gib = 1024.0 * 1024.0 * 1024.0;
        assert_eq!(byte_axis(80.0 * gib), Some((20.0 * gib, 80.0 * gib)));
        assert_eq!(byte_axis(39_000.0), Some((10.0 * 1024.0, 40.0 * 1024.0)));
        assert_eq!(byte_axis(3.0), Some((1.0, 3.0)));
        assert_eq!(byte_axis(0.0), None);
        assert_eq!(byte_axis(f64::NAN), None);
    }

    #[test]
    fn percentile_chart_has_a_line_per_quantile_with_gaps_kept() {
        let panel = panel(
            PanelId::ResponseTime,
            [SeriesId::P50, SeriesId::P99]
                .into_iter()
                .map(|id| (id, vec![Point(1000, Some(0.5)), Point(2000, None)]))
                .collect(),
        );
        let option = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::ResponseTime),
            Theme::Dark,
            0,
            2000,
            &Marks::default(),
        ))
        .expect("chart serialises");
        let series = option["series"].as_array().expect("series");
        assert_eq!(series.len(), 2);
        assert_eq!(series[0]["name"], "p99", "p99 drawn last is listed first");
        assert_eq!(series[0]["lineStyle"]["color"], "#DCE3FF");
        assert_eq!(series[1]["data"][1], serde_json::json!([2000, null]));
        assert_eq!(option["animation"], false);
        assert_eq!(option["xAxis"]["type"], "time");
    }

    #[test]
    fn volume_chart_stacks_classes_and_hides_exact_codes_from_the_plot() {
        let panel = panel(
            PanelId::InferenceVolume,
            vec![
                (SeriesId::Status5xx, vec![Point(0, Some(1.0))]),
                (SeriesId::Code(503), vec![Point(0, Some(1.0))]),
            ],
        );
        let option = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::InferenceVolume),
            Theme::Light,
            0,
            0,
            &Marks::default(),
        ))
        .expect("chart serialises");
        assert_eq!(option["series"][0]["stack"], "total");
        assert_eq!(option["series"][0]["itemStyle"]["color"], "#E5484D");
        // The exact code is not drawn; the tooltip lists it.
        assert_eq!(option["series"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            option["legend"]["data"],
            serde_json::json!([{"name": "5xx"}])
        );
        assert_eq!(option["yAxis"]["name"], "req/s");
    }

    #[test]
    fn member_panels_draw_lines_in_member_colours() {
        let panel = panel(
            PanelId::Cpu,
            vec![
                (SeriesId::Average, vec![Point(0, Some(1.0))]),
                (
                    SeriesId::Replica("chat-2".into()),
                    vec![Point(0, Some(1.0))],
                ),
            ],
        );
        let option = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::Cpu),
            Theme::Light,
            0,
            0,
            &Marks::default(),
        ))
        .expect("chart serialises");
        let names: Vec<&str> = option["series"]
            .as_array()
            .expect("series")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, vec!["chat-2", "avg"]);
        assert_eq!(option["series"][0]["lineStyle"]["color"], "#E5484D");
    }
}
