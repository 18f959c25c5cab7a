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
use charming::series::{Bar, Line, Scatter};

use crate::panels::{PanelSpec, Shape, Theme, Unit, series_style};
use crate::wire::{Panel, Point, SeriesId};

/// Colours of the chart furniture for a theme.
struct Furniture {
    text: &'static str,
    grid_line: &'static str,
    tooltip_background: &'static str,
    tooltip_border: &'static str,
    /// Member lines drawn without a name (too many to name).
    unnamed: &'static str,
}

fn furniture(theme: Theme) -> Furniture {
    match theme {
        Theme::Light => Furniture {
            text: "#6B7280",
            grid_line: "#EEF0F3",
            tooltip_background: "#FFFFFF",
            tooltip_border: "#E4E7EC",
            unnamed: "#C9CED8",
        },
        Theme::Dark => Furniture {
            text: "#9AA3B2",
            grid_line: "#1E232C",
            tooltip_background: "#12151B",
            tooltip_border: "#232833",
            unnamed: "#3A4150",
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
    /// Scale events as markers on the replicas line (▲ up, ▼ down).
    pub events: Vec<MarkAt>,
    /// A dashed line to compare the panel with (the autoscaler's target on concurrent requests).
    pub guide: Option<Guide>,
}

impl Marks {
    /// Which series the marks add to a chart (the evidence carrier, the guide, up and down
    /// markers): when it changes, a chart must be replaced rather than merged.
    pub fn series_shape(&self) -> [bool; 4] {
        [
            !(self.areas.is_empty() && self.lines.is_empty()),
            self.guide.is_some(),
            self.events.iter().any(|event| event.up),
            self.events.iter().any(|event| !event.up),
        ]
    }
}

/// A dashed reference line with its legend name.
#[derive(Clone, Debug, PartialEq)]
pub struct Guide {
    /// Legend and tooltip name.
    pub label: String,
    /// Its points, on the panel's grid.
    pub points: Vec<Point>,
}

/// Legend names of the scale markers.
pub const SCALE_UP: &str = "scale up";
/// See [`SCALE_UP`].
pub const SCALE_DOWN: &str = "scale down";

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

/// A replica event: a vertical line, or a marker at the count it reached.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkAt {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// A scale-up (or a scale-down).
    pub up: bool,
    /// Replicas after the change.
    pub to: u32,
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
/// over it. `pick` names the member lines when there are too many to name them all (see
/// [`named_members`]).
pub fn chart(
    panel: &Panel,
    spec: &PanelSpec,
    theme: Theme,
    start_ms: i64,
    end_ms: i64,
    marks: &Marks,
    pick: Option<&MemberPick>,
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
    // Series drawn one per member (replica, GPU) read better without a stack.
    let per_member = panel.series.iter().any(|s| is_member(&s.id));
    // Too many members to name: a few named in colour, the rest grey and unnamed.
    let named = |id: &SeriesId| {
        pick.is_none_or(|pick| !is_member(id) || pick.named.contains(&series_style(id).label))
    };
    tooltip = if let Some(pick) = pick {
        // Lines that are not members (the average, the target) are listed like named ones.
        let listed: Vec<String> = panel
            .series
            .iter()
            .filter(|s| !is_member(&s.id))
            .map(|s| series_style(&s.id).label)
            .chain(marks.guide.iter().map(|guide| guide.label.clone()))
            .collect();
        tooltip.formatter(members_tooltip(spec.unit, pick, &listed))
    } else if is_percentile_panel(panel) && spec.unit != Unit::Replicas {
        tooltip.formatter(percentile_tooltip(spec.unit, panel))
    } else if has_codes {
        tooltip.formatter(codes_tooltip(spec.unit, panel))
    } else {
        tooltip.value_formatter(compiled("v", formatter_body(spec.unit)))
    };
    let mut legend = Legend::new()
        .right(8)
        .top(0)
        .item_width(14)
        .item_height(8)
        .item_gap(10)
        .text_style(small_text(colors.text));
    // Picked members are named by the card (a list that wraps, beside the search), not by the
    // chart's legend, which keeps one row.
    let labels: Vec<String> = panel
        .series
        .iter()
        .filter(|line| pick.is_none() || !is_member(&line.id))
        .map(|line| series_style(&line.id))
        .filter(|style| style.drawn)
        .map(|style| style.label)
        .collect();
    // Many members (a deployment that scaled through dozens of replicas): one scrolling row
    // instead of a legend that covers the plot.
    if labels.len() > MAX_LEGEND_ROW {
        legend = legend.type_(LegendType::Scroll).left(60);
    }
    // Guides and scale markers join the legend after the panel's own lines.
    let mut names = labels.clone();
    names.extend(marks.guide.iter().map(|guide| guide.label.clone()));
    for (up, name) in [(true, SCALE_UP), (false, SCALE_DOWN)] {
        if marks.events.iter().any(|event| event.up == up) {
            names.push(name.to_owned());
        }
    }
    legend = legend.data(names.iter().map(String::as_str).collect::<Vec<_>>());
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
        let unnamed = !named(&line.id);
        // Unnamed members: thin, grey, under the named ones.
        let color = if unnamed {
            colors.unnamed
        } else {
            style.color(theme)
        };
        if spec.shape == Shape::Bars && style.drawn {
            chart = chart.series(
                Bar::new()
                    .name(style.label.as_str())
                    .item_style(ItemStyle::new().color(color))
                    .data(points(&line.points)),
            );
            continue;
        }
        let mut line_style =
            LineStyle::new()
                .color(color)
                .width(if unnamed { 1.0 } else { style.width });
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
        if unnamed {
            drawn = drawn.z(1);
        } else if pick.is_some() {
            drawn = drawn.z(3);
        }
        chart = chart.series(drawn);
    }
    if let Some(guide) = &marks.guide {
        chart = chart.series(
            Line::new()
                .name(guide.label.as_str())
                .show_symbol(false)
                .silent(true)
                .z(20)
                .line_style(
                    LineStyle::new()
                        .color(colors.text)
                        .width(1.5)
                        .type_(LineStyleType::Dashed),
                )
                .item_style(ItemStyle::new().color(colors.text))
                .data(points(&guide.points)),
        );
    }
    for (up, name, path, colour) in [
        (true, SCALE_UP, "path://M5,0 L10,9 L0,9 Z", "#36A273"),
        (false, SCALE_DOWN, "path://M0,0 L10,0 L5,9 Z", "#E5484D"),
    ] {
        let at: Vec<CompositeValue> = marks
            .events
            .iter()
            .filter(|event| event.up == up)
            .map(|event| {
                CompositeValue::from(vec![
                    CompositeValue::from(event.at_ms as f64),
                    CompositeValue::from(f64::from(event.to)),
                ])
            })
            .collect();
        if at.is_empty() {
            continue;
        }
        chart = chart.series(
            Scatter::new()
                .name(name)
                .symbol(Symbol::Custom(path.to_owned()))
                .symbol_size(9)
                .item_style(ItemStyle::new().color(colour))
                .data(at),
        );
    }
    if !(marks.areas.is_empty() && marks.lines.is_empty()) {
        chart = chart.series(marks_series(marks, theme));
    }
    chart
}

/// Legends with more entries than this scroll.
const MAX_LEGEND_ROW: usize = 8;

/// The most member lines (replicas, GPUs) a chart names in colour; see [`named_members`].
pub const MAX_NAMED_MEMBERS: usize = 6;

/// A series drawn one per member: a replica or a GPU.
pub fn is_member(id: &SeriesId) -> bool {
    matches!(id, SeriesId::Replica(_) | SeriesId::Gpu(_))
}

/// Which member lines a chart names when a panel has more than [`MAX_NAMED_MEMBERS`] of them.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberPick {
    /// The names drawn in colour, listed by the card and in the tooltip: highest mean first.
    pub named: Vec<String>,
    /// How many member lines the panel has.
    pub total: usize,
    /// How many match the search (all of them without one).
    pub matched: usize,
}

