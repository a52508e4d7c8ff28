//! `/v1/invoices` and `/v1/invoices/{id}`: the tenant's documents in pages, by status, kind and
//! issue date, and one document with everything it says. Operators read any tenant's document
//! here too (and list them all at `/v1/ops/invoices`).

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use berth_domain::billing::DocumentKind;
use berth_domain::invoice::InvoiceStatus;
use berth_http::conditional::{versioned, IfNoneMatch};
use berth_http::extract::{ApiPath, ApiQuery};
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::DetailParams;
use crate::auth::{Reader, Viewer};
use crate::page::{one_of, paginate, Page, PageParams};
use crate::scope::at_version;
use crate::AppState;

/// The invoice routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/invoices", get(list)).route("/v1/invoices/{id}", get(detail))
}

/// The columns of a document row, for both the tenant's view and the operators'.
pub(crate) const COLUMNS: &str =
    "id, kind, status, currency, lines, number, issue_date, due_date, supply_date,
    net_minor, vat_minor, total_minor, credited_minor, paid_minor, refunded_minor, settled_on, subscription_id, period_start, period_end, corrects,
    from_proforma, paid_on, invoiced_as, version, created_at, updated_at";

/// A document as lists show it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct InvoiceRow {
    /// The document's id.
    pub id: Uuid,
    /// Invoice, credit note or proforma.
    #[schema(value_type = berth_http::schema::DocumentKindName)]
    pub kind: String,
    /// Draft, issued or discarded.
    #[schema(value_type = berth_http::schema::InvoiceStatusName)]
    pub status: String,
    /// The currency of every amount.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// How many lines it has.
    pub lines: i32,
    /// Its number, once issued (`BRT000042`).
    pub number: Option<String>,
    /// When it was issued.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub issue_date: Option<Date>,
    /// When payment is due.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub due_date: Option<Date>,
    /// The date of supply, which decided the VAT rates.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub supply_date: Option<Date>,
    /// The total before VAT, in minor units.
    pub net_minor: Option<i64>,
    /// The VAT, in minor units.
    pub vat_minor: Option<i64>,
    /// The total to pay, in minor units.
    pub total_minor: Option<i64>,
    /// What credit notes took off it, in minor units.
    pub credited_minor: i64,
    /// What payments paid of it, in minor units.
    pub paid_minor: i64,
    /// What was refunded to cards for its credit notes, in minor units.
    pub refunded_minor: i64,
    /// When nothing was left to pay.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub settled_on: Option<Date>,
    /// The subscription whose period it bills.
    pub subscription_id: Option<Uuid>,
    /// The first day of that period.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub period_start: Option<Date>,
    /// Its last day.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub period_end: Option<Date>,
    /// For a credit note, the invoice it corrects.
    pub corrects: Option<Uuid>,
    /// For an invoice, the proforma it was issued from.
    pub from_proforma: Option<Uuid>,
    /// When a proforma was paid.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub paid_on: Option<Date>,
    /// The invoice issued from a paid proforma.
    pub invoiced_as: Option<Uuid>,
    /// The version this row reflects (its ETag).
    pub version: i64,
    /// When the draft was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `GET /v1/invoices` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only documents in this state.
    #[param(value_type = Option<berth_http::schema::InvoiceStatusName>)]
    pub status: Option<String>,
    /// Only documents of this kind.
    #[param(value_type = Option<berth_http::schema::DocumentKindName>)]
    pub kind: Option<String>,
    /// Only documents issued on or after this day.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Only documents issued on or before this day.
    #[param(format = Date)]
    pub to: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Where to continue: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The checked filters of a document list.
pub(crate) struct Filters {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub limit: i64,
    pub after: Option<Uuid>,
}

impl ListParams {
    pub(crate) fn filters(self) -> Result<Filters, ApiError> {
        let statuses = InvoiceStatus::ALL.map(InvoiceStatus::as_str);
        let kinds = DocumentKind::ALL.map(DocumentKind::as_str);
        one_of("status", self.status.as_deref(), &statuses)?;
        one_of("kind", self.kind.as_deref(), &kinds)?;
        let day = |field: &str, value: Option<&str>| {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            value
                .map(|v| {
                    Date::parse(v, &format)
                        .map_err(|_| ApiError::field(field, "must be a date such as 2025-09-01"))
                })
                .transpose()
        };
        let page = PageParams { limit: self.limit, cursor: self.cursor };
        Ok(Filters {
            from: day("from", self.from.as_deref())?,
            to: day("to", self.to.as_deref())?,
            limit: page.limit()?,
            after: page.after::<Uuid>()?,
            status: self.status,
            kind: self.kind,
        })
    }
}

