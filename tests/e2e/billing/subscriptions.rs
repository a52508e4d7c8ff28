//! Subscriptions against the real store: the period-end timer and the tenant's one claim,
//! changes mid-period with the amounts written out, VIES verification before reverse charge,
//! and usage billed beyond the plan.

use std::time::Duration;

use berth_domain::billing::{CouponValue, DocumentKind, PlanChange, Quantity, VatCategory};
use berth_domain::coupon::CouponCode;
use berth_domain::ids::{PlanId, SubscriptionId, TenantId};
use berth_domain::invoice::{Invoice, InvoiceCommand};
use berth_domain::plan::{BillingPeriod, Metric, Plan};
use berth_domain::subscription::{
    period_charges, CurrentUsage, Subscription, SubscriptionCommand, SubscriptionError, SubscriptionEvent,
};
use berth_domain::usage::{usage_command_id, Usage, UsageCommand, UsageKey};
use berth_eventstore::billing::{subscribe, BillingError, SubscribeRequest};
use berth_eventstore::execute::{ExecuteError, RetryPolicy};
use berth_eventstore::timers::{lease_due, Fired};
use berth_sagas::vies::{check_vat_id, FakeVies, VatCheck};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{attempt, by, currency, german_company, money, romanian_company, run, World};

pub(super) const NOW: OffsetDateTime = datetime!(2025-09-01 09:00 UTC);

pub(super) fn request(
    tenant: TenantId,
    plan: PlanId,
    code: &str,
    coupon: Option<&str>,
    today: Date,
) -> SubscribeRequest {
    SubscribeRequest {
        subscription_id: SubscriptionId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant,
        plan_id: plan,
        period: BillingPeriod::Month,
        currency: currency(code),
        coupon: coupon.map(|c| CouponCode::parse(c).unwrap()),
        today,
        now: NOW,
    }
}

async fn subscription(world: &World, id: SubscriptionId) -> Subscription {
    world.store.load::<Subscription>(&id.to_string()).await.unwrap().aggregate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_period_end_is_a_durable_timer_and_a_tenant_has_one_running_subscription() {
    let world = World::new().await;
    let plans = world.plans().await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    let first = request(tenant, plans[0], "RON", None, date!(2025 - 09 - 01));
    subscribe(&world.store, &first, &by(tenant), RetryPolicy::default()).await.unwrap();
    // Starter's 14-day trial ends on the 14th; its timer fires at the first moment after it.
    let key = format!("subscription-period:{}", first.subscription_id);
    let (status, due): (String, OffsetDateTime) =
        sqlx::query_as("SELECT status, due_at FROM timers WHERE key = $1")
            .bind(&key)
            .fetch_one(&world.env.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), due), ("scheduled", datetime!(2025-09-15 00:00 UTC)));
    let second = request(tenant, plans[1], "RON", None, date!(2025 - 09 - 02));
    let taken = subscribe(&world.store, &second, &by(tenant), RetryPolicy::default()).await.unwrap_err();
    assert!(
        matches!(&taken, BillingError::Taken { scope, .. } if scope == "tenant-subscription"),
        "{taken:?}"
    );

    // The timer fires as the subscription's EndPeriod, once.
    let due = lease_due(&world.env.pool, datetime!(2025-09-15 00:00 UTC), 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(world.store.fire(&due[0], RetryPolicy::default()).await, Fired::Applied);
    let state = subscription(&world, first.subscription_id).await;
    assert_eq!(state.current_period().unwrap().end(), date!(2025 - 09 - 14));
    let ended: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'SubscriptionPeriodEnded'")
            .fetch_one(&world.env.pool)
            .await
            .unwrap();
    assert_eq!(ended, 1);

    // Cancelled, the tenant may subscribe again.
    let cancel = SubscriptionCommand::Cancel { at_period_end: false, today: date!(2025 - 09 - 14) };
    run::<Subscription>(&world.store, &first.subscription_id.to_string(), cancel, &by(tenant)).await;
    subscribe(&world.store, &second, &by(tenant), RetryPolicy::default()).await.unwrap();
    world.env.cleanup().await;
}

/// A Starter subscription in euro past its trial: its first paid period is 15 Sep – 14 Oct.
async fn paid_starter(world: &World, plans: &[PlanId], tenant: TenantId) -> SubscriptionId {
    let start = request(tenant, plans[0], "EUR", None, date!(2025 - 09 - 01));
    subscribe(&world.store, &start, &by(tenant), RetryPolicy::default()).await.unwrap();
    let id = start.subscription_id.to_string();
    run::<Subscription>(
        &world.store,
        &id,
        SubscriptionCommand::EndPeriod { period_end: date!(2025 - 09 - 14) },
        &by(tenant),
    )
    .await;
    let plan = world.store.load::<Plan>(&plans[0].to_string()).await.unwrap().aggregate;
    let terms = plan.terms(currency("EUR"), BillingPeriod::Month, date!(2025 - 09 - 15)).unwrap();
    run::<Subscription>(&world.store, &id, SubscriptionCommand::Renew { plan: terms }, &by(tenant)).await;
    start.subscription_id
}

