//! Issuing (operators only): a draft with the next number of its series, a credit note for an
//! invoice (in full, or some lines; never more than what remains of it), and the fiscal
//! invoice of a proforma once it is paid.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use berth_domain::billing::{DocumentKind, ExchangeRate};
use berth_domain::error::RefusalKind;
use berth_domain::ids::InvoiceId;
use berth_domain::invoice::{Invoice, InvoiceCommand, InvoiceError, InvoiceStatus, Payment, PaymentMethod};
use berth_eventstore::billing::{
    issue_document, issue_request, record_payment, BillingError, PaymentRequest,
};
use berth_eventstore::metadata::CommandMetadata;
use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::input::{self, LineBody};
use super::invoices::{document, DOCUMENT};
use crate::accepted::Located;
use crate::auth::Operator;
use crate::{AppState, View};

/// The issuing routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/invoices/{id}/issue", post(issue))
        .route("/v1/invoices/{id}/credit-notes", post(credit))
        .route("/v1/invoices/{id}/payments", post(pay))
}

/// The answer to issuing: the document, its version and its number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedAnswer {
    /// The document's id.
    pub id: Uuid,
    /// Its version: ask the query API for `?min_version=` this to read your write.
    #[schema(minimum = 0)]
    pub version: i64,
    /// Its number (`BRT000042`).
    pub number: String,
}

/// `POST /v1/invoices/{id}/issue` body; every field is optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    /// The issue date (default: today; never before the series' last document).
    #[schema(format = Date)]
    pub issue_date: Option<String>,
    /// When payment is due (default: `billing.payment_terms_days` after the issue date).
    #[schema(format = Date)]
    pub due_date: Option<String>,
    /// The date of supply, which decides the VAT rates (default: the issue date).
    #[schema(format = Date)]
    pub supply_date: Option<String>,
    /// Lei per unit of a document not in lei (default: the rate recorded for the issue date).
    #[schema(pattern = "^[0-9]{1,6}(\\.[0-9]{1,6})?$", example = "4.9763")]
    pub exchange_rate: Option<String>,
}

/// `POST /v1/invoices/{id}/credit-notes` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditBody {
    /// The lines credited; absent: every line of the invoice (a full credit).
    pub lines: Option<Vec<LineBody>>,
    /// Free notes, such as why.
    #[serde(default)]
    #[schema(max_items = 19)]
    pub notes: Vec<String>,
}

/// `POST /v1/invoices/{id}/payments` body: a bank transfer or cash received, recorded by an
/// operator. Every field is optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// When it was received (default: today).
    #[schema(format = Date)]
    pub paid_on: Option<String>,
    /// What was received (default: everything still due); in the document's currency, more
    /// than zero. Partial payments add up; more than is due becomes the tenant's credit.
    pub amount: Option<input::MoneyBody>,
    /// `bank_transfer` (the default) or `cash`.
    #[schema(value_type = Option<String>, example = "bank_transfer")]
    pub method: Option<String>,
    /// The bank's reference, at most 140 characters.
    #[schema(max_length = 140)]
    pub reference: Option<String>,
}

/// The answer to a recorded payment: the document that now stands (a settled proforma's
/// fiscal invoice, or the paid document itself) and what is left to pay.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentAnswer {
    /// The document's id.
    pub id: Uuid,
    /// Its version.
    #[schema(minimum = 0)]
    pub version: i64,
    /// Its number.
    pub number: String,
    /// The payment's id.
    pub payment_id: Uuid,
    /// What is left to pay on the paid document, in minor units.
    pub balance_due_minor: i64,
    /// Whether nothing is left to pay.
    pub settled: bool,
}

/// Issues `invoice_id` with `body`'s dates and rate under `meta`, answering 202.
async fn issue_as(
    state: &AppState,
    invoice_id: InvoiceId,
    body: &IssueBody,
    meta: &CommandMetadata,
) -> Result<Located<IssuedAnswer>, ApiError> {
    let issue_date = match input::optional_date("issue_date", body.issue_date.as_deref())? {
        Some(date) => date,
        None => state.clock.now().date(),
    };
    let due_date = input::optional_date("due_date", body.due_date.as_deref())?;
    let supply_date = input::optional_date("supply_date", body.supply_date.as_deref())?;
    let rate = body
        .exchange_rate
        .as_deref()
        .map(|r| ExchangeRate::parse(r, issue_date).map_err(|e| ApiError::field("exchange_rate", e)))
        .transpose()?;
    let request =
        issue_request(&state.store, invoice_id, issue_date, due_date, supply_date, rate, &state.billing)
            .await
            .map_err(|e| match &e {
                BillingError::Rejected(r) if r.aggregate() == "exchange_rate" => {
                    ApiError::from(e).about("exchange_rate")
                }
                _ => ApiError::from(e),
            })?;
    let issued = issue_document(&state.store, &request, meta, state.retry).await?;
    let location = state.links.to(View::Invoice(invoice_id.as_uuid()), issued.version);
    let answer =
        IssuedAnswer { id: invoice_id.as_uuid(), version: issued.version, number: issued.number.to_string() };
    Ok(Located::new(axum::http::StatusCode::ACCEPTED, location, answer))
}

