//! Billing rules: VAT, amounts, proration and the frozen document model.
//!
//! Everything here is pure: no I/O, no clock. The aggregates, commands and sagas that bill
//! tenants build on it; the `berth-documents` crate renders its [`IssuedDocument`] as UBL
//! (e-Factura) and PDF. The seller is the hosting provider, established in Romania.
//!
//! Layout, from the ground up:
//! - values: [`Percent`] (basis points), [`Quantity`] (thousandths), [`CountryCode`],
//!   [`VatId`] (per-country format, Romanian CUI check digit), [`ServicePeriod`];
//! - VAT: [`VatRateTable`] (rates with validity dates, looked up by date of supply, seed in
//!   `rate_seed`), [`TaxTreatment`] (who pays which VAT), [`LineTax`] (category and rate);
//! - amounts: [`LineDraft`]/[`DocumentLine`], [`Coupon`] (spread over VAT groups), the
//!   EN 16931 totals (`totals`), proration by days, the VAT in lei (`exchange`);
//! - the document: [`Party`], [`PaymentMeans`], [`DocumentDraft`] → [`IssuedDocument`].
//!
//! Integer arithmetic throughout: money in minor units, rates in hundredths of a percent,
//! quantities in thousandths, every division rounded half-up once (`rounding`).

mod category;
mod country;
mod discount;
mod document;
mod exchange;
mod line;
mod party;
mod percent;
mod period;
mod proration;
mod quantity;
mod rate_seed;
mod rounding;
pub(crate) mod text;
mod totals;
mod treatment;
mod vat_id;
mod vat_rates;

#[cfg(test)]
pub(crate) mod tests;

// Dates in stored billing values are ISO 8601 calendar dates (`2025-09-01`), readable like
// the RFC 3339 times elsewhere in Berth's events, not the `time` crate's compact tuples.
time::serde::format_description!(pub(crate) iso_date, Date, "[year]-[month]-[day]");

pub use category::{Exemption, LineTax, LineTaxError, VatCategory};
pub use country::{CountryCode, CountryError};
pub use discount::{Coupon, CouponValue};
pub use document::{
    CardDetails, DocumentDraft, DocumentError, DocumentKind, DocumentNumber, Iban, InvoiceReference,
    IssuedDocument, NumberError, PaymentError, PaymentMeans, Series,
};
pub use exchange::{ExchangeRate, ExchangeRateError, VatInLei};
pub use line::{DocumentLine, LineDiscount, LineDraft, LineError, MAX_AMOUNT_MINOR};
pub use party::{Party, PartyError, PartyKind, PostalAddress};
pub use percent::{Percent, PercentError};
pub use period::{PeriodError, ServicePeriod};
pub use proration::{plan_change, prorate, PlanChange, ProrationError};
pub use quantity::{Quantity, QuantityError, UnitCode};
pub use text::TextError;
pub use totals::{DocumentAllowance, DocumentTotals, TotalsError, VatSubtotal};
pub use treatment::{BuyerTaxProfile, TaxTreatment, TreatmentError, VatIdStatus};
pub use vat_id::{VatId, VatIdError};
pub use vat_rates::{rate, RateCategory, RateError, RatePeriod, RateTableError, VatRateTable};