/// The member lines to name, or `None` when a panel has few enough to name them all. Without a
/// search, the [`MAX_NAMED_MEMBERS`] with the highest mean over the window; with one, those whose
/// name contains it (any case), highest mean first, at most as many. The others stay drawn,
/// grey, so the shape of the whole fleet is kept.
pub fn named_members(panel: &Panel, find: &str) -> Option<MemberPick> {
    let members: Vec<(String, f64)> = panel
        .series
        .iter()
        .filter(|s| is_member(&s.id))
        .map(|s| {
            let (sum, count) = s
                .points
                .iter()
                .filter_map(|p| p.1)
                .fold((0.0, 0_u32), |(sum, count), v| (sum + v, count + 1));
            let mean = if count == 0 {
                f64::NEG_INFINITY
            } else {
                sum / f64::from(count)
            };
            (series_style(&s.id).label, mean)
        })
        .collect();
    if members.len() <= MAX_NAMED_MEMBERS {
        return None;
    }
    let total = members.len();
    let needle = find.trim().to_lowercase();
    let mut matching: Vec<(String, f64)> = members
        .into_iter()
        .filter(|(name, _)| needle.is_empty() || name.to_lowercase().contains(&needle))
        .collect();
    matching.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let matched = matching.len();
    Some(MemberPick {
        named: matching
            .into_iter()
            .take(MAX_NAMED_MEMBERS)
            .map(|(name, _)| name)
            .collect(),
        total,
        matched,
    })
}

