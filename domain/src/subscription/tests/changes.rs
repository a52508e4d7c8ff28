//! Upgrades, downgrades and cancellations in the middle of a period, amounts by hand.

use cqrs_es::test::TestFramework;
use time::macros::date;

use super::{active, id, replay, september, terms};
use crate::aggregate::Consequences;
use crate::billing::tests::money;
use crate::billing::PlanChange;
use crate::subscription::*;
use crate::timer::TimerChange;

#[test]
fn an_upgrade_mid_period_credits_the_old_plan_and_charges_the_new_for_the_days_left() {
    // Starter (29.00 EUR) to Pro (79.00 EUR) on 21 September: days 21–30 remain, 10 of 30.
    // Credit 29.00 × 10 / 30 = 9.6666… → 9.67; charge 79.00 × 10 / 30 = 26.3333… → 26.33.
    TestFramework::<Subscription>::with(())
        .given(vec![active(0)])
        .when(SubscriptionCommand::Upgrade { plan: terms(1), today: date!(2025 - 09 - 21) })
        .then_expect_events(vec![SubscriptionEvent::Upgraded {
            plan: terms(1),
            on: date!(2025 - 09 - 21),
            proration: Some(PlanChange {
                credit: money(967, "EUR"),
                charge: money(2_633, "EUR"),
                remaining_days: 10,
                period_days: 30,
            }),
        }]);
    TestFramework::<Subscription>::with(())
        .given(vec![active(1)])
        .when(SubscriptionCommand::Upgrade { plan: terms(0), today: date!(2025 - 09 - 21) })
        .then_expect_error(SubscriptionError::NotAnUpgrade {
            current: "7900 EUR".into(),
            asked: "2900 EUR".into(),
        });
}

#[test]
fn a_downgrade_waits_for_the_period_end_and_must_fit_the_smaller_plan() {
    let today = date!(2025 - 09 - 21);
    // Pro to Starter with 6 sites: Starter allows 5.
    TestFramework::<Subscription>::with(())
        .given(vec![active(1)])
        .when(SubscriptionCommand::Downgrade {
            plan: terms(0),
            usage: CurrentUsage { sites: 6, storage_gb: 3 },
            today,
        })
        .then_expect_error(SubscriptionError::DowngradeDoesNotFit { limit: "sites", used: 6, allowed: 5 });
    // 5 sites fit, 40 GB do not: Starter includes 10.
    TestFramework::<Subscription>::with(())
        .given(vec![active(1)])
        .when(SubscriptionCommand::Downgrade {
            plan: terms(0),
            usage: CurrentUsage { sites: 5, storage_gb: 40 },
            today,
        })
        .then_expect_error(SubscriptionError::DowngradeDoesNotFit {
            limit: "storage_gb",
            used: 40,
            allowed: 10,
        });
    let scheduled =
        SubscriptionEvent::DowngradeScheduled { plan: terms(0), effective: date!(2025 - 10 - 01) };
    TestFramework::<Subscription>::with(())
        .given(vec![active(1)])
        .when(SubscriptionCommand::Downgrade {
            plan: terms(0),
            usage: CurrentUsage { sites: 4, storage_gb: 8 },
            today,
        })
        .then_expect_events(vec![scheduled.clone()]);
    // Until the period ends Pro stays; the renewal is on Starter and only on Starter.
    let ended = SubscriptionEvent::PeriodEnded { period: september() };
    assert_eq!(replay(vec![active(1), scheduled.clone()]).plan().unwrap().code.as_str(), "pro");
    TestFramework::<Subscription>::with(())
        .given(vec![active(1), scheduled.clone(), ended.clone()])
        .when(SubscriptionCommand::Renew { plan: terms(1) })
        .then_expect_error(SubscriptionError::WrongPlan { expected: terms(0).plan_id.to_string() });
    let october = crate::billing::ServicePeriod::new(date!(2025 - 10 - 01), date!(2025 - 10 - 31)).unwrap();
    TestFramework::<Subscription>::with(())
        .given(vec![active(1), scheduled, ended])
        .when(SubscriptionCommand::Renew { plan: terms(0) })
        .then_expect_events(vec![SubscriptionEvent::PeriodStarted {
            period: october,
            plan: terms(0),
            paid_period: 2,
        }]);
}

