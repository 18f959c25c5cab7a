//! The autoscaling diagnosis as the page shows it: marks on the charts (a finding's evidence as
//! shaded spans, replica events as lines), and the words of the findings card. Pure; tested
//! natively.

use crate::chart_option::{Guide, MarkAt, MarkSpan, Marks};
use crate::format;
use crate::wire::{
    AutoscalerSettingsInfo, Autoscaling, PanelId, Point, ReplicaEvent, ReplicaEventKind, SeriesId,
    Severity, View,
};

/// Most marks drawn on one chart (spans and lines each); the newest are kept.
pub const MAX_MARKS: usize = 200;

/// The marks on `panel`'s chart: the evidence of every finding shown on it, and on the replicas
/// chart the replica events. Each finding's first span carries its name (and the deployment's,
/// when the view covers several).
pub fn marks(view: &View, panel: PanelId) -> Marks {
    let several = view.autoscaling.len() > 1;
    let mut marks = Marks::default();
    for deployment in &view.autoscaling {
        for finding in deployment.findings.iter().filter(|f| f.panel == panel) {
            for (index, (from_ms, to_ms)) in finding.evidence.iter().enumerate() {
                let label = match (index, several) {
                    (0, false) => finding.kind.name().replace('_', " "),
                    (0, true) => format!(
                        "{} · {}",
                        finding.kind.name().replace('_', " "),
                        deployment.deployment
                    ),
                    _ => String::new(),
                };
                marks.areas.push(MarkSpan {
                    from_ms: *from_ms,
                    to_ms: *to_ms,
                    label,
                    critical: finding.severity == Severity::Critical,
                });
            }
        }
        if panel == PanelId::Replicas {
            let events = deployment.events.iter().map(|event| MarkAt {
                at_ms: event.at_ms,
                up: event.kind == ReplicaEventKind::ScaleUp,
                to: event.to,
            });
            marks.lines.extend(events.clone());
            // Markers on the line where the view is one deployment's (several would stack).
            if !several && !view.filter.splits(panel) {
                marks.events.extend(events);
            }
        }
    }
    if panel == PanelId::ConcurrentRequests {
        marks.guide = target_line(view);
    }
    let skip = marks.areas.len().saturating_sub(MAX_MARKS);
    marks.areas.drain(..skip);
    marks.lines.sort_by_key(|line| line.at_ms);
    let skip = marks.lines.len().saturating_sub(MAX_MARKS);
    marks.lines.drain(..skip);
    marks.events.sort_by_key(|event| event.at_ms);
    let skip = marks.events.len().saturating_sub(MAX_MARKS);
    marks.events.drain(..skip);
    marks
}

/// The autoscaler's target on the concurrent requests chart: what it aims each replica at
/// (concurrency target × target utilisation), times the replicas active at each point; per
/// replica when the chart is split by replica. Only for one deployment's view of every model
/// (the autoscaler counts a deployment's requests, not one model's).
pub fn target_line(view: &View) -> Option<Guide> {
    let [deployment] = view.autoscaling.as_slice() else {
        return None;
    };
    if view.filter.model.is_some() || view.filter.by_model.contains(&PanelId::ConcurrentRequests) {
        return None;
    }
    let settings = &deployment.settings;
    let per_replica = settings.concurrency_target * settings.target_utilization;
    if !per_replica.is_finite() || per_replica <= 0.0 {
        return None;
    }
    let label = format!(
        "target ({} × {} per replica)",
        format::number(settings.concurrency_target),
        format::percent(settings.target_utilization)
    );
    let concurrent = view
        .panels
        .iter()
        .find(|panel| panel.id == PanelId::ConcurrentRequests)?;
    let grid: Vec<i64> = concurrent
        .series
        .first()
        .map(|series| series.points.iter().map(|p| p.0).collect())?;
    if view.filter.splits(PanelId::ConcurrentRequests) {
        return Some(Guide {
            label,
            points: grid
                .into_iter()
                .map(|at| Point(at, Some(per_replica)))
                .collect(),
        });
    }
    let active = view
        .panels
        .iter()
        .find(|panel| panel.id == PanelId::Replicas)?
        .series
        .iter()
        .find(|series| series.id == SeriesId::Active)?;
    let by_time: std::collections::HashMap<i64, Option<f64>> =
        active.points.iter().map(|p| (p.0, p.1)).collect();
    let points: Vec<Point> = grid
        .into_iter()
        .map(|at| {
            let replicas = by_time.get(&at).copied().flatten();
            Point(at, replicas.map(|r| r * per_replica))
        })
        .collect();
    points
        .iter()
        .any(|p| p.1.is_some())
        .then_some(Guide { label, points })
}

