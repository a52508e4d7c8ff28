//! The answer to a command: the aggregate and the version it reached, with a `Location` to the
//! query API URL that shows the result once the views have caught up.

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use uuid::Uuid;

/// The usual answer to a command: the aggregate and its version after the command.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The aggregate's id.
    pub id: Uuid,
    /// Its version: ask the query API for `?min_version=` this to read your write.
    #[schema(minimum = 0)]
    pub version: i64,
}

/// Which view shows a command's result.
#[derive(Debug, Clone)]
pub enum View {
    /// `/v1/sites/{id}`.
    Site(Uuid),
    /// `/v1/nodes/{id}`.
    Node(Uuid),
    /// `/v1/tenant` (members, tokens and invitations change the tenant's version).
    Tenant,
    /// `/v1/ops/seller`.
    Seller,
    /// `/v1/ops/series/{prefix}`.
    Series(String),
    /// `/v1/ops/exchange-rates/{currency}`.
    ExchangeRates(String),
    /// `/v1/plans/{id}`.
    Plan(Uuid),
    /// `/v1/ops/coupons/{id}`.
    Coupon(Uuid),
    /// `/v1/billing-profile`.
    BillingProfile,
    /// `/v1/subscriptions/{id}`.
    Subscription(Uuid),
    /// `/v1/subscriptions/{id}/usage`.
    Usage(Uuid),
    /// `/v1/invoices/{id}`.
    Invoice(Uuid),
    /// `/v1/zones/{id}`.
    Zone(Uuid),
    /// `/v1/certificates/{site id}`.
    Certificate(Uuid),
    /// `/v1/sites/{site id}/domains/{domain}`.
    Domain(Uuid, String),
    /// `/v1/billing/payment-methods` (the tenant's payment account).
    PaymentMethods,
    /// `/v1/backups/{id}`.
    Backup(Uuid),
    /// `/v1/restores/{id}`.
    Restore(Uuid),
    /// `/v1/evacuations/{id}`.
    Evacuation(Uuid),
    /// `/v1/ops/cost-model`.
    CostModel,
    /// `/v1/sites/{id}/repository`.
    Repository(Uuid),
    /// `/v1/deployments/{id}`.
    Deployment(Uuid),
    /// `/v1/sites/{id}/sftp-users`.
    SftpUsers(Uuid),
}

/// Where the query API is, as clients reach it (the `Location` of every answer).
#[derive(Debug, Clone)]
pub struct Links {
    query: String,
}

impl Links {
    /// Links to a query API at `query` (`http://host:port`, no trailing slash).
    pub fn new(query: impl Into<String>) -> Self {
        Self { query: query.into().trim_end_matches('/').to_owned() }
    }

    /// The URL of `view` at `version`.
    pub fn to(&self, view: View, version: i64) -> String {
        let path = match view {
            View::Site(id) => format!("/v1/sites/{id}"),
            View::Node(id) => format!("/v1/nodes/{id}"),
            View::Tenant => "/v1/tenant".to_owned(),
            View::Seller => "/v1/ops/seller".to_owned(),
            View::Series(prefix) => format!("/v1/ops/series/{prefix}"),
            View::ExchangeRates(currency) => format!("/v1/ops/exchange-rates/{currency}"),
            View::Plan(id) => format!("/v1/plans/{id}"),
            View::Coupon(id) => format!("/v1/ops/coupons/{id}"),
            View::BillingProfile => "/v1/billing-profile".to_owned(),
            View::Subscription(id) => format!("/v1/subscriptions/{id}"),
            View::Usage(id) => format!("/v1/subscriptions/{id}/usage"),
            View::Invoice(id) => format!("/v1/invoices/{id}"),
            View::Zone(id) => format!("/v1/zones/{id}"),
            View::Certificate(site) => format!("/v1/certificates/{site}"),
            View::Domain(site, domain) => format!("/v1/sites/{site}/domains/{domain}"),
            View::PaymentMethods => "/v1/billing/payment-methods".to_owned(),
            View::Backup(id) => format!("/v1/backups/{id}"),
            View::Restore(id) => format!("/v1/restores/{id}"),
            View::Evacuation(id) => format!("/v1/evacuations/{id}"),
            View::CostModel => "/v1/ops/cost-model".to_owned(),
            View::Repository(id) => format!("/v1/sites/{id}/repository"),
            View::Deployment(id) => format!("/v1/deployments/{id}"),
            View::SftpUsers(id) => format!("/v1/sites/{id}/sftp-users"),
        };
        format!("{}{path}?min_version={version}", self.query)
    }
}

/// A body with its status and `Location`.
pub struct Located<T> {
    status: StatusCode,
    location: String,
    body: T,
}

impl<T> Located<T> {
    /// `body` answered with `status`, pointing at `location`.
    pub fn new(status: StatusCode, location: String, body: T) -> Self {
        Self { status, location, body }
    }

    /// The body alone.
    pub fn into_body(self) -> T {
        self.body
    }
}

impl<T: Serialize> IntoResponse for Located<T> {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Ok(location) = HeaderValue::from_str(&self.location) {
            response.headers_mut().insert(LOCATION, location);
        }
        response
    }
}

impl Links {
    /// 202 with [`Accepted`] for aggregate `id` at `version`, pointing at `view`.
    pub fn accepted(&self, id: Uuid, version: i64, view: View) -> Located<Accepted> {
        Located::new(StatusCode::ACCEPTED, self.to(view, version), Accepted { id, version })
    }
}
