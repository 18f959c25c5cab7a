//! A panel as an ECharts option, built with `charming`. Pure: the browser hands the result to
//! ECharts; tests inspect it natively.

use charming::Chart;
use charming::component::{Axis, Grid, Legend};
use charming::datatype::{CompositeValue, NumericValue};
use charming::element::{
    AreaStyle, AxisLabel, AxisLine, AxisPointer, AxisPointerType, AxisTick, AxisType, ItemStyle,
    JsFunction, LineStyle, LineStyleType, SplitLine, Step, Symbol, TextStyle, Tooltip, Trigger,
};
use charming::series::Line;

use crate::panels::{PanelSpec, Shape, Theme, Unit, series_style};
use crate::wire::{Panel, Point};

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

/// JavaScript that formats one value of `unit` (used by axis labels and tooltips).
fn formatter_body(unit: Unit) -> &'static str {
    match unit {
        Unit::Seconds => {
            "if (v == null || isNaN(v)) return '–'; \
             if (v === 0) return '0'; \
             if (v < 1) { var ms = v * 1000; return (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + ' ms'; } \
             return (v < 10 ? +v.toFixed(2) : +v.toFixed(1)) + ' s';"
        }
        Unit::RequestsPerSecond => {
            "if (v == null || isNaN(v)) return '–'; \
             return (v < 1 ? +v.toFixed(2) : v < 10 ? +v.toFixed(1) : Math.round(v)).toLocaleString() + ' req/s';"
        }
        Unit::Replicas | Unit::Requests => {
            "if (v == null || isNaN(v)) return '–'; \
             return (v < 10 ? +v.toFixed(1) : Math.round(v)).toLocaleString();"
        }
    }
}

/// Axis tick labels: units on seconds, bare numbers elsewhere (the unit sits above the axis).
fn axis_formatter_body(unit: Unit) -> &'static str {
    match unit {
        Unit::Seconds => formatter_body(unit),
        _ => "return (+v.toFixed(2)).toLocaleString();",
    }
}

/// The ECharts option for one panel over the window `[start_ms, end_ms]`.
pub fn chart(panel: &Panel, spec: &PanelSpec, theme: Theme, start_ms: i64, end_ms: i64) -> Chart {
    let colors = furniture(theme);
    let small_text = |color: &'static str| TextStyle::new().color(color).font_size(11);
    let mut chart = Chart::new()
        .animation(false)
        .grid(
            Grid::new()
                .left(48)
                .right(14)
                .top(30)
                .bottom(24)
                .contain_label(false),
        )
        .legend(
            Legend::new()
                .right(8)
                .top(0)
                .item_width(14)
                .item_height(8)
                .item_gap(12)
                .text_style(small_text(colors.text)),
        )
        .tooltip(
            Tooltip::new()
                .trigger(Trigger::Axis)
                .axis_pointer(AxisPointer::new().type_(AxisPointerType::Line))
                .background_color(colors.tooltip_background)
                .border_color(colors.tooltip_border)
                .value_formatter(JsFunction::new_with_args("v", formatter_body(spec.unit))),
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
            // Replicas come whole: no 1.5 ticks.
            let axis = if spec.unit == Unit::Replicas {
                axis.min_interval(1.0)
            } else {
                axis
            };
            axis.type_(AxisType::Value)
                .name(match spec.unit {
                    Unit::Seconds => "",
                    other => other.axis_label(),
                })
                .name_text_style(small_text(colors.text))
                .name_gap(10)
                .min(0)
                .split_number(4)
                .axis_label(AxisLabel::new().color(colors.text).font_size(11).formatter(
                    JsFunction::new_with_args("v", axis_formatter_body(spec.unit)),
                ))
                .split_line(SplitLine::new().line_style(LineStyle::new().color(colors.grid_line)))
        });
    // Drawn in reverse for percentiles so p99 (darkest, thickest) is on top.
    let mut series: Vec<_> = panel.series.iter().collect();
    if spec.shape == Shape::Lines {
        series.reverse();
    }
    for (index, line) in series.into_iter().enumerate() {
        let style = series_style(line.id);
        let color = style.color(theme);
        let mut line_style = LineStyle::new().color(color).width(style.width);
        if style.dashed {
            line_style = line_style.type_(LineStyleType::Dashed);
        }
        let mut drawn = Line::new()
            .name(style.label)
            .show_symbol(false)
            .symbol(Symbol::None)
            .line_style(line_style)
            .item_style(ItemStyle::new().color(color))
            .data(points(&line.points));
        match spec.shape {
            Shape::StackedArea => {
                // The base layer's line is drawn over the layers above it, so a layer that
                // adds nothing (no 5xx, nothing queued) does not paint the total in its colour.
                drawn = drawn
                    .stack("total")
                    .z(10 - index as i32)
                    .area_style(AreaStyle::new().color(color).opacity(0.22));
            }
            Shape::Steps => drawn = drawn.step(Step::End),
            Shape::Lines => {}
        }
        chart = chart.series(drawn);
    }
    chart
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
mod tests {
    use super::*;
    use crate::panels::spec;
    use crate::wire::{PanelId, Series, SeriesId};

    #[test]
    fn percentile_chart_has_a_line_per_quantile_with_gaps_kept() {
        let panel = Panel {
            id: PanelId::ResponseTime,
            series: [SeriesId::P50, SeriesId::P99]
                .into_iter()
                .map(|id| Series {
                    id,
                    points: vec![Point(1000, Some(0.5)), Point(2000, None)],
                })
                .collect(),
            top_bucket: None,
        };
        let option = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::ResponseTime),
            Theme::Dark,
            0,
            2000,
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
    fn volume_chart_stacks_status_classes_in_their_colours() {
        let panel = Panel {
            id: PanelId::InferenceVolume,
            series: vec![Series {
                id: SeriesId::Status5xx,
                points: vec![Point(0, Some(1.0))],
            }],
            top_bucket: None,
        };
        let option = serde_json::to_value(chart(
            &panel,
            &spec(PanelId::InferenceVolume),
            Theme::Light,
            0,
            0,
        ))
        .expect("chart serialises");
        assert_eq!(option["series"][0]["stack"], "total");
        assert_eq!(option["series"][0]["itemStyle"]["color"], "#E5484D");
        assert_eq!(option["yAxis"]["name"], "req/s");
    }
}
