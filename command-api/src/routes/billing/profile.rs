//! `PUT /v1/billing-profile`: who the tenant is as a buyer (its owners and admins).

use axum::extract::State;
use axum::routing::put;
use axum::Router;
use berth_domain::billing::PartyKind;
use berth_domain::billing_profile::{BillingProfile, BillingProfileCommand};
use berth_domain::role::Permission;
use berth_http::conditional::Precondition;
use berth_http::extract::ApiJson;
use berth_http::ApiError;
use serde::Deserialize;

use super::input::{self, AddressBody};
use crate::accepted::Located;
use crate::auth::Caller;
use crate::{Accepted, AppState, View};

/// The billing profile route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/billing-profile", put(set))
}

/// `PUT /v1/billing-profile` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "company", "legal_name": "Țesătoria Ștefănescu SRL",
    "address": {"lines": ["Bd. Unirii 10"], "city": "SECTOR3", "postal_code": "030167", "subdivision": "RO-B", "country": "RO"},
    "vat_id": "RO14399840", "registration": "J40/1234/2015", "email": "facturi@tesatoria.ro", "currency": "RON"}))]
pub struct ProfileBody {
    /// A company or a person.
    #[schema(value_type = berth_http::schema::PartyKindName)]
    pub kind: String,
    /// The legal name (a person's full name).
    #[schema(min_length = 1, max_length = 200)]
    pub legal_name: String,
    /// The billing address.
    pub address: AddressBody,
    /// A company's VAT id (its format, and a Romanian CUI's check digit, are checked here;
    /// VIES verifies it afterwards, and until then it gets no reverse charge).
    #[schema(example = "DE123456789")]
    pub vat_id: Option<String>,
    /// A company's trade register number, or a person's personal id.
    #[schema(max_length = 100)]
    pub registration: Option<String>,
    /// Where invoices are sent.
    #[schema(format = "email")]
    pub email: Option<String>,
    /// The currency the tenant is billed in.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
}

/// Set the tenant's billing profile.
///
/// A new or changed VAT id is unverified until VIES confirms it.
#[utoipa::path(put, path = "/v1/billing-profile", operation_id = "set_billing_profile", tag = "billing", request_body = ProfileBody,
    responses((status = 202, description = "Accepted; VIES checks the VAT id", body = Accepted)), security(("bearer" = [])))]
async fn set(
    State(state): State<AppState>,
    caller: Caller,
    precondition: Precondition,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageBilling)?;
    let kind = input::one_of("kind", &body.kind, &PartyKind::ALL, PartyKind::as_str)?;
    let party = input::party(
        kind == PartyKind::Company,
        &body.legal_name,
        &body.address,
        body.vat_id.as_deref(),
        body.registration.as_deref(),
        body.email.as_deref(),
    )?;
    let currency = input::currency("currency", &body.currency)?;
    let expected = precondition.expected(state.require_if_match)?;
    let tenant = caller.tenant_id;
    let command = BillingProfileCommand::Set { tenant_id: tenant, party, currency };
    let outcome = state
        .store
        .execute_at::<BillingProfile>(
            &tenant.to_string(),
            command,
            &caller.metadata(),
            state.retry,
            &[],
            expected,
        )
        .await?;
    Ok(state.links.accepted(tenant.as_uuid(), outcome.version, View::BillingProfile))
}
