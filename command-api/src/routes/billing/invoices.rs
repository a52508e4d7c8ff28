//! `/v1/invoices` (operators only): drafts of invoices and proformas, their lines and notes,
//! discarding a draft. An issued document refuses every one of these (409, naming its number).

use axum::extract::State;
use axum::routing::{delete, post, put};
use axum::Router;
use berth_domain::billing::{Coupon, CouponValue, DocumentKind, Percent};
use berth_domain::ids::{InvoiceId, TenantId};
use berth_domain::invoice::{Invoice, InvoiceCommand};
use berth_domain::organization::Organization;
use berth_eventstore::execute::CommandOutcome;
use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::Deserialize;

use super::input::{self, LineBody, MoneyBody};
use crate::accepted::Located;
use crate::auth::Operator;
use crate::{Accepted, AppState, View};

/// The draft routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/invoices", post(create))
        .route("/v1/invoices/{id}", delete(discard))
        .route("/v1/invoices/{id}/lines", post(add_line))
        .route("/v1/invoices/{id}/lines/{position}", delete(remove_line))
        .route("/v1/invoices/{id}/notes", put(set_notes))
}

/// A discount on the whole document, before VAT.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponBody {
    /// What is printed for it.
    #[schema(min_length = 1, max_length = 100, example = "Cupon BUNVENIT10")]
    pub reason: String,
    /// A percentage off the lines' net total; or `amount_off`.
    #[schema(pattern = "^[0-9]{1,3}(\\.[0-9]{1,2})?$")]
    pub percent_off: Option<String>,
    /// A fixed amount off; or `percent_off`.
    pub amount_off: Option<MoneyBody>,
}

impl CouponBody {
    fn parse(&self) -> Result<Coupon, ApiError> {
        let value = match (&self.percent_off, &self.amount_off) {
            (Some(p), None) => {
                CouponValue::Percent(Percent::parse(p).map_err(|e| ApiError::field("coupon.percent_off", e))?)
            }
            (None, Some(a)) => CouponValue::Amount(input::money("coupon.amount_off", a)?),
            _ => return Err(ApiError::field("coupon.percent_off", "give either percent_off or amount_off")),
        };
        Coupon::new(&self.reason, value).map_err(|e| ApiError::field("coupon.reason", e))
    }
}

/// `POST /v1/invoices` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDraft {
    /// The tenant billed.
    #[schema(format = Uuid)]
    pub tenant_id: String,
    /// `invoice` or `proforma` (a credit note is made from the invoice it corrects).
    #[schema(value_type = berth_http::schema::DocumentKindName, example = "invoice")]
    pub kind: String,
    /// The one currency of every amount on it.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// Its lines.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub lines: Vec<LineBody>,
    /// A discount on the whole document.
    pub coupon: Option<CouponBody>,
    /// Free notes printed on it.
    #[serde(default)]
    #[schema(max_items = 19)]
    pub notes: Vec<String>,
}

/// `PUT /v1/invoices/{id}/notes` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notes {
    /// Every note, replacing the old ones.
    #[schema(max_items = 19)]
    pub notes: Vec<String>,
}

/// Create a draft invoice or proforma for a tenant (operators only).
///
/// It gets its number when it is issued.
#[utoipa::path(post, path = "/v1/invoices", operation_id = "create_invoice", tag = "invoices", request_body = CreateDraft,
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<CreateDraft>,
) -> Result<Located<Accepted>, ApiError> {
    let tenant: TenantId =
        body.tenant_id.parse().map_err(|_| ApiError::field("tenant_id", "not a valid id"))?;
    let kind = match input::one_of("kind", &body.kind, &DocumentKind::ALL, DocumentKind::as_str)? {
        DocumentKind::CreditNote => {
            return Err(ApiError::field(
                "kind",
                "a credit note is made with POST /v1/invoices/{id}/credit-notes",
            ))
        }
        kind => kind,
    };
    let currency = input::currency("currency", &body.currency)?;
    let lines = input::lines(&body.lines)?;
    let coupon = body.coupon.as_ref().map(CouponBody::parse).transpose()?;
    if !state.store.load::<Organization>(&tenant.to_string()).await?.aggregate.exists() {
        return Err(super::unknown("tenant_id", "tenant-not-found", format!("no tenant {tenant}")));
    }
    let invoice_id = InvoiceId::from_uuid(operator.new_id());
    let meta = operator.metadata_for(tenant.as_uuid());
    let create = InvoiceCommand::CreateDraft {
        invoice_id,
        tenant_id: tenant,
        kind,
        currency,
        lines,
        coupon,
        billing: None,
        corrects: None,
        from_proforma: None,
    };
    let id = invoice_id.to_string();
    let mut outcome = state.store.execute::<Invoice>(&id, create, &meta.step("draft"), state.retry).await?;
    if !body.notes.is_empty() {
        let notes = InvoiceCommand::SetNotes { notes: body.notes };
        outcome = state.store.execute::<Invoice>(&id, notes, &meta.step("notes"), state.retry).await?;
    }
    Ok(state.links.accepted(invoice_id.as_uuid(), outcome.version, View::Invoice(invoice_id.as_uuid())))
}

