//! For operators: how the provider bills. `/v1/ops/seller` (the seller and the series it
//! numbers each kind of document in), `/v1/ops/series/{prefix}`, `/v1/ops/coupons`,
//! `/v1/ops/coupons/{id}` and `/v1/ops/exchange-rates/{currency}`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::conditional::{versioned, IfNoneMatch};
use berth_http::extract::{ApiPath, ApiQuery};
use berth_http::ApiError;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::VersionParams;
use crate::auth::OperatorReader;
use crate::page::{paginate, Page, PageParams};
use crate::scope::at_version;
use crate::AppState;

/// The billing setup routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/ops/seller", get(seller))
        .route("/v1/ops/series/{prefix}", get(series))
        .route("/v1/ops/coupons", get(coupons))
        .route("/v1/ops/coupons/{id}", get(coupon))
        .route("/v1/ops/exchange-rates/{currency}", get(rates))
}

/// The seller.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SellerView {
    /// The seller as documents name it (absent until its details are set).
    #[schema(value_type = Option<Object>)]
    pub party: Option<serde_json::Value>,
    /// How buyers pay it.
    #[schema(value_type = Option<Object>)]
    pub payment: Option<serde_json::Value>,
    /// The series each kind of document is numbered in (`invoice`, `credit_note`, `proforma`).
    #[schema(value_type = Object)]
    pub series: serde_json::Value,
    /// The seller's version (its ETag).
    pub version: i64,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

async fn read_one<T, F, Fut>(
    state: &AppState,
    view: &str,
    min_version: Option<i64>,
    version_of: fn(&T) -> i64,
    read: F,
    if_none_match: &IfNoneMatch,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, ApiError>>,
{
    let found = at_version(&state.reads, view, min_version, version_of, read).await?;
    Ok(versioned(version_of(&found), found, if_none_match))
}

/// The seller as documents name it, and its series (operators only).
#[utoipa::path(get, path = "/v1/ops/seller", operation_id = "get_seller", tag = "ops", params(VersionParams),
    responses((status = 200, description = "The seller", body = SellerView)), security(("bearer" = [])))]
async fn seller(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let read = || async {
        let mut scoped = operator.scope(&state).await?;
        Ok(sqlx::query_as::<_, SellerView>(
            "SELECT party, payment, series, version, updated_at FROM proj_billing_setup.seller WHERE id = 'platform'",
        )
        .fetch_optional(&mut *scoped)
        .await?)
    };
    read_one(&state, "billing_setup", params.min_version, |s: &SellerView| s.version, read, &if_none_match)
        .await
}

/// A numbering series.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SeriesView {
    /// Its prefix.
    pub prefix: String,
    /// The kind of document it numbers.
    #[schema(value_type = berth_http::schema::DocumentKindName)]
    pub kind: String,
    /// Whether it counts from 1 again each year.
    pub yearly_restart: bool,
    /// Numbers given so far.
    pub taken: i64,
    /// The last number given.
    pub last_number: Option<String>,
    /// The issue date of its document.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub last_issue_date: Option<Date>,
    /// The series' version (its ETag).
    pub version: i64,
}

/// A numbering series and how far it has counted (operators only).
#[utoipa::path(get, path = "/v1/ops/series/{prefix}", operation_id = "get_series", tag = "ops",
    params(("prefix" = String, Path, description = "The series' prefix"), VersionParams),
    responses((status = 200, description = "The series", body = SeriesView)), security(("bearer" = [])))]
async fn series(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiPath(prefix): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let read = || async {
        let mut scoped = operator.scope(&state).await?;
        Ok(sqlx::query_as::<_, SeriesView>(
            "SELECT prefix, kind, yearly_restart, taken, last_number, last_issue_date, version
               FROM proj_billing_setup.series WHERE prefix = $1",
        )
        .bind(&prefix)
        .fetch_optional(&mut *scoped)
        .await?)
    };
    read_one(&state, "billing_setup", params.min_version, |s: &SeriesView| s.version, read, &if_none_match)
        .await
}

