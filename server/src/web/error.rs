//! The one error type of the HTTP API: a status and a plain reason, as JSON.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API request that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is wrong (a parameter out of range, say).
    #[error("{0}")]
    BadRequest(String),
    /// Nothing recorded matches (no such deployment, no load in the range).
    #[error("{0}")]
    NotFound(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Unavailable,
    /// The token is missing, invalid, or does not reach this far.
    #[error("{0}")]
    Refused(#[from] crate::access::Refusal),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Refused(refusal) => {
                StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::FORBIDDEN)
            }
        };
        (status, axum::Json(json!({ "error": self.to_string() }))).into_response()
    }
}
