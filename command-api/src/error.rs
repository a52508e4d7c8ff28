//! The one place where failures become HTTP answers (RFC 9457 problem details).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_eventstore::error::StoreError;
use berth_eventstore::execute::ExecuteError;
use serde::Serialize;

/// An error answered as `application/problem+json`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; `field` names the offending part when there is one.
    #[error("{detail}")]
    BadRequest {
        /// What is wrong.
        detail: String,
        /// The offending field.
        field: Option<String>,
    },
    /// No such resource (also for other tenants' resources: never reveal they exist).
    #[error("not found")]
    NotFound,
    /// A domain rule refused the command.
    #[error("{0}")]
    Rejected(String),
    /// Concurrent writers kept winning; retry shortly.
    #[error("the resource was changed concurrently; retry")]
    Conflict,
    /// PostgreSQL (or another dependency) is down.
    #[error("a backing service is unavailable")]
    Unavailable,
    /// Anything else; logged, not shown.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = match &self {
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "The request is not valid"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found", "No such resource"),
            Self::Rejected(_) => (StatusCode::CONFLICT, "rejected", "The command breaks a rule"),
            Self::Conflict => (StatusCode::CONFLICT, "conflict", "Concurrent modification"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            }
        };
        let field = match &self {
            Self::BadRequest { field, .. } => field.as_deref(),
            _ => None,
        };
        let body = Problem {
            kind: &format!("https://berth.dev/problems/{kind}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            field,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if matches!(self, Self::Conflict | Self::Unavailable) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl<E: std::error::Error> From<ExecuteError<E>> for ApiError {
    fn from(error: ExecuteError<E>) -> Self {
        match error {
            ExecuteError::Rejected(e) => Self::Rejected(e.to_string()),
            ExecuteError::Conflict { .. } => Self::Conflict,
            ExecuteError::CommandIdReused(id) => Self::BadRequest {
                detail: format!("command id {id} was used for another resource"),
                field: None,
            },
            ExecuteError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// The answer for an unknown route.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
