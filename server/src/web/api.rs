//! The JSON HTTP API: one view, families no adapter knows, target health, liveness.

use std::collections::HashMap;

use app::url::{FilterParams, parse_filter};
use app::wire::{TargetHealth, View};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;

use crate::query;
use crate::scrape::now_ms;

use super::AppState;
use super::error::ApiError;

/// `GET /api/v1/view?environment=…&deployment=…&range=5m|15m|1h`: every panel of one view.
pub async fn view(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<View>, ApiError> {
    let filter = parse_filter(&FilterParams {
        environment: params.get("environment").map(String::as_str),
        deployment: params.get("deployment").map(String::as_str),
        range: params.get("range").map(String::as_str),
        from: params.get("from").map(String::as_str),
        to: params.get("to").map(String::as_str),
        split: params.get("split").map(String::as_str),
    })
    .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let view = query::view_from(&state.store, filter, now_ms(), state.query)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(Json(view))
}

/// Reads the filter parameters every view-like endpoint shares.
fn filter_from(params: &HashMap<String, String>) -> Result<app::wire::Filter, ApiError> {
    parse_filter(&FilterParams {
        environment: params.get("environment").map(String::as_str),
        deployment: params.get("deployment").map(String::as_str),
        range: params.get("range").map(String::as_str),
        from: params.get("from").map(String::as_str),
        to: params.get("to").map(String::as_str),
        split: params.get("split").map(String::as_str),
    })
    .map_err(|error| ApiError::BadRequest(error.to_string()))
}

/// `GET /api/v1/families?environment=…&deployment=…`: the families no adapter knows.
pub async fn families(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<query::raw::Family>>, ApiError> {
    let filter = filter_from(&params)?;
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
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<query::raw::FamilyView>, ApiError> {
    let filter = filter_from(&params)?;
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

/// `GET /api/v1/targets`: scrape health of every target.
pub async fn targets(State(state): State<AppState>) -> Result<Json<Vec<TargetHealth>>, ApiError> {
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
