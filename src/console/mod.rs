//! The web console: a browser app for tenants and operators, served with both APIs beside it
//! on one origin (`/api/command/...` and `/api/query/...` are the public APIs themselves, the
//! same routers the API listeners serve). It keeps no state of its own: the session token
//! lives in an `HttpOnly` cookie that [`session`] turns into the bearer header the APIs read,
//! with a double-submit CSRF token and an `Origin` check on every write. The app's files are
//! built into the binary ([`assets`]) and served with a strict Content-Security-Policy.

mod assets;
mod session;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::settings::ConsoleSettings;

/// What the console's handlers share: the two API routers, and whether it is reached over
/// HTTPS.
#[derive(Clone)]
pub struct Console {
    command: Router,
    query: Router,
    https: bool,
}

/// The console's routes: the app at `/` (any other path a browser opens gets the app too, so
/// its own links can be reloaded), the APIs under `/api`, and its session routes.
pub fn router(command: Router, query: Router, settings: &ConsoleSettings) -> Router {
    let console = Console { command: command.clone(), query: query.clone(), https: settings.https };
    let sessions = Router::new()
        .route("/console/session/operator", post(session::operator))
        .route("/console/session/end", post(session::end))
        .with_state(console.clone());
    let api = Router::new()
        .nest("/api/command", command)
        .nest("/api/query", query)
        .route("/api/{*rest}", axum::routing::any(berth_http::error::not_found))
        .merge(sessions)
        .layer(from_fn_with_state(console, session::bridge));
    let https = settings.https;
    Router::new()
        .route("/assets/{*file}", get(assets::file))
        .fallback(get(assets::app))
        .merge(api)
        .layer(from_fn(move |request, next| headers(https, request, next)))
}

/// The Content-Security-Policy: the app's own scripts, styles and connections only, no
/// framing, no inline code.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn headers(https: bool, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    use super::*;

    fn api(answer: &'static str) -> Router {
        Router::new().route("/v1/ping", get(move || async move { answer }))
    }

    async fn get_path(router: &Router, path: &str) -> (StatusCode, String, String) {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let kind = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        let policy = response.headers().get(header::CONTENT_SECURITY_POLICY).is_some();
        assert!(policy, "{path} has no Content-Security-Policy");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, kind.unwrap_or_default(), String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_app_the_apis_and_unknown_api_paths_each_answer_as_themselves() {
        let router = router(api("command"), api("query"), &ConsoleSettings::default());
        assert_eq!(get_path(&router, "/api/command/v1/ping").await.2, "command");
        assert_eq!(get_path(&router, "/api/query/v1/ping").await.2, "query");
        let (status, kind, _) = get_path(&router, "/api/elsewhere/v1/ping").await;
        assert_eq!((status, kind.as_str()), (StatusCode::NOT_FOUND, "application/problem+json"));
        let (status, kind, body) = get_path(&router, "/sites/01a2").await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("text/html") && body.contains("/assets/js/main.js"), "{kind} {body}");
        let (status, kind, _) = get_path(&router, "/assets/js/main.js").await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/javascript; charset=utf-8"));
        assert_eq!(get_path(&router, "/assets/js/nothing.js").await.0, StatusCode::NOT_FOUND);
    }
}
