//! Subscription rules, given/when/then. Amounts are worked out by hand in each test.

mod changes;
mod charges;

use cqrs_es::test::TestFramework;
use time::macros::{date, datetime};
use uuid::Uuid;

use super::*;
use crate::aggregate::Consequences;
use crate::plan::seed::default_plans;
use crate::plan::{BillingPeriod, Plan};

pub(super) fn id() -> SubscriptionId {
    SubscriptionId::from_uuid(Uuid::from_u128(21))
}

pub(super) fn tenant() -> TenantId {
    TenantId::from_uuid(Uuid::from_u128(3))
}

/// The seed plan `index` (0 Starter, 1 Pro, 2 Enterprise) in euro per month.
pub(super) fn terms(index: usize) -> PlanTerms {
    let day = date!(2025 - 01 - 01);
    let mut plan = Plan::default();
    let command = default_plans()[index].create(PlanId::from_uuid(Uuid::from_u128(100 + index as u128)), day);
    let events = cqrs_es::test::TestFramework::<Plan>::with(())
        .given_no_previous_events()
        .when(command)
        .inspect_result()
        .unwrap();
    for event in events {
        cqrs_es::Aggregate::apply(&mut plan, event);
    }
    plan.terms(crate::money::Currency::parse("EUR").unwrap(), BillingPeriod::Month, day).unwrap()
}

pub(super) fn september() -> ServicePeriod {
    ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 30)).unwrap()
}

/// A paid subscription to plan `index` in its first period, September 2025.
pub(super) fn active(index: usize) -> SubscriptionEvent {
    SubscriptionEvent::Subscribed {
        subscription_id: id(),
        tenant_id: tenant(),
        plan: terms(index),
        coupon: None,
        current: september(),
        trial: false,
        anchor_day: 1,
    }
}

pub(super) fn replay(events: Vec<SubscriptionEvent>) -> Subscription {
    let mut subscription = Subscription::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut subscription, event);
    }
    subscription
}

#[test]
fn a_subscription_starts_with_its_plans_trial_and_its_end_is_a_timer() {
    // Starter has a 14-day trial: 1–14 September, then periods start on the 15th.
    let trial = ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 14)).unwrap();
    let subscribed = SubscriptionEvent::Subscribed {
        subscription_id: id(),
        tenant_id: tenant(),
        plan: terms(0),
        coupon: None,
        current: trial,
        trial: true,
        anchor_day: 15,
    };
    TestFramework::<Subscription>::with(())
        .given_no_previous_events()
        .when(SubscriptionCommand::Subscribe {
            subscription_id: id(),
            tenant_id: tenant(),
            plan: terms(0),
            coupon: None,
            today: date!(2025 - 09 - 01),
        })
        .then_expect_events(vec![subscribed.clone()]);
    assert_eq!(
        Subscription::timers(&id().to_string(), &subscribed),
        vec![TimerChange::Schedule {
            key: period_timer(id()),
            due_at: datetime!(2025-09-15 00:00 UTC),
            command: SubscriptionCommand::EndPeriod { period_end: date!(2025 - 09 - 14) },
        }]
    );
    let state = replay(vec![subscribed.clone()]);
    assert_eq!(state.status(), SubscriptionStatus::Trialing);
    assert_eq!(
        state.uniques(&subscribed),
        vec![UniqueChange::Claim(Unique::new(
            UniqueScope::TenantSubscription,
            tenant().to_string(),
            format!("subscription:{}", id())
        ))]
    );
}

#[test]
fn a_plan_without_a_trial_starts_paid_for_a_month() {
    let state = TestFramework::<Subscription>::with(())
        .given_no_previous_events()
        .when(SubscriptionCommand::Subscribe {
            subscription_id: id(),
            tenant_id: tenant(),
            plan: terms(2),
            coupon: None,
            today: date!(2025 - 09 - 10),
        })
        .inspect_result()
        .unwrap();
    let state = replay(state);
    assert_eq!(state.status(), SubscriptionStatus::Active);
    let period = state.current_period().unwrap();
    assert_eq!((period.start(), period.end()), (date!(2025 - 09 - 10), date!(2025 - 10 - 09)));
}

#[test]
fn the_end_of_a_trial_is_recorded_and_the_first_paid_period_follows_it() {
    let trial = ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 14)).unwrap();
    let subscribed = SubscriptionEvent::Subscribed {
        subscription_id: id(),
        tenant_id: tenant(),
        plan: terms(0),
        coupon: None,
        current: trial,
        trial: true,
        anchor_day: 15,
    };
    TestFramework::<Subscription>::with(())
        .given(vec![subscribed.clone()])
        .when(SubscriptionCommand::EndPeriod { period_end: date!(2025 - 09 - 14) })
        .then_expect_events(vec![SubscriptionEvent::PeriodEnded { period: trial }]);
    // A timer of an older period firing late changes nothing.
    TestFramework::<Subscription>::with(())
        .given(vec![subscribed.clone()])
        .when(SubscriptionCommand::EndPeriod { period_end: date!(2025 - 08 - 31) })
        .then_expect_events(vec![]);
    let first_paid = ServicePeriod::new(date!(2025 - 09 - 15), date!(2025 - 10 - 14)).unwrap();
    TestFramework::<Subscription>::with(())
        .given(vec![subscribed.clone(), SubscriptionEvent::PeriodEnded { period: trial }])
        .when(SubscriptionCommand::Renew { plan: terms(0) })
        .then_expect_events(vec![SubscriptionEvent::PeriodStarted {
            period: first_paid,
            plan: terms(0),
            paid_period: 1,
        }]);
    TestFramework::<Subscription>::with(())
        .given(vec![subscribed])
        .when(SubscriptionCommand::Renew { plan: terms(0) })
        .then_expect_error(SubscriptionError::NotDue { period_end: date!(2025 - 09 - 14) });
}

#[test]
fn a_new_price_reaches_a_running_subscription_at_its_next_period() {
    let mut dearer = terms(0);
    dearer.price = crate::billing::tests::money(3_400, "EUR");
    let october = ServicePeriod::new(date!(2025 - 10 - 01), date!(2025 - 10 - 31)).unwrap();
    let events = TestFramework::<Subscription>::with(())
        .given(vec![active(0), SubscriptionEvent::PeriodEnded { period: september() }])
        .when(SubscriptionCommand::Renew { plan: dearer.clone() })
        .inspect_result()
        .unwrap();
    assert_eq!(
        events,
        vec![SubscriptionEvent::PeriodStarted { period: october, plan: dearer, paid_period: 2 }]
    );
    let state =
        replay(vec![active(0), SubscriptionEvent::PeriodEnded { period: september() }, events[0].clone()]);
    assert_eq!(state.plan().unwrap().price.amount_minor(), 3_400);
}
