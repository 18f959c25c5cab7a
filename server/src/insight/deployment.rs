//! Recorded deployments diagnosed as the live stream, the page and the API show them: the
//! settings each deployment runs with (the documented defaults, replaced by what its exporter
//! publishes, replaced by the server's `[[autoscaling]]` table), its findings with their
//! evidence, its replica events, and what-if replays of its recorded load.

use std::time::Duration;

use app::wire::{
    AutoscalerSettingsInfo, Autoscaling, DeploymentRef, Filter, MAX_DIAGNOSED_DEPLOYMENTS,
    MAX_REPLICA_EVENTS, PanelId, Point, ReplicaEvent, ReplicaEventKind, WhatIf, WhatIfEdits,
    WhatIfTotals,
};

use super::{Observed, diagnose, observed_from_view};
use crate::autoscale::{AutoscalerSettings, Overrides, replay};
use crate::model::Signal;
use crate::query::{self, QuerySettings};
use crate::store::{Samples, Store};

/// Settings the server's configuration gives one deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfiguredSettings {
    /// Only in this environment; absent: in every environment.
    pub environment: Option<String>,
    /// The deployment.
    pub deployment: String,
    /// The settings given.
    pub overrides: Overrides,
}

/// The server's `[[autoscaling]]` table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SettingsTable(pub Vec<ConfiguredSettings>);

impl SettingsTable {
    /// The entry for a deployment: one naming its environment beats one naming none.
    pub fn lookup(&self, environment: &str, deployment: &str) -> Option<&Overrides> {
        let named = |wanted: Option<&str>| {
            self.0.iter().find(|entry| {
                entry.deployment == deployment && entry.environment.as_deref() == wanted
            })
        };
        named(Some(environment))
            .or_else(|| named(None))
            .map(|entry| &entry.overrides)
    }
}

/// What a deployment's exporters publish as `inferscope_autoscaler_setting` gauges (the newest
/// reading of each; readings out of range are ignored).
pub fn exporter_overrides(store: &Store, deployment: &DeploymentRef) -> Overrides {
    let mut overrides = Overrides::default();
    for (key, samples) in store.series(Signal::AutoscalerSetting) {
        if *key.target.environment != *deployment.environment
            || *key.target.deployment != *deployment.deployment
        {
            continue;
        }
        let (Some(name), Samples::Gauge(series)) = (&key.detail, samples) else {
            continue;
        };
        if let Some((_, Some(value))) = series.iter().filter(|(_, v)| v.is_some()).last() {
            // A value out of range keeps the default; the exporter's page is its own business.
            let _ignored = overrides.set(name, value);
        }
    }
    overrides
}