/// List the tenant's invoices, credit notes and proformas, newest first, in pages.
#[utoipa::path(get, path = "/v1/invoices", operation_id = "list_invoices", tag = "invoices", params(ListParams),
    responses((status = 200, description = "A page of documents", body = Page<InvoiceRow>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<InvoiceRow>>, ApiError> {
    let filters = params.filters()?;
    let mut scoped = reader.scope(&state).await?;
    let rows: Vec<InvoiceRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM proj_invoices.invoices
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2) AND ($3::text IS NULL OR status = $3)
            AND ($4::text IS NULL OR kind = $4) AND ($5::date IS NULL OR issue_date >= $5)
            AND ($6::date IS NULL OR issue_date <= $6)
          ORDER BY id DESC LIMIT $7"
    ))
    .bind(reader.tenant_id)
    .bind(filters.after)
    .bind(filters.status)
    .bind(filters.kind)
    .bind(filters.from)
    .bind(filters.to)
    .bind(filters.limit + 1)
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(paginate(rows, filters.limit, |r| r.id.to_string())))
}

/// A document with everything it says, as issued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvoiceDetail {
    /// The document's row.
    #[serde(flatten)]
    pub row: InvoiceRow,
    /// The tenant billed.
    pub tenant_id: Uuid,
    /// The issued document, frozen: seller, buyer, lines, VAT breakdown, totals, notes.
    /// Absent on a draft.
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
    /// For a past state (`as_of`): the instant and where in the log that state stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<crate::as_of::AsOf>,
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    row: InvoiceRow,
    tenant_id: Uuid,
    document: Option<serde_json::Value>,
}

/// Reads document `id` as `viewer` sees it: a tenant its own (from its view, under row-level
/// security), an operator any (from the operators' view).
pub(crate) async fn read(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> Result<Option<InvoiceDetail>, ApiError> {
    let mut scoped = viewer.scope(state).await?;
    let sql = match viewer {
        Viewer::Tenant(_) => format!(
            "SELECT {COLUMNS}, tenant_id, (SELECT d.document FROM proj_invoices.invoice_documents d WHERE d.id = i.id) AS document
               FROM proj_invoices.invoices i WHERE id = $1 AND tenant_id = $2"
        ),
        Viewer::Operator(_) => format!(
            "SELECT {COLUMNS}, tenant AS tenant_id, (SELECT d.document FROM proj_all_invoices.documents d WHERE d.id = i.id) AS document
               FROM proj_all_invoices.invoices i WHERE id = $1 AND $2::uuid IS NULL"
        ),
    };
    let tenant = match viewer {
        Viewer::Tenant(reader) => Some(reader.tenant_id),
        Viewer::Operator(_) => None,
    };
    let row: Option<DetailRow> =
        sqlx::query_as(&sql).bind(id).bind(tenant).fetch_optional(&mut *scoped).await?;
    Ok(row.map(|r| InvoiceDetail { row: r.row, tenant_id: r.tenant_id, document: r.document, as_of: None }))
}

/// The view a viewer reads documents from.
pub(crate) fn view_of(viewer: &Viewer) -> &'static str {
    match viewer {
        Viewer::Tenant(_) => "invoices",
        Viewer::Operator(_) => "all_invoices",
    }
}

/// A document: its row and, once issued, the document itself.
#[utoipa::path(get, path = "/v1/invoices/{id}", operation_id = "get_invoice", tag = "invoices",
    params(("id" = uuid::Uuid, Path, description = "The document's id"), DetailParams),
    responses((status = 200, description = "The document", body = InvoiceDetail)), security(("bearer" = [])))]
async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<DetailParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    if let Some(at) = crate::as_of::parse(params.as_of.as_deref(), params.min_version)? {
        let past = super::past::invoice(&state, &viewer, id, at).await?;
        return Ok(versioned(past.row.version, past, &if_none_match));
    }
    let found = at_version(
        &state.reads,
        view_of(&viewer),
        params.min_version,
        |d: &InvoiceDetail| d.row.version,
        || read(&state, &viewer, id),
    )
    .await?;
    Ok(versioned(found.row.version, found, &if_none_match))
}
