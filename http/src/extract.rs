//! Extractors whose rejections are problem details naming what is wrong: a JSON body
//! ([`ApiJson`]), a query string ([`ApiQuery`]) and path parameters ([`ApiPath`]).
//!
//! Text anywhere in a request is refused when it holds control characters (a NUL cannot even
//! be stored in PostgreSQL text), with a 400 naming the field or parameter; the value objects
//! check their own fields again, so a body that slips past here is still refused.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but only for `application/json` (with optional parameters, such as a
/// charset), and every rejection is an [`ApiError`] (400 naming the field, 413, 415).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // axum also takes `application/*+json`; `application/json-patch+json` is a patch
        // document, not the resource, and must not be read as one.
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        match axum::Json::<serde_json::Value>::from_request(request, state).await {
            Ok(axum::Json(value)) => {
                if let Some(path) = control_character_at(&value, String::new()) {
                    return Err(ApiError::field(&path, "must not hold control characters"));
                }
                serde_path_to_error::deserialize(value).map(Self).map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner().to_string();
                    let field = if path == "." { field_in(&inner) } else { Some(path) };
                    ApiError::BadRequest { detail: inner, field }
                })
            }
            Err(rejection) => Err(reject_json(&rejection)),
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn reject_json(rejection: &JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::BytesRejection(_)
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge
        }
        _ => ApiError::BadRequest { field: field_in(&text), detail: text },
    }
}

/// The dotted path of the first string (or key) in `value` holding a control character.
fn control_character_at(value: &serde_json::Value, path: String) -> Option<String> {
    let bad = |s: &str| s.chars().any(char::is_control);
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        serde_json::Value::String(s) if bad(s) => {
            Some(if path.is_empty() { "body".to_owned() } else { path })
        }
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, item)| control_character_at(item, join(&i.to_string())))
        }
        serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
            if bad(key) {
                Some(join("<key>"))
            } else {
                control_character_at(item, join(key))
            }
        }),
        _ => None,
    }
}

/// The first name between backticks in a serde message (`unknown field `x``, `missing field `y``).
fn field_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

/// Query-string parameters, deserialized into `T`; an unknown parameter, a value of the wrong
/// type or out of range, or a control character is a 400 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Self)
    }
}

/// Parses a raw query string as [`ApiQuery`] does.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key.chars().any(char::is_control) {
            return Err(ApiError::BadRequest {
                detail: "query parameter names must not hold control characters".to_owned(),
                field: None,
            });
        }
        if value.chars().any(char::is_control) {
            return Err(ApiError::field(&key, "must not hold control characters"));
        }
    }
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        match (path.as_str(), field_in(&inner)) {
            (".", Some(field)) => ApiError::field(&field, inner),
            (".", None) => ApiError::BadRequest { detail: inner, field: None },
            (path, _) => ApiError::field(path, inner),
        }
    })
}

/// Path parameters; a segment that does not decode is a 400 naming the path.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(reject_path(&rejection)),
        }
    }
}

fn reject_path(rejection: &PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(_) => ApiError::field("path", rejection.body_text()),
        _ => ApiError::Internal(rejection.body_text()),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Params {
        #[expect(dead_code, reason = "only its parsing is tested")]
        limit: Option<i64>,
        #[expect(dead_code, reason = "only its parsing is tested")]
        actor: Option<String>,
    }

    fn field_of(query: &str) -> Option<String> {
        match parse_query::<Params>(query) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("{query}: expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn query_rejections_name_the_parameter() {
        assert_eq!(field_of("limit=99999999999999999999").as_deref(), Some("limit"));
        assert_eq!(field_of("limit=abc").as_deref(), Some("limit"));
        assert_eq!(field_of("actor=a%00b").as_deref(), Some("actor"));
        assert_eq!(field_of("colour=red").as_deref(), Some("colour"));
        assert!(parse_query::<Params>("limit=5&actor=user").is_ok());
    }

    #[test]
    fn control_characters_in_bodies_are_found_by_path() {
        let body = serde_json::json!({"label": "ok", "nested": {"list": ["fine", "a\u{0}b"]}});
        assert_eq!(control_character_at(&body, String::new()).as_deref(), Some("nested.list.1"));
        assert_eq!(control_character_at(&serde_json::json!({"label": "é ✓"}), String::new()), None);
    }

    #[test]
    fn only_plain_json_is_json() {
        let mut headers = HeaderMap::new();
        for (value, json) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/json-patch+json", false),
            ("application/merge-patch+json", false),
            ("text/plain", false),
        ] {
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), json, "{value}");
        }
    }
}
