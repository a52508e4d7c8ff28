//! The operational routes every process serves: `/healthz`, `/readyz`, `/metrics` (on its API,
//! or on the telemetry listener of a process without one); and the layers every API request
//! passes through (request id, tracing, RED metrics, body limit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_eventstore::{lag, migrate};
use berth_http::contract::{self, Side};
use berth_http::ratelimit::{limit_per_token, RateLimiter};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// What the operational routes look at.
#[derive(Clone)]
pub struct OpsState {
    /// PostgreSQL, the primary.
    pub pool: PgPool,
    /// The replica the query API reads from, if it has one (readiness checks it too).
    pub replica: Option<PgPool>,
    /// NATS.
    pub nats: async_nats::Client,
    /// The Prometheus recorder's handle.
    pub metrics: PrometheusHandle,
    /// Where "now" comes from (timers due).
    pub clock: std::sync::Arc<dyn berth_eventstore::clock::Clock>,
    /// The cost and capacity series.
    pub costs: Arc<crate::cost_metrics::CostGauges>,
    /// Whether every `/metrics` carries them (no operators' listener of their own).
    pub costs_everywhere: bool,
}

/// The operational routes' OpenAPI description.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz, render_metrics, openapi_json))]
struct OpsDoc;

/// An API's full description, OpenAPI 3.1: its own operations, the operational routes, the
/// bearer scheme its operations refer to, and the contract every operation shares (problem
/// responses, headers, servers: `berth_http::contract`).
pub fn describe(mut doc: utoipa::openapi::OpenApi, side: Side, server_url: &str) -> serde_json::Value {
    use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
    use utoipa::OpenApi as _;
    doc.merge(OpsDoc::openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    let doc = serde_json::to_value(&doc).unwrap_or_default();
    contract::complete(doc, side, server_url)
}

/// Adds the operational routes, `/openapi.json` and the common layers to an API router.
pub fn wrap(
    api: Router,
    ops: OpsState,
    body_limit: usize,
    limiter: Arc<RateLimiter>,
    doc: serde_json::Value,
) -> Router {
    let doc = Arc::new(doc);
    let ops_routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(ops)
        .merge(Router::new().route("/openapi.json", get(openapi_json)).with_state(doc));
    api.merge(ops_routes)
        .layer(middleware::from_fn_with_state(limiter, limit_per_token))
        .layer(middleware::from_fn(track))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The operational routes alone: what a process without an API (`berth relay`,
/// `berth projections`, `berth sagas`) serves on `telemetry.addr`, so it can be scraped.
pub fn telemetry(ops: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(ops)
        .fallback(berth_http::error::not_found)
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations", responses((status = 200, description = "Alive", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// Whether each dependency of a process answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Checks {
    /// PostgreSQL answers.
    #[schema(value_type = CheckState)]
    postgres: &'static str,
    /// NATS is connected.
    #[schema(value_type = CheckState)]
    nats: &'static str,
    /// Every migration is applied.
    #[schema(value_type = CheckState)]
    migrations: &'static str,
}

/// One check's state.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "only its schema is used")]
enum CheckState {
    /// It answers.
    #[schema(rename = "ok")]
    Ok,
    /// It does not.
    #[schema(rename = "unavailable")]
    Unavailable,
}

/// A ready process.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Ready {
    /// Always `ready`.
    #[schema(example = "ready")]
    status: &'static str,
    /// Each check.
    checks: Checks,
}

/// A process that is not ready: a problem detail naming what fails, with each check.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct NotReady {
    /// `https://berth.dev/problems/not-ready`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// `Not ready`.
    title: &'static str,
    /// 503.
    status: u16,
    /// What fails.
    detail: String,
    /// Each check.
    checks: Checks,
}

/// Readiness: PostgreSQL answers, NATS is connected and every migration is applied.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations", responses(
    (status = 200, description = "Ready, with each check", body = Ready),
    (status = 503, description = "Not ready, naming what fails", body = NotReady, content_type = "application/problem+json")))]
