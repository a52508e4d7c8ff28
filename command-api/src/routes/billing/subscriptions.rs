//! `/v1/subscriptions` (the tenant's owners and admins): subscribe, or choose the trial's plan;
//! upgrade now (prorated), downgrade at the period's end (if usage fits), cancel at the
//! period's end or now, keep a subscription whose cancellation was scheduled.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use berth_domain::coupon::CouponCode;
use berth_domain::ids::{PlanId, SubscriptionId};
use berth_domain::plan::{BillingPeriod, Metric, Plan, PlanCode, PlanTerms};
use berth_domain::role::Permission;
use berth_domain::site_quota::SiteQuota;
use berth_domain::subscription::{
    CurrentUsage, Subscription, SubscriptionCommand, SubscriptionError, SubscriptionStatus,
};
use berth_domain::usage::Usage;
use berth_eventstore::billing::{
    choose_trial_plan, plan_by_code, running_subscription, subscribe, SubscribeRequest,
};
use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::Deserialize;

use super::input;
use crate::accepted::Located;
use crate::auth::Caller;
use crate::{Accepted, AppState, View};

/// The subscription routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/subscriptions", post(create))
        .route("/v1/subscriptions/{id}/upgrade", post(upgrade))
        .route("/v1/subscriptions/{id}/downgrade", post(downgrade))
        .route("/v1/subscriptions/{id}/cancel", post(cancel))
        .route("/v1/subscriptions/{id}/withdraw-cancellation", post(withdraw_cancellation))
}

/// `POST /v1/subscriptions` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"plan": "pro", "period": "month", "currency": "EUR", "coupon": "WELCOME10"}))]
pub struct CreateSubscription {
    /// The plan's code.
    #[schema(example = "starter")]
    pub plan: String,
    /// Monthly or yearly.
    #[serde(default = "month")]
    #[schema(value_type = berth_http::schema::BillingPeriodName, default = "month")]
    pub period: String,
    /// The currency it is billed in, for good.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// A coupon to redeem with it.
    pub coupon: Option<String>,
}

fn month() -> String {
    "month".to_owned()
}

/// A plan to move to.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlan {
    /// The plan's code.
    #[schema(example = "pro")]
    pub plan: String,
}

/// `POST /v1/subscriptions/{id}/cancel` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// At the end of the period (the default), or now with a prorated credit note.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub at_period_end: bool,
}

fn yes() -> bool {
    true
}

async fn plan(state: &AppState, raw: &str) -> Result<PlanId, ApiError> {
    let code = PlanCode::parse(raw).map_err(|e| ApiError::field("plan", e))?;
    plan_by_code(&state.store, &code).await?.ok_or_else(|| {
        super::unknown("plan", "plan-not-found", format!("no plan has the code `{}`", code.as_str()))
    })
}

/// Subscribe the tenant to a plan.
///
/// During its trial, put the trial on this plan instead (it keeps its end). A tenant that
/// subscribed before gets no new trial.
#[utoipa::path(post, path = "/v1/subscriptions", operation_id = "create_subscription", tag = "billing", request_body = CreateSubscription,
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageBilling)?;
    let plan_id = plan(&state, &body.plan).await?;
    let period = input::one_of("period", &body.period, &BillingPeriod::ALL, BillingPeriod::as_str)?;
    let currency = input::currency("currency", &body.currency)?;
    let coupon = body
        .coupon
        .as_deref()
        .map(|c| CouponCode::parse(c).map_err(|e| ApiError::field("coupon", e)))
        .transpose()?;
    let now = state.clock.now();
    let minted = SubscriptionId::from_uuid(caller.new_id());
    let mut request = SubscribeRequest {
        subscription_id: minted,
        tenant_id: caller.tenant_id,
        plan_id,
        period,
        currency,
        coupon,
        today: now.date(),
        now,
    };
    let meta = caller.metadata();
    let done = match running_subscription(&state.store, caller.tenant_id).await? {
        Some((id, _)) if id == minted => {
            // This request's own subscription, made by an earlier try that did not answer.
            subscribe(&state.store, &request, &meta, state.retry).await.map_err(super::refused)?
        }
        Some((id, running)) if running.status() == SubscriptionStatus::Trialing => {
            request.subscription_id = id;
            choose_trial_plan(&state.store, &request, &meta, state.retry).await.map_err(super::refused)?
        }
        Some(_) => return Err(ApiError::refused(&SubscriptionError::AlreadyExists)),
        None => subscribe(&state.store, &request, &meta, state.retry).await.map_err(super::refused)?,
    };
    let id = done.subscription_id.as_uuid();
    Ok(state.links.accepted(id, done.version, View::Subscription(id)))
}

