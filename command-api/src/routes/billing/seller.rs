//! The seller and its numbering series, and exchange rates (operators only). The same
//! commands are what `[billing]` in `berth.toml` applies at start.

use axum::extract::State;
use axum::routing::{post, put};
use axum::Router;
use berth_domain::billing::{DocumentKind, ExchangeRate, Iban};
use berth_domain::exchange_rate::{ExchangeRates, ExchangeRatesCommand};
use berth_domain::seller::{Seller, SellerCommand, SELLER_ID};
use berth_domain::series::{NumberSeries, SeriesCommand, SeriesPrefix};
use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::Deserialize;

use super::input::{self, AddressBody};
use crate::accepted::Located;
use crate::auth::Operator;
use crate::{Accepted, AppState, View};

/// The seller, series and exchange rate routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/seller", put(set_seller))
        .route("/v1/seller/series/{kind}", put(choose_series))
        .route("/v1/series", post(open_series))
        .route("/v1/exchange-rates/{currency}", put(record_exchange_rate))
}

/// `PUT /v1/seller` body: the hosting provider as its documents name it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SellerBody {
    /// The legal name.
    #[schema(min_length = 1, max_length = 200, example = "Berth Găzduire SRL")]
    pub legal_name: String,
    /// The registered address (in Romania).
    pub address: AddressBody,
    /// The VAT id (`RO` and the CUI, check digit verified).
    #[schema(example = "RO18547290")]
    pub vat_id: String,
    /// The trade register number.
    #[schema(max_length = 100, example = "J12/3456/2020")]
    pub registration: Option<String>,
    /// Where buyers write about invoices.
    #[schema(format = "email")]
    pub email: Option<String>,
    /// The account buyers pay into.
    #[schema(example = "RO49AAAA1B31007593840000")]
    pub iban: String,
    /// The bank.
    #[schema(max_length = 100)]
    pub bank_name: Option<String>,
}

impl SellerBody {
    /// The command that sets these details.
    pub fn into_command(self) -> Result<SellerCommand, ApiError> {
        let party = input::party(
            true,
            &self.legal_name,
            &self.address,
            Some(&self.vat_id),
            self.registration.as_deref(),
            self.email.as_deref(),
        )?;
        let iban = Iban::parse(&self.iban).map_err(|e| ApiError::field("iban", e))?;
        Ok(SellerCommand::SetDetails { party: Box::new(party), iban, bank_name: self.bank_name })
    }
}

/// `POST /v1/series` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenSeries {
    /// 1 to 6 capital letters; the series' id.
    #[schema(pattern = "^[A-Z]{1,6}$", example = "BRT")]
    pub prefix: String,
    /// The kind of document it numbers.
    #[schema(value_type = berth_http::schema::DocumentKindName)]
    pub kind: String,
    /// Whether numbering starts again at 1 each calendar year (the year is then printed with
    /// the series: `BRT2026000001`).
    #[serde(default)]
    pub yearly_restart: bool,
}

/// `PUT /v1/seller/series/{kind}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChooseSeries {
    /// An open series of that kind.
    #[schema(pattern = "^[A-Z]{1,6}$", example = "BRT")]
    pub prefix: String,
}

/// `PUT /v1/exchange-rates/{currency}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRate {
    /// Lei per unit of the currency, at most six decimals.
    #[schema(pattern = "^[0-9]{1,6}(\\.[0-9]{1,6})?$", example = "4.9763")]
    pub rate: String,
    /// The day it is for.
    #[schema(format = Date, example = "2025-09-01")]
    pub date: String,
}

fn prefix(value: &str) -> Result<SeriesPrefix, ApiError> {
    SeriesPrefix::parse(value).map_err(|e| ApiError::field("prefix", e))
}

