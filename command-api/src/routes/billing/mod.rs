//! Billing: the seller and its series, plans, coupons and exchange rates (operators); a
//! tenant's billing profile and subscription (its owners and admins); documents from draft to
//! issue, credit notes, proformas paid, and usage readings (operators).

pub mod coupons;
pub mod documents;
pub mod input;
pub mod invoices;
pub mod payments;
pub mod plans;
pub mod profile;
pub mod seller;
pub mod subscriptions;
pub mod usage;

use axum::Router;
use berth_eventstore::billing::BillingError;
use berth_http::ApiError;
use uuid::Uuid;

use crate::AppState;

/// The billing routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(seller::router())
        .merge(plans::router())
        .merge(coupons::router())
        .merge(profile::router())
        .merge(subscriptions::router())
        .merge(usage::router())
        .merge(invoices::router())
        .merge(documents::router())
        .merge(payments::router())
}

/// A billing error, with the request field a plan's or coupon's refusal is about.
pub(crate) fn refused(error: BillingError) -> ApiError {
    let field = match &error {
        BillingError::Rejected(refusal) => match refusal.aggregate() {
            "plan" => Some("plan"),
            "coupon" => Some("coupon"),
            _ => None,
        },
        _ => None,
    };
    let api = ApiError::from(error);
    match field {
        Some(field) => api.about(field),
        None => api,
    }
}

/// A request naming something that does not exist (a plan code, a coupon code): bad input
/// for the command, 422 naming the field.
pub(crate) fn unknown(field: &str, code: &'static str, detail: String) -> ApiError {
    ApiError::Refused {
        code,
        kind: berth_domain::error::RefusalKind::Rule,
        detail,
        field: Some(field.to_owned()),
    }
}

/// The id an answer gives for a platform aggregate whose id is not a UUID (the seller, a
/// series, a currency's rates): stable, derived from the aggregate type and id.
pub(crate) fn derived_uuid(aggregate_type: &str, id: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("berth:{aggregate_type}:{id}").as_bytes())
}
