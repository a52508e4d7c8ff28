//! The one place where read-side failures become HTTP answers (RFC 9457 problem details).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered as `application/problem+json`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A malformed query parameter.
    #[error("{field}: {detail}")]
    BadRequest {
        /// The parameter.
        field: String,
        /// What is wrong.
        detail: String,
    },
    /// No usable credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed to read this.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource (also for other tenants' resources).
    #[error("no such resource")]
    NotFound,
    /// `min_version` was not reached in time.
    #[error("the view has not reached version {0} yet; retry")]
    NotYet(i64),
    /// The read-model database is down.
    #[error("the read-model database is unavailable; retry shortly")]
    Unavailable,
    /// Anything else; logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A bad query parameter.
    pub fn field(field: &str, detail: impl std::fmt::Display) -> Self {
        Self::BadRequest { field: field.to_owned(), detail: detail.to_string() }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Self::Unavailable,
            // A view not installed yet (the first seconds after a first start) or being swapped.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = match &self {
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "The request is not valid"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found", "No such resource"),
            Self::NotYet(_) => (StatusCode::SERVICE_UNAVAILABLE, "not-yet", "Not caught up yet"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            }
        };
        let mut body = json!({
            "type": format!("https://berth.dev/problems/{kind}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        if let Self::BadRequest { field, .. } = &self {
            body["field"] = json!(field);
        }
        let mut response = (status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The shape of every error body (RFC 9457), for the OpenAPI description.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProblemDoc {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// The offending parameter, when there is one.
    pub field: Option<String>,
}

/// The answer for an unknown route.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
