//! The JSON HTTP API: one view, families no adapter knows, target health, liveness.

use std::collections::HashMap;

use app::url::{filter_query, panel_list};
use app::wire::{Filter, TargetHealth, View};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use crate::access::{Refusal, Scope, utc};
use crate::query;
use crate::scrape::now_ms;

use super::AppState;
use super::access::{Grant, filter_of, now_s, permit, permit_families};
use super::error::ApiError;

/// Reads the filter parameters every view-like endpoint shares, and holds it to the token's
/// scope.
fn filter_from(
    params: &HashMap<String, String>,
    grant: Option<&Grant>,
) -> Result<Filter, ApiError> {
    let mut filter = filter_of(params).map_err(|error| ApiError::BadRequest(error.to_string()))?;
    permit(grant, &filter)?;
    filter.scoped = grant.is_some_and(|grant| grant.0.scope.is_limited());
    Ok(filter)
}

/// `GET /api/v1/view?environment=…&deployment=…&range=5m|15m|1h`: every panel of one view.
pub async fn view(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<View>, ApiError> {
    let filter = filter_from(&params, grant.as_deref())?;
    let mut view = query::view_from(&state.store, filter, now_ms(), state.query)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    view.filter.scoped = false;
    Ok(Json(view))
}

/// `GET /api/v1/families?environment=…&deployment=…`: the families no adapter knows.
pub async fn families(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<query::raw::Family>>, ApiError> {
    permit_families(grant.as_deref())?;
    let filter = filter_from(&params, grant.as_deref())?;
    let families = state
        .store
        .read(move |store| query::raw::families(store, &filter))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(Json(families))
}

/// `GET /api/v1/family?name=…&environment=…&deployment=…&range=…`: one family's series.
pub async fn family(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<query::raw::FamilyView>, ApiError> {
    permit_families(grant.as_deref())?;
    let filter = filter_from(&params, grant.as_deref())?;
    let name = params
        .get("name")
        .filter(|name| !name.is_empty() && name.len() <= 256)
        .cloned()
        .ok_or_else(|| {
            ApiError::BadRequest("name is required: a metric name of up to 256 bytes".into())
        })?;
    let settings = state.query;
    let now = now_ms();
    let view = state
        .store
        .read(move |store| query::raw::family_view(store, &filter, &name, now, settings))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(Json(view))
}

/// `GET /api/v1/targets`: scrape health of every target (not for scoped tokens: it lists the
/// whole fleet).
pub async fn targets(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
) -> Result<Json<Vec<TargetHealth>>, ApiError> {
    if grant.is_some_and(|Extension(Grant(claims))| claims.scope.is_limited()) {
        return Err(Refusal::OutOfScope(
            "this token is scoped to part of the fleet; the targets list covers every target"
                .into(),
        )
        .into());
    }
    let targets = state
        .store
        .read(query::targets)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(Json(targets))
}

/// `GET /healthz`: 200 while the store answers.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.read(|_| ()).await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
    }
}

/// `POST /api/v1/links`: what a signed link may show and for how long.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// Only this environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// Only this deployment.
    #[serde(default)]
    pub deployment: Option<String>,
    /// Only these panels (keys).
    #[serde(default)]
    pub panels: Vec<String>,
    /// Lifetime, seconds (capped at `access.max_link_ttl_s`).
    pub ttl_s: i64,
    /// A full-page link instead of an embed link.
    #[serde(default)]
    pub page: bool,
}

/// The answer to `POST /api/v1/links`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Link {
    /// The bearer token (also inside `path`).
    pub token: String,
    /// Path and query of the link on this server, e.g. `/?embed=1&deployment=…&token=…`.
    pub path: String,
    /// Expiry, Unix seconds.
    pub expires_s: i64,
    /// Expiry, readable (UTC).
    pub expires_utc: String,
}

/// The link (path and query) for a scope and token.
pub fn link_path(scope: &Scope, token: &str, page: bool) -> String {
    let filter = Filter {
        environment: scope.environment.clone(),
        deployment: scope.deployment.clone(),
        panels: scope.panels.clone(),
        ..Filter::default()
    };
    let query = filter_query(&filter);
    let embed = if page { "" } else { "embed=1&" };
    format!("/?{embed}{}&token={token}", &query[1..])
}

/// The scope a link request names (panels checked against the known ones).
pub fn scope_of(
    environment: Option<String>,
    deployment: Option<String>,
    panels: &str,
) -> Result<Scope, String> {
    let name = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    Ok(Scope {
        environment: name(environment),
        deployment: name(deployment),
        panels: panel_list(Some(panels)).map_err(|error| error.to_string())?,
    })
}

/// `POST /api/v1/links`: mints a read-only signed link. Needs an admin token.
pub async fn mint_link(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    Json(request): Json<LinkRequest>,
) -> Result<Json<Link>, ApiError> {
    match grant.as_deref() {
        Some(Grant(claims)) if claims.admin => {}
        Some(_) => return Err(Refusal::NotAdmin.into()),
        None if state.access.signer.is_none() => return Err(Refusal::NoSecret.into()),
        None => return Err(Refusal::Missing.into()),
    }
    if request.ttl_s < 1 {
        return Err(ApiError::BadRequest("ttl_s must be at least 1".into()));
    }
    let scope = scope_of(
        request.environment,
        request.deployment,
        &request.panels.join(","),
    )
    .map_err(ApiError::BadRequest)?;
    let (token, expires_s) = state
        .access
        .mint(scope.clone(), request.ttl_s, now_s(), false)?;
    Ok(Json(Link {
        path: link_path(&scope, &token, request.page),
        token,
        expires_s,
        expires_utc: utc(expires_s),
    }))
}

