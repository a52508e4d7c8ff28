//! The operational routes both APIs serve: `/healthz`, `/readyz`, `/metrics`; and the layers
//! every request passes through (request id, tracing, RED metrics, body limit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_command_api::error::ApiError;
use berth_command_api::ratelimit::RateLimiter;
use berth_eventstore::{lag, migrate};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use sqlx::PgPool;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// What the operational routes look at.
#[derive(Clone)]
pub struct OpsState {
    /// PostgreSQL.
    pub pool: PgPool,
    /// NATS.
    pub nats: async_nats::Client,
    /// The Prometheus recorder's handle.
    pub metrics: PrometheusHandle,
}

/// Adds the operational routes and the common layers to an API router.
pub fn wrap(api: Router, ops: OpsState, body_limit: usize, limiter: Arc<RateLimiter>) -> Router {
    let ops_routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(ops);
    api.merge(ops_routes)
        .layer(middleware::from_fn_with_state(limiter, limit_per_token))
        .layer(middleware::from_fn(track))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when PostgreSQL answers, NATS is connected and every migration is applied.
async fn readyz(State(ops): State<OpsState>) -> Response {
    let postgres = tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(&ops.pool))
        .await
        .is_ok_and(|r| r.is_ok());
    let nats = ops.nats.connection_state() == async_nats::connection::State::Connected;
    let migrations = postgres
        && tokio::time::timeout(Duration::from_secs(2), migrate::all_applied(&ops.pool))
            .await
            .is_ok_and(|r| r.unwrap_or(false));
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let checks = json!({ "postgres": word(postgres), "nats": word(nats), "migrations": word(migrations) });
    if postgres && nats && migrations {
        (StatusCode::OK, Json(json!({ "status": "ready", "checks": checks }))).into_response()
    } else {
        let failing: Vec<&str> = [("postgres", postgres), ("nats", nats), ("migrations", migrations)]
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(name, _)| name)
            .collect();
        let body = json!({
            "type": "https://berth.dev/problems/not-ready",
            "title": "Not ready",
            "status": 503,
            "detail": format!("not ready: {}", failing.join(", ")),
            "checks": checks,
        });
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

/// Prometheus text format. Lag is measured in the database at scrape time, so any process
/// reports the relay's and every projection's lag, whichever process runs them.
async fn render_metrics(State(ops): State<OpsState>) -> Response {
    if let Ok(Ok(lags)) = tokio::time::timeout(Duration::from_secs(2), lag::all(&ops.pool)).await {
        for entry in lags {
            metrics::gauge!("berth_subscription_lag_events", "subscription" => entry.name.clone())
                .set(entry.behind as f64);
            metrics::gauge!("berth_subscription_lag_seconds", "subscription" => entry.name.clone())
                .set(entry.seconds);
            if entry.name == berth_eventstore::relay::CHECKPOINT {
                metrics::gauge!("berth_relay_lag_events").set(entry.behind as f64);
            } else if let Some(projection) = entry.name.strip_prefix("projection:") {
                if !projection.contains('#') {
                    metrics::gauge!("berth_projection_lag_events", "projection" => projection.to_owned())
                        .set(entry.behind as f64);
                }
            }
        }
    }
    if let Ok(Ok(head)) = tokio::time::timeout(Duration::from_secs(2), lag::head(&ops.pool)).await {
        metrics::gauge!("berth_event_log_head_position").set(head as f64);
    }
    let body = ops.metrics.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Refuses a bearer token's requests beyond its per-minute allowance with 429 and
/// `Retry-After`. Keyed by the token's digest, so it runs before (and without) authentication.
async fn limit_per_token(State(limiter): State<Arc<RateLimiter>>, request: Request, next: Next) -> Response {
    if let Some(auth) = request.headers().get(header::AUTHORIZATION) {
        let key = berth_command_api::secrets::token_digest(&String::from_utf8_lossy(auth.as_bytes()));
        if let Err(wait) = limiter.check(&key) {
            return ApiError::TooManyRequests(wait).into_response();
        }
    }
    next.run(request).await
}

/// RED metrics per matched route.
async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("berth_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("berth_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}
