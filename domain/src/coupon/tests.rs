use cqrs_es::test::TestFramework;
use time::macros::datetime;
use uuid::Uuid;

use super::*;
use crate::billing::tests::{currency, money};
use crate::ids::SubscriptionId;

fn coupon_id() -> CouponId {
    CouponId::from_uuid(Uuid::from_u128(9))
}

fn starter() -> PlanId {
    PlanId::from_uuid(Uuid::from_u128(1))
}

fn created(discount: CouponDiscount, max: Option<u32>) -> CouponEvent {
    CouponEvent::Created {
        coupon_id: coupon_id(),
        code: CouponCode::parse("welcome10").unwrap(),
        discount,
        duration: CouponDuration::Once,
        max_redemptions: max,
        expires_at: Some(datetime!(2025-12-31 23:59 UTC)),
        plans: vec![starter()],
    }
}

fn ten_percent() -> CouponDiscount {
    CouponDiscount::Percent(Percent::from_basis_points(1000).unwrap())
}

fn redeem(n: u128, currency_code: &str, now: OffsetDateTime) -> CouponCommand {
    CouponCommand::Redeem {
        subscription_id: SubscriptionId::from_uuid(Uuid::from_u128(n)),
        plan_id: starter(),
        currency: currency(currency_code),
        now,
    }
}

fn redeemed(n: u128, count: u32) -> CouponEvent {
    CouponEvent::Redeemed {
        subscription_id: SubscriptionId::from_uuid(Uuid::from_u128(n)),
        plan_id: starter(),
        redemptions: count,
    }
}

const NOW: OffsetDateTime = datetime!(2025-09-01 12:00 UTC);

#[test]
fn redemptions_are_counted_until_the_maximum() {
    TestFramework::<Coupon>::with(())
        .given(vec![created(ten_percent(), Some(2))])
        .when(redeem(1, "EUR", NOW))
        .then_expect_events(vec![redeemed(1, 1)]);
    TestFramework::<Coupon>::with(())
        .given(vec![created(ten_percent(), Some(2)), redeemed(1, 1), redeemed(2, 2)])
        .when(redeem(3, "EUR", NOW))
        .then_expect_error(CouponError::UsedUp);
}

#[test]
fn an_expired_or_withdrawn_coupon_is_refused() {
    TestFramework::<Coupon>::with(())
        .given(vec![created(ten_percent(), None)])
        .when(redeem(1, "EUR", datetime!(2026-01-01 00:00 UTC)))
        .then_expect_error(CouponError::Expired);
    TestFramework::<Coupon>::with(())
        .given(vec![created(ten_percent(), None), CouponEvent::Withdrawn])
        .when(redeem(1, "EUR", NOW))
        .then_expect_error(CouponError::Withdrawn);
}

#[test]
fn a_coupon_applies_to_its_plans_and_a_fixed_amount_to_its_currencies() {
    TestFramework::<Coupon>::with(())
        .given(vec![created(ten_percent(), None)])
        .when(CouponCommand::Redeem {
            subscription_id: SubscriptionId::from_uuid(Uuid::from_u128(1)),
            plan_id: PlanId::from_uuid(Uuid::from_u128(2)),
            currency: currency("EUR"),
            now: NOW,
        })
        .then_expect_error(CouponError::NotForPlan);
    let fixed = created(CouponDiscount::Amounts(vec![money(500, "EUR")]), None);
    TestFramework::<Coupon>::with(())
        .given(vec![fixed.clone()])
        .when(redeem(1, "RON", NOW))
        .then_expect_error(CouponError::NoAmountIn("RON".into()));
    let mut coupon = Coupon::default();
    cqrs_es::Aggregate::apply(&mut coupon, fixed);
    let applied = coupon.offer(starter(), currency("EUR"), NOW).unwrap();
    assert_eq!(applied.value, CouponValue::Amount(money(500, "EUR")));
    assert_eq!(applied.code.as_str(), "WELCOME10");
}

#[test]
fn a_coupon_takes_something_off_within_bounds() {
    let create = |discount, max_redemptions, expires_at| CouponCommand::Create {
        coupon_id: coupon_id(),
        code: CouponCode::parse("X10").unwrap(),
        discount,
        duration: CouponDuration::Forever,
        max_redemptions,
        expires_at,
        plans: vec![],
        now: NOW,
    };
    let refused = |command, error| {
        TestFramework::<Coupon>::with(()).given_no_previous_events().when(command).then_expect_error(error)
    };
    refused(create(CouponDiscount::Percent(Percent::ZERO), None, None), CouponError::NothingOff);
    refused(
        create(CouponDiscount::Amounts(vec![money(100, "GBP")]), None, None),
        CouponError::CurrencyNotOffered("GBP".into()),
    );
    refused(
        create(CouponDiscount::Amounts(vec![money(100, "EUR"), money(200, "EUR")]), None, None),
        CouponError::DuplicateCurrency("EUR".into()),
    );
    refused(create(ten_percent(), Some(0), None), CouponError::ZeroCount);
    refused(create(ten_percent(), None, Some(datetime!(2025-08-01 00:00 UTC))), CouponError::ExpiryInPast);
    assert!(CouponCode::parse("no spaces").is_err());
}

#[test]
fn durations_cover_their_paid_periods() {
    assert!(CouponDuration::Once.covers(1) && !CouponDuration::Once.covers(2));
    assert!(CouponDuration::Periods(3).covers(3) && !CouponDuration::Periods(3).covers(4));
    assert!(CouponDuration::Forever.covers(120) && !CouponDuration::Forever.covers(0));
}

#[test]
fn only_an_existing_coupon_is_withdrawn_and_once() {
    TestFramework::<Coupon>::with(())
        .given_no_previous_events()
        .when(CouponCommand::Withdraw)
        .then_expect_error(CouponError::NotFound);
    TestFramework::<Coupon>::with(())
        .given(vec![created(ten_percent(), None)])
        .when(CouponCommand::Withdraw)
        .then_expect_events(vec![CouponEvent::Withdrawn]);
    TestFramework::<Coupon>::with(())
        .given(vec![created(ten_percent(), None), CouponEvent::Withdrawn])
        .when(CouponCommand::Withdraw)
        .then_expect_events(vec![]);
}
