//! The delta between two views of the same filter: what a client holding `old` needs to hold
//! `new` (see [`app::wire::ViewDelta`] for the rules a client applies).

use app::wire::{PanelDelta, Point, Series, SeriesDelta, View, ViewDelta};

/// What changed from `old` to `new`. Applying it to `old` gives exactly `new`.
pub fn diff(old: &View, new: &View) -> ViewDelta {
    let mut panels = Vec::new();
    for new_panel in &new.panels {
        let old_panel = old.panel(new_panel.id);
        let mut series = Vec::new();
        for new_series in &new_panel.series {
            let old_series = old_panel.and_then(|panel| panel.series(&new_series.id));
            if let Some(change) = series_delta(old_series, new_series, new.start_ms) {
                series.push(change);
            }
        }
        let removed: Vec<_> = old_panel
            .map(|panel| {
                panel
                    .series
                    .iter()
                    .filter(|old_series| new_panel.series(&old_series.id).is_none())
                    .map(|old_series| old_series.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let top_changed = old_panel.is_none_or(|panel| {
            panel.top_bucket != new_panel.top_bucket
                || panel.from_summaries != new_panel.from_summaries
                || panel.by_model != new_panel.by_model
        });
        let hints = match old_panel {
            Some(panel) if panel.hints == new_panel.hints => None,
            _ => Some(new_panel.hints.clone()),
        };
        let bounds = match old_panel {
            Some(panel) if panel.bounds == new_panel.bounds => None,
            _ => Some(new_panel.bounds.clone()),
        };
        // Points that left the window drop off the client's list by themselves.
        let above_unchanged = old_panel.is_some_and(|panel| {
            panel
                .above
                .iter()
                .filter(|point| point.at_ms >= new.start_ms)
                .eq(new_panel.above.iter())
        });
        let above = (!above_unchanged).then(|| new_panel.above.clone());
        if !series.is_empty()
            || !removed.is_empty()
            || top_changed
            || bounds.is_some()
            || above.is_some()
            || hints.is_some()
        {
            panels.push(PanelDelta {
                id: new_panel.id,
                top_bucket: new_panel.top_bucket,
                from_summaries: new_panel.from_summaries,
                by_model: new_panel.by_model,
                hints,
                bounds,
                above,
                series,
                removed,
            });
        }
    }
    ViewDelta {
        start_ms: new.start_ms,
        end_ms: new.end_ms,
        deployments: (old.deployments != new.deployments).then(|| new.deployments.clone()),
        models: (old.models != new.models).then(|| new.models.clone()),
        panels,
        autoscaling: (old.autoscaling != new.autoscaling).then(|| new.autoscaling.clone()),
    }
}

fn series_delta(old: Option<&Series>, new: &Series, start_ms: i64) -> Option<SeriesDelta> {
    let Some(old) = old else {
        return Some(SeriesDelta {
            id: new.id.clone(),
            from_ms: start_ms,
            points: new.points.clone(),
        });
    };
    let kept: Vec<&Point> = old
        .points
        .iter()
        .filter(|Point(time_ms, _)| *time_ms >= start_ms)
        .collect();
    let common = kept
        .iter()
        .zip(&new.points)
        .take_while(|(old_point, new_point)| **old_point == *new_point)
        .count();
    if common == kept.len() && common == new.points.len() {
        return None;
    }
    let from_ms = match (new.points.get(common), kept.get(common)) {
        (Some(Point(time_ms, _)), _) | (None, Some(Point(time_ms, _))) => *time_ms,
        (None, None) => return None,
    };
    Some(SeriesDelta {
        id: new.id.clone(),
        from_ms,
        points: new.points[common..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use app::wire::{DeploymentRef, Filter, Panel, PanelId, SeriesId};

    use super::*;

    fn view(start_ms: i64, end_ms: i64, panels: Vec<Panel>) -> View {
        View {
            filter: Filter::default(),
            start_ms,
            end_ms,
            step_ms: 1,
            deployments: vec![DeploymentRef {
                environment: "production".into(),
                deployment: "chat".into(),
            }],
            panels,
            gpu_note: None,
            models: Vec::new(),
            autoscaling: Vec::new(),
        }
    }

    fn series(id: SeriesId, points: &[(i64, Option<f64>)]) -> Series {
        Series {
            id,
            points: points.iter().map(|&(t, v)| Point(t, v)).collect(),
        }
    }

    fn panel(id: PanelId, series: Vec<Series>) -> Panel {
        Panel {
            series,
            ..Panel::empty(id)
        }
    }

    fn roundtrip(old: &View, new: &View) -> ViewDelta {
        let delta = diff(old, new);
        let mut applied = old.clone();
        applied.apply(&delta);
        assert_eq!(&applied, new, "delta {delta:?}");
        delta
    }

    #[test]
    fn window_slide_sends_only_new_and_revised_points() {
        let old = view(
            0,
            3,
            vec![panel(
                PanelId::Replicas,
                vec![series(
                    SeriesId::Active,
                    &[
                        (0, Some(1.0)),
                        (1, Some(1.0)),
                        (2, Some(2.0)),
                        (3, Some(2.0)),
                    ],
                )],
            )],
        );
        let new = view(
            1,
            4,
            vec![panel(
                PanelId::Replicas,
                vec![series(
                    SeriesId::Active,
                    &[(1, Some(1.0)), (2, Some(2.0)), (3, Some(3.0)), (4, None)],
                )],
            )],
        );
        let delta = roundtrip(&old, &new);
        assert_eq!(delta.deployments, None);
        let change = &delta.panels[0].series[0];
        assert_eq!(change.from_ms, 3);
        assert_eq!(change.points, vec![Point(3, Some(3.0)), Point(4, None)]);
    }

    #[test]
    fn above_marks_are_sent_when_they_change_and_age_out_with_the_window() {
        let p99 = |points: &[(i64, Option<f64>)], above: &[i64]| {
            let mut panel = panel(PanelId::ResponseTime, vec![series(SeriesId::P99, points)]);
            panel.above = above
                .iter()
                .map(|&at_ms| app::wire::AbovePoint {
                    series: SeriesId::P99,
                    at_ms,
                })
                .collect();
            panel
        };
        let old = view(
            0,
            2,
            vec![p99(
                &[(0, Some(60.0)), (1, Some(2.0)), (2, Some(2.0))],
                &[0],
            )],
        );
        // The marked point leaves the window: nothing to send for the marks.
        let slid = view(
            1,
            3,
            vec![p99(&[(1, Some(2.0)), (2, Some(2.0)), (3, Some(2.0))], &[])],
        );
        let delta = roundtrip(&old, &slid);
        assert_eq!(delta.panels[0].above, None);
        // A new point above every bound: the whole new list.
        let marked = view(
            1,
            3,
            vec![p99(
                &[(1, Some(2.0)), (2, Some(2.0)), (3, Some(60.0))],
                &[3],
            )],
        );
        let delta = roundtrip(&slid, &marked);
        assert_eq!(delta.panels[0].above.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn unchanged_views_give_empty_deltas() {
        let same = view(
            0,
            1,
            vec![panel(
                PanelId::Replicas,
                vec![series(SeriesId::Active, &[(0, Some(1.0)), (1, Some(1.0))])],
            )],
        );
        assert!(roundtrip(&same, &same).is_empty());
    }

    #[test]
    fn series_appear_disappear_and_shrink() {
        let old = view(
            0,
            2,
            vec![panel(
                PanelId::InferenceVolume,
                vec![
                    series(
                        SeriesId::Status2xx,
                        &[(0, Some(1.0)), (1, Some(2.0)), (2, Some(3.0))],
                    ),
                    series(SeriesId::Status5xx, &[(0, Some(0.0))]),
                ],
            )],
        );
        let mut new = view(
            0,
            2,
            vec![panel(
                PanelId::InferenceVolume,
                vec![
                    series(SeriesId::Status2xx, &[(0, Some(1.0)), (1, Some(2.0))]),
                    series(SeriesId::Status4xx, &[(2, Some(0.5))]),
                ],
            )],
        );
        new.deployments.clear();
        let delta = roundtrip(&old, &new);
        assert_eq!(delta.deployments, Some(vec![]));
        assert_eq!(delta.panels[0].removed, vec![SeriesId::Status5xx]);
    }
}