async fn last_event(world: &World, id: SubscriptionId) -> SubscriptionEvent {
    let payload: serde_json::Value = sqlx::query_scalar(
        "SELECT payload FROM events WHERE aggregate_type = 'subscription' AND aggregate_id = $1 ORDER BY sequence DESC LIMIT 1",
    )
    .bind(id.to_string())
    .fetch_one(&world.env.pool)
    .await
    .unwrap();
    serde_json::from_value(payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_downgrade_and_cancel_in_the_middle_of_a_period() {
    let world = World::new().await;
    let plans = world.plans().await;
    let tenant = world.tenant(romanian_company(), "EUR").await;
    let id = paid_starter(&world, &plans, tenant).await;
    let pro = world.store.load::<Plan>(&plans[1].to_string()).await.unwrap().aggregate;
    let pro = pro.terms(currency("EUR"), BillingPeriod::Month, date!(2025 - 09 - 15)).unwrap();
    let starter = world.store.load::<Plan>(&plans[0].to_string()).await.unwrap().aggregate;
    let starter = starter.terms(currency("EUR"), BillingPeriod::Month, date!(2025 - 09 - 15)).unwrap();

    // Upgrade on 25 September: 25 Sep – 14 Oct remain, 20 of 30 days. Credit 29.00 × 20 / 30
    // = 19.3333… → 19.33 EUR; charge 79.00 × 20 / 30 = 52.6666… → 52.67 EUR.
    let upgrade = SubscriptionCommand::Upgrade { plan: pro.clone(), today: date!(2025 - 09 - 25) };
    run::<Subscription>(&world.store, &id.to_string(), upgrade, &by(tenant)).await;
    let SubscriptionEvent::Upgraded { proration, .. } = last_event(&world, id).await else {
        panic!("not upgraded")
    };
    let expected = PlanChange {
        credit: money(1_933, "EUR"),
        charge: money(5_267, "EUR"),
        remaining_days: 20,
        period_days: 30,
    };
    assert_eq!(proration, Some(expected));

    // Back down to Starter with six sites: refused, naming the limit.
    let down = SubscriptionCommand::Downgrade {
        plan: starter.clone(),
        usage: CurrentUsage { sites: 6, storage_gb: 2 },
        today: date!(2025 - 10 - 01),
    };
    match attempt::<Subscription>(&world.store, &id.to_string(), down, &by(tenant)).await {
        Err(ExecuteError::Rejected(error)) => {
            assert_eq!(error, SubscriptionError::DowngradeDoesNotFit { limit: "sites", used: 6, allowed: 5 });
            assert_eq!(
                berth_domain::error::Refusal::kind(&error),
                berth_domain::error::RefusalKind::Conflict
            );
            assert_eq!(error.to_string(), "the plan allows 5 sites, but 6 are in use");
        }
        other => panic!("the downgrade was not refused: {other:?}"),
    }
    // With four sites it is scheduled for the day after the period.
    let fits = SubscriptionCommand::Downgrade {
        plan: starter,
        usage: CurrentUsage { sites: 4, storage_gb: 2 },
        today: date!(2025 - 10 - 01),
    };
    run::<Subscription>(&world.store, &id.to_string(), fits, &by(tenant)).await;
    assert!(
        matches!(last_event(&world, id).await, SubscriptionEvent::DowngradeScheduled { effective, .. } if effective == date!(2025 - 10 - 15))
    );

    // Cancel now on 5 October: 5 – 14 October unused, 10 of 30 days of Pro: 79.00 × 10 / 30
    // = 26.3333… → 26.33 EUR credited.
    let cancel = SubscriptionCommand::Cancel { at_period_end: false, today: date!(2025 - 10 - 05) };
    run::<Subscription>(&world.store, &id.to_string(), cancel, &by(tenant)).await;
    assert_eq!(
        last_event(&world, id).await,
        SubscriptionEvent::Cancelled {
            on: date!(2025 - 10 - 05),
            credit: Some(money(2_633, "EUR")),
            remaining_days: 10,
            period_days: 30
        }
    );
    let status: String = sqlx::query_scalar("SELECT status FROM timers WHERE key = $1")
        .bind(format!("subscription-period:{id}"))
        .fetch_one(&world.env.pool)
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
    world.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_charge_waits_for_vies_to_verify_the_vat_id() {
    let world = World::new().await;
    let tenant = world.tenant(german_company(), "EUR").await;
    let vies = FakeVies::new();
    vies.register("DE123456789", Some("Müller Hosting GmbH"));
    let lines = || vec![super::line("Managed hosting", money(10_000, "EUR"), 1000)];
    let tax = |invoice: Invoice| {
        let document = invoice.document().unwrap().clone();
        let subtotal = document.vat_breakdown()[0];
        (subtotal.tax().category(), subtotal.vat().amount_minor())
    };
    // Unverified: German VAT through OSS, 19% of 100.00.
    let before = world.draft(tenant, DocumentKind::Invoice, "EUR", lines(), None, None).await;
    world.issue(tenant, before).await.unwrap();
    assert_eq!(tax(world.invoice(before).await), (VatCategory::Standard, 1_900));
    // VIES down: nothing is recorded, the id stays unverified.
    vies.take_down("DE");
    let down = check_vat_id(&world.store, &vies, tenant, NOW, &by(tenant), RetryPolicy::default()).await;
    assert!(down.is_err());
    vies.bring_up("DE");
    let checked =
        check_vat_id(&world.store, &vies, tenant, NOW, &by(tenant), RetryPolicy::default()).await.unwrap();
    assert_eq!(checked, VatCheck::Verified);
    let after = world.draft(tenant, DocumentKind::Invoice, "EUR", lines(), None, None).await;
    world.issue(tenant, after).await.unwrap();
    assert_eq!(tax(world.invoice(after).await), (VatCategory::ReverseCharge, 0));
    world.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_recorded_once_per_key_and_billed_beyond_the_plan_at_invoicing() {
    let world = World::new().await;
    let plans = world.plans().await;
    let tenant = world.tenant(romanian_company(), "EUR").await;
    let id = paid_starter(&world, &plans, tenant).await;
    let period = subscription(&world, id).await.current_period().unwrap();
    let key = UsageKey::parse("storage:2025-09-30").unwrap();
    let record = UsageCommand::Record {
        tenant_id: tenant,
        subscription_id: id,
        metric: Metric::StorageGb,
        quantity: Quantity::from_thousandths(12_500).unwrap(),
        period,
        key: key.clone(),
    };
    let mut meta = by(tenant);
    meta.command_id = usage_command_id(id, &key);
    let first = run::<Usage>(&world.store, &id.to_string(), record.clone(), &meta).await;
    let again = run::<Usage>(&world.store, &id.to_string(), record, &meta).await;
    assert!(!first.duplicate && again.duplicate, "a reading sent twice is recorded once");
    // Starter includes 10 GB: 2.5 GB at 0.50 EUR = 1.25 EUR on top of 29.00 EUR.
    let usage = world.store.load::<Usage>(&id.to_string()).await.unwrap().aggregate;
    let charges = period_charges(&subscription(&world, id).await, &usage).unwrap();
    let invoice =
        world.draft(tenant, DocumentKind::Invoice, "EUR", charges.lines, Some(charges.billing), None).await;
    world.issue(tenant, invoice).await.unwrap();
    let document = world.invoice(invoice).await.document().unwrap().clone();
    assert_eq!(document.totals().tax_exclusive, money(3_025, "EUR"));
    assert_eq!(document.lines()[1].net(), money(125, "EUR"));
    // A coupon, where one applies, goes on the draft before tax.
    let coupon = berth_domain::billing::Coupon::new("Cupon", CouponValue::Amount(money(100, "EUR"))).unwrap();
    let other = world
        .draft(
            tenant,
            DocumentKind::Invoice,
            "EUR",
            vec![super::line("X", money(500, "EUR"), 1000)],
            None,
            None,
        )
        .await;
    run::<Invoice>(
        &world.store,
        &other.to_string(),
        InvoiceCommand::SetCoupon { coupon: Some(coupon) },
        &by(tenant),
    )
    .await;
    world.issue(tenant, other).await.unwrap();
    assert_eq!(world.invoice(other).await.document().unwrap().totals().tax_exclusive, money(400, "EUR"));
    world.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_plan_takes_no_new_subscriptions() {
    use berth_domain::plan::{PlanCommand, PlanError};
    let world = World::new().await;
    let plans = world.plans().await;
    run::<Plan>(&world.store, &plans[1].to_string(), PlanCommand::Retire, &super::operator()).await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    let retired = request(tenant, plans[1], "RON", None, date!(2025 - 09 - 01));
    let error = subscribe(&world.store, &retired, &by(tenant), RetryPolicy::default()).await.unwrap_err();
    assert_eq!(super::refusal::<PlanError>(&error), PlanError::Retired);
    let code = berth_domain::plan::PlanCode::parse("starter").unwrap();
    assert_eq!(berth_eventstore::billing::plan_by_code(&world.store, &code).await.unwrap(), Some(plans[0]));
    world.env.cleanup().await;
}
