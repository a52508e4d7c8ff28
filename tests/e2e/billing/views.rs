//! The billing views, filled from the log by the projectors: the tenant's invoices with their
//! documents, subscription and billing profile; for operators every invoice, MRR and ARR by
//! plan and currency, and the VAT report. Then: each equals a rebuild from the log.

use berth_domain::billing::{DocumentKind, VatId};
use berth_domain::billing_profile::{BillingProfile, BillingProfileCommand};
use berth_domain::ids::{PlanId, SubscriptionId, TenantId};
use berth_domain::plan::{BillingPeriod, Plan};
use berth_domain::subscription::{Subscription, SubscriptionCommand};
use berth_eventstore::billing::{subscribe, SubscribeRequest};
use berth_eventstore::execute::RetryPolicy;
use time::macros::{date, datetime};
use time::Date;
use uuid::Uuid;

use super::{by, currency, french_person, german_company, line, money, romanian_company, run, World};
use crate::projections::{assert_equals_rebuild, catch_up};

/// A paid subscription of `tenant` to `plan` in `code`, past its trial if it has one; the
/// first paid period begins on the 15th when there was a trial.
async fn paid(
    world: &World,
    tenant: TenantId,
    plan: PlanId,
    period: BillingPeriod,
    code: &str,
) -> SubscriptionId {
    let request = SubscribeRequest {
        subscription_id: SubscriptionId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant,
        plan_id: plan,
        period,
        currency: currency(code),
        coupon: None,
        today: date!(2025 - 09 - 01),
        now: datetime!(2025-09-01 09:00 UTC),
    };
    subscribe(&world.store, &request, &by(tenant), RetryPolicy::default()).await.unwrap();
    let id = request.subscription_id;
    let state = world.store.load::<Subscription>(&id.to_string()).await.unwrap().aggregate;
    if state.status() == berth_domain::subscription::SubscriptionStatus::Trialing {
        let end = state.current_period().unwrap().end();
        run::<Subscription>(
            &world.store,
            &id.to_string(),
            SubscriptionCommand::EndPeriod { period_end: end },
            &by(tenant),
        )
        .await;
        let terms = terms(world, plan, period, code, end.next_day().unwrap()).await;
        run::<Subscription>(
            &world.store,
            &id.to_string(),
            SubscriptionCommand::Renew { plan: terms },
            &by(tenant),
        )
        .await;
    }
    id
}

async fn terms(
    world: &World,
    plan: PlanId,
    period: BillingPeriod,
    code: &str,
    on: Date,
) -> berth_domain::plan::PlanTerms {
    let plan = world.store.load::<Plan>(&plan.to_string()).await.unwrap().aggregate;
    plan.terms(currency(code), period, on).unwrap()
}