/// A tooltip for many members: the named ones and the `listed` lines (the average) with their
/// values, highest first, then how many other members have a value there and their range.
fn members_tooltip(unit: Unit, pick: &MemberPick, listed: &[String]) -> JsFunction {
    let named: BTreeMap<&str, u8> = pick
        .named
        .iter()
        .chain(listed)
        .map(|name| (name.as_str(), 1))
        .collect();
    let named = serde_json::to_string(&named).unwrap_or_else(|_| "{}".into());
    let body = format!(
        "var f = function(v) {{ {format} }}; var named = {named}; \
         var esc = function(s) {{ return String(s).replace(/[&<>\"']/g, function(c) {{ return '&#' + c.charCodeAt(0) + ';'; }}); }}; \
         if (!params.length) return ''; \
         var out = '<div style=\"margin-bottom:4px\">' + new Date(params[0].value[0]).toLocaleString() + '</div>'; \
         var rows = [], n = 0, lo = null, hi = null; \
         for (var k = 0; k < params.length; k++) {{ var p = params[k]; var v = p.value[1]; \
           if (v == null || p.seriesType !== 'line') continue; \
           if (named[p.seriesName]) {{ rows.push(p); }} \
           else {{ n++; if (lo === null || v < lo) lo = v; if (hi === null || v > hi) hi = v; }} }} \
         rows.sort(function(a, b) {{ return b.value[1] - a.value[1]; }}); \
         for (var i = 0; i < rows.length; i++) out += rows[i].marker + esc(rows[i].seriesName) + ' <b>' + f(rows[i].value[1]) + '</b><br/>'; \
         if (n) out += '<div style=\"margin-top:4px;opacity:.75\">' + n + (n === 1 ? ' other: ' : ' others: ') + f(lo) + (lo === hi ? '' : ' – ' + f(hi)) + '</div>'; \
         return out;",
        format = formatter_body(unit),
    );
    JsFunction::new_with_args("params", &body)
}

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
                to: 4,
            }],
            events: vec![
                MarkAt {
                    at_ms: 30_000,
                    up: true,
                    to: 4,
                },
                MarkAt {
                    at_ms: 50_000,
                    up: false,
                    to: 2,
                },
            ],
            guide: Some(Guide {
                label: "target".into(),
                points: vec![Point(0, Some(3.0)), Point(30_000, None)],
            }),
        };
        let option = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::Replicas),
            Theme::Light,
            0,
            60_000,
            &marks,
            None,
        ))
        .unwrap();
        let series = option["series"].as_array().unwrap();
        let carrier = series.iter().find(|s| s["name"] == MARKS_SERIES).unwrap();
        let area = &carrier["markArea"]["data"][0];
        assert_eq!(area[0]["name"], "thrash");
        assert_eq!(area[0]["xAxis"], "1970-01-01T00:00:00.000Z");
        assert_eq!(area[1]["xAxis"], "1970-01-01T00:01:00.000Z");
        assert_eq!(carrier["markLine"]["data"][0]["xAxis"], 30_000.0);
        // Each event a marker at the count it reached; the guide dashed, gaps kept.
        let named = |name: &str| series.iter().find(|s| s["name"] == name).unwrap();
        assert_eq!(named(SCALE_UP)["type"], "scatter");
        assert_eq!(
            named(SCALE_UP)["data"],
            serde_json::json!([[30_000.0, 4.0]])
        );
        assert_eq!(
            named(SCALE_DOWN)["data"],
            serde_json::json!([[50_000.0, 2.0]])
        );
        let guide = named("target");
        assert_eq!(guide["lineStyle"]["type"], "dashed");
        assert_eq!(guide["data"], serde_json::json!([[0, 3.0], [30_000, null]]));
        let legend: Vec<&str> = option["legend"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert!(
            legend.ends_with(&["target", SCALE_UP, SCALE_DOWN]),
            "{legend:?}"
        );
        // Without marks there is no such series.
        let plain = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::Replicas),
            Theme::Light,
            0,
            60_000,
            &Marks::default(),
            None,
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
            None,
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
            None,
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
            None,
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

    /// Fifty replicas whose means are a permutation of 0..50 (replica `i` averages `37·i mod 50`),
    /// so the name order tells nothing about the value order.
    fn fifty_replicas() -> Panel {
        let mut series = vec![(SeriesId::Average, vec![Point(0, Some(25.0))])];
        for i in 0..50_i32 {
            let mean = f64::from((37 * i) % 50);
            series.push((
                SeriesId::Replica(format!("r-{i:02}")),
                vec![
                    Point(0, Some(mean - 1.0)),
                    Point(10, None),
                    Point(20, Some(mean + 1.0)),
                ],
            ));
        }
        panel(PanelId::Cpu, series)
    }

    #[test]
    fn many_members_name_the_highest_or_those_found() {
        let panel = fifty_replicas();
        // Means 49, 48, … 44 belong to replicas 23·v mod 50 (23 is 37's inverse mod 50).
        let top = named_members(&panel, "").expect("too many to name");
        assert_eq!(top.named, ["r-27", "r-04", "r-31", "r-08", "r-35", "r-12"]);
        assert_eq!((top.total, top.matched), (50, 50));
        // "R-1" (any case) matches r-10 … r-19; their means: 20 7 44 31 18 5 42 29 16 3.
        let found = named_members(&panel, " R-1 ").expect("too many to name");
        assert_eq!(
            found.named,
            ["r-12", "r-16", "r-13", "r-17", "r-10", "r-14"]
        );
        assert_eq!((found.total, found.matched), (50, 10));
        let none = named_members(&panel, "gpu").expect("too many to name");
        assert!(none.named.is_empty());
        assert_eq!(none.matched, 0);
        // Six members are all named.
        let mut few = panel.clone();
        few.series.truncate(1 + MAX_NAMED_MEMBERS);
        assert_eq!(named_members(&few, ""), None);
    }

    #[test]
    fn unnamed_members_are_drawn_grey_under_the_named_ones() {
        let panel = fifty_replicas();
        let option = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::Cpu),
            Theme::Light,
            0,
            20,
            &Marks::default(),
            named_members(&panel, "r-1").as_ref(),
        ))
        .expect("chart serialises");
        let mut legend: Vec<&str> = option["legend"]["data"]
            .as_array()
            .expect("legend")
            .iter()
            .filter_map(|entry| entry["name"].as_str())
            .collect();
        legend.sort_unstable();
        // The card names the members; the legend keeps the rest.
        assert_eq!(legend, ["avg"]);
        let series = option["series"].as_array().expect("series");
        assert_eq!(series.len(), 51, "every replica is still drawn");
        let grey: Vec<&str> = series
            .iter()
            .filter(|s| s["lineStyle"]["color"] == "#C9CED8")
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(grey.len(), 44);
        assert!(grey.contains(&"r-15") && grey.contains(&"r-27") && !grey.contains(&"r-12"));
        let r12 = series.iter().find(|s| s["name"] == "r-12").expect("r-12");
        assert_eq!(r12["z"], 3);
        assert!(
            option["tooltip"]["formatter"].is_string()
                || option["tooltip"]["formatter"].is_object()
        );
    }
}