/// One finding, as `/api/v1/insights` answers it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InsightJson {
    /// `thrash`, `insufficient_capacity`, `cold_starts`, `concurrency_target_too_high`,
    /// `scale_down_too_quick` or `async_queue_growing`.
    pub kind: String,
    /// `warning` or `critical`.
    pub severity: String,
    /// Span it covers, Unix milliseconds.
    pub from_ms: i64,
    /// End of that span.
    pub to_ms: i64,
    /// The panel that shows it.
    pub panel: app::wire::PanelId,
    /// Spans to mark on that panel, `[from_ms, to_ms]`.
    pub evidence: Vec<(i64, i64)>,
    /// The likely cause.
    pub cause: String,
    /// The fix, in numbers.
    pub fix: String,
}

/// The answer to `/api/v1/insights`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Insights {
    /// The autoscaler settings the diagnosis assumed (from the query, else the defaults).
    pub settings: SettingsJson,
    /// What was found, in report order.
    pub findings: Vec<InsightJson>,
}

/// Autoscaler settings, as the query names them.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct SettingsJson {
    /// `min_replicas`.
    pub min_replicas: u32,
    /// `max_replicas`.
    pub max_replicas: u32,
    /// `concurrency_target`.
    pub concurrency_target: f64,
    /// `target_utilization`.
    pub target_utilization: f64,
    /// `window_s`.
    pub window_s: u64,
    /// `scale_down_delay_s`.
    pub scale_down_delay_s: u64,
    /// `max_scale_down_rate`.
    pub max_scale_down_rate: f64,
}

impl SettingsJson {
    /// The documented defaults; no maximum known (1,000).
    pub const DEFAULTS: SettingsJson = SettingsJson {
        min_replicas: 1,
        max_replicas: 1000,
        concurrency_target: 4.0,
        target_utilization: 0.7,
        window_s: 60,
        scale_down_delay_s: 900,
        max_scale_down_rate: 0.5,
    };

    fn from_params(params: &HashMap<String, String>) -> Result<SettingsJson, ApiError> {
        fn read<T: std::str::FromStr + PartialOrd>(
            params: &HashMap<String, String>,
            key: &str,
            default: T,
            range: std::ops::RangeInclusive<T>,
        ) -> Result<T, ApiError> {
            match params.get(key) {
                None => Ok(default),
                Some(text) => text
                    .parse::<T>()
                    .ok()
                    .filter(|value| range.contains(value))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!("{key} is out of range or not a number"))
                    }),
            }
        }
        let d = SettingsJson::DEFAULTS;
        let settings = SettingsJson {
            min_replicas: read(params, "min_replicas", d.min_replicas, 0..=100_000)?,
            max_replicas: read(params, "max_replicas", d.max_replicas, 1..=100_000)?,
            concurrency_target: read(
                params,
                "concurrency_target",
                d.concurrency_target,
                0.01..=1e6,
            )?,
            target_utilization: read(
                params,
                "target_utilization",
                d.target_utilization,
                0.01..=1.0,
            )?,
            window_s: read(params, "window_s", d.window_s, 1..=86_400)?,
            scale_down_delay_s: read(
                params,
                "scale_down_delay_s",
                d.scale_down_delay_s,
                0..=86_400,
            )?,
            max_scale_down_rate: read(
                params,
                "max_scale_down_rate",
                d.max_scale_down_rate,
                0.01..=1.0,
            )?,
        };
        if settings.min_replicas > settings.max_replicas {
            return Err(ApiError::BadRequest(
                "min_replicas is above max_replicas".into(),
            ));
        }
        Ok(settings)
    }

    fn autoscaler(self) -> crate::autoscale::AutoscalerSettings {
        crate::autoscale::AutoscalerSettings {
            min_replicas: self.min_replicas,
            max_replicas: self.max_replicas,
            concurrency_target: self.concurrency_target,
            target_utilization: self.target_utilization,
            window: std::time::Duration::from_secs(self.window_s),
            scale_down_delay: std::time::Duration::from_secs(self.scale_down_delay_s),
            max_scale_down_rate: self.max_scale_down_rate,
        }
    }
}

/// `GET /api/v1/insights?environment=…&deployment=…&range=…[&max_replicas=…]`: the autoscaling
/// diagnosis of one recorded deployment over the range (`docs/AUTOSCALING.md`).
pub async fn insights(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Insights>, ApiError> {
    let settings = SettingsJson::from_params(&params)?;
    if let Some(Grant(claims)) = grant.as_deref()
        && !claims.scope.panels.is_empty()
    {
        return Err(Refusal::OutOfScope(
            "this token shows only some panels; the autoscaling diagnosis reads several".into(),
        )
        .into());
    }
    let mut filter = filter_from(&params, grant.as_deref())?;
    if filter.deployment.is_none() {
        return Err(ApiError::BadRequest(
            "deployment is required: the diagnosis reads one deployment".into(),
        ));
    }
    filter.split.clear();
    filter.panels.clear();
    let view = query::view_from(&state.store, filter, now_ms(), state.query)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let observed = crate::insight::observed_from_view(&view);
    let findings = crate::insight::diagnose(&observed, &settings.autoscaler())
        .into_iter()
        .map(|finding| InsightJson {
            kind: finding.kind.name().to_owned(),
            severity: match finding.severity {
                crate::insight::Severity::Warning => "warning".to_owned(),
                crate::insight::Severity::Critical => "critical".to_owned(),
            },
            from_ms: finding.from_ms,
            to_ms: finding.to_ms,
            panel: finding.panel,
            evidence: finding.evidence,
            cause: finding.cause,
            fix: finding.fix,
        })
        .collect();
    Ok(Json(Insights { settings, findings }))
}
