//! Billing on the read side: the tenant's documents (with their PDF and e-Factura XML),
//! subscription, usage and billing profile; the plan catalogue for everyone; for operators
//! every document, recurring revenue, the VAT report and how the provider bills.

pub mod account;
pub mod documents;
pub mod invoices;
pub mod ops;
mod past;
pub mod plans;
pub mod setup;

use axum::Router;
use serde::Deserialize;

use crate::AppState;

/// The parameters of a billing detail: billing views are read as they are now (no `as_of`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionParams {
    /// Wait (up to 5 s) until the view reflects at least this version (read your own write).
    #[param(minimum = 0)]
    pub min_version: Option<i64>,
}

/// The parameters of a document's or a subscription's detail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DetailParams {
    /// Wait (up to 5 s) until the view reflects at least this version (read your own write).
    #[param(minimum = 0)]
    pub min_version: Option<i64>,
    /// The state at this instant (RFC 3339), folded from the log rather than read from the view.
    #[param(format = DateTime)]
    pub as_of: Option<String>,
}

/// The billing routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(invoices::router())
        .merge(documents::router())
        .merge(account::router())
        .merge(plans::router())
        .merge(ops::router())
        .merge(setup::router())
}