async fn readyz(State(ops): State<OpsState>) -> Response {
    let answers = |pool: PgPool| async move {
        tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(&pool))
            .await
            .is_ok_and(|r| r.is_ok())
    };
    // A query API reading from a replica is only as ready as that replica.
    let replica = match ops.replica.clone() {
        Some(pool) => answers(pool).await,
        None => true,
    };
    let postgres = answers(ops.pool.clone()).await && replica;
    let nats = ops.nats.connection_state() == async_nats::connection::State::Connected;
    let migrations = postgres
        && tokio::time::timeout(Duration::from_secs(2), migrate::all_applied(&ops.pool))
            .await
            .is_ok_and(|r| r.unwrap_or(false));
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let checks = Checks { postgres: word(postgres), nats: word(nats), migrations: word(migrations) };
    if postgres && nats && migrations {
        return (StatusCode::OK, Json(Ready { status: "ready", checks })).into_response();
    }
    let failing: Vec<&str> = [("postgres", postgres), ("nats", nats), ("migrations", migrations)]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
    let body = NotReady {
        kind: "https://berth.dev/problems/not-ready",
        title: "Not ready",
        status: 503,
        detail: format!("not ready: {}", failing.join(", ")),
        checks,
    };
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Prometheus metrics, text format.
///
/// Lag is measured in the database at scrape time, so any process reports the relay's and
/// every projection's lag, whichever process runs them; so is the feed's horizon (the oldest
/// transaction on the server, which every feed reader waits behind).
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations", responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")))]
async fn render_metrics(State(ops): State<OpsState>) -> Response {
    let with_costs = ops.costs_everywhere;
    metrics_response(&ops, with_costs).await
}

/// The operators' own `/metrics`: everything, the cost and capacity series included, behind
/// `telemetry.operator_token` when one is set.
pub fn operator_metrics(ops: OpsState, token: Option<String>) -> Router {
    let token = Arc::new(token);
    Router::new()
        .route(
            "/metrics",
            get(move |State(ops): State<OpsState>, headers: axum::http::HeaderMap| {
                let token = token.clone();
                async move {
                    let sent = headers
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "));
                    match token.as_deref() {
                        Some(want) if sent.map(str::as_bytes) != Some(want.as_bytes()) => {
                            berth_http::ApiError::Unauthorized(
                                "the operators' metrics need their bearer token".to_owned(),
                            )
                            .into_response()
                        }
                        _ => metrics_response(&ops, true).await,
                    }
                }
            }),
        )
        .with_state(ops)
        .fallback(berth_http::error::not_found)
}