/// A duration in milliseconds as `45 s`, `3 min 20 s`, `2 h 5 min`.
pub fn span(ms: i64) -> String {
    let seconds = (ms.max(0) + 500) / 1000;
    if seconds < 60 {
        format!("{seconds} s")
    } else if seconds < 3600 {
        match seconds % 60 {
            0 => format!("{} min", seconds / 60),
            rest => format!("{} min {rest} s", seconds / 60),
        }
    } else {
        match seconds / 60 % 60 {
            0 => format!("{} h", seconds / 3600),
            rest => format!("{} h {rest} min", seconds / 3600),
        }
    }
}

/// A replica event in words: `2 → 6 replicas, ready in 24 s`.
pub fn event_text(event: &ReplicaEvent) -> String {
    let change = format!("{} → {} replicas", event.from, event.to);
    match (event.kind, event.cold_start_ms) {
        (ReplicaEventKind::ScaleUp, Some(ms)) => format!("{change}, ready in {}", span(ms)),
        // Not measured: the count changed again first, or the steps are too coarse.
        (ReplicaEventKind::ScaleUp, None) | (ReplicaEventKind::ScaleDown, _) => change,
    }
}

/// The settings a diagnosis assumed, in one line.
pub fn settings_text(settings: &AutoscalerSettingsInfo) -> String {
    let source = match settings.source.as_str() {
        "defaults" => "documented defaults".to_owned(),
        other => format!("from {}", other.replace('+', " and ")),
    };
    format!(
        "min {} · max {} · concurrency target {} at {} · window {} · scale-down delay {} · at most {} removed per step ({source})",
        settings.min_replicas,
        settings.max_replicas,
        format::number(settings.concurrency_target),
        format::percent(settings.target_utilization),
        span((settings.window_s * 1000.0) as i64),
        span((settings.scale_down_delay_s * 1000.0) as i64),
        format::percent(settings.max_scale_down_rate),
    )
}