#[test]
fn cancelling_now_credits_the_days_left_and_ends_the_subscription() {
    // Pro (79.00 EUR) cancelled on 21 September: 10 of 30 days unused, 79.00 × 10 / 30 =
    // 26.3333… → 26.33 EUR credited.
    let cancelled = SubscriptionEvent::Cancelled {
        on: date!(2025 - 09 - 21),
        credit: Some(money(2_633, "EUR")),
        remaining_days: 10,
        period_days: 30,
    };
    TestFramework::<Subscription>::with(())
        .given(vec![active(1)])
        .when(SubscriptionCommand::Cancel { at_period_end: false, today: date!(2025 - 09 - 21) })
        .then_expect_events(vec![cancelled.clone()]);
    let state = replay(vec![active(1), cancelled.clone()]);
    assert_eq!(state.status(), SubscriptionStatus::Ended);
    assert_eq!(
        Subscription::timers(&id().to_string(), &cancelled),
        vec![TimerChange::Cancel { key: period_timer(id()) }]
    );
    assert!(matches!(state.uniques(&cancelled).as_slice(), [crate::unique::UniqueChange::Release(_)]));
    TestFramework::<Subscription>::with(())
        .given(vec![active(1), cancelled])
        .when(SubscriptionCommand::Upgrade { plan: terms(2), today: date!(2025 - 09 - 22) })
        .then_expect_error(SubscriptionError::Ended);
}

#[test]
fn cancelling_at_period_end_ends_it_when_its_timer_fires_unless_withdrawn() {
    let scheduled = SubscriptionEvent::CancellationScheduled { effective: date!(2025 - 10 - 01) };
    TestFramework::<Subscription>::with(())
        .given(vec![active(1)])
        .when(SubscriptionCommand::Cancel { at_period_end: true, today: date!(2025 - 09 - 21) })
        .then_expect_events(vec![scheduled.clone()]);
    TestFramework::<Subscription>::with(())
        .given(vec![active(1), scheduled.clone()])
        .when(SubscriptionCommand::EndPeriod { period_end: date!(2025 - 09 - 30) })
        .then_expect_events(vec![
            SubscriptionEvent::PeriodEnded { period: september() },
            SubscriptionEvent::Ended { on: date!(2025 - 10 - 01) },
        ]);
    TestFramework::<Subscription>::with(())
        .given(vec![active(1), scheduled, SubscriptionEvent::CancellationWithdrawn])
        .when(SubscriptionCommand::EndPeriod { period_end: date!(2025 - 09 - 30) })
        .then_expect_events(vec![SubscriptionEvent::PeriodEnded { period: september() }]);
}

#[test]
fn changes_after_the_period_ended_wait_for_the_renewal() {
    TestFramework::<Subscription>::with(())
        .given(vec![active(0)])
        .when(SubscriptionCommand::Upgrade { plan: terms(1), today: date!(2025 - 10 - 02) })
        .then_expect_error(SubscriptionError::PeriodOver);
}

#[test]
fn a_plan_change_stays_in_the_subscriptions_currency_period_and_direction() {
    let today = date!(2025 - 09 - 21);
    let mut in_ron = terms(1);
    in_ron.price = money(39_500, "RON");
    TestFramework::<Subscription>::with(())
        .given(vec![active(0)])
        .when(SubscriptionCommand::Upgrade { plan: in_ron, today })
        .then_expect_error(SubscriptionError::CurrencyMismatch {
            expected: "EUR".into(),
            found: "RON".into(),
        });
    let mut yearly = terms(1);
    yearly.period = crate::plan::BillingPeriod::Year;
    TestFramework::<Subscription>::with(())
        .given(vec![active(0)])
        .when(SubscriptionCommand::Upgrade { plan: yearly, today })
        .then_expect_error(SubscriptionError::PeriodMismatch);
    TestFramework::<Subscription>::with(())
        .given(vec![active(0)])
        .when(SubscriptionCommand::Downgrade {
            plan: terms(1),
            usage: CurrentUsage { sites: 1, storage_gb: 1 },
            today,
        })
        .then_expect_error(SubscriptionError::NotADowngrade {
            current: "2900 EUR".into(),
            asked: "7900 EUR".into(),
        });
    TestFramework::<Subscription>::with(())
        .given(vec![active(0)])
        .when(SubscriptionCommand::WithdrawCancellation)
        .then_expect_events(vec![]);
    TestFramework::<Subscription>::with(())
        .given(vec![active(0)])
        .when(SubscriptionCommand::Subscribe {
            subscription_id: id(),
            tenant_id: super::tenant(),
            plan: terms(0),
            coupon: None,
            today,
        })
        .then_expect_error(SubscriptionError::AlreadyExists);
    TestFramework::<Subscription>::with(())
        .given_no_previous_events()
        .when(SubscriptionCommand::Cancel { at_period_end: true, today })
        .then_expect_error(SubscriptionError::NotFound);
}
