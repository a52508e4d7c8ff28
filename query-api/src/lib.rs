//! `berth-query-api`: the HTTP read side.
//!
//! Serves the read models built by `berth-projections`, always for the caller's tenant:
//! every query runs in a transaction that switches to the `berth_reader` role and sets the
//! tenant, so PostgreSQL's row-level security backs up the `WHERE tenant_id = …` in each query
//! ([`scope`]). Lists are cursor-paginated; detail routes accept `?min_version=` to read one's
//! own write; [`live`] streams the tenant's events from JetStream as Server-Sent Events.
//!
//! The operational routes (`/healthz`, `/readyz`, `/metrics`) are added by the `berth` binary.
#![forbid(unsafe_code)]

pub mod as_of;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod billing;
pub mod certificates;
pub mod costs;
pub mod deployments;
pub mod domains;
pub mod evacuations;
pub mod exports;
pub mod live;
pub mod me;
pub mod nodes;
pub mod page;
pub mod scope;
pub mod security_log;
pub mod sftp;
pub mod sites;
pub mod tenant;
pub mod timers;
pub mod zones;

use axum::Router;

/// What every query handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database as Berth's own role: for authenticating bearer tokens only.
    pub pool: sqlx::PgPool,
    /// The read-model database, through connections that read as the reader role.
    pub reads: scope::Reads,
    /// JetStream, for the live event stream.
    pub jetstream: async_nats::jetstream::Context,
    /// The event stream's name.
    pub stream: String,
    /// The event subjects' prefix.
    pub subject_prefix: String,
    /// Recently seen bearer tokens.
    pub credentials: berth_projections::identity::CredentialCache,
    /// Renders documents as PDF (or why it cannot: a font it needs is missing).
    pub pdf: std::sync::Arc<Result<berth_documents::PdfRenderer, String>>,
    /// The subject keys that open sealed personal data (live stream, exports, `as_of`).
    pub keys: Option<berth_eventstore::personal::Keys>,
    /// Where "now" comes from (the current month, the capacity forecast).
    pub clock: std::sync::Arc<dyn berth_eventstore::clock::Clock>,
    /// The object storage deployments' full logs are kept in (the backup bucket), if any.
    pub logs: Option<std::sync::Arc<dyn object_store::ObjectStore>>,
}

/// The query API's OpenAPI description, generated from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Berth query API",
        description = "The read side: views built from the event log, scoped to the caller's tenant."
    ),
    paths(
        me::export,
        sites::list,
        sites::detail,
        nodes::list,
        nodes::detail,
        tenant::overview,
        tenant::members,
        tenant::tokens,
        tenant::invitations,
        audit::list,
        live::stream,
        timers::list,
        costs::costs,
        costs::fleet_capacity,
        costs::cost_model,
        billing::invoices::list,
        billing::invoices::detail,
        billing::documents::pdf,
        billing::documents::efactura,
        billing::account::profile,
        billing::account::current,
        billing::account::subscription,
        billing::account::usage,
        billing::plans::list,
        billing::plans::detail,
        billing::ops::invoices,
        billing::ops::revenue,
        billing::ops::vat_report,
        billing::payments::cards,
        billing::payments::tenant_payments,
        billing::payments::document_payments,
        billing::payments::cash_report,
        billing::payments::collections,
        billing::payments::webhooks,
        billing::setup::seller,
        billing::setup::series,
        billing::setup::coupons,
        billing::setup::coupon,
        billing::setup::rates,
        exports::events,
        exports::keys,
        security_log::list,
        zones::list,
        zones::detail,
        certificates::list,
        certificates::detail,
        certificates::expiring,
        certificates::failing,
        domains::list,
        domains::detail,
        backups::list,
        backups::detail,
        backups::storage,
        backups::restores,
        backups::restore,
        backups::failures,
        deployments::repository,
        deployments::list,
        deployments::detail,
        deployments::log,
        sftp::list,
        evacuations::detail
    ),
    components(schemas(live::StreamEvent))
)]
pub struct ApiDoc;

/// The query API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(sites::router())
        .merge(nodes::router())
        .merge(evacuations::router())
        .merge(tenant::router())
        .merge(audit::router())
        .merge(live::router())
        .merge(timers::router())
        .merge(costs::router())
        .merge(billing::router())
        .merge(exports::router())
        .merge(security_log::router())
        .merge(zones::router())
        .merge(certificates::router())
        .merge(domains::router())
        .merge(backups::router())
        .merge(deployments::router())
        .merge(sftp::router())
        .merge(me::router())
        .fallback(berth_http::error::not_found)
        .method_not_allowed_fallback(berth_http::error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), with_keys))
        .with_state(state)
}

/// Runs each request with the subject keys as its task's keys, so whatever it reads from the
/// log (`as_of`, exports) opens sealed personal data.
async fn with_keys(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    berth_eventstore::personal::scoped(state.keys.clone(), next.run(request)).await
}
