//! Subscribing: the subscription and, when a coupon is given, its redemption, in one commit.
//! The coupon is decided as loaded, so redemptions racing for its last use are serialized by
//! its version: the loser is decided again and refused as used up.

use berth_domain::coupon::{Coupon, CouponCode, CouponCommand, CouponError};
use berth_domain::ids::{CouponId, PlanId, SubscriptionId, TenantId};
use berth_domain::money::Currency;
use berth_domain::plan::{BillingPeriod, Plan, PlanCode, PlanError};
use berth_domain::subscription::{Subscription, SubscriptionCommand};
use berth_domain::unique::UniqueScope;
use cqrs_es::Aggregate;
use time::{Date, OffsetDateTime};
use tracing::instrument;

use super::{already_done, Attempt, BillingError};
use crate::error::StoreError;
use crate::execute::{backoff, CommandOutcome, RetryPolicy};
use crate::metadata::CommandMetadata;
use crate::store::EventStore;
use crate::unit_of_work::UnitOfWork;

/// What a tenant subscribes to.
#[derive(Debug, Clone)]
pub struct SubscribeRequest {
    /// The id minted for the subscription.
    pub subscription_id: SubscriptionId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The plan.
    pub plan_id: PlanId,
    /// Monthly or yearly.
    pub period: BillingPeriod,
    /// The currency it is billed in.
    pub currency: Currency,
    /// A coupon to redeem with it.
    pub coupon: Option<CouponCode>,
    /// Today's date (the first day of the subscription).
    pub today: Date,
    /// Now (coupons expire at a moment).
    pub now: OffsetDateTime,
}

/// The plan whose code is `code`, if there is one.
pub async fn plan_by_code(store: &EventStore, code: &PlanCode) -> Result<Option<PlanId>, StoreError> {
    Ok(owned_id(store.unique_owner(UniqueScope::PlanCode, code.as_str()).await?, "plan:")
        .map(PlanId::from_uuid))
}

async fn coupon_by_code(store: &EventStore, code: &CouponCode) -> Result<Option<CouponId>, StoreError> {
    Ok(owned_id(store.unique_owner(UniqueScope::CouponCode, code.as_str()).await?, "coupon:")
        .map(CouponId::from_uuid))
}

fn owned_id(owner: Option<String>, prefix: &str) -> Option<uuid::Uuid> {
    owner.and_then(|o| o.strip_prefix(prefix).and_then(|id| id.parse().ok()))
}

/// Subscribes `request.tenant_id` to a plan, redeeming its coupon in the same commit, deciding
/// again up to `retry.max_attempts` times when another redemption of the coupon came first.
#[instrument(skip_all, fields(subscription_id = %request.subscription_id, command_id = %metadata.command_id))]
pub async fn subscribe(
    store: &EventStore,
    request: &SubscribeRequest,
    metadata: &CommandMetadata,
    retry: RetryPolicy,
) -> Result<CommandOutcome, BillingError> {
    let id = request.subscription_id.to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_subscribe(store, request, metadata).await {
            Ok(outcome) => return Ok(outcome),
            Err(Attempt::Lost) if attempt < retry.max_attempts => {
                tokio::time::sleep(backoff(retry.base_delay, attempt)).await;
            }
            Err(Attempt::Lost) => return Err(BillingError::Conflict { attempts: attempt }),
            Err(Attempt::Failed(BillingError::Rejected(refused))) => {
                return match already_done(store, metadata, Subscription::TYPE, &id).await? {
                    Some(version) => Ok(CommandOutcome { version, events: 0, duplicate: true }),
                    None => Err(BillingError::Rejected(refused)),
                };
            }
            Err(Attempt::Failed(error)) => return Err(error),
        }
    }
}

async fn try_subscribe(
    store: &EventStore,
    request: &SubscribeRequest,
    metadata: &CommandMetadata,
) -> Result<CommandOutcome, Attempt> {
    let plan = store.load::<Plan>(&request.plan_id.to_string()).await?.aggregate;
    if !plan.exists() {
        return Err(BillingError::refused(Plan::TYPE, PlanError::NotFound).into());
    }
    if plan.retired() {
        return Err(BillingError::refused(Plan::TYPE, PlanError::Retired).into());
    }
    // The first period's price: a trial is priced like the period that follows it.
    let terms = plan
        .terms(request.currency, request.period, request.today)
        .map_err(|e| BillingError::refused(Plan::TYPE, e))?;
    let mut coupon = None;
    if let Some(code) = &request.coupon {
        let coupon_id = coupon_by_code(store, code)
            .await?
            .ok_or_else(|| BillingError::refused(Coupon::TYPE, CouponError::NotFound))?;
        let loaded = store.load::<Coupon>(&coupon_id.to_string()).await?;
        let applied = loaded
            .aggregate
            .offer(request.plan_id, request.currency, request.now)
            .map_err(|e| BillingError::refused(Coupon::TYPE, e))?;
        coupon = Some((coupon_id, loaded, applied));
    }
    let mut unit = UnitOfWork::new(store);
    let subscribe = SubscriptionCommand::Subscribe {
        subscription_id: request.subscription_id,
        tenant_id: request.tenant_id,
        plan: terms,
        coupon: coupon.as_ref().map(|(_, _, applied)| applied.clone()),
        today: request.today,
    };
    unit.decide::<Subscription>(&request.subscription_id.to_string(), subscribe).await?;
    if let Some((coupon_id, loaded, _)) = coupon {
        let redeem = CouponCommand::Redeem {
            subscription_id: request.subscription_id,
            plan_id: request.plan_id,
            currency: request.currency,
            now: request.now,
        };
        unit.decide_loaded::<Coupon>(&coupon_id.to_string(), loaded, redeem).await?;
    }
    Ok(unit.commit(metadata).await?)
}
