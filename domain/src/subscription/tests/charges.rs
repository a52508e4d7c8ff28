//! Plan limits where they bite, and what a period bills.

use time::macros::date;
use uuid::Uuid;

use super::{active, id, replay, september, tenant, terms};
use crate::billing::tests::money;
use crate::billing::{CouponValue, Percent, Quantity, RateCategory};
use crate::coupon::{AppliedCoupon, CouponCode, CouponDuration};
use crate::error::{Refusal, RefusalKind};
use crate::ids::CouponId;
use crate::plan::Metric;
use crate::subscription::*;
use crate::usage::{Usage, UsageCommand, UsageKey};

#[test]
fn the_sixth_site_on_starter_is_refused_and_accepted_after_an_upgrade() {
    let starter = replay(vec![active(0)]);
    assert_eq!(limits_allow_site(Some(&starter), 4), Ok(()));
    let refused = limits_allow_site(Some(&starter), 5).unwrap_err();
    assert_eq!(refused, LimitError::PlanLimit { limit: "sites", plan: "starter".into(), allowed: 5 });
    assert_eq!((refused.code(), refused.kind()), ("plan-limit", RefusalKind::Conflict));
    let upgraded = replay(vec![
        active(0),
        SubscriptionEvent::Upgraded { plan: terms(1), on: date!(2025 - 09 - 21), proration: None },
    ]);
    assert_eq!(limits_allow_site(Some(&upgraded), 5), Ok(()));
    let enterprise = replay(vec![active(2)]);
    assert_eq!(limits_allow_site(Some(&enterprise), 10_000), Ok(()));
}

#[test]
fn no_running_subscription_is_a_payment_required_refusal() {
    let none = limits_allow_site(None, 0).unwrap_err();
    assert_eq!((none.code(), none.kind()), ("subscription-required", RefusalKind::PaymentRequired));
    let ended = replay(vec![
        active(0),
        SubscriptionEvent::Cancelled {
            on: date!(2025 - 09 - 21),
            credit: None,
            remaining_days: 10,
            period_days: 30,
        },
    ]);
    assert_eq!(limits_allow_site(Some(&ended), 0), Err(LimitError::SubscriptionRequired));
}

fn usage_with_storage(peak_thousandths: i64) -> Usage {
    let events = cqrs_es::test::TestFramework::<Usage>::with(())
        .given_no_previous_events()
        .when(UsageCommand::Record {
            tenant_id: tenant(),
            subscription_id: id(),
            metric: Metric::StorageGb,
            quantity: Quantity::from_thousandths(peak_thousandths).unwrap(),
            period: september(),
            key: UsageKey::parse("storage:2025-09-20").unwrap(),
        })
        .inspect_result()
        .unwrap();
    let mut usage = Usage::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut usage, event);
    }
    usage
}

#[test]
fn a_period_bills_the_plan_and_storage_beyond_it_at_the_overage_price() {
    // Starter includes 10 GB; the peak was 12.5 GB, so 2.5 GB at 0.50 EUR/GB (1.25 EUR).
    let charges = period_charges(&replay(vec![active(0)]), &usage_with_storage(12_500)).unwrap();
    assert_eq!(
        charges.billing,
        crate::invoice::SubscriptionPeriod { subscription_id: id(), period: september() }
    );
    assert_eq!(charges.lines.len(), 2);
    assert_eq!(charges.lines[0].unit_price(), money(2_900, "EUR"));
    assert_eq!(charges.lines[0].description(), "Plan Starter: 2025-09-01 – 2025-09-30");
    assert_eq!(charges.lines[1].quantity().thousandths(), 2_500);
    assert_eq!(charges.lines[1].unit_price(), money(50, "EUR"));
    assert_eq!(charges.lines[1].rate(), RateCategory::Standard);
    assert_eq!(charges.coupon, None);
    // Under the allowance nothing extra is billed.
    let within = period_charges(&replay(vec![active(0)]), &usage_with_storage(9_000)).unwrap();
    assert_eq!(within.lines.len(), 1);
}

#[test]
fn a_once_coupon_discounts_the_first_paid_period_only_and_a_trial_bills_nothing() {
    let coupon = AppliedCoupon {
        coupon_id: CouponId::from_uuid(Uuid::from_u128(9)),
        code: CouponCode::parse("WELCOME10").unwrap(),
        value: CouponValue::Percent(Percent::from_basis_points(1000).unwrap()),
        duration: CouponDuration::Once,
    };
    let SubscriptionEvent::Subscribed { subscription_id, tenant_id, plan, current, anchor_day, .. } =
        active(0)
    else {
        unreachable!()
    };
    let with_coupon = SubscriptionEvent::Subscribed {
        subscription_id,
        tenant_id,
        plan,
        coupon: Some(coupon.clone()),
        current,
        trial: false,
        anchor_day,
    };
    let first = period_charges(&replay(vec![with_coupon.clone()]), &Usage::default()).unwrap();
    assert_eq!(first.coupon.as_ref().map(|c| c.reason()), Some("Cupon WELCOME10"));
    let october = crate::billing::ServicePeriod::new(date!(2025 - 10 - 01), date!(2025 - 10 - 31)).unwrap();
    let second = replay(vec![
        with_coupon,
        SubscriptionEvent::PeriodEnded { period: september() },
        SubscriptionEvent::PeriodStarted { period: october, plan: terms(0), paid_period: 2 },
    ]);
    assert_eq!(period_charges(&second, &Usage::default()).unwrap().coupon, None);
    let SubscriptionEvent::Subscribed { subscription_id, tenant_id, plan, current, anchor_day, .. } =
        active(0)
    else {
        unreachable!()
    };
    let trial = replay(vec![SubscriptionEvent::Subscribed {
        subscription_id,
        tenant_id,
        plan,
        coupon: Some(coupon),
        current,
        trial: true,
        anchor_day,
    }]);
    assert_eq!(period_charges(&trial, &Usage::default()), Err(SubscriptionError::NothingToBill));
}
