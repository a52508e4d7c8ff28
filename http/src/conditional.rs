//! Conditional requests: an `ETag` from the aggregate version on every detail, `If-None-Match`
//! answered with 304, and `If-Match` on every change of an existing resource (412 when stale,
//! 428 when the provider requires it and it is missing).
//!
//! An ETag is the version in quotes (`"7"`), strong: two answers at one version are the same
//! resource state, whatever view serves them.

use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::error::ApiError;

/// The ETag of version `version`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The versions an `If-Match` or `If-None-Match` header names (`None` for `*`).
fn versions(field: &str, raw: &str) -> Result<Option<Vec<i64>>, ApiError> {
    if raw.trim() == "*" {
        return Ok(None);
    }
    raw.split(',')
        .map(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse::<i64>().ok())
                .filter(|v| *v >= 0)
                .ok_or_else(|| ApiError::field(field, "must be an ETag from this API, such as \"3\""))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The `If-Match` header of a change: the version it is meant for (none for `*`, "whatever
/// version"), and whether the header was sent at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Precondition {
    /// The version it names.
    pub version: Option<i64>,
    /// Whether the header was sent.
    pub present: bool,
}

impl Precondition {
    /// The version the change must find; with `required` (the provider's setting), a missing
    /// header is 428.
    pub fn expected(self, required: bool) -> Result<Option<i64>, ApiError> {
        if required && !self.present {
            return Err(ApiError::PreconditionRequired);
        }
        Ok(self.version)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Precondition {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(raw) = parts.headers.get(IF_MATCH) else {
            return Ok(Self { version: None, present: false });
        };
        let raw = raw.to_str().map_err(|_| ApiError::field("If-Match", "must be visible ASCII"))?;
        let version = match versions("If-Match", raw)? {
            None => None,
            Some(list) if list.len() == 1 => Some(list[0]),
            Some(_) => return Err(ApiError::field("If-Match", "name one version")),
        };
        Ok(Self { version, present: true })
    }
}

/// The `If-None-Match` header of a read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IfNoneMatch(Option<Option<Vec<i64>>>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(IF_NONE_MATCH) {
            None => Ok(Self(None)),
            Some(raw) => {
                let raw =
                    raw.to_str().map_err(|_| ApiError::field("If-None-Match", "must be visible ASCII"))?;
                Ok(Self(Some(versions("If-None-Match", raw)?)))
            }
        }
    }
}

impl IfNoneMatch {
    /// Whether the caller already holds `version`.
    fn holds(&self, version: i64) -> bool {
        match &self.0 {
            None => false,
            Some(None) => true,
            Some(Some(list)) => list.contains(&version),
        }
    }
}

/// A detail answer at `version`: 304 if the caller holds it already, else the body, both with
/// its ETag.
pub fn versioned<T: Serialize>(version: i64, body: T, if_none_match: &IfNoneMatch) -> Response {
    let tag = HeaderValue::from_str(&etag(version)).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    let mut response = if if_none_match.holds(version) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(body).into_response()
    };
    response.headers_mut().insert(ETAG, tag);
    response
}

/// A detail answered as a file (a PDF, an XML document) at `version`, with its content type:
/// 304 if the caller holds that version already.
pub fn versioned_file(
    version: i64,
    content_type: &'static str,
    body: Vec<u8>,
    if_none_match: &IfNoneMatch,
) -> Response {
    let tag = HeaderValue::from_str(&etag(version)).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    let mut response = if if_none_match.holds(version) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
    };
    response.headers_mut().insert(ETAG, tag);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_name_versions() {
        assert_eq!(versions("If-Match", "\"3\"").unwrap(), Some(vec![3]));
        assert_eq!(versions("If-Match", "W/\"3\", \"4\"").unwrap(), Some(vec![3, 4]));
        assert_eq!(versions("If-Match", "*").unwrap(), None);
        for bad in ["3", "\"x\"", "\"-1\"", "\"\""] {
            assert!(versions("If-Match", bad).is_err(), "{bad}");
        }
        let held = IfNoneMatch(Some(Some(vec![2, 5])));
        assert!(held.holds(5) && !held.holds(6));
        assert!(IfNoneMatch(Some(None)).holds(9));
        assert!(!IfNoneMatch(None).holds(0));
    }
}
