//! Documents against the real store: an issued one refuses change, credit notes never exceed
//! what remains, one invoice per subscription period, invoices from paid proformas.

use berth_domain::billing::{DocumentKind, ServicePeriod};
use berth_domain::billing_profile::BillingProfileError;
use berth_domain::error::{Refusal, RefusalKind};
use berth_domain::ids::{InvoiceId, SubscriptionId};
use berth_domain::invoice::{Invoice, InvoiceCommand, InvoiceError, SubscriptionPeriod};
use berth_domain::series::NumberSeries;
use berth_eventstore::billing::{issue_document, BillingError};
use berth_eventstore::execute::{ExecuteError, RetryPolicy};
use time::macros::date;
use uuid::Uuid;

use super::{attempt, by, currency, line, money, refusal, request, romanian_company, run, World};

async fn taken(world: &World, series: &str) -> u64 {
    world.store.load::<NumberSeries>(series).await.unwrap().aggregate.taken()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_invoice_refuses_every_change_and_a_repeat_gets_its_number_back() {
    let world = World::new().await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    let id = world
        .draft(
            tenant,
            DocumentKind::Invoice,
            "RON",
            vec![line("Găzduire", money(10_000, "RON"), 1000)],
            None,
            None,
        )
        .await;
    let meta = by(tenant);
    let issued =
        issue_document(&world.store, &request(&world.store, id).await, &meta, RetryPolicy::default())
            .await
            .unwrap();
    assert_eq!(issued.number.to_string(), "BRT000001");
    let events = world.env.event_count().await;

    let changes = vec![
        InvoiceCommand::AddLine { line: line("Extra", money(100, "RON"), 1000) },
        InvoiceCommand::RemoveLine { position: 1 },
        InvoiceCommand::SetCoupon { coupon: None },
        InvoiceCommand::SetNotes { notes: vec!["Notă".into()] },
        InvoiceCommand::Discard,
    ];
    for change in changes {
        match attempt::<Invoice>(&world.store, &id.to_string(), change.clone(), &by(tenant)).await {
            Err(ExecuteError::Rejected(error)) => {
                assert_eq!(error, InvoiceError::Issued { number: "BRT000001".into() }, "{change:?}");
                assert_eq!(error.kind(), RefusalKind::Conflict);
            }
            other => panic!("{change:?} was not refused: {other:?}"),
        }
    }
    // Issuing it again is refused too, and takes no number; the same command again is the
    // first answer.
    let again = world.issue(tenant, id).await.unwrap_err();
    assert_eq!(refusal::<InvoiceError>(&again), InvoiceError::Issued { number: "BRT000001".into() });
    let repeat =
        issue_document(&world.store, &request(&world.store, id).await, &meta, RetryPolicy::default())
            .await
            .unwrap();
    assert!(repeat.duplicate);
    assert_eq!(repeat.number.to_string(), "BRT000001");
    assert_eq!(world.env.event_count().await, events, "nothing was appended");
    assert_eq!(taken(&world, "BRT").await, 1);
    world.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credit_note_larger_than_what_remains_is_refused_and_takes_no_number() {
    let world = World::new().await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    // 100.00 RON + 21% = 121.00 RON.
    let invoice = world
        .draft(
            tenant,
            DocumentKind::Invoice,
            "RON",
            vec![line("Găzduire", money(10_000, "RON"), 1000)],
            None,
            None,
        )
        .await;
    world.issue(tenant, invoice).await.unwrap();
    let credit = |minor| vec![line("Credit zile nefolosite", money(minor, "RON"), 1000)];
    // 50.00 + 21% = 60.50 credited, 60.50 remains.
    let first =
        world.draft(tenant, DocumentKind::CreditNote, "RON", credit(5_000), None, Some(invoice)).await;
    assert_eq!(world.issue(tenant, first).await.unwrap().number.to_string(), "CRN000001");
    assert_eq!(world.invoice(invoice).await.remaining(), Some(money(6_050, "RON")));
    // 51.00 + 21% = 61.71 > 60.50.
    let too_much =
        world.draft(tenant, DocumentKind::CreditNote, "RON", credit(5_100), None, Some(invoice)).await;
    let error = refusal::<InvoiceError>(&world.issue(tenant, too_much).await.unwrap_err());
    assert_eq!(
        error,
        InvoiceError::CreditExceedsRemaining { remaining: "6050 RON".into(), asked: "6171 RON".into() }
    );
    assert_eq!(error.kind(), RefusalKind::Rule);
    assert_eq!(taken(&world, "CRN").await, 1, "the refused credit note took no number");
    assert!(world.invoice(too_much).await.document().is_none());
    // Exactly what remains is fine, and numbers go on without a gap.
    let rest = world.draft(tenant, DocumentKind::CreditNote, "RON", credit(5_000), None, Some(invoice)).await;
    assert_eq!(world.issue(tenant, rest).await.unwrap().number.to_string(), "CRN000002");
    assert_eq!(world.invoice(invoice).await.remaining(), Some(money(0, "RON")));
    // A credit note in another currency than its invoice is refused.
    let euros = world
        .draft(
            tenant,
            DocumentKind::CreditNote,
            "EUR",
            vec![line("Credit", money(100, "EUR"), 1000)],
            None,
            Some(invoice),
        )
        .await;
    let error = refusal::<InvoiceError>(&world.issue(tenant, euros).await.unwrap_err());
    assert_eq!(error, InvoiceError::CurrencyMismatch { expected: "RON".into(), found: "EUR".into() });
    world.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invoice_per_subscription_period_is_enforced_by_the_store() {
    let world = World::new().await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    let september = ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 30)).unwrap();
    let billing = Some(SubscriptionPeriod {
        subscription_id: SubscriptionId::from_uuid(Uuid::now_v7()),
        period: september,
    });
    let lines = || vec![line("Plan Starter", money(14_500, "RON"), 1000)];
    let one = world.draft(tenant, DocumentKind::Invoice, "RON", lines(), billing, None).await;
    let two = world.draft(tenant, DocumentKind::Invoice, "RON", lines(), billing, None).await;
    // Both at once: one is issued, the other refused by the claim, and no number is lost.
    let (a, b) = tokio::join!(world.issue(tenant, one), world.issue(tenant, two));
    let (won, lost) = match (a, b) {
        (Ok(issued), Err(error)) => ((one, issued), error),
        (Err(error), Ok(issued)) => ((two, issued), error),
        other => panic!("exactly one invoice per period: {other:?}"),
    };
    assert!(matches!(&lost, BillingError::Taken { scope, .. } if scope == "invoice-period"), "{lost:?}");
    assert_eq!(won.1.number.to_string(), "BRT000001");
    assert_eq!(taken(&world, "BRT").await, 1);
    // Cancelled in full by a credit note, the period can be invoiced again.
    let credit = world.draft(tenant, DocumentKind::CreditNote, "RON", lines(), None, Some(won.0)).await;
    world.issue(tenant, credit).await.unwrap();
    let third = world.draft(tenant, DocumentKind::Invoice, "RON", lines(), billing, None).await;
    assert_eq!(world.issue(tenant, third).await.unwrap().number.to_string(), "BRT000002");
    world.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fiscal_invoice_is_issued_from_a_paid_proforma_once() {
    let world = World::new().await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    let lines = vec![line("Găzduire web, plan Pro", money(39_500, "RON"), 1000)];
    let proforma = world.draft(tenant, DocumentKind::Proforma, "RON", lines.clone(), None, None).await;
    assert_eq!(world.issue(tenant, proforma).await.unwrap().number.to_string(), "PRO000001");
    let from = |invoice_id| InvoiceCommand::CreateDraft {
        invoice_id,
        tenant_id: tenant,
        kind: DocumentKind::Invoice,
        currency: currency("RON"),
        lines: lines.clone(),
        coupon: None,
        billing: None,
        corrects: None,
        from_proforma: Some(proforma),
    };
    let invoice = InvoiceId::from_uuid(Uuid::now_v7());
    run::<Invoice>(&world.store, &invoice.to_string(), from(invoice), &by(tenant)).await;
    let unpaid = refusal::<InvoiceError>(&world.issue(tenant, invoice).await.unwrap_err());
    assert_eq!((unpaid.clone(), unpaid.kind()), (InvoiceError::ProformaNotPaid, RefusalKind::Conflict));
    assert_eq!(taken(&world, "BRT").await, 0);
    let paid = InvoiceCommand::RecordPayment { paid_on: date!(2025 - 09 - 02) };
    run::<Invoice>(&world.store, &proforma.to_string(), paid, &by(tenant)).await;
    assert_eq!(world.issue(tenant, invoice).await.unwrap().number.to_string(), "BRT000001");
    let second = InvoiceId::from_uuid(Uuid::now_v7());
    run::<Invoice>(&world.store, &second.to_string(), from(second), &by(tenant)).await;
    let twice = refusal::<InvoiceError>(&world.issue(tenant, second).await.unwrap_err());
    assert_eq!(twice, InvoiceError::AlreadyInvoiced(invoice.to_string()));
    assert_eq!(taken(&world, "BRT").await, 1);
    world.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn currencies_never_mix_and_a_buyer_needs_a_billing_profile() {
    let world = World::new().await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    let id = world.draft(tenant, DocumentKind::Invoice, "RON", vec![], None, None).await;
    let euros = InvoiceCommand::AddLine { line: line("Hosting", money(500, "EUR"), 1000) };
    match attempt::<Invoice>(&world.store, &id.to_string(), euros, &by(tenant)).await {
        Err(ExecuteError::Rejected(error)) => {
            assert_eq!(error, InvoiceError::CurrencyMismatch { expected: "RON".into(), found: "EUR".into() });
            assert_eq!((error.code(), error.kind()), ("currency-mismatch", RefusalKind::Rule));
        }
        other => panic!("mixed currencies were accepted: {other:?}"),
    }
    let stranger = berth_domain::ids::TenantId::from_uuid(Uuid::now_v7());
    let orphan = world
        .draft(stranger, DocumentKind::Invoice, "RON", vec![line("X", money(100, "RON"), 1000)], None, None)
        .await;
    let error = refusal::<BillingProfileError>(&world.issue(stranger, orphan).await.unwrap_err());
    assert_eq!(error, BillingProfileError::NotFound);
    assert_eq!(taken(&world, "BRT").await, 0);
    world.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_the_seller_reaches_documents_issued_after_it_only() {
    use berth_domain::billing::{Iban, Party};
    use berth_domain::seller::{Seller, SellerCommand, SELLER_ID};
    let world = World::new().await;
    let tenant = world.tenant(romanian_company(), "RON").await;
    let lines = || vec![line("Găzduire", money(10_000, "RON"), 1000)];
    let before = world.draft(tenant, DocumentKind::Invoice, "RON", lines(), None, None).await;
    world.issue(tenant, before).await.unwrap();
    let old = super::seller();
    let renamed = Party::company(
        "Berth Cloud SRL",
        old.address().clone(),
        old.vat_id().cloned(),
        old.registration(),
        old.email().cloned(),
    )
    .unwrap();
    let change = SellerCommand::SetDetails {
        party: Box::new(renamed),
        iban: Iban::parse("DE89370400440532013000").unwrap(),
        bank_name: None,
    };
    run::<Seller>(&world.store, SELLER_ID, change, &super::operator()).await;
    let after = world.draft(tenant, DocumentKind::Invoice, "RON", lines(), None, None).await;
    world.issue(tenant, after).await.unwrap();
    let first = world.invoice(before).await.document().unwrap().clone();
    let second = world.invoice(after).await.document().unwrap().clone();
    assert_eq!(first.seller().legal_name(), "Berth Găzduire SRL");
    assert_eq!(second.seller().legal_name(), "Berth Cloud SRL");
    assert!(
        matches!(second.payment(), berth_domain::billing::PaymentMeans::BankTransfer { iban, .. } if iban.as_str() == "DE89370400440532013000")
    );
    world.env.cleanup().await;
}
