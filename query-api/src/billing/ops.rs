//! For operators: `/v1/ops/invoices` (every tenant's documents), `/v1/ops/revenue` (MRR and
//! ARR by plan and currency) and `/v1/ops/vat-report` (VAT by month, treatment, buyer
//! country, rate and currency).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::extract::ApiQuery;
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use super::invoices::{InvoiceRow, ListParams, COLUMNS};
use crate::auth::OperatorReader;
use crate::page::{paginate, Page};
use crate::AppState;

/// The operators' billing routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/ops/invoices", get(invoices))
        .route("/v1/ops/revenue", get(revenue))
        .route("/v1/ops/vat-report", get(vat_report))
}

/// A document of any tenant's.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TenantInvoice {
    /// The tenant billed.
    #[sqlx(rename = "tenant")]
    pub tenant_id: Uuid,
    /// The document.
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub row: InvoiceRow,
}

/// Every tenant's invoices, credit notes and proformas, newest first, in pages (operators only).
#[utoipa::path(get, path = "/v1/ops/invoices", operation_id = "list_all_invoices", tag = "ops", params(ListParams),
    responses((status = 200, description = "A page of documents", body = Page<TenantInvoice>)), security(("bearer" = [])))]
async fn invoices(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<TenantInvoice>>, ApiError> {
    let filters = params.filters()?;
    let mut scoped = operator.scope(&state).await?;
    let rows: Vec<TenantInvoice> = sqlx::query_as(&format!(
        "SELECT tenant, {COLUMNS} FROM proj_all_invoices.invoices
          WHERE ($1::uuid IS NULL OR id < $1) AND ($2::text IS NULL OR status = $2)
            AND ($3::text IS NULL OR kind = $3) AND ($4::date IS NULL OR issue_date >= $4)
            AND ($5::date IS NULL OR issue_date <= $5)
          ORDER BY id DESC LIMIT $6"
    ))
    .bind(filters.after)
    .bind(filters.status)
    .bind(filters.kind)
    .bind(filters.from)
    .bind(filters.to)
    .bind(filters.limit + 1)
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(paginate(rows, filters.limit, |r| r.row.id.to_string())))
}

/// Recurring revenue of one plan in one currency.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RevenueRow {
    /// The plan's code.
    pub plan_code: String,
    /// The currency.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// Paid subscriptions (trials count nothing).
    pub subscriptions: i64,
    /// Monthly recurring revenue at list prices, in minor units (a yearly price counts a twelfth).
    pub mrr_minor: i64,
    /// Annual recurring revenue: twelve times MRR.
    pub arr_minor: i64,
}

/// Recurring revenue by plan and currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revenue {
    /// One row per plan and currency with paid subscriptions.
    pub items: Vec<RevenueRow>,
}

/// MRR and ARR by plan and currency (operators only).
#[utoipa::path(get, path = "/v1/ops/revenue", operation_id = "get_revenue", tag = "ops",
    responses((status = 200, description = "Recurring revenue", body = Revenue)), security(("bearer" = [])))]
async fn revenue(State(state): State<AppState>, operator: OperatorReader) -> Result<Json<Revenue>, ApiError> {
    let mut scoped = operator.scope(&state).await?;
    let items = sqlx::query_as(
        "SELECT plan_code, currency, subscriptions, mrr_minor, arr_minor FROM proj_revenue.revenue_by_plan
          ORDER BY plan_code, currency",
    )
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(Revenue { items }))
}

/// `GET /v1/ops/vat-report` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VatParams {
    /// The first month, as its first day (`2025-09-01`; another day means its month).
    #[param(format = Date)]
    pub from: Option<String>,
    /// The last month, likewise.
    #[param(format = Date)]
    pub to: Option<String>,
}

/// VAT of one month, treatment, buyer country, category, rate and currency.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct VatRow {
    /// The month of issue, as its first day.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date")]
    pub month: Date,
    /// `domestic`, `oss` (the buyer country's VAT, through the One-Stop Shop), `reverse_charge`
    /// or `outside_eu`.
    pub treatment: String,
    /// The buyer's country.
    pub buyer_country: String,
    /// The VAT category code (`S`, `AE`, `G`).
    pub category: String,
    /// The rate in hundredths of a percent.
    pub rate_bp: i32,
    /// The documents' currency.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// Fiscal documents counted (credit notes negative in the amounts).
    pub documents: i64,
    /// Taxable amount, in minor units.
    pub taxable_minor: i64,
    /// VAT, in minor units.
    pub vat_minor: i64,
}

/// The VAT report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VatReport {
    /// One row per month, treatment, buyer country, category, rate and currency.
    pub items: Vec<VatRow>,
}

/// The VAT report for a span of months (operators only).
#[utoipa::path(get, path = "/v1/ops/vat-report", operation_id = "get_vat_report", tag = "ops", params(VatParams),
    responses((status = 200, description = "The VAT report", body = VatReport)), security(("bearer" = [])))]
async fn vat_report(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<VatParams>,
) -> Result<Json<VatReport>, ApiError> {
    let month = |field: &str, value: Option<&str>| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        value
            .map(|v| {
                Date::parse(v, &format)
                    .map(|d| d.replace_day(1).unwrap_or(d))
                    .map_err(|_| ApiError::field(field, "must be a date such as 2025-09-01"))
            })
            .transpose()
    };
    let (from, to) = (month("from", params.from.as_deref())?, month("to", params.to.as_deref())?);
    let mut scoped = operator.scope(&state).await?;
    let items = sqlx::query_as(
        "SELECT month, treatment, buyer_country, category, rate_bp, currency, documents, taxable_minor, vat_minor
           FROM proj_vat_report.vat_report
          WHERE ($1::date IS NULL OR month >= $1) AND ($2::date IS NULL OR month <= $2)
          ORDER BY month, treatment, buyer_country, rate_bp, currency",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(VatReport { items }))
}
