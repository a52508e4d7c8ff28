//! The coupon aggregate (platform-level): a discount subscriptions redeem — a percentage or a
//! fixed amount per currency, for one period, N periods or for ever — with a maximum number of
//! redemptions, an expiry and the plans it applies to. It is applied before tax, as a
//! document-level allowance (`billing::Coupon`).
//!
//! Redemptions cannot overshoot the maximum under concurrency: each redemption is an event of
//! this aggregate, committed together with the subscription it discounts, so two redemptions
//! of the last use race on the coupon's version and the loser is decided again (and refused).

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

pub use command::{CouponCode, CouponCommand};
pub use error::CouponError;
pub use event::CouponEvent;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::billing::{CouponValue, Percent};
use crate::ids::{CouponId, PlanId};
use crate::money::{Currency, Money};
use crate::unique::{Unique, UniqueChange, UniqueScope};

/// How much a coupon takes off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponDiscount {
    /// A percentage of each discounted period's net amount.
    Percent(Percent),
    /// A fixed amount per period, one per currency it can be redeemed in.
    Amounts(Vec<Money>),
}

/// For how many paid periods a coupon applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponDuration {
    /// The first paid period.
    Once,
    /// The first N paid periods.
    Periods(u32),
    /// Every paid period.
    Forever,
}

impl CouponDuration {
    /// Whether the `n`th paid period (from 1) is discounted.
    pub fn covers(self, n: u32) -> bool {
        match self {
            Self::Once => n == 1,
            Self::Periods(periods) => (1..=periods).contains(&n),
            Self::Forever => n >= 1,
        }
    }
}

/// A coupon as a subscription keeps it: its value in the subscription's currency and how long
/// it lasts. Later changes to the coupon do not reach subscriptions that redeemed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCoupon {
    /// The coupon.
    pub coupon_id: CouponId,
    /// Its code, printed as the discount's reason.
    pub code: CouponCode,
    /// What it takes off, in the subscription's currency.
    pub value: CouponValue,
    /// For how many paid periods.
    pub duration: CouponDuration,
}

/// A coupon's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    id: Option<CouponId>,
    code: Option<CouponCode>,
    discount: Option<CouponDiscount>,
    duration: Option<CouponDuration>,
    max_redemptions: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    plans: Vec<PlanId>,
    redemptions: u32,
    withdrawn: bool,
}

impl Coupon {
    /// How many times it was redeemed.
    pub fn redemptions(&self) -> u32 {
        self.redemptions
    }

    /// What redeeming it now for `plan` in `currency` gives, or why it cannot be redeemed.
    pub fn offer(
        &self,
        plan: PlanId,
        currency: Currency,
        now: OffsetDateTime,
    ) -> Result<AppliedCoupon, CouponError> {
        let (Some(coupon_id), Some(code), Some(discount), Some(duration)) =
            (self.id, &self.code, &self.discount, self.duration)
        else {
            return Err(CouponError::NotFound);
        };
        if self.withdrawn {
            return Err(CouponError::Withdrawn);
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(CouponError::Expired);
        }
        if self.max_redemptions.is_some_and(|max| self.redemptions >= max) {
            return Err(CouponError::UsedUp);
        }
        if !self.plans.is_empty() && !self.plans.contains(&plan) {
            return Err(CouponError::NotForPlan);
        }
        let value = match discount {
            CouponDiscount::Percent(percent) => CouponValue::Percent(*percent),
            CouponDiscount::Amounts(amounts) => amounts
                .iter()
                .find(|a| a.currency() == currency)
                .map(|a| CouponValue::Amount(*a))
                .ok_or_else(|| CouponError::NoAmountIn(currency.as_str().to_owned()))?,
        };
        Ok(AppliedCoupon { coupon_id, code: code.clone(), value, duration })
    }
}

impl crate::aggregate::Consequences for Coupon {
    fn uniques(&self, event: &CouponEvent) -> Vec<UniqueChange> {
        match (event, self.id) {
            (CouponEvent::Created { code, .. }, Some(id)) => vec![UniqueChange::Claim(Unique::new(
                UniqueScope::CouponCode,
                code.as_str(),
                format!("coupon:{id}"),
            ))],
            _ => Vec::new(),
        }
    }
}

impl Aggregate for Coupon {
    const TYPE: &'static str = "coupon";
    type Command = CouponCommand;
    type Event = CouponEvent;
    type Error = CouponError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CouponCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CouponError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CouponEvent) {
        match event {
            CouponEvent::Created {
                coupon_id,
                code,
                discount,
                duration,
                max_redemptions,
                expires_at,
                plans,
            } => {
                self.id = Some(coupon_id);
                self.code = Some(code);
                self.discount = Some(discount);
                self.duration = Some(duration);
                self.max_redemptions = max_redemptions;
                self.expires_at = expires_at;
                self.plans = plans;
            }
            CouponEvent::Redeemed { redemptions, .. } => self.redemptions = redemptions,
            CouponEvent::Withdrawn => self.withdrawn = true,
        }
    }
}
