//! Payments on the read side: the tenant's saved cards (`/v1/billing/payment-methods`), its
//! payments (`/v1/payments`), a document's payments with its collection state
//! (`/v1/invoices/{id}/payments`); for operators the cash report (`/v1/ops/payments`),
//! collections by state — failed payments, past-due tenants — (`/v1/ops/dunning`) and every
//! webhook received with its outcome (`/v1/ops/webhooks`).

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::conditional::{versioned, IfNoneMatch};
use berth_http::extract::{ApiPath, ApiQuery};
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::VersionParams;
use crate::auth::{OperatorReader, Reader};
use crate::page::{one_of, paginate, Page, PageParams};
use crate::scope::at_version;
use crate::AppState;

/// The payment routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/billing/payment-methods", get(cards))
        .route("/v1/payments", get(tenant_payments))
        .route("/v1/invoices/{id}/payments", get(document_payments))
        .route("/v1/ops/payments", get(cash_report))
        .route("/v1/ops/dunning", get(collections))
        .route("/v1/ops/webhooks", get(webhooks))
}

/// A saved card.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CardRow {
    /// The PaymentMethod id.
    pub payment_method: String,
    /// `visa`, `mastercard`, ...
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: i32,
    /// Expiry year.
    pub exp_year: i32,
    /// Whether invoices are charged to it.
    pub default: bool,
    /// When it was saved.
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

/// The tenant's cards.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cards {
    /// Newest (the default) first.
    pub items: Vec<CardRow>,
    /// The payment account's version (its ETag).
    pub version: i64,
}

/// The tenant's saved cards; the default first.
#[utoipa::path(get, path = "/v1/billing/payment-methods", operation_id = "list_payment_methods", tag = "billing",
    params(VersionParams), responses((status = 200, description = "The saved cards", body = Cards)), security(("bearer" = [])))]
async fn cards(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let read = || async {
        let mut scoped = reader.scope(&state).await?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM proj_payments.payment_accounts WHERE tenant_id = $1")
                .bind(reader.tenant_id)
                .fetch_optional(&mut *scoped)
                .await?;
        let Some(version) = version else { return Ok(None) };
        let items = sqlx::query_as::<_, CardRow>(
            "SELECT payment_method, brand, last4, exp_month, exp_year, added_at,
                    added_sequence = max(added_sequence) OVER () AS default
               FROM proj_payments.payment_methods WHERE tenant_id = $1 ORDER BY added_sequence DESC",
        )
        .bind(reader.tenant_id)
        .fetch_all(&mut *scoped)
        .await?;
        Ok(Some(Cards { items, version }))
    };
    let found = match at_version(&state.reads, "payments", params.min_version, |c: &Cards| c.version, read)
        .await
    {
        Err(ApiError::NotFound) if params.min_version.is_none() => Cards { items: Vec::new(), version: 0 },
        other => other?,
    };
    Ok(versioned(found.version, found, &if_none_match))
}

/// A payment received.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PaymentRow {
    /// The payment.
    pub id: Uuid,
    /// The document paid.
    pub invoice_id: Uuid,
    /// `card`, `bank_transfer` or `cash`.
    pub method: String,
    /// Stripe's PaymentIntent, for a card.
    pub payment_intent: Option<String>,
    /// What was received, in minor units.
    pub amount_minor: i64,
    /// Its currency.
    pub currency: String,
    /// The part that went to the document's balance.
    pub applied_minor: i64,
    /// The part beyond it: the tenant's credit.
    pub credit_minor: i64,
    /// What was left to pay afterwards.
    pub balance_due_minor: i64,
    /// When it was received.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date")]
    pub received_on: Date,
    /// The bank's or Stripe's reference.
    pub reference: Option<String>,
    /// When Berth recorded it.
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

const PAYMENT_COLUMNS: &str = "id, invoice_id, method, payment_intent, amount_minor, currency, applied_minor,
    credit_minor, balance_due_minor, received_on, reference, recorded_at";

/// A document's collection: card attempts, retries, grace and suspension.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DunningRow {
    /// The document.
    pub invoice_id: Uuid,
    /// The subscription it bills.
    pub subscription_id: Option<Uuid>,
    /// `collecting`, `awaiting_payment`, `suspended` or `settled`.
    pub status: String,
    /// Whether a saved card is charged.
    pub card: bool,
    /// What was due when collection began, in minor units.
    pub amount_minor: i64,
    /// Its currency.
    pub currency: String,
    /// Card attempts so far.
    pub attempts: i32,
    /// Of which failed.
    pub failures: i32,
    /// The last failure's code and words.
    pub last_error: Option<String>,
    /// When the next attempt runs.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_retry_at: Option<OffsetDateTime>,
    /// When the tenant's sites are suspended if it is still unpaid.
    #[serde(with = "time::serde::rfc3339::option")]
    pub grace_ends_at: Option<OffsetDateTime>,
    /// Sites suspended for it.
    pub held_sites: i32,
    /// When it was paid in full.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub settled_on: Option<Date>,
    /// Its version.
    pub version: i64,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