/// A coupon.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CouponView {
    /// The coupon's id.
    pub id: Uuid,
    /// Its code.
    pub code: String,
    /// What it takes off: `percent_off`, or `amounts_off` (one amount per currency).
    #[schema(value_type = Object)]
    pub discount: serde_json::Value,
    /// For how many paid periods.
    #[schema(value_type = berth_http::schema::CouponDurationName)]
    pub duration: String,
    /// With duration `periods`: how many.
    pub periods: Option<i32>,
    /// How many subscriptions may redeem it.
    pub max_redemptions: Option<i32>,
    /// When it stops being redeemable.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The ids of the plans it applies to (none: every plan).
    #[schema(value_type = Vec<Uuid>)]
    pub plans: serde_json::Value,
    /// Redemptions so far.
    pub redemptions: i32,
    /// Whether it was withdrawn.
    pub withdrawn: bool,
    /// Its version (its ETag).
    pub version: i64,
}

const COUPON: &str =
    "SELECT id, code, discount, duration, periods, max_redemptions, expires_at, plans, redemptions,
    withdrawn, version FROM proj_billing_setup.coupons";

/// Every coupon, in pages (operators only).
#[utoipa::path(get, path = "/v1/ops/coupons", operation_id = "list_coupons", tag = "ops", params(PageParams),
    responses((status = 200, description = "A page of coupons", body = Page<CouponView>)), security(("bearer" = [])))]
async fn coupons(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<CouponView>>, ApiError> {
    let (limit, after) = (params.limit()?, params.after::<Uuid>()?);
    let mut scoped = operator.scope(&state).await?;
    let rows: Vec<CouponView> =
        sqlx::query_as(&format!("{COUPON} WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"))
            .bind(after)
            .bind(limit + 1)
            .fetch_all(&mut *scoped)
            .await?;
    Ok(Json(paginate(rows, limit, |c| c.id.to_string())))
}

/// A coupon and its redemptions (operators only).
#[utoipa::path(get, path = "/v1/ops/coupons/{id}", operation_id = "get_coupon", tag = "ops",
    params(("id" = uuid::Uuid, Path, description = "The coupon's id"), VersionParams),
    responses((status = 200, description = "The coupon", body = CouponView)), security(("bearer" = [])))]
async fn coupon(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let read = || async {
        let mut scoped = operator.scope(&state).await?;
        Ok(sqlx::query_as::<_, CouponView>(&format!("{COUPON} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *scoped)
            .await?)
    };
    read_one(&state, "billing_setup", params.min_version, |c: &CouponView| c.version, read, &if_none_match)
        .await
}

/// One day's rate.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DayRate {
    /// The day.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date")]
    pub day: Date,
    /// Lei per unit.
    pub rate: String,
}

/// A currency's rates to lei.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RatesView {
    /// The currency.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// Its rates, newest day first.
    pub rates: Vec<DayRate>,
    /// Their version (the ETag).
    pub version: i64,
}

/// A currency's recorded rates to lei (operators only).
#[utoipa::path(get, path = "/v1/ops/exchange-rates/{currency}", operation_id = "get_exchange_rates", tag = "ops",
    params(("currency" = berth_http::schema::CurrencyName, Path, description = "The currency"), VersionParams),
    responses((status = 200, description = "The rates", body = RatesView)), security(("bearer" = [])))]
async fn rates(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiPath(currency): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let read = || async {
        let mut scoped = operator.scope(&state).await?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM proj_billing_setup.currencies WHERE currency = $1")
                .bind(&currency)
                .fetch_optional(&mut *scoped)
                .await?;
        let Some(version) = version else { return Ok(None) };
        let rates = sqlx::query_as(
            "SELECT day, rate FROM proj_billing_setup.exchange_rates WHERE currency = $1 ORDER BY day DESC LIMIT 400",
        )
        .bind(&currency)
        .fetch_all(&mut *scoped)
        .await?;
        Ok(Some(RatesView { currency: currency.clone(), rates, version }))
    };
    read_one(&state, "billing_setup", params.min_version, |r: &RatesView| r.version, read, &if_none_match)
        .await
}
