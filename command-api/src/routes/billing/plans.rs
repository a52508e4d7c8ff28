//! `/v1/plans` (operators only): create a plan, change its price from a date, its limits and
//! overage prices, retire it.

use axum::extract::State;
use axum::routing::{post, put};
use axum::Router;
use berth_domain::ids::PlanId;
use berth_domain::name::DisplayName;
use berth_domain::plan::{
    BackupFrequency, BackupPolicy, BillingPeriod, GfsKeep, Limit, Metric, OveragePrice, Plan, PlanCode,
    PlanCommand, PlanLimits, Price, SiteResources, SupportLevel,
};
use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::Deserialize;

use super::input::{self, MoneyBody};
use crate::accepted::Located;
use crate::auth::Operator;
use crate::{Accepted, AppState, View};

/// The plan routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/plans", post(create))
        .route("/v1/plans/{id}/price", put(change_price))
        .route("/v1/plans/{id}/limits", put(change_limits))
        .route("/v1/plans/{id}/overage", put(change_overage))
        .route("/v1/plans/{id}/retire", post(retire))
}

/// The price of one period.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    /// Which period it pays for.
    #[schema(value_type = berth_http::schema::BillingPeriodName)]
    pub period: String,
    /// The amount.
    pub price: MoneyBody,
}

/// What a plan includes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sites": 5, "storage_gb": 10, "backups": {"frequency": "daily", "retention_days": 7}, "support": "standard"}))]
pub struct LimitsBody {
    /// Sites at once; absent or null: no limit.
    #[schema(minimum = 0)]
    pub sites: Option<u32>,
    /// Storage included in GB; absent or null: no limit.
    #[schema(minimum = 0)]
    pub storage_gb: Option<u32>,
    /// Backups.
    pub backups: BackupsBody,
    /// Support.
    #[schema(value_type = berth_http::schema::SupportLevelName)]
    pub support: String,
    /// What each site may use on its node; absent: the defaults (5 PHP workers, 256 MiB,
    /// 64 MiB uploads, builds of 2048 MiB and 900 CPU seconds).
    pub site: Option<SiteBody>,
}

/// What each site of a plan may use on its node; every field may be left out.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteBody {
    /// php-fpm's `pm.max_children`.
    #[schema(minimum = 1, maximum = 200)]
    pub php_workers: Option<u32>,
    /// PHP's `memory_limit`, in MiB.
    #[schema(minimum = 32, maximum = 8192)]
    pub php_memory_mb: Option<u32>,
    /// The largest upload, in MiB.
    #[schema(minimum = 1, maximum = 4096)]
    pub upload_mb: Option<u32>,
    /// Address space one build command may use, in MiB.
    #[schema(minimum = 64, maximum = 65536)]
    pub build_memory_mb: Option<u32>,
    /// CPU seconds one build command may use.
    #[schema(minimum = 1, maximum = 86400)]
    pub build_cpu_secs: Option<u32>,
}

/// The backups a plan includes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupsBody {
    /// How often.
    #[schema(value_type = berth_http::schema::BackupFrequencyName)]
    pub frequency: String,
    /// Days a backup is kept.
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: u32,
    /// How many backups of each generation are kept; absent: derived from the frequency and
    /// `retention_days` (a week of dailies, then weeklies and monthlies).
    pub keep: Option<KeepBody>,
}

/// Grandfather-father-son retention counts.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeepBody {
    /// The newest backup of each of this many last hours.
    #[schema(minimum = 0, maximum = 1000)]
    pub hourly: u32,
    /// Of each of this many last days.
    #[schema(minimum = 0, maximum = 1000)]
    pub daily: u32,
    /// Of each of this many last ISO weeks.
    #[schema(minimum = 0, maximum = 1000)]
    pub weekly: u32,
    /// Of each of this many last months.
    #[schema(minimum = 0, maximum = 1000)]
    pub monthly: u32,
}

/// The price of one unit of a metric beyond what the plan includes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverageBody {
    /// The metric.
    #[schema(value_type = berth_http::schema::MetricName)]
    pub metric: String,
    /// Per GB.
    pub price: MoneyBody,
}

