//! Drafts, issuing, and what an issued document refuses. Amounts worked out by hand.

mod credits;
mod drafts;

use cqrs_es::test::TestFramework;
use time::macros::date;
use uuid::Uuid;

use super::*;
use crate::billing::tests::{currency, foreign_company, money, romanian_company, seller};
use crate::billing::{
    DocumentNumber, ExchangeRate, Iban, Party, PaymentMeans, Quantity, RateCategory, Series, UnitCode,
    VatCategory, VatIdStatus, VatRateTable,
};
use crate::error::{Refusal, RefusalKind};

pub(super) fn id(n: u128) -> InvoiceId {
    InvoiceId::from_uuid(Uuid::from_u128(n))
}

pub(super) fn tenant() -> TenantId {
    TenantId::from_uuid(Uuid::from_u128(3))
}

pub(super) fn line(description: &str, price: Money, thousandths: i64) -> DraftLine {
    DraftLine::new(
        description,
        Quantity::from_thousandths(thousandths).unwrap(),
        UnitCode::Month,
        price,
        RateCategory::Standard,
        None,
    )
    .unwrap()
}

pub(super) fn created(n: u128, kind: DocumentKind, code: &str, lines: Vec<DraftLine>) -> InvoiceEvent {
    InvoiceEvent::DraftCreated {
        invoice_id: id(n),
        tenant_id: tenant(),
        kind,
        currency: currency(code),
        lines,
        coupon: None,
        billing: None,
        corrects: None,
        from_proforma: None,
    }
}

pub(super) fn number(series: &str, sequence: u64) -> DocumentNumber {
    DocumentNumber::new(Series::parse(series).unwrap(), sequence).unwrap()
}

/// Terms for issuing on 2025-09-01 to `buyer`, number `BRT000001`.
pub(super) fn terms(buyer: Party, buyer_vat: VatIdStatus, code: &str) -> IssueTerms {
    let day = date!(2025 - 09 - 01);
    IssueTerms {
        number: number("BRT", 1),
        issue_date: day,
        due_date: Some(date!(2025 - 09 - 15)),
        supply_date: day,
        seller: seller(),
        payment: PaymentMeans::bank_transfer(Iban::parse("RO49AAAA1B31007593840000").unwrap(), None).unwrap(),
        buyer,
        buyer_vat,
        rates: VatRateTable::builtin().clone(),
        exchange_rate: (code != "RON").then(|| ExchangeRate::parse("4.9763", day).unwrap()),
        corrects: None,
    }
}

pub(super) fn issue(terms: IssueTerms) -> InvoiceCommand {
    InvoiceCommand::Issue { terms: Box::new(terms) }
}

pub(super) fn replay(events: Vec<InvoiceEvent>) -> Invoice {
    let mut invoice = Invoice::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut invoice, event);
    }
    invoice
}

/// The events of issuing draft `n` (RON, two lines) to a Romanian company.
pub(super) fn issued_ron(n: u128) -> Vec<InvoiceEvent> {
    let draft = created(n, DocumentKind::Invoice, "RON", ron_lines());
    let events = TestFramework::<Invoice>::with(())
        .given(vec![draft.clone()])
        .when(issue(terms(romanian_company(), VatIdStatus::Verified, "RON")))
        .inspect_result()
        .unwrap();
    vec![draft].into_iter().chain(events).collect()
}

fn ron_lines() -> Vec<DraftLine> {
    vec![line("Găzduire", money(10_000, "RON"), 1000), line("Backup", money(4_999, "RON"), 3000)]
}

#[test]
fn issuing_freezes_the_draft_with_vat_computed_once_per_rate() {
    // 100.00 + 3 × 49.99 = 249.97 RON at 21% (supply 2025-09-01): VAT 52.4937 → 52.49, total 302.46.
    let state = replay(issued_ron(1));
    let document = state.document().unwrap();
    assert_eq!(state.status(), InvoiceStatus::Issued);
    assert_eq!(document.number().to_string(), "BRT000001");
    assert_eq!(document.totals().tax_exclusive, money(24_997, "RON"));
    assert_eq!(document.totals().vat_total, money(5_249, "RON"));
    assert_eq!(document.totals().payable, money(30_246, "RON"));
    assert_eq!(state.remaining(), Some(money(30_246, "RON")));
}

#[test]
fn an_issued_invoice_refuses_every_change_naming_its_number() {
    let issued = issued_ron(1);
    let changes = vec![
        InvoiceCommand::AddLine { line: line("Extra", money(100, "RON"), 1000) },
        InvoiceCommand::RemoveLine { position: 1 },
        InvoiceCommand::SetCoupon { coupon: None },
        InvoiceCommand::SetNotes { notes: vec!["Altă notă".into()] },
        InvoiceCommand::Discard,
        issue(terms(romanian_company(), VatIdStatus::Verified, "RON")),
    ];
    for change in changes {
        let refusal =
            TestFramework::<Invoice>::with(()).given(issued.clone()).when(change.clone()).inspect_result();
        let error = refusal.expect_err("an issued invoice refuses the change");
        assert_eq!(error, InvoiceError::Issued { number: "BRT000001".into() }, "{change:?}");
        assert_eq!((error.code(), error.kind()), ("invoice-issued", RefusalKind::Conflict));
        assert!(error.to_string().contains("BRT000001 is issued and never changes"));
    }
}