/// The tenant's subscription `raw` (another tenant's is not found) and its version.
async fn load(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<(SubscriptionId, Subscription), ApiError> {
    let id: SubscriptionId = crate::routes::parse_id(raw)?;
    let loaded = state.store.load::<Subscription>(&id.to_string()).await?.aggregate;
    if loaded.tenant_id() != Some(caller.tenant_id) {
        return Err(ApiError::NotFound);
    }
    Ok((id, loaded))
}

/// The terms of plan `raw` for `subscription`'s currency and period, as of today.
async fn terms(state: &AppState, subscription: &Subscription, raw: &str) -> Result<PlanTerms, ApiError> {
    let plan_id = plan(state, raw).await?;
    let current = subscription.plan().ok_or(ApiError::NotFound)?;
    let plan = state.store.load::<Plan>(&plan_id.to_string()).await?.aggregate;
    if plan.retired() {
        return Err(ApiError::refused(&berth_domain::plan::PlanError::Retired).about("plan"));
    }
    plan.terms(current.currency(), current.period, state.clock.now().date())
        .map_err(|e| ApiError::refused(&e).about("plan"))
}

async fn run(
    state: &AppState,
    caller: &Caller,
    id: SubscriptionId,
    precondition: Precondition,
    command: SubscriptionCommand,
) -> Result<Located<Accepted>, ApiError> {
    let expected = precondition.expected(state.require_if_match)?;
    let meta = caller.metadata().within_tenant();
    let outcome = state
        .store
        .execute_at::<Subscription>(&id.to_string(), command, &meta, state.retry, &[], expected)
        .await?;
    Ok(state.links.accepted(id.as_uuid(), outcome.version, View::Subscription(id.as_uuid())))
}

/// The path parameter of a subscription.
const SUBSCRIPTION: &str = "The subscription's id";

/// Move to a dearer plan now.
///
/// The unused days of the old plan are credited and the days left charged on the new one (the
/// billing saga issues both documents).
#[utoipa::path(post, path = "/v1/subscriptions/{id}/upgrade", operation_id = "upgrade_subscription", tag = "billing", request_body = ChangePlan,
    params(("id" = uuid::Uuid, Path, description = SUBSCRIPTION)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn upgrade(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<ChangePlan>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageBilling)?;
    let (id, subscription) = load(&state, &caller, &raw).await?;
    let plan = terms(&state, &subscription, &body.plan).await?;
    let command = SubscriptionCommand::Upgrade { plan, today: state.clock.now().date() };
    run(&state, &caller, id, precondition, command).await
}

/// Move to a cheaper plan when the period ends.
///
/// Refused (409, naming the limit) when what the tenant uses does not fit it.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/downgrade", operation_id = "downgrade_subscription", tag = "billing", request_body = ChangePlan,
    params(("id" = uuid::Uuid, Path, description = SUBSCRIPTION)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn downgrade(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<ChangePlan>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageBilling)?;
    let (id, subscription) = load(&state, &caller, &raw).await?;
    let plan = terms(&state, &subscription, &body.plan).await?;
    // What the tenant uses, from the write side: its sites as its quota counts them, and the
    // storage peak of this period as its meter recorded it.
    let sites = state.store.load::<SiteQuota>(&caller.tenant_id.to_string()).await?.aggregate.count();
    let meter = state.store.load::<Usage>(&id.to_string()).await?.aggregate;
    let storage = subscription.current_period().map_or(0, |p| meter.total(p, Metric::StorageGb));
    let storage_gb = u32::try_from((storage + 999) / 1000).unwrap_or(u32::MAX);
    let usage = CurrentUsage { sites, storage_gb };
    let command = SubscriptionCommand::Downgrade { plan, usage, today: state.clock.now().date() };
    run(&state, &caller, id, precondition, command).await
}

/// Cancel at the end of the period, or now with a prorated credit note for the days left.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/cancel", operation_id = "cancel_subscription", tag = "billing", request_body = Cancel,
    params(("id" = uuid::Uuid, Path, description = SUBSCRIPTION)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<Cancel>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageBilling)?;
    let id: SubscriptionId = crate::routes::parse_id(&raw)?;
    let command =
        SubscriptionCommand::Cancel { at_period_end: body.at_period_end, today: state.clock.now().date() };
    run(&state, &caller, id, precondition, command).await
}

/// Keep a subscription whose cancellation at the period's end was scheduled.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/withdraw-cancellation", operation_id = "withdraw_subscription_cancellation", tag = "billing",
    params(("id" = uuid::Uuid, Path, description = SUBSCRIPTION)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn withdraw_cancellation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageBilling)?;
    let id: SubscriptionId = crate::routes::parse_id(&raw)?;
    run(&state, &caller, id, precondition, SubscriptionCommand::WithdrawCancellation).await
}