/// `POST /v1/plans` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlan {
    /// A unique code: 2 to 32 characters of a-z, 0-9 and `-`, starting with a letter.
    #[schema(pattern = "^[a-z][a-z0-9-]{1,31}$", example = "business")]
    pub code: String,
    /// Its name, printed on invoices.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// One price per currency and period.
    #[schema(min_items = 1)]
    pub prices: Vec<PriceBody>,
    /// What it includes.
    pub limits: LimitsBody,
    /// Days of trial for a tenant's first subscription.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 90)]
    pub trial_days: u32,
    /// Prices beyond what it includes.
    #[serde(default)]
    pub overage: Vec<OverageBody>,
}

/// `PUT /v1/plans/{id}/price` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePrice {
    /// Which period the price pays for.
    #[schema(value_type = berth_http::schema::BillingPeriodName)]
    pub period: String,
    /// The new price of one period in one currency.
    pub price: MoneyBody,
    /// The first day of a period that pays it (today or later).
    #[schema(format = Date, example = "2026-01-01")]
    pub effective_from: String,
}

/// `PUT /v1/plans/{id}/overage` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeOverage {
    /// Every overage price, replacing the old list.
    pub overage: Vec<OverageBody>,
}

fn prices(list: &[PriceBody], field: &str) -> Result<Vec<Price>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let at = format!("{field}.{i}");
            let period = input::one_of(
                &format!("{at}.period"),
                &p.period,
                &BillingPeriod::ALL,
                BillingPeriod::as_str,
            )?;
            Ok(Price { period, amount: input::money(&format!("{at}.price"), &p.price)? })
        })
        .collect()
}

fn overage(list: &[OverageBody]) -> Result<Vec<OveragePrice>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, o)| {
            let at = format!("overage.{i}");
            let metric = input::one_of(&format!("{at}.metric"), &o.metric, &Metric::ALL, Metric::as_str)?;
            Ok(OveragePrice { metric, price: input::money(&format!("{at}.price"), &o.price)? })
        })
        .collect()
}

impl LimitsBody {
    fn parse(&self, field: &str) -> Result<PlanLimits, ApiError> {
        let limit = |bound: Option<u32>| bound.map_or(Limit::Unlimited, Limit::Up);
        let frequency = input::one_of(
            &format!("{field}backups.frequency"),
            &self.backups.frequency,
            &BackupFrequency::ALL,
            BackupFrequency::as_str,
        )?;
        if !(1..=3650).contains(&self.backups.retention_days) {
            return Err(ApiError::field(&format!("{field}backups.retention_days"), "must be 1 to 3650 days"));
        }
        let keep = match &self.backups.keep {
            None => None,
            Some(k) => {
                let counts =
                    [("hourly", k.hourly), ("daily", k.daily), ("weekly", k.weekly), ("monthly", k.monthly)];
                if let Some((name, _)) = counts.iter().find(|(_, n)| *n > 1000) {
                    return Err(ApiError::field(&format!("{field}backups.keep.{name}"), "must be 0 to 1000"));
                }
                Some(GfsKeep { hourly: k.hourly, daily: k.daily, weekly: k.weekly, monthly: k.monthly })
            }
        };
        let support = input::one_of(
            &format!("{field}support"),
            &self.support,
            &SupportLevel::ALL,
            SupportLevel::as_str,
        )?;
        let given = self.site.as_ref();
        let defaults = SiteResources::default();
        let pick = |value: Option<u32>, default: u32| value.unwrap_or(default);
        let site = SiteResources {
            php_workers: pick(given.and_then(|s| s.php_workers), defaults.php_workers),
            php_memory_mb: pick(given.and_then(|s| s.php_memory_mb), defaults.php_memory_mb),
            upload_mb: pick(given.and_then(|s| s.upload_mb), defaults.upload_mb),
            build_memory_mb: pick(given.and_then(|s| s.build_memory_mb), defaults.build_memory_mb),
            build_cpu_secs: pick(given.and_then(|s| s.build_cpu_secs), defaults.build_cpu_secs),
        }
        .check()
        .map_err(|(name, why)| ApiError::field(&format!("{field}site.{name}"), why))?;
        Ok(PlanLimits {
            sites: limit(self.sites),
            storage_gb: limit(self.storage_gb),
            backups: BackupPolicy { frequency, retention_days: self.backups.retention_days, keep },
            support,
            site,
        })
    }
}

