//! The autoscaling diagnosis as the page shows it: marks on the charts (a finding's evidence as
//! shaded spans, replica events as lines), and the words of the findings card. Pure; tested
//! natively.

use crate::chart_option::{MarkAt, MarkSpan, Marks};
use crate::format;
use crate::wire::{
    AutoscalerSettingsInfo, Autoscaling, PanelId, ReplicaEvent, ReplicaEventKind, Severity, View,
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
            marks
                .lines
                .extend(deployment.events.iter().map(|event| MarkAt {
                    at_ms: event.at_ms,
                    up: event.kind == ReplicaEventKind::ScaleUp,
                }));
        }
    }
    let skip = marks.areas.len().saturating_sub(MAX_MARKS);
    marks.areas.drain(..skip);
    marks.lines.sort_by_key(|line| line.at_ms);
    let skip = marks.lines.len().saturating_sub(MAX_MARKS);
    marks.lines.drain(..skip);
    marks
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
        assert!(super::marks(&one, PanelId::ResponseTime).is_empty());
        // Several deployments: the label names the deployment.
        let two = view(2);
        assert_eq!(
            super::marks(&two, PanelId::Replicas).areas[0].label,
            "thrash · d0"
        );
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
