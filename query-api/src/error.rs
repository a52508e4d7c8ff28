//! The one place where read-side failures become HTTP answers (RFC 9457 problem details).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered as `application/problem+json`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such resource (also for other tenants' resources).
    #[error("not found")]
    NotFound,
    /// The read-model database is down.
    #[error("the read-model database is unavailable")]
    Unavailable,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = match self {
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found", "No such resource"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
        };
        let body = json!({
            "type": format!("https://berth.dev/problems/{kind}"),
            "title": title,
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
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

/// The answer for an unknown route.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
