//! The one place where failures become HTTP answers (RFC 9457 problem details).

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_eventstore::error::StoreError;
use berth_eventstore::execute::ExecuteError;
use berth_eventstore::unit_of_work::UnitError;
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
    /// No usable credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but the role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource (also for other tenants' resources: never reveal they exist).
    #[error("no such resource")]
    NotFound,
    /// A domain rule refused the command.
    #[error("{0}")]
    Rejected(String),
    /// A unique value (a domain, an email) is taken.
    #[error("{scope} `{value}` is already in use")]
    Taken {
        /// What kind of value.
        scope: String,
        /// The value.
        value: String,
    },
    /// Concurrent writers kept winning; retry shortly.
    #[error("the resource was changed concurrently; retry")]
    Conflict,
    /// The same Idempotency-Key came with a different request.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyMismatch,
    /// A request with the same Idempotency-Key is still running.
    #[error("a request with this Idempotency-Key is in progress; retry")]
    IdempotencyInFlight,
    /// The body is not JSON-typed.
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The body is over the size limit.
    #[error("the body is too large")]
    PayloadTooLarge,
    /// Too many requests; retry after the given time.
    #[error("too many requests; retry in {} s", .0.as_secs().max(1))]
    TooManyRequests(Duration),
    /// PostgreSQL (or another dependency) is down.
    #[error("a backing service is unavailable; retry shortly")]
    Unavailable,
    /// Anything else; logged, not shown.
    #[error("internal error")]
    Internal(String),
}

/// An RFC 9457 problem detail, as every error is answered.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: &'a str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// The offending field, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

impl ApiError {
    /// A bad request about `field`.
    pub fn field(field: &str, detail: impl std::fmt::Display) -> Self {
        Self::BadRequest { detail: format!("{field}: {detail}"), field: Some(field.to_owned()) }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "The request is not valid"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found", "No such resource"),
            Self::Rejected(_) => (StatusCode::CONFLICT, "rejected", "The command breaks a rule"),
            Self::Taken { .. } => (StatusCode::CONFLICT, "taken", "Already in use"),
            Self::Conflict => (StatusCode::CONFLICT, "conflict", "Concurrent modification"),
            Self::IdempotencyMismatch => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused", "Idempotency-Key reused")
            }
            Self::IdempotencyInFlight => {
                (StatusCode::CONFLICT, "idempotency-key-in-flight", "Request in progress")
            }
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            }
            Self::PayloadTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large")
            }
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.parts();
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let field = match &self {
            Self::BadRequest { field, .. } => field.as_deref(),
            _ => None,
        };
        let body = Problem {
            kind: format!("https://berth.dev/problems/{kind}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            field,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        let retry_after = match &self {
            Self::Conflict | Self::Unavailable | Self::IdempotencyInFlight => Some(1),
            Self::TooManyRequests(wait) => Some(wait.as_secs().max(1)),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl<E: std::error::Error> From<ExecuteError<E>> for ApiError {
    fn from(error: ExecuteError<E>) -> Self {
        match error {
            ExecuteError::Rejected(e) => Self::Rejected(e.to_string()),
            ExecuteError::Conflict { .. } => Self::Conflict,
            ExecuteError::Taken { scope, value } => Self::Taken { scope, value },
            ExecuteError::CommandIdReused(_) => Self::IdempotencyMismatch,
            ExecuteError::Store(e) => e.into(),
        }
    }
}

impl From<UnitError> for ApiError {
    fn from(error: UnitError) -> Self {
        match error {
            UnitError::Rejected(message) => Self::Rejected(message),
            UnitError::Conflict => Self::Conflict,
            UnitError::Taken { scope, value } => Self::Taken { scope, value },
            UnitError::Store(e) => e.into(),
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

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::from(error).into()
    }
}

/// The answer for an unknown route.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