#[test]
fn an_unverified_eu_vat_id_never_gets_reverse_charge() {
    let lines = vec![line("Hosting", money(10_000, "EUR"), 1000)];
    let draft = created(1, DocumentKind::Invoice, "EUR", lines);
    let german = foreign_company("DE", Some("DE123456789"));
    let tax_of = |status| {
        let events = TestFramework::<Invoice>::with(())
            .given(vec![draft.clone()])
            .when(issue(terms(german.clone(), status, "EUR")))
            .inspect_result()
            .unwrap();
        let InvoiceEvent::Issued { document } = &events[0] else { unreachable!() };
        let tax = document.vat_breakdown()[0].tax();
        (tax.category(), tax.rate().basis_points(), document.totals().vat_total.amount_minor())
    };
    // Unverified: taxed as a consumer in Germany (OSS, 19%): 100.00 EUR → 19.00 VAT.
    assert_eq!(tax_of(VatIdStatus::Unverified), (VatCategory::Standard, 1900, 1_900));
    // Verified: reverse charge, no VAT.
    assert_eq!(tax_of(VatIdStatus::Verified), (VatCategory::ReverseCharge, 0, 0));
}

#[test]
fn one_invoice_per_subscription_period_is_claimed_when_it_is_issued() {
    use crate::aggregate::Consequences;
    use crate::unique::{Unique, UniqueChange, UniqueScope};
    let period = crate::billing::ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 30)).unwrap();
    let subscription = crate::ids::SubscriptionId::from_uuid(Uuid::from_u128(21));
    let InvoiceEvent::DraftCreated {
        invoice_id,
        tenant_id,
        kind,
        currency,
        lines,
        coupon,
        corrects,
        from_proforma,
        ..
    } = created(1, DocumentKind::Invoice, "RON", ron_lines())
    else {
        unreachable!()
    };
    let billing = Some(SubscriptionPeriod { subscription_id: subscription, period });
    let draft = InvoiceEvent::DraftCreated {
        invoice_id,
        tenant_id,
        kind,
        currency,
        lines,
        coupon,
        billing,
        corrects,
        from_proforma,
    };
    let events = TestFramework::<Invoice>::with(())
        .given(vec![draft.clone()])
        .when(issue(terms(romanian_company(), VatIdStatus::Verified, "RON")))
        .inspect_result()
        .unwrap();
    let state = replay(vec![draft, events[0].clone()]);
    let claim = Unique::new(
        UniqueScope::InvoicePeriod,
        format!("{subscription}@2025-09-01"),
        format!("invoice:{}", id(1)),
    );
    assert_eq!(state.uniques(&events[0]), vec![UniqueChange::Claim(claim)]);
}

#[test]
fn proformas_are_invoiced_once_and_only_after_payment() {
    let proforma = created(5, DocumentKind::Proforma, "RON", ron_lines());
    let mut proforma_terms = terms(romanian_company(), VatIdStatus::Verified, "RON");
    proforma_terms.number = number("PRO", 1);
    let issued = TestFramework::<Invoice>::with(())
        .given(vec![proforma.clone()])
        .when(issue(proforma_terms))
        .inspect_result()
        .unwrap();
    let given: Vec<_> = vec![proforma].into_iter().chain(issued).collect();
    TestFramework::<Invoice>::with(())
        .given(given.clone())
        .when(InvoiceCommand::MarkInvoiced { invoice: id(6) })
        .then_expect_error(InvoiceError::ProformaNotPaid);
    let paid = InvoiceEvent::ProformaPaid { paid_on: date!(2025 - 09 - 03) };
    TestFramework::<Invoice>::with(())
        .given(given.clone())
        .when(InvoiceCommand::RecordPayment { paid_on: date!(2025 - 09 - 03) })
        .then_expect_events(vec![paid.clone()]);
    let with_paid: Vec<_> = given.into_iter().chain([paid]).collect();
    TestFramework::<Invoice>::with(())
        .given(with_paid.clone())
        .when(InvoiceCommand::MarkInvoiced { invoice: id(6) })
        .then_expect_events(vec![InvoiceEvent::ProformaInvoiced { invoice: id(6) }]);
    TestFramework::<Invoice>::with(())
        .given(with_paid.into_iter().chain([InvoiceEvent::ProformaInvoiced { invoice: id(6) }]).collect())
        .when(InvoiceCommand::MarkInvoiced { invoice: id(7) })
        .then_expect_error(InvoiceError::AlreadyInvoiced(id(6).to_string()));
    TestFramework::<Invoice>::with(())
        .given(issued_ron(1))
        .when(InvoiceCommand::RecordPayment { paid_on: date!(2025 - 09 - 03) })
        .then_expect_error(InvoiceError::NotAProforma);
}

#[test]
fn an_issued_invoice_reads_back_through_the_event_registry() {
    use cqrs_es::DomainEvent;
    let events = issued_ron(1);
    for event in events {
        let payload = serde_json::to_value(&event).unwrap();
        let decoded =
            crate::event::Event::decode("invoice", &event.event_type(), &event.event_version(), payload)
                .unwrap();
        assert_eq!(decoded, crate::event::Event::Invoice(event));
    }
}
