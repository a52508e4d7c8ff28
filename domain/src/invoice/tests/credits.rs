//! Credit notes: they name their invoice, and never credit more than remains of it.

use cqrs_es::test::TestFramework;
use time::macros::date;

use super::{created, id, issue, issued_ron, line, number, replay, tenant, terms};
use crate::aggregate::Consequences;
use crate::billing::tests::{currency, foreign_company, money, romanian_company};
use crate::billing::{DocumentKind, InvoiceReference, VatIdStatus};
use crate::error::{Refusal, RefusalKind};
use crate::invoice::*;

fn credit(note: u128, minor: i64) -> InvoiceCommand {
    InvoiceCommand::RecordCredit {
        credit_note: id(note),
        number: number("CRN", 1),
        amount: money(minor, "RON"),
    }
}

#[test]
fn a_credit_note_names_the_invoice_it_corrects() {
    TestFramework::<Invoice>::with(())
        .given_no_previous_events()
        .when(InvoiceCommand::CreateDraft {
            invoice_id: id(2),
            tenant_id: tenant(),
            kind: DocumentKind::CreditNote,
            currency: currency("RON"),
            lines: vec![],
            coupon: None,
            billing: None,
            corrects: None,
            from_proforma: None,
        })
        .then_expect_error(InvoiceError::Links("a credit note names the invoice it corrects"));
    // Issued with the invoice's reference, the credit note is a document of its own.
    let draft = InvoiceEvent::DraftCreated {
        invoice_id: id(2),
        tenant_id: tenant(),
        kind: DocumentKind::CreditNote,
        currency: currency("RON"),
        lines: vec![line("Credit pentru zile nefolosite", money(5_000, "RON"), 1000)],
        coupon: None,
        billing: None,
        corrects: Some(id(1)),
        from_proforma: None,
    };
    let mut credit_terms = terms(romanian_company(), VatIdStatus::Verified, "RON");
    credit_terms.number = number("CRN", 1);
    credit_terms.due_date = None;
    TestFramework::<Invoice>::with(())
        .given(vec![draft.clone()])
        .when(issue(credit_terms.clone()))
        .then_expect_error(InvoiceError::Links(
            "a credit note is issued with the invoice it corrects, and only it",
        ));
    credit_terms.corrects =
        Some(InvoiceReference { number: number("BRT", 1), issue_date: date!(2025 - 09 - 01) });
    let events = TestFramework::<Invoice>::with(())
        .given(vec![draft])
        .when(issue(credit_terms))
        .inspect_result()
        .unwrap();
    let InvoiceEvent::Issued { document } = &events[0] else { unreachable!() };
    // 50.00 RON at 21%: 10.50 VAT, 60.50 in all.
    assert_eq!(document.totals().payable, money(6_050, "RON"));
    assert_eq!(document.corrects().unwrap().number.to_string(), "BRT000001");
}

#[test]
fn a_credit_larger_than_what_remains_is_refused() {
    // The invoice is 302.46 RON; 60.50 credited leaves 241.96.
    let first = InvoiceEvent::Credited {
        credit_note: id(2),
        number: number("CRN", 1),
        amount: money(6_050, "RON"),
        remaining: money(24_196, "RON"),
    };
    TestFramework::<Invoice>::with(())
        .given(issued_ron(1))
        .when(credit(2, 6_050))
        .then_expect_events(vec![first.clone()]);
    let given: Vec<_> = issued_ron(1).into_iter().chain([first]).collect();
    let refused =
        TestFramework::<Invoice>::with(()).given(given.clone()).when(credit(3, 24_197)).inspect_result();
    let error = refused.unwrap_err();
    assert_eq!(
        error,
        InvoiceError::CreditExceedsRemaining { remaining: "24196 RON".into(), asked: "24197 RON".into() }
    );
    assert_eq!((error.code(), error.kind()), ("credit-exceeds-remaining", RefusalKind::Rule));
    // The same credit note recorded again changes nothing.
    TestFramework::<Invoice>::with(()).given(given.clone()).when(credit(2, 6_050)).then_expect_events(vec![]);
    TestFramework::<Invoice>::with(())
        .given(given)
        .when(InvoiceCommand::RecordCredit {
            credit_note: id(4),
            number: number("CRN", 2),
            amount: money(100, "EUR"),
        })
        .then_expect_error(InvoiceError::CurrencyMismatch { expected: "RON".into(), found: "EUR".into() });
}

#[test]
fn crediting_an_invoice_in_full_frees_its_period_for_a_new_invoice() {
    let period = crate::billing::ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 30)).unwrap();
    let billing = SubscriptionPeriod {
        subscription_id: crate::ids::SubscriptionId::from_uuid(uuid::Uuid::from_u128(21)),
        period,
    };
    let mut events = issued_ron(1);
    if let InvoiceEvent::DraftCreated { billing: slot, .. } = &mut events[0] {
        *slot = Some(billing);
    }
    let full = InvoiceEvent::Credited {
        credit_note: id(2),
        number: number("CRN", 1),
        amount: money(30_246, "RON"),
        remaining: money(0, "RON"),
    };
    TestFramework::<Invoice>::with(())
        .given(events.clone())
        .when(credit(2, 30_246))
        .then_expect_events(vec![full.clone()]);
    let state = replay(events.into_iter().chain([full.clone()]).collect());
    assert_eq!(state.remaining(), Some(money(0, "RON")));
    assert!(matches!(state.uniques(&full).as_slice(), [crate::unique::UniqueChange::Release(_)]));
}

#[test]
fn only_an_issued_invoice_is_credited() {
    TestFramework::<Invoice>::with(())
        .given(vec![created(1, DocumentKind::Invoice, "RON", vec![])])
        .when(credit(2, 100))
        .then_expect_error(InvoiceError::NotIssued);
    TestFramework::<Invoice>::with(())
        .given(vec![created(1, DocumentKind::Proforma, "RON", vec![])])
        .when(credit(2, 100))
        .then_expect_error(InvoiceError::NotCreditable);
}

#[test]
fn a_credit_note_takes_the_buyer_treatment_and_supply_date_of_its_invoice() {
    let draft = created(1, DocumentKind::Invoice, "EUR", vec![line("Hosting", money(10_000, "EUR"), 1000)]);
    let german = foreign_company("DE", Some("DE123456789"));
    let issued = TestFramework::<Invoice>::with(())
        .given(vec![draft.clone()])
        .when(issue(terms(german.clone(), VatIdStatus::Verified, "EUR")))
        .inspect_result()
        .unwrap();
    let basis = replay(vec![draft].into_iter().chain(issued).collect()).correction_basis().unwrap();
    assert_eq!(basis.buyer, german);
    assert_eq!(basis.buyer_vat, VatIdStatus::Verified);
    assert_eq!(basis.supply_date, date!(2025 - 09 - 01));
    assert_eq!(basis.currency, currency("EUR"));
    assert_eq!(basis.reference.number.to_string(), "BRT000001");
}
