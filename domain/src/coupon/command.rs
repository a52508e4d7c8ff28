//! Coupon commands, the coupon code, and the rules that decide them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Coupon, CouponDiscount, CouponDuration, CouponError, CouponEvent};
use crate::billing::MAX_AMOUNT_MINOR;
use crate::ids::{CouponId, PlanId, SubscriptionId};
use crate::money::Currency;
use crate::plan::is_offered;

/// A coupon's code (`WELCOME10`): 3 to 32 characters of A-Z, 0-9, `-` and `_`, folded to
/// upper case, as people type it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CouponCode(String);

impl CouponCode {
    /// Checks a code.
    pub fn parse(input: &str) -> Result<Self, CouponError> {
        let code = input.trim().to_ascii_uppercase();
        let ok = (3..=32).contains(&code.len())
            && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(code))
        } else {
            Err(CouponError::Code(input.to_owned()))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CouponCode {
    type Error = CouponError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CouponCode> for String {
    fn from(value: CouponCode) -> Self {
        value.0
    }
}

/// What can be asked of a coupon. `now` is when the command was received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum CouponCommand {
    /// Create the coupon. No plans means every plan.
    Create {
        coupon_id: CouponId,
        code: CouponCode,
        discount: CouponDiscount,
        duration: CouponDuration,
        max_redemptions: Option<u32>,
        #[serde(with = "time::serde::rfc3339::option")]
        expires_at: Option<OffsetDateTime>,
        plans: Vec<PlanId>,
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Redeem it for a new subscription to `plan_id` in `currency`.
    Redeem {
        subscription_id: SubscriptionId,
        plan_id: PlanId,
        currency: Currency,
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Take it off the market; subscriptions that redeemed it keep their discount.
    Withdraw,
}

/// Decides the events for `command`.
pub(super) fn decide(coupon: &Coupon, command: CouponCommand) -> Result<Vec<CouponEvent>, CouponError> {
    match command {
        CouponCommand::Create {
            coupon_id,
            code,
            discount,
            duration,
            max_redemptions,
            expires_at,
            plans,
            now,
        } => {
            if coupon.id.is_some() {
                return Err(CouponError::AlreadyExists);
            }
            check_discount(&discount)?;
            if duration == CouponDuration::Periods(0) || max_redemptions == Some(0) {
                return Err(CouponError::ZeroCount);
            }
            if expires_at.is_some_and(|at| at <= now) {
                return Err(CouponError::ExpiryInPast);
            }
            Ok(vec![CouponEvent::Created {
                coupon_id,
                code,
                discount,
                duration,
                max_redemptions,
                expires_at,
                plans,
            }])
        }
        CouponCommand::Redeem { subscription_id, plan_id, currency, now } => {
            coupon.offer(plan_id, currency, now)?;
            Ok(vec![CouponEvent::Redeemed { subscription_id, plan_id, redemptions: coupon.redemptions + 1 }])
        }
        CouponCommand::Withdraw if coupon.id.is_none() => Err(CouponError::NotFound),
        CouponCommand::Withdraw if coupon.withdrawn => Ok(Vec::new()),
        CouponCommand::Withdraw => Ok(vec![CouponEvent::Withdrawn]),
    }
}

fn check_discount(discount: &CouponDiscount) -> Result<(), CouponError> {
    match discount {
        CouponDiscount::Percent(percent) if percent.is_zero() => Err(CouponError::NothingOff),
        CouponDiscount::Percent(_) => Ok(()),
        CouponDiscount::Amounts(amounts) if amounts.is_empty() => Err(CouponError::NothingOff),
        CouponDiscount::Amounts(amounts) => {
            let mut seen = BTreeSet::new();
            for amount in amounts {
                let code = amount.currency().as_str().to_owned();
                if !is_offered(amount.currency()) {
                    return Err(CouponError::CurrencyNotOffered(code));
                }
                if amount.amount_minor() == 0 || amount.amount_minor() > MAX_AMOUNT_MINOR {
                    return Err(CouponError::AmountOutOfRange { max: MAX_AMOUNT_MINOR });
                }
                if !seen.insert(code.clone()) {
                    return Err(CouponError::DuplicateCurrency(code));
                }
            }
            Ok(())
        }
    }
}