fn plan_id(raw: &str) -> Result<PlanId, ApiError> {
    crate::routes::parse_id(raw)
}

/// Create a plan (operators only); its prices apply from today.
#[utoipa::path(post, path = "/v1/plans", operation_id = "create_plan", tag = "plans", request_body = CreatePlan,
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<CreatePlan>,
) -> Result<Located<Accepted>, ApiError> {
    let plan_id = PlanId::from_uuid(operator.new_id());
    let code = PlanCode::parse(&body.code).map_err(|e| ApiError::field("code", e))?;
    let name = DisplayName::parse(&body.name).map_err(|e| ApiError::field("name", e))?;
    let command = PlanCommand::Create {
        plan_id,
        code,
        name,
        prices: prices(&body.prices, "prices")?,
        limits: body.limits.parse("limits.")?,
        trial_days: body.trial_days,
        overage: overage(&body.overage)?,
        today: state.clock.now().date(),
    };
    // The code is claimed by the plan's own `Created` event, in the same commit.
    let outcome =
        state.store.execute::<Plan>(&plan_id.to_string(), command, &operator.metadata(), state.retry).await?;
    Ok(state.links.accepted(plan_id.as_uuid(), outcome.version, View::Plan(plan_id.as_uuid())))
}

async fn plan_command(
    state: &AppState,
    operator: &Operator,
    id: &str,
    precondition: Precondition,
    command: PlanCommand,
) -> Result<Located<Accepted>, ApiError> {
    let plan_id = plan_id(id)?;
    let expected = precondition.expected(state.require_if_match)?;
    let meta = operator.metadata();
    let outcome = state
        .store
        .execute_at::<Plan>(&plan_id.to_string(), command, &meta, state.retry, &[], expected)
        .await?;
    Ok(state.links.accepted(plan_id.as_uuid(), outcome.version, View::Plan(plan_id.as_uuid())))
}

/// The path parameter of a plan.
const PLAN: &str = "The plan's id";

/// Change a plan's price of one period in one currency, for periods that begin on or after a date (operators only).
///
/// Running subscriptions pay it from their next period.
#[utoipa::path(put, path = "/v1/plans/{id}/price", operation_id = "change_plan_price", tag = "plans", request_body = ChangePrice,
    params(("id" = uuid::Uuid, Path, description = PLAN)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn change_price(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<ChangePrice>,
) -> Result<Located<Accepted>, ApiError> {
    let period = input::one_of("period", &body.period, &BillingPeriod::ALL, BillingPeriod::as_str)?;
    let price = Price { period, amount: input::money("price", &body.price)? };
    let effective_from = input::date("effective_from", &body.effective_from)?;
    let command = PlanCommand::ChangePrice { price, effective_from, today: state.clock.now().date() };
    plan_command(&state, &operator, &id, precondition, command).await
}

/// Change what a plan includes (operators only).
///
/// Running subscriptions take it at their next period.
#[utoipa::path(put, path = "/v1/plans/{id}/limits", operation_id = "change_plan_limits", tag = "plans", request_body = LimitsBody,
    params(("id" = uuid::Uuid, Path, description = PLAN)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn change_limits(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<LimitsBody>,
) -> Result<Located<Accepted>, ApiError> {
    let command = PlanCommand::ChangeLimits { limits: body.parse("")? };
    plan_command(&state, &operator, &id, precondition, command).await
}

/// Replace a plan's overage prices (operators only).
///
/// Running subscriptions take them at their next period.
#[utoipa::path(put, path = "/v1/plans/{id}/overage", operation_id = "change_plan_overage", tag = "plans", request_body = ChangeOverage,
    params(("id" = uuid::Uuid, Path, description = PLAN)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn change_overage(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<ChangeOverage>,
) -> Result<Located<Accepted>, ApiError> {
    let command = PlanCommand::ChangeOverage { overage: overage(&body.overage)? };
    plan_command(&state, &operator, &id, precondition, command).await
}

/// Retire a plan (operators only): it takes no new subscriptions; running ones keep it.
#[utoipa::path(post, path = "/v1/plans/{id}/retire", operation_id = "retire_plan", tag = "plans",
    params(("id" = uuid::Uuid, Path, description = PLAN)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn retire(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    plan_command(&state, &operator, &id, precondition, PlanCommand::Retire).await
}
