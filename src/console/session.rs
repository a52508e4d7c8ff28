//! The console's session: the API token in an `HttpOnly`, `SameSite=Strict` cookie, never
//! seen by the app's scripts. A login, registration or accepted invitation through the console
//! answers as the API does, less the token, which goes into the cookie instead; each later
//! request carries it to the APIs as `Authorization: Bearer`. Writes must carry the
//! `X-CSRF-Token` header equal to the readable `berth_csrf` cookie and, when the browser sends
//! one, an `Origin` of this host. One session cookie: signing in as an operator replaces a
//! tenant's session and the other way round.

use axum::body::Body;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_http::extract::ApiJson;
use berth_http::ApiError;
use serde::Deserialize;
use tower::ServiceExt as _;

use super::Console;

const SESSION: &str = "berth_session";
const CSRF: &str = "berth_csrf";
const SIDE: &str = "berth_side";

/// Routes whose successful answer carries a new session's token.
const SIGN_INS: &[&str] =
    &["/api/command/v1/auth/login", "/api/command/v1/auth/register", "/api/command/v1/invitations/accept"];

/// Turns the session cookie into the bearer header, checks CSRF and `Origin` on writes, and
/// moves a new session's token from a sign-in's answer into the cookie.
pub async fn bridge(State(console): State<Console>, mut request: Request, next: Next) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if writes {
        if let Err(refusal) = same_origin(request.headers()) {
            return refusal.into_response();
        }
    }
    let cookies = Cookies::read(request.headers());
    if !request.headers().contains_key(header::AUTHORIZATION) {
        if let Some(token) = &cookies.session {
            if writes {
                if let Err(refusal) = csrf(request.headers(), &cookies) {
                    return refusal.into_response();
                }
            }
            if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                request.headers_mut().insert(header::AUTHORIZATION, value);
            }
        }
    }
    let signs_in = request.method() == Method::POST && SIGN_INS.contains(&request.uri().path());
    let response = next.run(request).await;
    match signs_in && response.status().is_success() {
        true => into_cookie(response, "tenant", console.https).await,
        false => response,
    }
}

/// `POST /console/session/operator {token}`: an operator signs in with their token (from
/// `berth operator add`), checked against an operators' route before it is kept.
pub async fn operator(State(console): State<Console>, ApiJson(body): ApiJson<OperatorToken>) -> Response {
    let token = body.token.trim();
    let check = Request::builder()
        .uri("/v1/nodes?limit=1")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty());
    let Ok(check) = check else {
        return ApiError::field("token", "not a token").into_response();
    };
    let answer = ask(&console.query, check).await;
    if !answer.status().is_success() {
        return answer;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookies(response.headers_mut(), token, "operator", console.https);
    response
}

/// The operator sign-in body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorToken {
    token: String,
}

/// `POST /console/session/end`: signs out. A tenant's login session is ended at the API
/// (`POST /v1/auth/logout`), so the token is dead everywhere, not only forgotten here; an
/// operator's token is only forgotten by this browser.
pub async fn end(
    State(console): State<Console>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let cookies = Cookies::read(&headers);
    if let (Some(token), Some("tenant")) = (&cookies.session, cookies.side.as_deref()) {
        let mut logout = Request::builder()
            .method(Method::POST)
            .uri("/v1/auth/logout")
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        // The security log records where the sign-out came from, as for any request.
        for name in [header::USER_AGENT, header::HeaderName::from_static("x-request-id")] {
            if let Some(value) = headers.get(&name) {
                logout = logout.header(name, value);
            }
        }
        if let Ok(mut logout) = logout.body(Body::empty()) {
            logout.extensions_mut().insert(ConnectInfo(client));
            let answer = ask(&console.command, logout).await;
            if answer.status().is_server_error() {
                return answer;
            }
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    for name in [SESSION, CSRF, SIDE] {
        append(response.headers_mut(), &format!("{name}=; Path=/; Max-Age=0; SameSite=Strict"));
    }
    response
}

/// `request` answered in-process by one of the API routers.
async fn ask(api: &axum::Router, request: Request) -> Response {
    match api.clone().oneshot(request).await {
        Ok(answer) => answer,
        Err(never) => match never {},
    }
}

/// Takes the token out of a sign-in's JSON answer and puts it into the cookie.
async fn into_cookie(response: Response, side: &str, https: bool) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let Ok(mut answer) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let Some(token) = answer.as_object_mut().and_then(|o| o.remove("token")) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let Some(token) = token.as_str() else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    set_cookies(&mut parts.headers, token, side, https);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(answer.to_string()))
}

