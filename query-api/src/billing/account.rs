//! The tenant's side of billing: `/v1/billing-profile`, `/v1/subscription` (the running one, or
//! the last), `/v1/subscriptions/{id}`, and `/v1/subscriptions/{id}/usage` (which operators,
//! who record readings, read too).

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use berth_http::conditional::{versioned, IfNoneMatch};
use berth_http::extract::{ApiPath, ApiQuery};
use berth_http::ApiError;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{DetailParams, VersionParams};
use crate::auth::{Reader, Viewer};
use crate::scope::at_version;
use crate::AppState;

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/billing-profile", get(profile))
        .route("/v1/subscription", get(current))
        .route("/v1/subscriptions/{id}", get(subscription))
        .route("/v1/subscriptions/{id}/usage", get(usage))
}

/// A tenant's billing profile.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ProfileView {
    /// The tenant.
    pub tenant_id: Uuid,
    /// A company or a person.
    #[schema(value_type = berth_http::schema::PartyKindName)]
    pub kind: String,
    /// The legal name.
    pub legal_name: String,
    /// The billing address: `lines`, `city`, `postal_code`, `subdivision`, `country`.
    #[schema(value_type = Object)]
    pub address: serde_json::Value,
    /// The VAT id.
    pub vat_id: Option<String>,
    /// Where VIES stands on it: only a verified id gets reverse charge.
    #[schema(value_type = berth_http::schema::VatStatusName)]
    pub vat_status: String,
    /// When VIES last answered about it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub vat_checked_at: Option<OffsetDateTime>,
    /// The trade register number or personal id.
    pub registration: Option<String>,
    /// Where invoices go.
    pub email: Option<String>,
    /// The currency it is billed in.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// The version this reflects (its ETag).
    pub version: i64,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The tenant's billing profile: who it is as a buyer, and where its VAT id stands.
#[utoipa::path(get, path = "/v1/billing-profile", operation_id = "get_billing_profile", tag = "billing",
    params(VersionParams), responses((status = 200, description = "The billing profile", body = ProfileView)),
    security(("bearer" = [])))]
async fn profile(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let read = || async {
        let mut scoped = reader.scope(&state).await?;
        Ok(sqlx::query_as::<_, ProfileView>(
            "SELECT tenant_id, kind, legal_name, address, vat_id, vat_status, vat_checked_at, registration, email,
                    currency, version, updated_at
               FROM proj_billing_profiles.billing_profiles WHERE tenant_id = $1",
        )
        .bind(reader.tenant_id)
        .fetch_optional(&mut *scoped)
        .await?)
    };
    let found =
        at_version(&state.reads, "billing_profiles", params.min_version, |p: &ProfileView| p.version, read)
            .await?;
    Ok(versioned(found.version, found, &if_none_match))
}

/// A subscription.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SubscriptionView {
    /// The subscription's id.
    pub id: Uuid,
    /// In its trial, in a paid period, or over.
    #[schema(value_type = berth_http::schema::SubscriptionStatusName)]
    pub status: String,
    /// The plan.
    pub plan_id: Uuid,
    /// Its code.
    pub plan_code: String,
    /// Its name.
    pub plan_name: String,
    /// Monthly or yearly.
    #[schema(value_type = berth_http::schema::BillingPeriodName)]
    pub period: String,
    /// The currency it is billed in.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// The price of one period, in minor units.
    pub price_minor: i64,
    /// The current period's first day (the trial's, during the trial).
    #[schema(format = Date)]
    #[serde(with = "berth_http::date")]
    pub period_start: Date,
    /// Its last day.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date")]
    pub period_end: Date,
    /// Whether the current period is the trial.
    pub trial: bool,
    /// Whether the current period has ended (the next begins moments later).
    pub period_ended: bool,
    /// Whether it ends when the current period does.
    pub cancel_at_period_end: bool,
    /// The plan a scheduled downgrade moves to at the period's end.
    pub pending_plan_code: Option<String>,
    /// The coupon redeemed with it.
    pub coupon_code: Option<String>,
    /// Paid periods so far.
    pub paid_periods: i32,
    /// The first day without it, once over.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date::option")]
    pub ended_on: Option<Date>,
    /// Whether an invoice of it went unpaid past its grace period (its sites are suspended
    /// until it is paid).
    pub past_due: bool,
    /// The version this reflects (its ETag).
    pub version: i64,
    /// When it began.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// For a past state (`as_of`): the instant and where in the log that state stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[sqlx(skip)]
    pub as_of: Option<crate::as_of::AsOf>,
}

