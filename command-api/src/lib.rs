//! `berth-command-api`: the HTTP write side.
//!
//! Requests are authenticated ([`auth`]), parsed into typed commands (bad input is answered
//! with `application/problem+json` naming the field, before anything is appended), authorized
//! against the permission matrix in `berth_domain::role`, and run through the event store's
//! single entry point. `Idempotency-Key` is honoured on every POST ([`idempotency`]). One
//! module per resource under [`routes`]; failures map to HTTP in `berth_http::error` only.
//!
//! The operational routes (`/healthz`, `/readyz`, `/metrics`) and per-token rate limits are
//! added by the `berth` binary, which serves this router.
#![forbid(unsafe_code)]

pub mod accepted;
pub mod auth;
pub mod idempotency;
pub mod routes;
pub mod secrets;
pub mod security;
pub mod totp;

use std::sync::Arc;
use std::time::Duration;

use axum::middleware::from_fn_with_state;
use axum::Router;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::store::EventStore;
use sqlx::PgPool;

use berth_http::ratelimit::RateLimiter;

/// What every command handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The event store commands run against.
    pub store: EventStore,
    /// The database (credentials, idempotency keys).
    pub pool: PgPool,
    /// Limits on login and registration, per client address and per account.
    pub auth_limiter: Arc<RateLimiter>,
    /// How hard to retry a command that lost a race.
    pub retry: RetryPolicy,
    /// The largest body accepted.
    pub body_limit: usize,
    /// How long a login session lasts.
    pub session_ttl: Duration,
    /// Seals node keys at registration.
    pub vault: berth_eventstore::vault::Vault,
    /// Where "now" comes from (session and invitation expiry).
    pub clock: Arc<dyn berth_eventstore::clock::Clock>,
    /// How long an Idempotency-Key claim lasts without an answer before a retry may take it
    /// over (its request died with its process).
    pub idempotency_lapse: Duration,
    /// Where the query API is, for the `Location` of every answer.
    pub links: Links,
    /// Whether changes of existing resources must carry `If-Match` (428 without it).
    pub require_if_match: bool,
    /// Recently seen bearer tokens.
    pub credentials: berth_projections::identity::CredentialCache,
    /// The issuer named in two-factor enrolments.
    pub totp_issuer: String,
    /// When failed logins for one account are a burst.
    pub login_burst: security::LoginBurst,
    /// The trial registration starts, and when invoices are due.
    pub billing: berth_eventstore::billing::BillingPolicy,
    /// Charges cards and saves them (none: no payment provider is configured).
    pub payments: Option<Arc<dyn berth_payments::PaymentGateway>>,
    /// How webhooks from the payment provider are verified.
    pub webhooks: WebhookKeys,
    /// Whether repository URLs may be `file://` (`[deploys] allow_file_urls`).
    pub allow_file_urls: bool,
}

/// The payment provider's webhook signing secrets and the signature's tolerance.
#[derive(Clone)]
pub struct WebhookKeys {
    /// Every secret a signature may match (two during a rotation).
    pub secrets: Vec<secrecy::SecretString>,
    /// Seconds a signature's timestamp may be from now.
    pub tolerance_secs: i64,
}

pub use accepted::{Accepted, Links, View};

/// The command API's OpenAPI description, generated from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Berth command API",
        description = "The write side: every change to Berth is a command here."
    ),
    paths(
        routes::auth::register,
        routes::auth::login,
        routes::sites::create,
        routes::sites::update,
        routes::sites::delete,
        routes::sites::suspend,
        routes::sites::resume,
        routes::sites::retry,
        routes::sites::recover,
        routes::nodes::register,
        routes::nodes::bootstrap,
        routes::nodes::drain,
        routes::nodes::decommission,
        routes::nodes::evacuate,
        routes::nodes::retire,
        routes::tokens::issue,
        routes::tokens::revoke,
        routes::members::change_role,
        routes::members::remove,
        routes::invitations::invite,
        routes::invitations::revoke,
        routes::auth::accept_invitation,
        routes::two_factor::enrol,
        routes::two_factor::confirm,
        routes::two_factor::disable,
        routes::two_factor::require,
        routes::billing::seller::set_seller,
        routes::billing::seller::open_series,
        routes::billing::seller::choose_series,
        routes::billing::seller::record_exchange_rate,
        routes::billing::plans::create,
        routes::billing::plans::change_price,
        routes::billing::plans::change_limits,
        routes::billing::plans::change_overage,
        routes::billing::plans::retire,
        routes::billing::coupons::create,
        routes::billing::coupons::withdraw,
        routes::billing::profile::set,
        routes::billing::subscriptions::create,
        routes::billing::subscriptions::upgrade,
        routes::billing::subscriptions::downgrade,
        routes::billing::subscriptions::cancel,
        routes::billing::subscriptions::withdraw_cancellation,
        routes::billing::usage::record,
        routes::billing::invoices::create,
        routes::billing::invoices::add_line,
        routes::billing::invoices::remove_line,
        routes::billing::invoices::set_notes,
        routes::billing::invoices::discard,
        routes::billing::documents::issue,
        routes::billing::documents::credit,
        routes::billing::documents::pay,
        routes::billing::payments::save_card,
        routes::billing::payments::remove_card,
        routes::billing::payments::pay_now,
        routes::webhooks::stripe,
        routes::zones::create,
        routes::zones::remove,
        routes::zones::set_records,
        routes::zones::remove_records,
        routes::certificates::issue,
        routes::domains::add,
        routes::domains::remove,
        routes::backups::take,
        routes::backups::restore,
        routes::backups::restore_to,
        routes::people::erase,
        routes::costs::set_cost_model,
        routes::deploys::configure,
        routes::deploys::deploy,
        routes::deploys::rollback,
        routes::git_hooks::receive,
        routes::sftp::add,
        routes::sftp::remove,
        routes::sign_out::logout,
        routes::staging::create,
        routes::staging::promote,
        routes::staging::remove,
    )
)]
pub struct ApiDoc;

/// The command API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::auth::router())
        .merge(routes::sign_out::router())
        .merge(routes::sites::router())
        .merge(routes::nodes::router())
        .merge(routes::tokens::router())
        .merge(routes::members::router())
        .merge(routes::invitations::router())
        .merge(routes::two_factor::router())
        .merge(routes::billing::router())
        .merge(routes::zones::router())
        .merge(routes::certificates::router())
        .merge(routes::domains::router())
        .merge(routes::webhooks::router())
        .merge(routes::backups::router())
        .merge(routes::people::router())
        .merge(routes::costs::router())
        .merge(routes::deploys::router())
        .merge(routes::git_hooks::router())
        .merge(routes::sftp::router())
        .merge(routes::staging::router())
        .fallback(berth_http::error::not_found)
        .method_not_allowed_fallback(berth_http::error::method_not_allowed)
        .layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .layer(from_fn_with_state(state.clone(), forget_stale_credentials))
        .layer(from_fn_with_state(state.clone(), security::access_denied))
        .with_state(state)
}

/// Clears this process's cached credentials when an answer found the caller's credential
/// changed (its revocation may not have been announced here yet).
async fn forget_stale_credentials(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    if response.extensions().get::<berth_http::error::CredentialsStale>().is_some() {
        state.credentials.clear();
    }
    response
}