fn set_cookies(headers: &mut HeaderMap, token: &str, side: &str, https: bool) {
    let secure = if https { "; Secure" } else { "" };
    let csrf: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    append(headers, &format!("{SESSION}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"));
    append(headers, &format!("{CSRF}={csrf}; Path=/; SameSite=Strict{secure}"));
    append(headers, &format!("{SIDE}={side}; Path=/; SameSite=Strict{secure}"));
}

fn append(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.append(header::SET_COOKIE, value);
    }
}

/// A write from a page of another origin is refused (browsers send `Origin` on every
/// cross-origin and same-origin `fetch` write).
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    match origin_host.eq_ignore_ascii_case(host) {
        true => Ok(()),
        false => Err(ApiError::Forbidden(format!("a request from {origin} may not write here"))),
    }
}

fn csrf(headers: &HeaderMap, cookies: &Cookies) -> Result<(), ApiError> {
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let kept = cookies.csrf.as_deref().unwrap_or_default();
    let same = !kept.is_empty()
        && sent.len() == kept.len()
        && sent.bytes().zip(kept.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    match same {
        true => Ok(()),
        false => Err(ApiError::Forbidden(
            "the X-CSRF-Token header does not match this session's berth_csrf cookie".to_owned(),
        )),
    }
}

/// The console's cookies of a request.
#[derive(Debug, Default)]
struct Cookies {
    session: Option<String>,
    csrf: Option<String>,
    side: Option<String>,
}

impl Cookies {
    fn read(headers: &HeaderMap) -> Self {
        let mut cookies = Self::default();
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else { continue };
                let value = Some(value.to_owned()).filter(|v| !v.is_empty());
                match name {
                    SESSION => cookies.session = value,
                    CSRF => cookies.csrf = value,
                    SIDE => cookies.side = value,
                    _ => {}
                }
            }
        }
        cookies
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_write_needs_the_csrf_header_equal_to_its_cookie() {
        let cookies = Cookies::read(&with(&[(header::COOKIE, "berth_session=abc; berth_csrf=0123")]));
        assert_eq!(cookies.session.as_deref(), Some("abc"));
        assert!(csrf(&with(&[(header::HeaderName::from_static("x-csrf-token"), "0123")]), &cookies).is_ok());
        assert!(csrf(&with(&[(header::HeaderName::from_static("x-csrf-token"), "0124")]), &cookies).is_err());
        assert!(csrf(&HeaderMap::new(), &cookies).is_err());
        let none = Cookies::read(&with(&[(header::COOKIE, "berth_session=abc")]));
        assert!(csrf(&with(&[(header::HeaderName::from_static("x-csrf-token"), "")]), &none).is_err());
    }

    #[test]
    fn a_write_from_another_origin_is_refused() {
        let ours = with(&[(header::HOST, "127.0.0.1:8090"), (header::ORIGIN, "http://127.0.0.1:8090")]);
        assert!(same_origin(&ours).is_ok());
        let theirs = with(&[(header::HOST, "127.0.0.1:8090"), (header::ORIGIN, "https://evil.test")]);
        assert!(same_origin(&theirs).is_err());
        assert!(same_origin(&with(&[(header::HOST, "127.0.0.1:8090")])).is_ok());
    }
}
