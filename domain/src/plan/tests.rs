use cqrs_es::test::TestFramework;
use time::macros::date;
use uuid::Uuid;

use super::seed::default_plans;
use super::*;
use crate::aggregate::Consequences;
use crate::billing::tests::money;
use crate::error::{Refusal, RefusalKind};

fn plan_id() -> PlanId {
    PlanId::from_uuid(Uuid::from_u128(7))
}

fn starter() -> PlanCommand {
    default_plans()[0].create(plan_id(), date!(2025 - 09 - 01))
}

fn created() -> PlanEvent {
    let PlanCommand::Create { plan_id, code, name, prices, limits, trial_days, overage, today } = starter()
    else {
        unreachable!("a seed is a Create")
    };
    PlanEvent::Created { plan_id, code, name, prices, limits, trial_days, overage, effective_from: today }
}

fn state(events: Vec<PlanEvent>) -> Plan {
    let mut plan = Plan::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut plan, event);
    }
    plan
}

fn eur() -> crate::money::Currency {
    crate::money::Currency::parse("EUR").unwrap()
}

#[test]
fn a_seed_creates_its_plan_and_claims_its_code() {
    TestFramework::<Plan>::with(())
        .given_no_previous_events()
        .when(starter())
        .then_expect_events(vec![created()]);
    let plan = state(vec![created()]);
    let claims = plan.uniques(&created());
    assert_eq!(
        claims,
        vec![crate::unique::UniqueChange::Claim(crate::unique::Unique::new(
            crate::unique::UniqueScope::PlanCode,
            "starter",
            format!("plan:{}", plan_id())
        ))]
    );
}

#[test]
fn the_seeds_are_starter_pro_and_enterprise_at_29_79_and_249() {
    let plans = default_plans();
    let day = date!(2025 - 09 - 01);
    let monthly: Vec<(String, i64, Option<u32>)> = plans
        .iter()
        .map(|seed| {
            let plan = match seed.create(plan_id(), day) {
                command @ PlanCommand::Create { .. } => {
                    let events = command::decide(&Plan::default(), command).unwrap();
                    state(events)
                }
                _ => unreachable!(),
            };
            let terms = plan.terms(eur(), BillingPeriod::Month, day).unwrap();
            (terms.code.as_str().to_owned(), terms.price.amount_minor(), terms.limits.sites.bound())
        })
        .collect();
    assert_eq!(
        monthly,
        vec![
            ("starter".to_owned(), 2_900, Some(5)),
            ("pro".to_owned(), 7_900, Some(25)),
            ("enterprise".to_owned(), 24_900, None)
        ]
    );
    assert_eq!(plans[0].limits.storage_gb, Limit::Up(10));
    assert_eq!(plans[0].limits.backups.frequency, BackupFrequency::Daily);
    assert_eq!(plans[1].limits.storage_gb, Limit::Up(100));
    assert_eq!(plans[1].limits.backups.frequency, BackupFrequency::Hourly);
    assert_eq!(plans[2].limits.storage_gb, Limit::Unlimited);
    // A year costs ten months: 290.00 EUR for Starter; lei are five times the euro price.
    let starter = state(vec![created()]);
    assert_eq!(starter.price_on(eur(), BillingPeriod::Year, day), Some(money(29_000, "EUR")));
    let ron = crate::money::Currency::parse("RON").unwrap();
    assert_eq!(starter.price_on(ron, BillingPeriod::Month, day), Some(money(14_500, "RON")));
}

#[test]
fn a_price_change_applies_from_its_date_and_never_before_today() {
    let new_price = Price { period: BillingPeriod::Month, amount: money(3_400, "EUR") };
    let change = PlanCommand::ChangePrice {
        price: new_price,
        effective_from: date!(2025 - 10 - 01),
        today: date!(2025 - 09 - 15),
    };
    let changed = PlanEvent::PriceChanged { price: new_price, effective_from: date!(2025 - 10 - 01) };
    TestFramework::<Plan>::with(())
        .given(vec![created()])
        .when(change)
        .then_expect_events(vec![changed.clone()]);
    let plan = state(vec![created(), changed]);
    assert_eq!(plan.price_on(eur(), BillingPeriod::Month, date!(2025 - 09 - 30)), Some(money(2_900, "EUR")));
    assert_eq!(plan.price_on(eur(), BillingPeriod::Month, date!(2025 - 10 - 01)), Some(money(3_400, "EUR")));
    TestFramework::<Plan>::with(())
        .given(vec![created()])
        .when(PlanCommand::ChangePrice {
            price: new_price,
            effective_from: date!(2025 - 09 - 14),
            today: date!(2025 - 09 - 15),
        })
        .then_expect_error(PlanError::Retroactive("2025-09-14".to_owned()));
}