/// Findings in all, and how many are critical.
pub fn counts(autoscaling: &[Autoscaling]) -> (usize, usize) {
    let findings = autoscaling.iter().flat_map(|a| &a.findings);
    let all = findings.clone().count();
    let critical = findings
        .filter(|f| f.severity == Severity::Critical)
        .count();
    (all, critical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Filter, Finding, FindingKind};

    fn settings() -> AutoscalerSettingsInfo {
        AutoscalerSettingsInfo {
            min_replicas: 1,
            max_replicas: 20,
            concurrency_target: 4.0,
            target_utilization: 0.7,
            window_s: 10.0,
            scale_down_delay_s: 30.0,
            max_scale_down_rate: 0.5,
            source: "exporter+defaults".into(),
        }
    }

    fn view(deployments: usize) -> View {
        let deployment = |name: &str| Autoscaling {
            environment: "demo".into(),
            deployment: name.into(),
            settings: settings(),
            findings: vec![Finding {
                kind: FindingKind::Thrash,
                severity: Severity::Critical,
                from_ms: 0,
                to_ms: 90_000,
                panel: PanelId::Replicas,
                evidence: vec![(0, 30_000), (60_000, 90_000)],
                cause: "flips".into(),
                fix: "scale-down delay 30 s → 600 s or more".into(),
            }],
            events: vec![ReplicaEvent {
                at_ms: 10_000,
                kind: ReplicaEventKind::ScaleUp,
                from: 1,
                to: 8,
                cold_start_ms: Some(30_000),
            }],
        };
        View {
            filter: Filter::default(),
            start_ms: 0,
            end_ms: 90_000,
            step_ms: 1000,
            deployments: Vec::new(),
            panels: Vec::new(),
            gpu_note: None,
            models: Vec::new(),
            autoscaling: (0..deployments)
                .map(|i| deployment(&format!("d{i}")))
                .collect(),
        }
    }

    #[test]
    fn evidence_is_marked_on_its_panel_and_events_on_the_replicas_chart() {
        let one = view(1);
        let marks = marks(&one, PanelId::Replicas);
        assert_eq!(marks.areas.len(), 2);
        assert_eq!(marks.areas[0].label, "thrash");
        assert_eq!(marks.areas[1].label, "");
        assert!(marks.areas[0].critical);
        assert_eq!(marks.lines.len(), 1);
        assert_eq!(super::marks(&one, PanelId::ResponseTime), Marks::default());
        // Several deployments: the label names the deployment.
        let two = view(2);
        assert_eq!(
            super::marks(&two, PanelId::Replicas).areas[0].label,
            "thrash · d0"
        );
    }

    fn series(id: SeriesId, values: &[Option<f64>]) -> crate::wire::Series {
        crate::wire::Series {
            id,
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| Point(i as i64 * 1000, *v))
                .collect(),
        }
    }

    #[test]
    fn the_target_line_follows_the_active_replicas() {
        let mut one = view(1);
        one.panels = vec![
            crate::wire::Panel {
                series: vec![
                    series(SeriesId::Active, &[Some(1.0), Some(3.0), None]),
                    series(SeriesId::Starting, &[Some(0.0), Some(2.0), Some(0.0)]),
                ],
                ..crate::wire::Panel::empty(PanelId::Replicas)
            },
            crate::wire::Panel {
                series: vec![series(
                    SeriesId::InProgress,
                    &[Some(2.0), Some(9.0), Some(1.0)],
                )],
                ..crate::wire::Panel::empty(PanelId::ConcurrentRequests)
            },
        ];
        // Target 4 at 70 %: 2.8 per active replica (starting ones serve nothing yet).
        let guide = marks(&one, PanelId::ConcurrentRequests)
            .guide
            .expect("a target");
        assert_eq!(guide.label, "target (4 × 70% per replica)");
        let values: Vec<Option<f64>> = guide.points.iter().map(|p| p.1).collect();
        assert_eq!(values.len(), 3);
        assert!((values[0].unwrap() - 2.8).abs() < 1e-9);
        assert!((values[1].unwrap() - 8.4).abs() < 1e-9);
        assert_eq!(values[2], None);
        // Split by replica: the per-replica target, flat.
        one.filter.split = vec![PanelId::ConcurrentRequests];
        let flat = target_line(&one).expect("per replica");
        assert!(
            flat.points
                .iter()
                .all(|p| (p.1.unwrap() - 2.8).abs() < 1e-9)
        );
        // One model's requests, or several deployments: no target to compare with.
        one.filter.split.clear();
        one.filter.model = Some("adapter".into());
        assert_eq!(target_line(&one), None);
        one.filter.model = None;
        let mut two = view(2);
        two.panels = one.panels.clone();
        assert_eq!(target_line(&two), None);
        // Scale markers sit at the count reached, on one deployment's chart only.
        let replicas = marks(&one, PanelId::Replicas);
        assert_eq!(replicas.events.len(), 1);
        assert_eq!((replicas.events[0].to, replicas.events[0].up), (8, true));
        assert!(marks(&two, PanelId::Replicas).events.is_empty());
    }

    #[test]
    fn words_for_spans_events_and_settings() {
        assert_eq!(span(45_000), "45 s");
        assert_eq!(span(200_000), "3 min 20 s");
        assert_eq!(span(7_500_000), "2 h 5 min");
        let event = &view(1).autoscaling[0].events[0];
        assert_eq!(event_text(event), "1 → 8 replicas, ready in 30 s");
        assert_eq!(
            settings_text(&settings()),
            "min 1 · max 20 · concurrency target 4 at 70% · window 10 s · scale-down delay 30 s · at most 50% removed per step (from exporter and defaults)"
        );
        assert_eq!(counts(&view(2).autoscaling), (2, 2));
    }
}
