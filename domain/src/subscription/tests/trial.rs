//! Choosing a plan during the trial, and the site limit while a downgrade waits.

use cqrs_es::test::TestFramework;
use time::macros::date;

use super::{active, id, replay, tenant, terms};
use crate::billing::ServicePeriod;
use crate::plan::Limit;
use crate::subscription::*;

fn trial() -> SubscriptionEvent {
    SubscriptionEvent::Subscribed {
        subscription_id: id(),
        tenant_id: tenant(),
        plan: terms(0),
        coupon: None,
        current: ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 14)).unwrap(),
        trial: true,
        anchor_day: 15,
    }
}

#[test]
fn a_plan_chosen_during_the_trial_takes_over_and_the_trial_keeps_its_end() {
    let mut yearly_pro = terms(1);
    yearly_pro.period = crate::plan::BillingPeriod::Year;
    yearly_pro.price = crate::billing::tests::money(395_000, "RON");
    let chosen = SubscriptionEvent::TrialPlanChosen { plan: yearly_pro.clone(), coupon: None };
    TestFramework::<Subscription>::with(())
        .given(vec![trial()])
        .when(SubscriptionCommand::ChooseTrialPlan {
            plan: yearly_pro.clone(),
            coupon: None,
            today: date!(2025 - 09 - 05),
        })
        .then_expect_events(vec![chosen.clone()]);
    let state = replay(vec![trial(), chosen.clone()]);
    assert_eq!(state.status(), SubscriptionStatus::Trialing);
    assert_eq!(state.plan(), Some(&yearly_pro));
    assert_eq!(state.current_period().unwrap().end(), date!(2025 - 09 - 14));
    // The same choice again changes nothing; after the trial, a choice is refused.
    TestFramework::<Subscription>::with(())
        .given(vec![trial(), chosen])
        .when(SubscriptionCommand::ChooseTrialPlan {
            plan: yearly_pro,
            coupon: None,
            today: date!(2025 - 09 - 06),
        })
        .then_expect_events(vec![]);
    TestFramework::<Subscription>::with(())
        .given(vec![active(0)])
        .when(SubscriptionCommand::ChooseTrialPlan {
            plan: terms(1),
            coupon: None,
            today: date!(2025 - 09 - 05),
        })
        .then_expect_error(SubscriptionError::NotInTrial);
}

#[test]
fn while_a_downgrade_waits_the_smaller_plans_site_limit_applies() {
    let scheduled =
        SubscriptionEvent::DowngradeScheduled { plan: terms(0), effective: date!(2025 - 10 - 01) };
    let pro = replay(vec![active(1)]);
    assert_eq!(
        SiteAllowance::of(Some(&pro)),
        SiteAllowance::Plan { plan: "pro".into(), sites: Limit::Up(25) }
    );
    let waiting = replay(vec![active(1), scheduled]);
    assert_eq!(
        SiteAllowance::of(Some(&waiting)),
        SiteAllowance::Plan { plan: "starter".into(), sites: Limit::Up(5) }
    );
    assert_eq!(
        limits_allow_site(Some(&waiting), 5),
        Err(LimitError::PlanLimit { limit: "sites", plan: "starter".into(), allowed: 5 })
    );
    assert_eq!(SiteAllowance::of(None), SiteAllowance::NoSubscription);
}
