//! `/v1/plans` and `/v1/plans/{id}`: the plan catalogue, for every caller (tenants choose a
//! plan from it).

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use berth_domain::plan::{OveragePrice, PlanLimits};
use berth_http::conditional::{versioned, IfNoneMatch};
use berth_http::extract::{ApiPath, ApiQuery};
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::VersionParams;
use crate::auth::Viewer;
use crate::page::{paginate, Page, PageParams};
use crate::scope::at_version;
use crate::AppState;

/// The plan routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/plans", get(list)).route("/v1/plans/{id}", get(detail))
}

/// A price, and the first day of a period that pays it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanPrice {
    /// The period it pays for.
    #[schema(value_type = berth_http::schema::BillingPeriodName)]
    pub period: String,
    /// The amount in minor units.
    pub amount_minor: i64,
    /// Its currency.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// The first day of a period that pays it.
    #[schema(format = Date)]
    pub effective_from: String,
}

/// What a plan includes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LimitsView {
    /// Sites at once (`null`: no limit).
    pub sites: Option<u32>,
    /// Storage included in GB (`null`: no limit).
    pub storage_gb: Option<u32>,
    /// How often sites are backed up.
    #[schema(value_type = berth_http::schema::BackupFrequencyName)]
    pub backup_frequency: String,
    /// Days a backup is kept.
    pub backup_retention_days: u32,
    /// The support included.
    #[schema(value_type = berth_http::schema::SupportLevelName)]
    pub support: String,
    /// php-fpm workers per site (`pm.max_children`).
    pub php_workers: u32,
    /// PHP's `memory_limit` per site, in MiB.
    pub php_memory_mb: u32,
    /// The largest upload, in MiB.
    pub upload_mb: u32,
    /// Address space one build command may use, in MiB.
    pub build_memory_mb: u32,
    /// CPU seconds one build command may use.
    pub build_cpu_secs: u32,
}

/// The price of one GB of a metric beyond what the plan includes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OverageView {
    /// The metric.
    #[schema(value_type = berth_http::schema::MetricName)]
    pub metric: String,
    /// Per GB, in minor units.
    pub amount_minor: i64,
    /// Its currency.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
}

/// A plan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanView {
    /// The plan's id.
    pub id: Uuid,
    /// Its code (what subscriptions name).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its prices, each from the day it takes effect.
    pub prices: Vec<PlanPrice>,
    /// What it includes.
    pub limits: LimitsView,
    /// Prices beyond what it includes.
    pub overage: Vec<OverageView>,
    /// Days of trial for a tenant's first subscription.
    pub trial_days: i32,
    /// Whether it takes no new subscriptions.
    pub retired: bool,
    /// The version this reflects (its ETag).
    pub version: i64,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    code: String,
    name: String,
    prices: sqlx::types::Json<Vec<PlanPrice>>,
    limits: sqlx::types::Json<PlanLimits>,
    overage: sqlx::types::Json<Vec<OveragePrice>>,
    trial_days: i32,
    retired: bool,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<Row> for PlanView {
    fn from(row: Row) -> Self {
        let limits = row.limits.0;
        Self {
            id: row.id,
            code: row.code,
            name: row.name,
            prices: row.prices.0,
            limits: LimitsView {
                sites: limits.sites.bound(),
                storage_gb: limits.storage_gb.bound(),
                backup_frequency: limits.backups.frequency.as_str().to_owned(),
                backup_retention_days: limits.backups.retention_days,
                support: limits.support.as_str().to_owned(),
                php_workers: limits.site.php_workers,
                php_memory_mb: limits.site.php_memory_mb,
                upload_mb: limits.site.upload_mb,
                build_memory_mb: limits.site.build_memory_mb,
                build_cpu_secs: limits.site.build_cpu_secs,
            },
            overage: row
                .overage
                .0
                .iter()
                .map(|o| OverageView {
                    metric: o.metric.as_str().to_owned(),
                    amount_minor: o.price.amount_minor(),
                    currency: o.price.currency().as_str().to_owned(),
                })
                .collect(),
            trial_days: row.trial_days,
            retired: row.retired,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const COLUMNS: &str =
    "id, code, name, prices, limits, overage, trial_days, retired, version, created_at, updated_at";

/// `GET /v1/plans` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Whether to list retired plans too.
    #[serde(default)]
    pub retired: bool,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Where to continue: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List the plans (those still offered, or every one).
#[utoipa::path(get, path = "/v1/plans", operation_id = "list_plans", tag = "plans", params(ListParams),
    responses((status = 200, description = "A page of plans", body = Page<PlanView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<PlanView>>, ApiError> {
    let page = PageParams { limit: params.limit, cursor: params.cursor };
    let (limit, after) = (page.limit()?, page.after::<Uuid>()?);
    let mut scoped = viewer.scope(&state).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM proj_plans.plans WHERE ($1::uuid IS NULL OR id > $1) AND ($2 OR NOT retired)
          ORDER BY id LIMIT $3"
    ))
    .bind(after)
    .bind(params.retired)
    .bind(limit + 1)
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(paginate(rows.into_iter().map(PlanView::from).collect(), limit, |p| p.id.to_string())))
}

/// A plan: its prices, limits, trial and overage prices.
#[utoipa::path(get, path = "/v1/plans/{id}", operation_id = "get_plan", tag = "plans",
    params(("id" = uuid::Uuid, Path, description = "The plan's id"), VersionParams),
    responses((status = 200, description = "The plan", body = PlanView)), security(("bearer" = [])))]
async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let read = || async {
        let mut scoped = viewer.scope(&state).await?;
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM proj_plans.plans WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *scoped)
                .await?;
        Ok(row.map(PlanView::from))
    };
    let plan = at_version(&state.reads, "plans", params.min_version, |p: &PlanView| p.version, read).await?;
    Ok(versioned(plan.version, plan, &if_none_match))
}
