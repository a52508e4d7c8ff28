//! Billing on the read side: the tenant's documents (with their PDF and e-Factura XML),
//! subscription, usage and billing profile; the plan catalogue for everyone; for operators
//! every document, recurring revenue, the VAT report and how the provider bills.

pub mod account;
pub mod documents;
pub mod invoices;
pub mod ops;
mod past;
pub mod payments;
pub mod plans;
pub mod setup;

use axum::Router;

use crate::AppState;

pub use crate::as_of::AsOfParams as DetailParams;
pub use crate::page::VersionParams;

/// The billing routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(invoices::router())
        .merge(documents::router())
        .merge(account::router())
        .merge(plans::router())
        .merge(ops::router())
        .merge(setup::router())
        .merge(payments::router())
}
