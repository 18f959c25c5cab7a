//! The JSON HTTP API: one view, families no adapter knows, target health, liveness.

use std::collections::HashMap;

use app::url::{filter_query, panel_list};
use app::wire::{
    AccessInfo, Autoscaling, DeploymentRef, Filter, Link, LinkRequest, TargetHealth, View, WhatIf,
    WhatIfEdits,
};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::access::{Refusal, Scope, utc};
use crate::insight::deployment::{self, full_view};
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
    let mut view = full_view(
        &state.store,
        filter,
        now_ms(),
        state.query,
        state.autoscaling.clone(),
    )
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

/// `GET /api/v1/access`: whether this server signs links and what the requester's token covers
/// (the Share dialog asks before it offers to mint). Says nothing about the secret itself.
pub async fn access(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
) -> Json<AccessInfo> {
    Json(AccessInfo {
        tokens_required: state.access.required,
        signs_links: state.access.signer.is_some(),
        scoped: grant.is_some_and(|Extension(Grant(claims))| claims.scope.is_limited()),
        max_link_ttl_s: state.access.max_ttl_s,
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

/// Reads autoscaler settings given as query parameters (`min_replicas`, `max_replicas`,
/// `concurrency_target`, `target_utilization`, `window_s`, `scale_down_delay_s`,
/// `max_scale_down_rate`, and for a what-if `cold_start_s`).
fn edits_from(params: &HashMap<String, String>) -> Result<WhatIfEdits, ApiError> {
    fn number<T: std::str::FromStr>(
        params: &HashMap<String, String>,
        key: &str,
    ) -> Result<Option<T>, ApiError> {
        params
            .get(key)
            .map(|text| {
                text.parse::<T>()
                    .map_err(|_| ApiError::BadRequest(format!("{key} is not a number: {text:?}")))
            })
            .transpose()
    }
    Ok(WhatIfEdits {
        min_replicas: number(params, "min_replicas")?,
        max_replicas: number(params, "max_replicas")?,
        concurrency_target: number(params, "concurrency_target")?,
        target_utilization: number(params, "target_utilization")?,
        window_s: number(params, "window_s")?,
        scale_down_delay_s: number(params, "scale_down_delay_s")?,
        max_scale_down_rate: number(params, "max_scale_down_rate")?,
        cold_start_s: number(params, "cold_start_s")?,
    })
}

/// The one deployment a diagnosis or replay reads: `deployment` is required; without an
/// `environment`, the first environment (by name) that has it.
async fn one_deployment(
    state: &AppState,
    params: &HashMap<String, String>,
    grant: Option<&Grant>,
) -> Result<(Filter, DeploymentRef), ApiError> {
    if let Some(Grant(claims)) = grant
        && !claims.scope.panels.is_empty()
    {
        return Err(Refusal::OutOfScope(
            "this token shows only some panels; the autoscaling diagnosis reads several".into(),
        )
        .into());
    }
    let mut filter = filter_from(params, grant)?;
    if filter.deployment.is_none() {
        return Err(ApiError::BadRequest(
            "deployment is required: the diagnosis reads one deployment".into(),
        ));
    }
    filter.split.clear();
    filter.panels.clear();
    let scope = filter.clone();
    let found = state
        .store
        .read(move |store| deployment::in_scope(store, &scope).into_iter().next())
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let deployment = found.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no target reports deployment {:?}{}",
            filter.deployment.as_deref().unwrap_or_default(),
            filter
                .environment
                .as_deref()
                .map(|e| format!(" in environment {e:?}"))
                .unwrap_or_default()
        ))
    })?;
    Ok((filter, deployment))
}

/// `GET /api/v1/insights?environment=…&deployment=…&range=…[&max_replicas=…]`: the autoscaling
/// diagnosis of one recorded deployment over the range, with its replica events
/// (`docs/AUTOSCALING.md`). Settings given as parameters replace those the deployment runs with.
pub async fn insights(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Autoscaling>, ApiError> {
    let edits = edits_from(&params)?;
    let (overrides, _) =
        deployment::overrides_from(&edits).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (filter, found) = one_deployment(&state, &params, grant.as_deref()).await?;
    let table = state.autoscaling.clone();
    let query = state.query;
    let answer = state
        .store
        .read(move |store| {
            deployment::diagnose_deployment(
                store,
                &filter,
                &found,
                now_ms(),
                query,
                &table,
                &overrides,
            )
        })
        .await
        .map_err(|_| ApiError::Unavailable)?;
    if (overrides.min_replicas.is_some() || overrides.max_replicas.is_some())
        && answer.settings.min_replicas > answer.settings.max_replicas
    {
        return Err(ApiError::BadRequest(format!(
            "min_replicas ({}) is above max_replicas ({})",
            answer.settings.min_replicas, answer.settings.max_replicas
        )));
    }
    Ok(Json(answer))
}

/// `GET /api/v1/whatif?environment=…&deployment=…&range=…[&scale_down_delay_s=…]`: the
/// recorded in-flight load of the range replayed through the autoscaling algorithm with the
/// settings given (the rest as recorded), beside what happened.
pub async fn whatif(
    State(state): State<AppState>,
    grant: Option<Extension<Grant>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<WhatIf>, ApiError> {
    let edits = edits_from(&params)?;
    let (filter, found) = one_deployment(&state, &params, grant.as_deref()).await?;
    Ok(Json(replay_for(&state, filter, found, edits).await?))
}

/// Reads the recorded range inside the store task, then replays it on a blocking thread (the
/// store goes on ingesting and answering meanwhile).
pub async fn replay_for(
    state: &AppState,
    filter: Filter,
    found: DeploymentRef,
    edits: WhatIfEdits,
) -> Result<WhatIf, ApiError> {
    let table = state.autoscaling.clone();
    let query = state.query;
    let recorded = state
        .store
        .read(move |store| deployment::record(store, &filter, &found, now_ms(), query, &table))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    tokio::task::spawn_blocking(move || deployment::whatif(&recorded, &edits))
        .await
        .map_err(|_| ApiError::Unavailable)?
        .map_err(|error| match error {
            deployment::WhatIfError::BadSetting(reason) => ApiError::BadRequest(reason),
            deployment::WhatIfError::NoLoad(_) => ApiError::NotFound(error.to_string()),
        })
}
