//! The one place where failures become HTTP answers (RFC 9457 problem details), for both APIs.
//!
//! A domain refusal keeps its own problem type (`https://berth.dev/problems/site-busy`) and
//! gets its status from its kind: a broken rule 422, a state conflict 409, a missing thing 404,
//! a missing subscription 402.
//! A storage failure is never a refusal: it is 503 (unavailable) or 500, logged, not shown.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_domain::error::{Refusal, RefusalKind, Refused};
use berth_eventstore::error::StoreError;
use berth_eventstore::execute::ExecuteError;
use berth_eventstore::unit_of_work::UnitError;
use serde::Serialize;

/// An error answered as `application/problem+json`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; `field` names the offending part (a body field, a query or
    /// path parameter, a header) when there is one.
    #[error("{detail}")]
    BadRequest {
        /// What is wrong.
        detail: String,
        /// The offending field.
        field: Option<String>,
    },
    /// `If-Match` named a version the resource is no longer (or not yet) at.
    #[error("the resource is at version {current}, not {expected}: read it again and retry")]
    PreconditionFailed {
        /// The version the caller named.
        expected: i64,
        /// The version it is at.
        current: i64,
    },
    /// The provider requires `If-Match` on changes, and it is missing.
    #[error("send If-Match with the ETag of the version this change is meant for")]
    PreconditionRequired,
    /// A read asked for a version the view has not reached within the wait.
    #[error("the view has not reached version {0} yet; retry")]
    NotYet(i64),
    /// No usable credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// The credential stopped working (revoked, expired, re-roled) while the request ran.
    #[error("the token was revoked, expired or changed role since this request began; nothing was changed")]
    CredentialChanged,
    /// Authenticated, but the role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource (also for other tenants' resources: never reveal they exist).
    #[error("no such resource")]
    NotFound,
    /// The domain refused the command; `code` names the refusal (its problem type).
    #[error("{detail}")]
    Refused {
        /// The refusal's stable code (`site-busy`, `node-full`).
        code: &'static str,
        /// Rule, state conflict or missing thing.
        kind: RefusalKind,
        /// The refusal in words.
        detail: String,
    },
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
    /// The route exists, but not for this method.
    #[error("this route does not take that method")]
    MethodNotAllowed,
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

impl ApiError {
    /// A bad request about `field`.
    pub fn field(field: &str, detail: impl std::fmt::Display) -> Self {
        Self::BadRequest { detail: format!("{field}: {detail}"), field: Some(field.to_owned()) }
    }
}

/// Marks an answer whose request found the caller's credential changed: the API's cache of
/// credentials must forget what it holds (the change may not have been announced to it yet).
#[derive(Debug, Clone, Copy)]
pub struct CredentialsStale;

/// An RFC 9457 problem detail, as every error of both APIs is answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`https://berth.dev/problems/<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// The offending field, parameter or header, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "The request is not valid"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Self::CredentialChanged => {
                (StatusCode::UNAUTHORIZED, "credentials-changed", "Authentication required")
            }
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found", "No such resource"),
            Self::NotYet(_) => (StatusCode::SERVICE_UNAVAILABLE, "not-yet", "Not caught up yet"),
            Self::PreconditionFailed { .. } => {
                (StatusCode::PRECONDITION_FAILED, "precondition-failed", "The resource changed")
            }
            Self::PreconditionRequired => {
                (StatusCode::PRECONDITION_REQUIRED, "precondition-required", "If-Match required")
            }
            Self::Refused { code, kind: RefusalKind::Rule, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, code, "The command breaks a rule")
            }
            Self::Refused { code, kind: RefusalKind::Conflict, .. } => {
                (StatusCode::CONFLICT, code, "The command does not fit the current state")
            }
            Self::Refused { code, kind: RefusalKind::NotFound, .. } => {
                (StatusCode::NOT_FOUND, code, "No such resource")
            }
            Self::Refused { code, kind: RefusalKind::PaymentRequired, .. } => {
                (StatusCode::PAYMENT_REQUIRED, code, "An active subscription or trial is required")
            }
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
            Self::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed")
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
            Self::BadRequest { field, .. } => field.clone(),
            _ => None,
        };
        let body = Problem {
            kind: format!("https://berth.dev/problems/{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            field,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        let retry_after = match &self {
            Self::Conflict | Self::Unavailable | Self::IdempotencyInFlight | Self::NotYet(_) => Some(1),
            Self::TooManyRequests(wait) => Some(wait.as_secs().max(1)),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(self, Self::Unauthorized(_) | Self::CredentialChanged) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"berth\""));
        }
        if matches!(self, Self::CredentialChanged) {
            // The process that answers forgets its cached credentials (see `CredentialsStale`).
            response.extensions_mut().insert(CredentialsStale);
        }
        response
    }
}

impl ApiError {
    /// The answer to a domain refusal: its own problem type, and a status from its kind.
    pub fn refused(refusal: &impl Refusal) -> Self {
        Self::Refused { code: refusal.code(), kind: refusal.kind(), detail: refusal.to_string() }
    }
}

impl From<Refused> for ApiError {
    fn from(refusal: Refused) -> Self {
        Self::Refused { code: refusal.code(), kind: refusal.kind(), detail: refusal.to_string() }
    }
}

impl<E: Refusal> From<ExecuteError<E>> for ApiError {
    fn from(error: ExecuteError<E>) -> Self {
        match error {
            ExecuteError::Rejected(e) => Self::refused(&e),
            ExecuteError::Conflict { .. } | ExecuteError::TimerChanged => Self::Conflict,
            ExecuteError::Taken { scope, value } => Self::Taken { scope, value },
            ExecuteError::CommandIdReused(_) => Self::IdempotencyMismatch,
            ExecuteError::CredentialChanged => Self::CredentialChanged,
            ExecuteError::NotFound => Self::NotFound,
            ExecuteError::PreconditionFailed { expected, current } => {
                Self::PreconditionFailed { expected, current }
            }
            ExecuteError::Store(e) => e.into(),
        }
    }
}

impl From<UnitError> for ApiError {
    fn from(error: UnitError) -> Self {
        match error {
            UnitError::Rejected(refusal) => refusal.into(),
            UnitError::Conflict => Self::Conflict,
            UnitError::CredentialChanged => Self::CredentialChanged,
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
        match &error {
            // A view not installed yet (the first seconds after a first start) or being swapped.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Self::Unavailable,
            _ => StoreError::from(error).into(),
        }
    }
}

/// The answer for an unknown route.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The answer for a known route asked with a method it does not take.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
