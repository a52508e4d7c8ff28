use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::plan::Limit;

fn tenant() -> TenantId {
    TenantId::from_uuid(Uuid::from_u128(3))
}

fn site(n: u128) -> SiteId {
    SiteId::from_uuid(Uuid::from_u128(1000 + n))
}

fn starter() -> SiteAllowance {
    SiteAllowance::Plan { plan: "starter".into(), sites: Limit::Up(5) }
}

fn admitted(n: u128) -> SiteQuotaEvent {
    SiteQuotaEvent::SiteAdmitted { tenant_id: tenant(), site_id: site(n) }
}

fn admit(n: u128, allowance: SiteAllowance) -> SiteQuotaCommand {
    SiteQuotaCommand::Admit { tenant_id: tenant(), site_id: site(n), allowance }
}

#[test]
fn the_sixth_site_on_a_five_site_plan_is_refused_naming_the_limit() {
    let five: Vec<_> = (1..=5).map(admitted).collect();
    TestFramework::<SiteQuota>::with(())
        .given(five[..4].to_vec())
        .when(admit(5, starter()))
        .then_expect_events(vec![admitted(5)]);
    TestFramework::<SiteQuota>::with(())
        .given(five.clone())
        .when(admit(6, starter()))
        .then_expect_error(LimitError::PlanLimit { limit: "sites", plan: "starter".into(), allowed: 5 });
    let unlimited = SiteAllowance::Plan { plan: "enterprise".into(), sites: Limit::Unlimited };
    TestFramework::<SiteQuota>::with(())
        .given(five)
        .when(admit(6, unlimited))
        .then_expect_events(vec![admitted(6)]);
}

#[test]
fn without_a_subscription_no_site_is_admitted() {
    TestFramework::<SiteQuota>::with(())
        .given_no_previous_events()
        .when(admit(1, SiteAllowance::NoSubscription))
        .then_expect_error(LimitError::SubscriptionRequired);
}

#[test]
fn a_released_site_gives_its_place_back_and_repeats_change_nothing() {
    let five: Vec<_> = (1..=5).map(admitted).collect();
    let mut released = five.clone();
    released.push(SiteQuotaEvent::SiteReleased { site_id: site(2) });
    TestFramework::<SiteQuota>::with(())
        .given(released)
        .when(admit(6, starter()))
        .then_expect_events(vec![admitted(6)]);
    TestFramework::<SiteQuota>::with(())
        .given(five.clone())
        .when(admit(3, starter()))
        .then_expect_events(vec![]);
    TestFramework::<SiteQuota>::with(())
        .given(five)
        .when(SiteQuotaCommand::Release { site_id: site(9) })
        .then_expect_events(vec![]);
}
