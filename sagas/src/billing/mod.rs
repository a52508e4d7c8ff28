//! The billing sagas: [`renewal`] follows subscriptions (the invoice of every paid period, usage
//! beyond the plan when a period ends, the next period, and the documents of an upgrade's or a
//! cancellation's proration); [`vat`] asks VIES about a billing profile's VAT id; [`quota`]
//! gives a deleted site's place in its tenant's quota back; [`collection`] charges issued
//! documents to the tenant's card and runs dunning: retries, grace, suspension and resumption.

pub mod collection;
pub mod documents;
pub mod proration;
pub mod quota;
pub mod renewal;
pub mod vat;