#[test]
fn prices_are_positive_offered_and_unique_per_currency_and_period() {
    let with_prices = |prices: Vec<Price>| {
        let PlanCommand::Create { plan_id, code, name, limits, trial_days, overage, today, .. } = starter()
        else {
            unreachable!()
        };
        PlanCommand::Create { plan_id, code, name, prices, limits, trial_days, overage, today }
    };
    let month = |amount| Price { period: BillingPeriod::Month, amount };
    let refused = |prices, error: PlanError| {
        TestFramework::<Plan>::with(())
            .given_no_previous_events()
            .when(with_prices(prices))
            .then_expect_error(error)
    };
    refused(vec![], PlanError::NoPrices);
    refused(
        vec![month(money(0, "EUR"))],
        PlanError::PriceOutOfRange { max: crate::billing::MAX_AMOUNT_MINOR },
    );
    refused(vec![month(money(100, "GBP"))], PlanError::CurrencyNotOffered("GBP".to_owned()));
    refused(
        vec![month(money(100, "EUR")), month(money(200, "EUR"))],
        PlanError::DuplicatePrice("the monthly price in EUR".to_owned()),
    );
    assert_eq!(PlanError::CurrencyNotOffered("GBP".into()).kind(), RefusalKind::Rule);
}

#[test]
fn terms_name_the_missing_price_and_codes_are_checked() {
    let plan = state(vec![created()]);
    let gbp = crate::money::Currency::parse("GBP").unwrap();
    assert_eq!(
        plan.terms(gbp, BillingPeriod::Month, date!(2025 - 09 - 01)),
        Err(PlanError::NoPrice { currency: "GBP".to_owned(), period: "month" })
    );
    assert_eq!(PlanCode::parse("Pro-2").unwrap().as_str(), "pro-2");
    for bad in ["p", "2pro", "pro plan", "", &"x".repeat(33)] {
        assert!(PlanCode::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn monthly_periods_keep_their_anchor_through_short_months() {
    let span = |anchor, start| {
        let p = BillingPeriod::Month.span(anchor, start);
        (p.start(), p.end())
    };
    assert_eq!(span(1, date!(2025 - 09 - 01)), (date!(2025 - 09 - 01), date!(2025 - 09 - 30)));
    assert_eq!(span(31, date!(2025 - 01 - 31)), (date!(2025 - 01 - 31), date!(2025 - 02 - 27)));
    assert_eq!(span(31, date!(2025 - 02 - 28)), (date!(2025 - 02 - 28), date!(2025 - 03 - 30)));
    assert_eq!(span(31, date!(2025 - 03 - 31)), (date!(2025 - 03 - 31), date!(2025 - 04 - 29)));
    assert_eq!(span(15, date!(2025 - 12 - 15)), (date!(2025 - 12 - 15), date!(2026 - 01 - 14)));
    let year = BillingPeriod::Year.span(29, date!(2024 - 02 - 29));
    assert_eq!((year.start(), year.end()), (date!(2024 - 02 - 29), date!(2025 - 02 - 27)));
}

#[test]
fn limits_overage_and_retirement_change_once_and_trials_are_bounded() {
    let PlanCommand::Create { limits, overage, .. } = starter() else { unreachable!() };
    TestFramework::<Plan>::with(())
        .given(vec![created()])
        .when(PlanCommand::ChangeLimits { limits })
        .then_expect_events(vec![]);
    let roomier = PlanLimits { sites: Limit::Up(8), ..limits };
    TestFramework::<Plan>::with(())
        .given(vec![created()])
        .when(PlanCommand::ChangeLimits { limits: roomier })
        .then_expect_events(vec![PlanEvent::LimitsChanged { limits: roomier }]);
    TestFramework::<Plan>::with(())
        .given(vec![created()])
        .when(PlanCommand::ChangeOverage { overage: overage.clone() })
        .then_expect_events(vec![]);
    TestFramework::<Plan>::with(())
        .given(vec![created()])
        .when(PlanCommand::Retire)
        .then_expect_events(vec![PlanEvent::Retired]);
    TestFramework::<Plan>::with(())
        .given(vec![created(), PlanEvent::Retired])
        .when(PlanCommand::Retire)
        .then_expect_events(vec![]);
    TestFramework::<Plan>::with(())
        .given_no_previous_events()
        .when(PlanCommand::Retire)
        .then_expect_error(PlanError::NotFound);
    let PlanCommand::Create { plan_id, code, name, prices, limits, overage, today, .. } = starter() else {
        unreachable!()
    };
    TestFramework::<Plan>::with(())
        .given_no_previous_events()
        .when(PlanCommand::Create { plan_id, code, name, prices, limits, trial_days: 91, overage, today })
        .then_expect_error(PlanError::TrialTooLong { max: 90 });
    TestFramework::<Plan>::with(())
        .given(vec![created()])
        .when(starter())
        .then_expect_error(PlanError::AlreadyExists);
}

#[test]
fn limits_stored_before_site_resources_existed_read_the_defaults() {
    let stored = serde_json::json!({
        "sites": {"up": 5},
        "storage_gb": {"up": 10},
        "backups": {"frequency": "daily", "retention_days": 7, "keep": null},
        "support": "standard"
    });
    let limits: PlanLimits = serde_json::from_value(stored).unwrap();
    assert_eq!(limits.site, SiteResources::default());
    assert!(SiteResources { php_workers: 0, ..SiteResources::default() }.check().is_err());
    assert_eq!(
        SiteResources { upload_mb: 5000, ..SiteResources::default() }.check().unwrap_err().0,
        "upload_mb"
    );
}