const DUNNING_COLUMNS: &str =
    "invoice_id, subscription_id, status, card, amount_minor, currency, attempts, failures,
    last_error, next_retry_at, grace_ends_at, held_sites, settled_on, version, updated_at";

/// The tenant's payments, newest first, in pages.
#[utoipa::path(get, path = "/v1/payments", operation_id = "list_payments", tag = "billing", params(PageParams),
    responses((status = 200, description = "A page of payments", body = Page<PaymentRow>)), security(("bearer" = [])))]
async fn tenant_payments(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<PaymentRow>>, ApiError> {
    let (limit, after) = (params.limit()?, params.after::<Uuid>()?);
    let mut scoped = reader.scope(&state).await?;
    let rows = sqlx::query_as::<_, PaymentRow>(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM proj_payments.payments
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(reader.tenant_id)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(paginate(rows, limit, |r| r.id.to_string())))
}

/// A document's payments and its collection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentPayments {
    /// Oldest first.
    pub items: Vec<PaymentRow>,
    /// The collection, once it began (none for a document paid at once or a credit note).
    pub dunning: Option<DunningRow>,
}

/// A document's payments and where its collection stands.
#[utoipa::path(get, path = "/v1/invoices/{id}/payments", operation_id = "list_invoice_payments", tag = "invoices",
    params(("id" = uuid::Uuid, Path, description = "The document's id")),
    responses((status = 200, description = "Its payments", body = DocumentPayments)), security(("bearer" = [])))]
async fn document_payments(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<DocumentPayments>, ApiError> {
    let mut scoped = reader.scope(&state).await?;
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM proj_invoices.invoices WHERE id = $1 AND tenant_id = $2)",
    )
    .bind(id)
    .bind(reader.tenant_id)
    .fetch_one(&mut *scoped)
    .await?;
    if !exists {
        return Err(ApiError::NotFound);
    }
    let items = sqlx::query_as::<_, PaymentRow>(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM proj_payments.payments WHERE invoice_id = $1 AND tenant_id = $2
          ORDER BY recorded_at, id"
    ))
    .bind(id)
    .bind(reader.tenant_id)
    .fetch_all(&mut *scoped)
    .await?;
    let dunning = sqlx::query_as::<_, DunningRow>(&format!(
        "SELECT {DUNNING_COLUMNS} FROM proj_payments.dunning WHERE invoice_id = $1 AND tenant_id = $2"
    ))
    .bind(id)
    .bind(reader.tenant_id)
    .fetch_optional(&mut *scoped)
    .await?;
    Ok(Json(DocumentPayments { items, dunning }))
}

/// `GET /v1/ops/payments` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CashParams {
    /// The first day received (inclusive).
    #[param(format = Date)]
    pub from: Option<String>,
    /// The last day received (inclusive).
    #[param(format = Date)]
    pub to: Option<String>,
}

/// Money received by method and currency.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CashRow {
    /// `card`, `bank_transfer` or `cash`.
    pub method: String,
    /// The currency.
    pub currency: String,
    /// Payments.
    pub payments: i64,
    /// Received, in minor units.
    pub received_minor: i64,
    /// Of which went beyond balances (credit).
    pub credit_minor: i64,
}

/// The cash report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CashReport {
    /// One row per method and currency.
    pub items: Vec<CashRow>,
}

/// Money received, by method and currency, over a range of days (operators only).
#[utoipa::path(get, path = "/v1/ops/payments", operation_id = "get_cash_report", tag = "ops", params(CashParams),
    responses((status = 200, description = "The cash report", body = CashReport)), security(("bearer" = [])))]