/// Issue a draft (operators only).
///
/// It takes the next number of its series, in the same commit, and never changes again.
#[utoipa::path(post, path = "/v1/invoices/{id}/issue", operation_id = "issue_invoice", tag = "invoices", request_body = IssueBody,
    params(("id" = uuid::Uuid, Path, description = DOCUMENT)),
    responses((status = 202, description = "Issued", body = IssuedAnswer)), security(("bearer" = [])))]
async fn issue(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<IssueBody>,
) -> Result<Located<IssuedAnswer>, ApiError> {
    let (invoice_id, tenant, version) = document(&state, &raw).await?;
    check(&state, precondition, version)?;
    issue_as(&state, invoice_id, &body, &operator.metadata_for(tenant.as_uuid())).await
}

fn check(state: &AppState, precondition: Precondition, version: i64) -> Result<(), ApiError> {
    match precondition.expected(state.require_if_match)? {
        Some(expected) if expected != version => {
            Err(ApiError::PreconditionFailed { expected, current: version })
        }
        _ => Ok(()),
    }
}

/// Credit an issued invoice (operators only).
///
/// A credit note for every line, or for the lines given, issued at once in the credit notes'
/// series; more than what remains of the invoice is refused (422) and takes no number.
#[utoipa::path(post, path = "/v1/invoices/{id}/credit-notes", operation_id = "create_credit_note", tag = "invoices", request_body = CreditBody,
    params(("id" = uuid::Uuid, Path, description = "The invoice's id")),
    responses((status = 202, description = "The credit note, issued", body = IssuedAnswer)), security(("bearer" = [])))]
async fn credit(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<CreditBody>,
) -> Result<Located<IssuedAnswer>, ApiError> {
    let (invoice_id, tenant, version) = document(&state, &raw).await?;
    check(&state, precondition, version)?;
    let invoice = state.store.load::<Invoice>(&invoice_id.to_string()).await?.aggregate;
    let currency = invoice.currency().ok_or(ApiError::NotFound)?;
    let (lines, coupon) = match &body.lines {
        Some(lines) => (input::lines(lines)?, None),
        None => (invoice.lines().to_vec(), invoice.coupon().cloned()),
    };
    let credit_note = InvoiceId::from_uuid(operator.new_id());
    let meta = operator.metadata_for(tenant.as_uuid());
    let create = InvoiceCommand::CreateDraft {
        invoice_id: credit_note,
        tenant_id: tenant,
        kind: DocumentKind::CreditNote,
        currency,
        lines,
        coupon,
        billing: None,
        corrects: Some(invoice_id),
        from_proforma: None,
    };
    let id = credit_note.to_string();
    state.store.execute::<Invoice>(&id, create, &meta.step("draft"), state.retry).await?;
    if !body.notes.is_empty() {
        let notes = InvoiceCommand::SetNotes { notes: body.notes.clone() };
        state.store.execute::<Invoice>(&id, notes, &meta.step("notes"), state.retry).await?;
    }
    match issue_as(&state, credit_note, &IssueBody::default(), &meta.step("issue")).await {
        Err(error @ ApiError::Refused { kind: RefusalKind::Rule, .. }) => {
            // A credit note that breaks a rule (more than what remains) is not left behind.
            let discard = meta.step("discard");
            let discarded =
                state.store.execute::<Invoice>(&id, InvoiceCommand::Discard, &discard, state.retry).await;
            if let Err(e) = discarded {
                tracing::warn!(error = %e, credit_note = %credit_note, "could not discard a refused credit note");
            }
            Err(error)
        }
        other => other,
    }
}

/// Record a payment (operators only): a bank transfer or cash against an invoice or proforma.
///
/// Partial payments add up, and more than is due becomes the tenant's credit. The payment that
/// settles the document ends its dunning (resuming sites suspended for it); a settled proforma
/// has its fiscal invoice issued at once, and the answer is that invoice.
#[utoipa::path(post, path = "/v1/invoices/{id}/payments", operation_id = "record_payment", tag = "invoices", request_body = PaymentBody,
    params(("id" = uuid::Uuid, Path, description = "The invoice's or proforma's id")),
    responses((status = 202, description = "Recorded", body = PaymentAnswer)), security(("bearer" = [])))]
