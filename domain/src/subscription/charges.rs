//! What a subscription's current paid period bills: the plan's price, usage beyond what the
//! plan includes rated at its overage prices, and the coupon if it covers the period. The
//! result is a draft's lines, ready for the period's invoice.

use super::{Subscription, SubscriptionError, SubscriptionStatus};
use crate::billing::{Coupon, CouponValue, Quantity, RateCategory, UnitCode};
use crate::invoice::{DraftLine, SubscriptionPeriod};
use crate::money::{Currency, Money};
use crate::plan::BillingPeriod;
use crate::usage::Usage;

/// The charges of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodCharges {
    /// The period they bill (the invoice's claim).
    pub billing: SubscriptionPeriod,
    /// Their currency.
    pub currency: Currency,
    /// The lines: the plan first, then each metric used beyond the plan.
    pub lines: Vec<DraftLine>,
    /// The coupon's discount, when it covers the period.
    pub coupon: Option<Coupon>,
}

/// The charges of `subscription`'s current paid period, with `usage` rated against the plan.
pub fn period_charges(
    subscription: &Subscription,
    usage: &Usage,
) -> Result<PeriodCharges, SubscriptionError> {
    let (Some(id), Some(plan), Some(period)) =
        (subscription.id, subscription.plan(), subscription.current_period())
    else {
        return Err(SubscriptionError::NotFound);
    };
    if subscription.status() != SubscriptionStatus::Active {
        return Err(SubscriptionError::NothingToBill);
    }
    let line_error = SubscriptionError::Charges;
    let unit = match plan.period {
        BillingPeriod::Month => UnitCode::Month,
        BillingPeriod::Year => UnitCode::Each,
    };
    // A line description holds 100 characters: the name is cut so the dates always fit.
    let name: String = plan.name.as_str().chars().take(60).collect();
    let description = format!("Plan {name}: {} – {}", period.start(), period.end());
    let one = Quantity::units(1).expect("one unit is a quantity");
    let mut lines =
        vec![DraftLine::new(&description, one, unit, plan.price, RateCategory::Standard, Some(period))
            .map_err(line_error)?];
    for overage in &plan.overage {
        let Some(included) = overage.metric.included_thousandths(&plan.limits) else { continue };
        let beyond = usage.total(period, overage.metric) - included;
        let Ok(quantity) = Quantity::from_thousandths(beyond) else { continue };
        let line = DraftLine::new(
            overage.metric.description_ro(),
            quantity,
            overage.metric.unit(),
            overage.price,
            RateCategory::Standard,
            Some(period),
        )
        .map_err(line_error)?;
        lines.push(line);
    }
    let coupon = subscription.coupon_in_force().map(|applied| {
        // A fixed amount never takes off more than the plan's price, so the discount can
        // never exceed the lines it reduces.
        let value = match applied.value {
            CouponValue::Amount(amount) if amount.amount_minor() > plan.price.amount_minor() => {
                CouponValue::Amount(
                    Money::new(plan.price.amount_minor(), amount.currency()).unwrap_or(amount),
                )
            }
            other => other,
        };
        Coupon::new(&format!("Cupon {}", applied.code.as_str()), value).expect("a coupon code is a reason")
    });
    Ok(PeriodCharges {
        billing: SubscriptionPeriod { subscription_id: id, period },
        currency: plan.currency(),
        lines,
        coupon,
    })
}