/// kind, status, number, total and credited amount of one row of the invoices list.
type ListRow = (String, String, Option<String>, Option<i64>, i64);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_billing_views_follow_the_log_and_equal_a_rebuild() {
    let world = World::new().await;
    let plans = world.plans().await;
    let (starter, pro, enterprise) = (plans[0], plans[1], plans[2]);

    // A: Starter in lei, upgraded to Pro; an invoice of 100.00 + 21% and a credit note of half.
    let a = world.tenant(romanian_company(), "RON").await;
    let a_sub = paid(&world, a, starter, BillingPeriod::Month, "RON").await;
    let upgrade = SubscriptionCommand::Upgrade {
        plan: terms(&world, pro, BillingPeriod::Month, "RON", date!(2025 - 09 - 15)).await,
        today: date!(2025 - 09 - 25),
    };
    run::<Subscription>(&world.store, &a_sub.to_string(), upgrade, &by(a)).await;
    let invoice = world
        .draft(
            a,
            DocumentKind::Invoice,
            "RON",
            vec![line("Găzduire", money(10_000, "RON"), 1000)],
            None,
            None,
        )
        .await;
    world.issue(a, invoice).await.unwrap();
    let credit = world
        .draft(
            a,
            DocumentKind::CreditNote,
            "RON",
            vec![line("Credit", money(5_000, "RON"), 1000)],
            None,
            Some(invoice),
        )
        .await;
    world.issue(a, credit).await.unwrap();
    let proforma = world
        .draft(
            a,
            DocumentKind::Proforma,
            "RON",
            vec![line("Plan Pro", money(39_500, "RON"), 1000)],
            None,
            None,
        )
        .await;
    world.issue(a, proforma).await.unwrap();
    let draft = world
        .draft(
            a,
            DocumentKind::Invoice,
            "RON",
            vec![line("Încă nefacturat", money(100, "RON"), 1000)],
            None,
            None,
        )
        .await;

    // B: Enterprise in euro, a verified German business, reverse-charged.
    let b = world.tenant(german_company(), "EUR").await;
    paid(&world, b, enterprise, BillingPeriod::Month, "EUR").await;
    let verified = BillingProfileCommand::RecordVatCheck {
        vat_id: VatId::parse("DE123456789").unwrap(),
        valid: true,
        checked_at: datetime!(2025-09-01 10:00 UTC),
    };
    run::<BillingProfile>(&world.store, &b.to_string(), verified, &by(b)).await;
    let reverse = world
        .draft(
            b,
            DocumentKind::Invoice,
            "EUR",
            vec![line("Managed hosting", money(25_000, "EUR"), 1000)],
            None,
            None,
        )
        .await;
    world.issue(b, reverse).await.unwrap();

    // C: Pro yearly in lei, a French consumer taxed through OSS.
    let c = world.tenant(french_person(), "RON").await;
    paid(&world, c, pro, BillingPeriod::Year, "RON").await;
    let oss = world
        .draft(
            c,
            DocumentKind::Invoice,
            "EUR",
            vec![line("Hébergement", money(999, "EUR"), 1000)],
            None,
            None,
        )
        .await;
    world.issue(c, oss).await.unwrap();

    catch_up(&world.env).await;
    let pool = &world.env.pool;

    let rows: Vec<ListRow> = sqlx::query_as(
        "SELECT kind, status, number, total_minor, credited_minor FROM proj_invoices.invoices
          WHERE tenant_id = $1 ORDER BY created_at",
    )
    .bind(a.as_uuid())
    .fetch_all(pool)
    .await
    .unwrap();
    let row = |kind: &str, status: &str, number: Option<&str>, total: Option<i64>, credited| {
        (kind.to_owned(), status.to_owned(), number.map(str::to_owned), total, credited)
    };
    assert_eq!(
        rows,
        vec![
            row("invoice", "issued", Some("BRT000001"), Some(12_100), 6_050),
            row("credit_note", "issued", Some("CRN000001"), Some(6_050), 0),
            row("proforma", "issued", Some("PRO000001"), Some(47_795), 0),
            row("invoice", "draft", None, None, 0),
        ]
    );
    let (payable, payments): (String, serde_json::Value) = sqlx::query_as(
        "SELECT document->'totals'->'payable'->>'amount_minor', payments FROM proj_invoices.invoice_documents WHERE id = $1",
    )
    .bind(invoice.as_uuid())
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((payable.as_str(), payments), ("12100", serde_json::json!([])));
    let no_document: i64 =
        sqlx::query_scalar("SELECT count(*) FROM proj_invoices.invoice_documents WHERE id = $1")
            .bind(draft.as_uuid())
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(no_document, 0, "a draft has no document yet");

    let (plan, status, price): (String, String, i64) = sqlx::query_as(
        "SELECT plan_code, status, price_minor FROM proj_subscriptions.subscriptions WHERE id = $1",
    )
    .bind(a_sub.as_uuid())
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((plan.as_str(), status.as_str(), price), ("pro", "active", 39_500));
    let vat: String = sqlx::query_scalar(
        "SELECT vat_status FROM proj_billing_profiles.billing_profiles WHERE tenant_id = $1",
    )
    .bind(b.as_uuid())
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(vat, "verified");
    let all: i64 =
        sqlx::query_scalar("SELECT count(*) FROM proj_all_invoices.invoices").fetch_one(pool).await.unwrap();
    assert_eq!(all, 6);

    // MRR: Pro monthly 395.00 lei and Pro yearly 3 950.00 lei / 12 = 329.1666… → 329.17 lei;
    // Enterprise 249.00 EUR. ARR is twelve times MRR.
    let revenue: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT plan_code, currency, subscriptions, mrr_minor, arr_minor FROM proj_revenue.revenue_by_plan ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        revenue,
        vec![
            ("enterprise".to_owned(), "EUR".to_owned(), 1, 24_900, 298_800),
            ("pro".to_owned(), "RON".to_owned(), 2, 72_417, 869_004),
        ]
    );

    // VAT for September: domestic 100.00 − 50.00 taxable and 21.00 − 10.50 VAT; reverse charge
    // and OSS apart; the proforma is not there.
    let report: Vec<(String, String, i32, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT treatment, buyer_country, rate_bp, currency, documents, taxable_minor, vat_minor
           FROM proj_vat_report.vat_report WHERE month = '2025-09-01' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let line = |t: &str, c: &str, rate, cur: &str, docs, taxable, vat| {
        (t.to_owned(), c.to_owned(), rate, cur.to_owned(), docs, taxable, vat)
    };
    assert_eq!(
        report,
        vec![
            line("domestic", "RO", 2_100, "RON", 2, 5_000, 1_050),
            line("oss", "FR", 2_000, "EUR", 1, 999, 200),
            line("reverse_charge", "DE", 0, "EUR", 1, 25_000, 0),
        ]
    );

    // As the query API's role, one tenant sees only its own documents.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE berth_reader").execute(&mut *tx).await.unwrap();
    sqlx::query("SELECT set_config('berth.tenant_id', $1, true)")
        .bind(b.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let seen: i64 =
        sqlx::query_scalar("SELECT count(*) FROM proj_invoices.invoices").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(seen, 1);
    tx.rollback().await.unwrap();

    assert_equals_rebuild(&world.env).await;
    world.env.cleanup().await;
}