async fn pay(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<PaymentBody>,
) -> Result<Located<PaymentAnswer>, ApiError> {
    let (document_id, tenant, version) = document(&state, &raw).await?;
    check(&state, precondition, version)?;
    let received_on = match input::optional_date("paid_on", body.paid_on.as_deref())? {
        Some(date) => date,
        None => state.clock.now().date(),
    };
    let method = match body.method.as_deref().unwrap_or("bank_transfer") {
        "bank_transfer" => PaymentMethod::BankTransfer,
        "cash" => PaymentMethod::Cash,
        other => return Err(ApiError::field("method", format!("`{other}` is not bank_transfer or cash"))),
    };
    let id = document_id.to_string();
    let loaded = state.store.load::<Invoice>(&id).await?.aggregate;
    let due = loaded.balance_due().ok_or_else(|| ApiError::refused(&InvoiceError::NotPayable))?;
    let amount = match &body.amount {
        Some(amount) => {
            let amount = input::money("amount", amount)?;
            if amount.currency() != due.currency() {
                return Err(ApiError::Refused {
                    code: "currency-mismatch",
                    kind: RefusalKind::Rule,
                    detail: format!(
                        "amount.currency: the document is in {}, not {}",
                        due.currency().as_str(),
                        amount.currency().as_str()
                    ),
                    field: Some("amount.currency".to_owned()),
                });
            }
            if amount.amount_minor() == 0 {
                return Err(ApiError::Refused {
                    code: "payment-not-positive",
                    kind: RefusalKind::Rule,
                    detail: "amount.amount_minor: a payment is for more than zero".to_owned(),
                    field: Some("amount.amount_minor".to_owned()),
                });
            }
            amount
        }
        None if due.amount_minor() == 0 => {
            return Err(ApiError::refused(&InvoiceError::PaymentNotPositive).about("amount"))
        }
        None => due,
    };
    let payment_id = operator.new_id();
    let payment = Payment { payment_id, method, amount, received_on, reference: body.reference.clone() };
    let meta = operator.metadata_for(tenant.as_uuid());
    let request = PaymentRequest { invoice_id: document_id, payment, webhook: None };
    let recorded = record_payment(&state.store, &request, &meta.step("payment"), state.retry)
        .await
        .map_err(|e| ApiError::from(e).about("reference"))?;
    let balance_due_minor = recorded.balance_due.map_or(0, |m| m.amount_minor());
    let paid = state.store.load::<Invoice>(&id).await?.aggregate;
    if loaded.kind() == Some(DocumentKind::Proforma) && recorded.settled {
        let issued = invoice_from_proforma(&state, document_id, tenant, &paid, &meta).await?;
        return Ok(Located::new(
            axum::http::StatusCode::ACCEPTED,
            state.links.to(View::Invoice(issued.id), issued.version),
            PaymentAnswer {
                id: issued.id,
                version: issued.version,
                number: issued.number,
                payment_id,
                balance_due_minor,
                settled: true,
            },
        ));
    }
    let number = paid.document().map(|d| d.number().to_string()).unwrap_or_default();
    Ok(Located::new(
        axum::http::StatusCode::ACCEPTED,
        state.links.to(View::Invoice(document_id.as_uuid()), recorded.version),
        PaymentAnswer {
            id: document_id.as_uuid(),
            version: recorded.version,
            number,
            payment_id,
            balance_due_minor,
            settled: recorded.settled,
        },
    ))
}

/// Issues the fiscal invoice of the paid `proforma` (once: its id derives from the proforma's).
async fn invoice_from_proforma(
    state: &AppState,
    proforma: InvoiceId,
    tenant: berth_domain::ids::TenantId,
    loaded: &Invoice,
    meta: &CommandMetadata,
) -> Result<IssuedAnswer, ApiError> {
    let invoice_id = InvoiceId::from_uuid(Uuid::new_v5(&proforma.as_uuid(), b"invoice"));
    let create = InvoiceCommand::CreateDraft {
        invoice_id,
        tenant_id: tenant,
        kind: DocumentKind::Invoice,
        currency: loaded.currency().ok_or(ApiError::NotFound)?,
        lines: loaded.lines().to_vec(),
        coupon: loaded.coupon().cloned(),
        billing: None,
        corrects: None,
        from_proforma: Some(proforma),
    };
    let draft = state.store.load::<Invoice>(&invoice_id.to_string()).await?.aggregate;
    match draft.status() {
        InvoiceStatus::None => {
            state
                .store
                .execute::<Invoice>(&invoice_id.to_string(), create, &meta.step("draft"), state.retry)
                .await?;
        }
        InvoiceStatus::Issued => {
            let number = draft.document().map(|d| d.number().to_string()).unwrap_or_default();
            let version = state.store.load::<Invoice>(&invoice_id.to_string()).await?.version;
            return Ok(IssuedAnswer { id: invoice_id.as_uuid(), version, number });
        }
        _ => {}
    }
    let issued = issue_as(state, invoice_id, &IssueBody::default(), &meta.step("issue")).await?;
    Ok(issued.into_body())
}
