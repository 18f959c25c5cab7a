//! The JSON HTTP API: one view, target health, liveness.

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