/// A deployment's settings and their source: the defaults, replaced by its exporter's gauges,
/// replaced by the configuration.
pub fn settings_for(
    store: &Store,
    deployment: &DeploymentRef,
    table: &SettingsTable,
) -> (AutoscalerSettings, String) {
    let exported = exporter_overrides(store, deployment);
    let configured = table
        .lookup(&deployment.environment, &deployment.deployment)
        .copied()
        .unwrap_or_default();
    let given = configured.over(&exported);
    let mut settings = given.apply(AutoscalerSettings::DEFAULTS);
    // An exporter's minimum above the configured maximum (or the other way round): the
    // autoscaler cannot go below its minimum.
    settings.max_replicas = settings.max_replicas.max(settings.min_replicas);
    let sources: Vec<&str> = [
        (!exported.is_empty()).then_some("exporter"),
        (!configured.is_empty()).then_some("config"),
        (!given.is_complete()).then_some("defaults"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (settings, sources.join("+"))
}

/// Settings as the wire shows them.
pub fn info(settings: &AutoscalerSettings, source: String) -> AutoscalerSettingsInfo {
    AutoscalerSettingsInfo {
        min_replicas: settings.min_replicas,
        max_replicas: settings.max_replicas,
        concurrency_target: settings.concurrency_target,
        target_utilization: settings.target_utilization,
        window_s: settings.window.as_secs_f64(),
        scale_down_delay_s: settings.scale_down_delay.as_secs_f64(),
        max_scale_down_rate: settings.max_scale_down_rate,
        source,
    }
}

/// Replicas (active plus starting) at each step; `None` where neither is known.
fn totals(observed: &Observed) -> Vec<Option<f64>> {
    observed
        .active
        .iter()
        .zip(&observed.starting)
        .map(|(active, starting)| match (active, starting) {
            (None, None) => None,
            _ => Some((active.unwrap_or(0.0) + starting.unwrap_or(0.0)).round()),
        })
        .collect()
}

/// Scale-ups and scale-downs: each change of the replica count (changes in the same direction
/// on consecutive steps are one event), with the cold start of each scale-up — the time until
/// as many replicas were active as the scale-up asked for. The newest [`MAX_REPLICA_EVENTS`].
pub fn events(observed: &Observed) -> Vec<ReplicaEvent> {
    let total = totals(observed);
    let mut events: Vec<(usize, usize, u32, u32)> = Vec::new();
    let mut previous: Option<(usize, f64)> = None;
    for (step, value) in total.iter().enumerate() {
        let Some(now) = *value else { continue };
        if let Some((_, before)) = previous
            && now != before
        {
            let up = now > before;
            match events.last_mut() {
                Some((_, last, from, to)) if *last + 1 == step && (*to > *from) == up => {
                    *last = step;
                    *to = now as u32;
                }
                _ => events.push((step, step, before as u32, now as u32)),
            }
        }
        previous = Some((step, now));
    }
    // A scale-up's cold start ends when as many replicas are active as it asked for, before the
    // next change (a scale-down before then leaves it unmeasured).
    let ends: Vec<usize> = events
        .iter()
        .skip(1)
        .map(|event| event.0)
        .chain(std::iter::once(observed.len()))
        .collect();
    let skip = events.len().saturating_sub(MAX_REPLICA_EVENTS);
    events
        .into_iter()
        .zip(ends)
        .skip(skip)
        .map(|((first, _last, from, to), end)| {
            let kind = if to > from {
                ReplicaEventKind::ScaleUp
            } else {
                ReplicaEventKind::ScaleDown
            };
            let measurable = observed.step_ms <= MAX_MEASURING_STEP_MS;
            let cold_start_ms = (kind == ReplicaEventKind::ScaleUp && measurable)
                .then(|| {
                    (first..end)
                        .find(|&step| {
                            observed.active[step].is_some_and(|a| a.round() >= f64::from(to))
                        })
                        .map(|step| (step - first) as i64 * observed.step_ms)
                })
                .flatten();
            ReplicaEvent {
                at_ms: observed.start_ms + first as i64 * observed.step_ms,
                kind,
                from,
                to,
                cold_start_ms,
            }
        })
        .collect()
}

/// The panels the diagnosis reads.
pub const READ_PANELS: [PanelId; 4] = [
    PanelId::ResponseTime,
    PanelId::ConcurrentRequests,
    PanelId::Replicas,
    PanelId::AsyncQueueSize,
];

/// `filter`'s range over one deployment, with the panels the diagnosis reads.
pub fn deployment_filter(filter: &Filter, deployment: &DeploymentRef) -> Filter {
    let mut panels = READ_PANELS.to_vec();
    panels.sort();
    Filter {
        environment: Some(deployment.environment.clone()),
        deployment: Some(deployment.deployment.clone()),
        range: filter.range,
        from_ms: filter.from_ms,
        to_ms: filter.to_ms,
        split: Vec::new(),
        panels,
        scoped: filter.scoped,
        // Autoscaling is of the deployment as a whole, whatever model the page looks at.
        model: None,
        by_model: Vec::new(),
    }
}

/// The deployments a filter covers, at most [`MAX_DIAGNOSED_DEPLOYMENTS`].
pub fn in_scope(store: &Store, filter: &Filter) -> Vec<DeploymentRef> {
    let mut found = query::deployments_in(store, filter);
    found.truncate(MAX_DIAGNOSED_DEPLOYMENTS);
    found
}

/// One deployment's panels over `filter`'s range, as the diagnosis reads them.
fn observe(
    store: &Store,
    filter: &Filter,
    deployment: &DeploymentRef,
    now_ms: i64,
    query: QuerySettings,
) -> (app::wire::View, Observed) {
    let view = query::view(store, &deployment_filter(filter, deployment), now_ms, query);
    let observed = observed_from_view(&view);
    (view, observed)
}

/// One deployment diagnosed over `filter`'s range, with `overrides` (from a request) over its
/// settings.
pub fn diagnose_deployment(
    store: &Store,
    filter: &Filter,
    deployment: &DeploymentRef,
    now_ms: i64,
    query: QuerySettings,
    table: &SettingsTable,
    overrides: &Overrides,
) -> Autoscaling {
    let (_, observed) = observe(store, filter, deployment, now_ms, query);
    let (mut settings, mut source) = settings_for(store, deployment, table);
    if !overrides.is_empty() {
        settings = overrides.apply(settings);
        source = format!("request+{source}");
    }
    Autoscaling {
        environment: deployment.environment.clone(),
        deployment: deployment.deployment.clone(),
        findings: diagnose(&observed, &settings),
        events: events(&observed),
        settings: info(&settings, source),
    }
}

/// Every deployment in `filter`'s scope diagnosed; none for a view limited to some panels (a
/// link that shows only those must not show what the others say).
pub fn autoscaling(
    store: &Store,
    filter: &Filter,
    now_ms: i64,
    query: QuerySettings,
    table: &SettingsTable,
) -> Vec<Autoscaling> {
    if !filter.panels.is_empty() {
        return Vec::new();
    }
    in_scope(store, filter)
        .iter()
        .map(|deployment| {
            diagnose_deployment(
                store,
                filter,
                deployment,
                now_ms,
                query,
                table,
                &Overrides::default(),
            )
        })
        .collect()
}

/// A view with its autoscaling diagnosis, computed inside the store task.
pub async fn full_view(
    store: &crate::store::StoreHandle,
    filter: Filter,
    now_ms: i64,
    query: QuerySettings,
    table: std::sync::Arc<SettingsTable>,
) -> Result<app::wire::View, crate::store::StoreClosed> {
    store
        .read(move |store| {
            let mut view = query::view(store, &filter, now_ms, query);
            view.autoscaling = autoscaling(store, &filter, now_ms, query, &table);
            view
        })
        .await
}

/// Cold start assumed when none was measured.
pub const DEFAULT_COLD_START: Duration = Duration::from_secs(30);

/// Why a what-if cannot run.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum WhatIfError {
    /// An edited setting is out of range.
    #[error("{0}")]
    BadSetting(String),
    /// The range holds no load to replay.
    #[error("no in-flight requests were recorded for {0} in this range")]
    NoLoad(String),
}

/// Edits as overrides, validated setting by setting.
pub fn overrides_from(edits: &WhatIfEdits) -> Result<(Overrides, Option<Duration>), WhatIfError> {
    let mut overrides = Overrides::default();
    let fields = [
        ("min_replicas", edits.min_replicas.map(f64::from)),
        ("max_replicas", edits.max_replicas.map(f64::from)),
        ("concurrency_target", edits.concurrency_target),
        ("target_utilization", edits.target_utilization),
        ("window_seconds", edits.window_s),
        ("scale_down_delay_seconds", edits.scale_down_delay_s),
        ("max_scale_down_rate", edits.max_scale_down_rate),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            overrides
                .set(name, value)
                .map_err(WhatIfError::BadSetting)?;
        }
    }
    let cold_start = match edits.cold_start_s {
        None => None,
        Some(seconds) if seconds.is_finite() && (0.0..=3600.0).contains(&seconds) => {
            Some(Duration::from_secs_f64(seconds))
        }
        Some(seconds) => {
            return Err(WhatIfError::BadSetting(format!(
                "cold_start_s = {seconds} is out of range (0 to 3600)"
            )));
        }
    };
    Ok((overrides, cold_start))
}