async fn metrics_response(ops: &OpsState, with_costs: bool) -> Response {
    if let Ok(Ok(lags)) = tokio::time::timeout(Duration::from_secs(2), lag::all(&ops.pool)).await {
        for entry in lags {
            metrics::gauge!("berth_subscription_lag_events", "subscription" => entry.name.clone())
                .set(entry.behind as f64);
            metrics::gauge!("berth_subscription_lag_seconds", "subscription" => entry.name.clone())
                .set(entry.seconds);
            if entry.name == berth_eventstore::relay::CHECKPOINT {
                metrics::gauge!("berth_relay_lag_events").set(entry.behind as f64);
                metrics::gauge!("berth_relay_lag_seconds").set(entry.seconds);
            } else if let Some(projection) = entry.name.strip_prefix("projection:") {
                if !projection.contains('#') {
                    metrics::gauge!("berth_projection_lag_events", "projection" => projection.to_owned())
                        .set(entry.behind as f64);
                    metrics::gauge!("berth_projection_lag_seconds", "projection" => projection.to_owned())
                        .set(entry.seconds);
                }
            }
        }
    }
    if let Some(replica) = &ops.replica {
        let measured = lag::replica_lag(replica, &ops.pool);
        if let Ok(Ok(behind)) = tokio::time::timeout(Duration::from_secs(2), measured).await {
            metrics::gauge!("berth_replica_lag_seconds").set(behind.seconds);
            metrics::gauge!("berth_replica_lag_bytes").set(behind.bytes as f64);
        }
    }
    if let Ok(Ok(head)) = tokio::time::timeout(Duration::from_secs(2), lag::head(&ops.pool)).await {
        metrics::gauge!("berth_event_log_head_position").set(head as f64);
    }
    let due = berth_eventstore::timers::due_summary(&ops.pool, ops.clock.now());
    if let Ok(Ok((count, lag))) = tokio::time::timeout(Duration::from_secs(2), due).await {
        metrics::gauge!("berth_timers_due").set(count as f64);
        metrics::gauge!("berth_timer_lag_seconds").set(lag);
    }
    let mut body = ops.metrics.render();
    if let Ok(Ok(holder)) = tokio::time::timeout(Duration::from_secs(2), lag::horizon(&ops.pool)).await {
        body.push_str(&crate::horizon::render(holder.as_ref()));
    }
    if let Ok(Ok(expiries)) = tokio::time::timeout(
        Duration::from_secs(2),
        berth_projections::certificate_watch::expiries(&ops.pool),
    )
    .await
    {
        body.push_str(&certificate_gauges(&expiries));
    }
    body.push_str(&evacuation_gauges(&ops.pool).await);
    if with_costs {
        body.push_str(&ops.costs.render().await);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// The certificate gauges, written out here rather than kept in the recorder: they are read
/// from the certificate watch at every scrape, so a retired certificate's series goes with it
/// instead of lingering until the process restarts.
fn certificate_gauges(expiries: &[berth_projections::certificate_watch::Expiry]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# HELP berth_certificate_expiry_timestamp_seconds When each site's live certificate expires.\n\
         # TYPE berth_certificate_expiry_timestamp_seconds gauge\n",
    );
    for e in expiries {
        let _ = writeln!(
            out,
            "berth_certificate_expiry_timestamp_seconds{{site=\"{}\",domain=\"{}\"}} {}",
            e.site_id,
            e.domain,
            e.not_after.unix_timestamp()
        );
    }
    out.push_str(
        "# HELP berth_certificate_renewal_failing 1 while the renewal of a site's certificate keeps failing.\n\
         # TYPE berth_certificate_renewal_failing gauge\n",
    );
    for e in expiries {
        let _ = writeln!(
            out,
            "berth_certificate_renewal_failing{{site=\"{}\",domain=\"{}\"}} {}",
            e.site_id,
            e.domain,
            u8::from(e.failing)
        );
    }
    out
}

/// The node loss gauges, read from the views at every scrape like the certificate ones: the
/// lost sites, and each evacuation with sites still to move with when it last moved on.
async fn evacuation_gauges(pool: &sqlx::PgPool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let wait = Duration::from_secs(2);
    if let Ok(Ok(lost)) = tokio::time::timeout(wait, berth_projections::evacuations::lost_sites(pool)).await {
        out.push_str(
            "# HELP berth_sites_lost Sites whose node is gone, neither restored nor deleted.\n\
             # TYPE berth_sites_lost gauge\n",
        );
        let _ = writeln!(out, "berth_sites_lost {lost}");
    }
    if let Ok(Ok(pending)) = tokio::time::timeout(wait, berth_projections::evacuations::pending(pool)).await {
        out.push_str(
            "# HELP berth_evacuation_sites_pending Sites of an evacuation still waiting or moving.\n\
             # TYPE berth_evacuation_sites_pending gauge\n",
        );
        for p in &pending {
            let _ = writeln!(
                out,
                "berth_evacuation_sites_pending{{evacuation=\"{}\",node=\"{}\"}} {}",
                p.evacuation_id, p.node_id, p.sites
            );
        }
        out.push_str(
            "# HELP berth_evacuation_last_progress_timestamp_seconds When an evacuation last moved on.\n\
             # TYPE berth_evacuation_last_progress_timestamp_seconds gauge\n",
        );
        for p in &pending {
            let _ = writeln!(
                out,
                "berth_evacuation_last_progress_timestamp_seconds{{evacuation=\"{}\",node=\"{}\"}} {}",
                p.evacuation_id,
                p.node_id,
                p.last_progress.unix_timestamp()
            );
        }
    }
    out
}

/// This API's OpenAPI 3.1 description (what clients are generated from).
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "operations", responses((status = 200, description = "The OpenAPI document", body = serde_json::Value)))]
async fn openapi_json(State(doc): State<Arc<serde_json::Value>>) -> Json<serde_json::Value> {
    Json(doc.as_ref().clone())
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