async fn cash_report(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<CashParams>,
) -> Result<Json<CashReport>, ApiError> {
    let date = |field: &str, value: Option<&str>| {
        value
            .map(|v| {
                Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
                    .map_err(|_| ApiError::field(field, "must be a date such as 2030-09-01"))
            })
            .transpose()
    };
    let (from, to) = (date("from", params.from.as_deref())?, date("to", params.to.as_deref())?);
    let mut scoped = operator.scope(&state).await?;
    let items = sqlx::query_as::<_, CashRow>(
        "SELECT method, currency, count(*) AS payments, sum(amount_minor)::bigint AS received_minor,
                sum(credit_minor)::bigint AS credit_minor
           FROM proj_payment_ops.payments
          WHERE ($1::date IS NULL OR received_on >= $1) AND ($2::date IS NULL OR received_on <= $2)
          GROUP BY method, currency ORDER BY method, currency",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(CashReport { items }))
}

/// `GET /v1/ops/dunning` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DunningParams {
    /// `collecting`, `awaiting_payment`, `suspended` (past due) or `settled`.
    pub status: Option<String>,
    /// Only collections with a failed card attempt.
    pub failed: Option<bool>,
    /// Items per page.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A collection of any tenant's.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TenantDunning {
    /// The tenant.
    #[sqlx(rename = "tenant")]
    pub tenant_id: Uuid,
    /// The collection.
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub row: DunningRow,
}

/// Collections across tenants, in pages (operators only).
///
/// Failed payments with `failed=true`, past-due tenants with `status=suspended`.
#[utoipa::path(get, path = "/v1/ops/dunning", operation_id = "list_dunning", tag = "ops", params(DunningParams),
    responses((status = 200, description = "A page of collections", body = Page<TenantDunning>)), security(("bearer" = [])))]
async fn collections(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<DunningParams>,
) -> Result<Json<Page<TenantDunning>>, ApiError> {
    one_of("status", params.status.as_deref(), &["collecting", "awaiting_payment", "suspended", "settled"])?;
    let page = PageParams { limit: params.limit, cursor: params.cursor.clone() };
    let (limit, after) = (page.limit()?, page.after::<Uuid>()?);
    let mut scoped = operator.scope(&state).await?;
    let rows = sqlx::query_as::<_, TenantDunning>(&format!(
        "SELECT tenant, {DUNNING_COLUMNS} FROM proj_payment_ops.dunning
          WHERE ($1::uuid IS NULL OR invoice_id < $1) AND ($2::text IS NULL OR status = $2)
            AND ($3::boolean IS NOT TRUE OR failures > 0)
          ORDER BY invoice_id DESC LIMIT $4"
    ))
    .bind(after)
    .bind(params.status.as_deref())
    .bind(params.failed)
    .bind(limit + 1)
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(paginate(rows, limit, |r| r.row.invoice_id.to_string())))
}

/// A webhook delivery and what came of it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct WebhookRow {
    /// The delivery (derived from the provider's event id).
    pub id: Uuid,
    /// `stripe`.
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// `applied`, `already_recorded`, `acknowledged`, `ignored` or `refused`.
    pub outcome: String,
    /// In words.
    pub detail: String,
    /// The document it was about.
    pub invoice_id: Option<Uuid>,
    /// Its tenant.
    #[sqlx(rename = "tenant")]
    pub tenant_id: Option<Uuid>,
    /// When it was processed.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

/// Every webhook delivery processed, newest first, in pages (operators only).
///
/// A delivery refused for its signature changes nothing and is not listed (it is counted in
/// `berth_webhooks_refused_total`).
#[utoipa::path(get, path = "/v1/ops/webhooks", operation_id = "list_webhooks", tag = "ops", params(PageParams),
    responses((status = 200, description = "A page of deliveries", body = Page<WebhookRow>)), security(("bearer" = [])))]
async fn webhooks(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<WebhookRow>>, ApiError> {
    let limit = params.limit()?;
    // The cursor is the last item's processing time (microseconds) and id.
    let after = match params.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(
            cursor
                .split_once('_')
                .and_then(|(micros, id)| Some((micros.parse::<i64>().ok()?, id.parse::<Uuid>().ok()?)))
                .ok_or_else(|| ApiError::field("cursor", "not a cursor from this list"))?,
        ),
    };
    let mut scoped = operator.scope(&state).await?;
    let rows = sqlx::query_as::<_, WebhookRow>(
        "SELECT id, provider, event_id, event_type, outcome, detail, invoice_id, tenant, received_at
           FROM proj_payment_ops.webhooks
          WHERE ($1::bigint IS NULL OR (received_at, id) < (to_timestamp($1::double precision / 1e6), $2))
          ORDER BY received_at DESC, id DESC LIMIT $3",
    )
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit + 1)
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(paginate(rows, limit, |r| format!("{}_{}", r.received_at.unix_timestamp_nanos() / 1000, r.id))))
}