/// What a what-if replays: one deployment's recorded range and the settings it ran with. Read
/// inside the store task; the replay itself runs outside it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The deployment.
    pub deployment: DeploymentRef,
    /// Its panels on the range's grid.
    pub observed: Observed,
    /// First and last step of the grid.
    pub start_ms: i64,
    /// Last step.
    pub end_ms: i64,
    /// The settings it ran with, and their source.
    pub settings: (AutoscalerSettings, String),
}

/// Reads what a what-if needs (cheap: one deployment's four panels).
pub fn record(
    store: &Store,
    filter: &Filter,
    deployment: &DeploymentRef,
    now_ms: i64,
    query: QuerySettings,
    table: &SettingsTable,
) -> Recorded {
    let (view, observed) = observe(store, filter, deployment, now_ms, query);
    Recorded {
        deployment: deployment.clone(),
        observed,
        start_ms: view.start_ms,
        end_ms: view.end_ms,
        settings: settings_for(store, deployment, table),
    }
}

/// Steps finer than this measure a cold start; coarser ones (a day's five-minute steps) do not.
pub const MAX_MEASURING_STEP_MS: i64 = 10_000;

/// Replays a recorded range with `edits` (bounded: at most [`crate::autoscale::MAX_REPLAY_TICKS`]
/// ticks, each costing the batches of replicas still starting).
pub fn whatif(recorded: &Recorded, edits: &WhatIfEdits) -> Result<WhatIf, WhatIfError> {
    let (overrides, cold_start) = overrides_from(edits)?;
    let observed = &recorded.observed;
    let deployment = &recorded.deployment;
    let (recorded_settings, source) = recorded.settings.clone();
    let edited = overrides.apply(recorded_settings);
    if (overrides.min_replicas.is_some() || overrides.max_replicas.is_some())
        && edited.min_replicas > edited.max_replicas
    {
        return Err(WhatIfError::BadSetting(format!(
            "min_replicas ({}) is above max_replicas ({})",
            edited.min_replicas, edited.max_replicas
        )));
    }
    let load: Vec<Option<f64>> = observed
        .in_progress
        .iter()
        .zip(&observed.queued)
        .map(|(in_progress, queued)| match (in_progress, queued) {
            (None, None) => None,
            _ => Some(in_progress.unwrap_or(0.0) + queued.unwrap_or(0.0)),
        })
        .collect();
    let name = format!("{}/{}", deployment.environment, deployment.deployment);
    if load.iter().all(Option::is_none) {
        return Err(WhatIfError::NoLoad(name));
    }
    let happened = events(observed);
    let mut measured: Vec<i64> = happened.iter().filter_map(|e| e.cold_start_ms).collect();
    measured.sort_unstable();
    let (cold_start, cold_start_source) = match (cold_start, measured.get(measured.len() / 2)) {
        (Some(given), _) => (given, "request"),
        (None, Some(median)) => (Duration::from_millis(*median as u64), "measured"),
        (None, None) => (DEFAULT_COLD_START, "default"),
    };
    let total = totals(observed);
    let initial = total.iter().flatten().next().copied().unwrap_or(1.0) as u32;
    let step = observed.step_ms;
    let start = observed.start_ms;
    let baseline = replay(recorded_settings, cold_start, initial, start, step, &load);
    let predicted = replay(edited, cold_start, initial, start, step, &load);
    let points = |line: &[Option<f64>]| -> Vec<Point> {
        line.iter()
            .enumerate()
            .map(|(i, v)| Point(start + i as i64 * step, *v))
            .collect()
    };
    let peak = |line: &[Option<f64>]| line.iter().flatten().copied().fold(0.0, f64::max);
    let actual = WhatIfTotals {
        replica_minutes: total.iter().flatten().sum::<f64>() * step as f64 / 60_000.0,
        queued_request_seconds: observed.queued.iter().flatten().sum::<f64>() * step as f64
            / 1000.0,
        peak_replicas: peak(&total),
        scale_events: happened.len(),
    };
    let totals_of = |replayed: &crate::autoscale::Replay| WhatIfTotals {
        replica_minutes: replayed.replica_minutes,
        queued_request_seconds: replayed.queued_request_seconds,
        peak_replicas: peak(&replayed.replicas),
        scale_events: replayed.scale_events,
    };
    Ok(WhatIf {
        environment: deployment.environment.clone(),
        deployment: deployment.deployment.clone(),
        start_ms: recorded.start_ms,
        end_ms: recorded.end_ms,
        step_ms: step,
        replayed_settings: info(
            &edited,
            if overrides.is_empty() {
                source.clone()
            } else {
                format!("request+{source}")
            },
        ),
        recorded_settings: info(&recorded_settings, source),
        cold_start_s: cold_start.as_secs_f64(),
        cold_start_source: cold_start_source.to_owned(),
        load: points(&load),
        actual_replicas: points(&total),
        actual_queued: points(&observed.queued),
        predicted_replicas: points(&predicted.replicas),
        predicted_queued: points(&predicted.queued),
        actual,
        baseline: totals_of(&baseline),
        predicted: totals_of(&predicted),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_merge_consecutive_steps_and_measure_cold_starts() {
        let mut observed = Observed::new(0, 10_000);
        // 2 active; up to 4 over two steps (starting), active 30 s later; down to 2.
        let rows: [(f64, f64); 10] = [
            (2.0, 0.0),
            (2.0, 1.0),
            (2.0, 2.0),
            (2.0, 2.0),
            (4.0, 0.0),
            (4.0, 0.0),
            (2.0, 0.0),
            (2.0, 0.0),
            (2.0, 0.0),
            (2.0, 0.0),
        ];
        for (active, starting) in rows {
            observed.push([Some(active), Some(starting), None, None, None, None]);
        }
        let found = events(&observed);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].kind, ReplicaEventKind::ScaleUp);
        assert_eq!((found[0].from, found[0].to), (2, 4));
        assert_eq!(found[0].at_ms, 10_000);
        assert_eq!(found[0].cold_start_ms, Some(30_000));
        assert_eq!(found[1].kind, ReplicaEventKind::ScaleDown);
        assert_eq!((found[1].from, found[1].to), (4, 2));
        assert_eq!(found[1].cold_start_ms, None);
    }

    #[test]
    fn a_scale_up_undone_before_it_is_ready_has_no_cold_start() {
        let mut observed = Observed::new(0, 10_000);
        // Up from 2 to 6 (starting), down to 2 before they are ready; later 6 are active.
        for (active, starting) in [(2.0, 0.0), (2.0, 4.0), (2.0, 0.0), (2.0, 0.0), (6.0, 0.0)] {
            observed.push([Some(active), Some(starting), None, None, None, None]);
        }
        let found = events(&observed);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].cold_start_ms, None);
        // The last rise went straight to active: ready within its step.
        assert_eq!(found[2].cold_start_ms, Some(0));
    }

    #[test]
    fn configuration_beats_the_exporter_and_an_environment_beats_none() {
        let table = SettingsTable(vec![
            ConfiguredSettings {
                environment: None,
                deployment: "chat".into(),
                overrides: Overrides {
                    max_replicas: Some(5),
                    ..Overrides::default()
                },
            },
            ConfiguredSettings {
                environment: Some("staging".into()),
                deployment: "chat".into(),
                overrides: Overrides {
                    max_replicas: Some(2),
                    ..Overrides::default()
                },
            },
        ]);
        assert_eq!(
            table.lookup("staging", "chat").unwrap().max_replicas,
            Some(2)
        );
        assert_eq!(
            table.lookup("production", "chat").unwrap().max_replicas,
            Some(5)
        );
        assert!(table.lookup("production", "other").is_none());
    }

    #[test]
    fn edits_out_of_range_are_refused_by_name() {
        let edits = WhatIfEdits {
            target_utilization: Some(2.0),
            ..WhatIfEdits::default()
        };
        let error = overrides_from(&edits).unwrap_err().to_string();
        assert!(error.contains("target_utilization"), "{error}");
        let edits = WhatIfEdits {
            cold_start_s: Some(-1.0),
            ..WhatIfEdits::default()
        };
        assert!(overrides_from(&edits).is_err());
    }
}