/// Set the seller's details (operators only); documents issued afterwards carry them.
#[utoipa::path(put, path = "/v1/seller", operation_id = "set_seller", tag = "billing", request_body = SellerBody,
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn set_seller(
    State(state): State<AppState>,
    operator: Operator,
    precondition: Precondition,
    ApiJson(body): ApiJson<SellerBody>,
) -> Result<Located<Accepted>, ApiError> {
    let command = body.into_command()?;
    let expected = precondition.expected(state.require_if_match)?;
    let meta = operator.metadata();
    let outcome =
        state.store.execute_at::<Seller>(SELLER_ID, command, &meta, state.retry, &[], expected).await?;
    Ok(state.links.accepted(super::derived_uuid("seller", SELLER_ID), outcome.version, View::Seller))
}

/// Open a numbering series (operators only).
#[utoipa::path(post, path = "/v1/series", operation_id = "open_series", tag = "billing", request_body = OpenSeries,
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn open_series(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<OpenSeries>,
) -> Result<Located<Accepted>, ApiError> {
    let prefix = prefix(&body.prefix)?;
    let kind = input::one_of("kind", &body.kind, &DocumentKind::ALL, DocumentKind::as_str)?;
    let command = SeriesCommand::Open { prefix: prefix.clone(), kind, yearly_restart: body.yearly_restart };
    let meta = operator.metadata();
    let outcome = state.store.execute::<NumberSeries>(prefix.as_str(), command, &meta, state.retry).await?;
    let id = super::derived_uuid("series", prefix.as_str());
    Ok(state.links.accepted(id, outcome.version, View::Series(prefix.as_str().to_owned())))
}

/// Number documents of a kind in a series from now on (operators only).
#[utoipa::path(put, path = "/v1/seller/series/{kind}", operation_id = "choose_series", tag = "billing", request_body = ChooseSeries,
    params(("kind" = berth_http::schema::DocumentKindName, Path, description = "The kind of document")),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn choose_series(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(kind): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<ChooseSeries>,
) -> Result<Located<Accepted>, ApiError> {
    let kind = DocumentKind::ALL.into_iter().find(|k| k.as_str() == kind).ok_or(ApiError::NotFound)?;
    let prefix = prefix(&body.prefix)?;
    let series = state.store.load::<NumberSeries>(prefix.as_str()).await?.aggregate;
    if !series.is_open() {
        return Err(super::unknown(
            "prefix",
            "series-not-open",
            format!("no series {} is open", prefix.as_str()),
        ));
    }
    if series.kind() != Some(kind) {
        return Err(ApiError::field(
            "prefix",
            format!("series {} numbers another kind of document", prefix.as_str()),
        ));
    }
    let expected = precondition.expected(state.require_if_match)?;
    let meta = operator.metadata();
    let command = SellerCommand::ChooseSeries { kind, prefix };
    let outcome =
        state.store.execute_at::<Seller>(SELLER_ID, command, &meta, state.retry, &[], expected).await?;
    Ok(state.links.accepted(super::derived_uuid("seller", SELLER_ID), outcome.version, View::Seller))
}

/// Record a currency's rate to lei for a day (operators only).
///
/// Documents issued without a rate of their own take the latest day's on or before their issue
/// date.
#[utoipa::path(put, path = "/v1/exchange-rates/{currency}", operation_id = "record_exchange_rate", tag = "billing", request_body = RecordRate,
    params(("currency" = berth_http::schema::CurrencyName, Path, description = "The currency (not RON)")),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn record_exchange_rate(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(currency): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<RecordRate>,
) -> Result<Located<Accepted>, ApiError> {
    let currency = input::currency("currency", &currency)?;
    let date = input::date("date", &body.date)?;
    let rate = ExchangeRate::parse(&body.rate, date).map_err(|e| ApiError::field("rate", e))?;
    let expected = precondition.expected(state.require_if_match)?;
    let meta = operator.metadata();
    let command = ExchangeRatesCommand::Record { currency, rate };
    let outcome = state
        .store
        .execute_at::<ExchangeRates>(currency.as_str(), command, &meta, state.retry, &[], expected)
        .await?;
    let id = super::derived_uuid("exchange_rate", currency.as_str());
    Ok(state.links.accepted(id, outcome.version, View::ExchangeRates(currency.as_str().to_owned())))
}