/// Runs `command` on the document `raw`, as the operator acting for the document's tenant.
pub(crate) async fn run(
    state: &AppState,
    operator: &Operator,
    raw: &str,
    precondition: Precondition,
    command: InvoiceCommand,
) -> Result<Located<Accepted>, ApiError> {
    let (invoice_id, tenant, _) = document(state, raw).await?;
    let expected = precondition.expected(state.require_if_match)?;
    let meta = operator.metadata_for(tenant.as_uuid());
    let outcome: CommandOutcome = state
        .store
        .execute_at::<Invoice>(&invoice_id.to_string(), command, &meta, state.retry, &[], expected)
        .await?;
    Ok(state.links.accepted(invoice_id.as_uuid(), outcome.version, View::Invoice(invoice_id.as_uuid())))
}

/// The document `raw`, its tenant and its version; an unknown id is not found.
pub(crate) async fn document(state: &AppState, raw: &str) -> Result<(InvoiceId, TenantId, i64), ApiError> {
    let invoice_id: InvoiceId = crate::routes::parse_id(raw)?;
    let loaded = state.store.load::<Invoice>(&invoice_id.to_string()).await?;
    let tenant = loaded.aggregate.tenant_id().ok_or(ApiError::NotFound)?;
    Ok((invoice_id, tenant, loaded.version))
}

/// The path parameter of a document.
pub(crate) const DOCUMENT: &str = "The document's id";

/// Add a line to a draft (operators only).
#[utoipa::path(post, path = "/v1/invoices/{id}/lines", operation_id = "add_invoice_line", tag = "invoices", request_body = LineBody,
    params(("id" = uuid::Uuid, Path, description = DOCUMENT)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn add_line(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<LineBody>,
) -> Result<Located<Accepted>, ApiError> {
    let line = body.parse("line")?;
    run(&state, &operator, &raw, precondition, InvoiceCommand::AddLine { line }).await
}

/// Remove a draft's line by its position, from 1 (operators only).
#[utoipa::path(delete, path = "/v1/invoices/{id}/lines/{position}", operation_id = "remove_invoice_line", tag = "invoices",
    params(("id" = uuid::Uuid, Path, description = DOCUMENT), ("position" = u32, Path, description = "The line's position, from 1", minimum = 1)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn remove_line(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath((raw, position)): ApiPath<(String, String)>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    let position: u32 = position.parse().map_err(|_| ApiError::NotFound)?;
    run(&state, &operator, &raw, precondition, InvoiceCommand::RemoveLine { position }).await
}

/// Replace a draft's notes (operators only).
#[utoipa::path(put, path = "/v1/invoices/{id}/notes", operation_id = "set_invoice_notes", tag = "invoices", request_body = Notes,
    params(("id" = uuid::Uuid, Path, description = DOCUMENT)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn set_notes(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<Notes>,
) -> Result<Located<Accepted>, ApiError> {
    run(&state, &operator, &raw, precondition, InvoiceCommand::SetNotes { notes: body.notes }).await
}

/// Throw a draft away (operators only); it never had a number.
#[utoipa::path(delete, path = "/v1/invoices/{id}", operation_id = "discard_invoice", tag = "invoices",
    params(("id" = uuid::Uuid, Path, description = DOCUMENT)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn discard(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    run(&state, &operator, &raw, precondition, InvoiceCommand::Discard).await
}