const SUBSCRIPTION: &str = "SELECT id, status, plan_id, plan_code, plan_name, period, currency, price_minor, period_start,
    period_end, trial, period_ended, cancel_at_period_end, pending_plan_code, coupon_code, paid_periods, ended_on,
    past_due, version, created_at, updated_at FROM proj_subscriptions.subscriptions";

/// The tenant's subscription: the running one, or else the last one it had.
///
/// `min_version` waits for that version of the subscription it answers.
#[utoipa::path(get, path = "/v1/subscription", operation_id = "get_current_subscription", tag = "billing",
    params(VersionParams),
    responses((status = 200, description = "The subscription", body = SubscriptionView)), security(("bearer" = [])))]
async fn current(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let read = || async {
        let mut scoped = reader.scope(&state).await?;
        Ok(sqlx::query_as::<_, SubscriptionView>(&format!(
            "{SUBSCRIPTION} WHERE tenant_id = $1 ORDER BY (status <> 'ended') DESC, created_at DESC, id DESC LIMIT 1"
        ))
        .bind(reader.tenant_id)
        .fetch_optional(&mut *scoped)
        .await?)
    };
    let found =
        at_version(&state.reads, "subscriptions", params.min_version, |s: &SubscriptionView| s.version, read)
            .await?;
    Ok(versioned(found.version, found, &if_none_match))
}

/// A subscription of the tenant's.
#[utoipa::path(get, path = "/v1/subscriptions/{id}", operation_id = "get_subscription", tag = "billing",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id"), DetailParams),
    responses((status = 200, description = "The subscription", body = SubscriptionView)), security(("bearer" = [])))]
async fn subscription(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<DetailParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    if let Some(at) = crate::as_of::parse(params.as_of.as_deref(), params.min_version)? {
        let past = super::past::subscription(&state, &reader, id, at).await?;
        return Ok(versioned(past.version, past, &if_none_match));
    }
    let read = || async {
        let mut scoped = reader.scope(&state).await?;
        Ok(sqlx::query_as::<_, SubscriptionView>(&format!("{SUBSCRIPTION} WHERE tenant_id = $1 AND id = $2"))
            .bind(reader.tenant_id)
            .bind(id)
            .fetch_optional(&mut *scoped)
            .await?)
    };
    let found =
        at_version(&state.reads, "subscriptions", params.min_version, |s: &SubscriptionView| s.version, read)
            .await?;
    Ok(versioned(found.version, found, &if_none_match))
}

/// One metric's total in one billing period.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MeterView {
    /// The period's first day.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date")]
    pub period_start: Date,
    /// Its last day.
    #[schema(format = Date)]
    #[serde(with = "berth_http::date")]
    pub period_end: Date,
    /// The metric.
    #[schema(value_type = berth_http::schema::MetricName)]
    pub metric: String,
    /// The total so far (the peak for storage, the sum for transfer), in thousandths of a GB.
    pub thousandths: i64,
}

/// A subscription's metered usage.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageView {
    /// The subscription.
    pub subscription_id: Uuid,
    /// The version of its usage (its ETag).
    pub version: i64,
    /// Per period and metric, newest period first.
    pub meters: Vec<MeterView>,
}

/// A subscription's metered usage, per period and metric.
#[utoipa::path(get, path = "/v1/subscriptions/{id}/usage", operation_id = "get_subscription_usage", tag = "billing",
    params(("id" = uuid::Uuid, Path, description = "The subscription's id"), VersionParams),
    responses((status = 200, description = "The usage", body = UsageView)), security(("bearer" = [])))]
async fn usage(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let (usage, meters, tenant) = match viewer {
        Viewer::Tenant(reader) => ("proj_usage.usage", "proj_usage.meters", Some(reader.tenant_id)),
        Viewer::Operator(_) => ("proj_usage.all_usage", "proj_usage.all_meters", None),
    };
    let column = if tenant.is_some() { "tenant_id" } else { "tenant" };
    let read = || async {
        let mut scoped = viewer.scope(&state).await?;
        let version: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT version FROM {usage} WHERE subscription_id = $1 AND ($2::uuid IS NULL OR {column} = $2)"
        ))
        .bind(id)
        .bind(tenant)
        .fetch_optional(&mut *scoped)
        .await?;
        let Some(version) = version else { return Ok(None) };
        let meters: Vec<MeterView> = sqlx::query_as(&format!(
            "SELECT period_start, period_end, metric, thousandths FROM {meters}
              WHERE subscription_id = $1 ORDER BY period_start DESC, metric"
        ))
        .bind(id)
        .fetch_all(&mut *scoped)
        .await?;
        Ok(Some(UsageView { subscription_id: id, version, meters }))
    };
    let found =
        at_version(&state.reads, "usage", params.min_version, |u: &UsageView| u.version, read).await?;
    Ok(versioned(found.version, found, &if_none_match))
}
