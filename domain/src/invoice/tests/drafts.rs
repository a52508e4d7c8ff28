//! Drafts: edited line by line, in one currency, until issued or discarded.

use cqrs_es::test::TestFramework;

use super::{created, id, line, tenant};
use crate::billing::tests::{currency, money};
use crate::billing::{DocumentKind, Quantity, RateCategory, UnitCode};
use crate::error::{Refusal, RefusalKind};
use crate::invoice::*;

#[test]
fn a_draft_is_edited_line_by_line() {
    let draft = created(1, DocumentKind::Invoice, "RON", vec![]);
    TestFramework::<Invoice>::with(())
        .given_no_previous_events()
        .when(InvoiceCommand::CreateDraft {
            invoice_id: id(1),
            tenant_id: tenant(),
            kind: DocumentKind::Invoice,
            currency: currency("RON"),
            lines: vec![],
            coupon: None,
            billing: None,
            corrects: None,
            from_proforma: None,
        })
        .then_expect_events(vec![draft.clone()]);
    let added = InvoiceEvent::LineAdded { line: line("Găzduire", money(10_000, "RON"), 1000) };
    TestFramework::<Invoice>::with(())
        .given(vec![draft.clone()])
        .when(InvoiceCommand::AddLine { line: line("Găzduire", money(10_000, "RON"), 1000) })
        .then_expect_events(vec![added.clone()]);
    TestFramework::<Invoice>::with(())
        .given(vec![draft.clone(), added.clone()])
        .when(InvoiceCommand::RemoveLine { position: 1 })
        .then_expect_events(vec![InvoiceEvent::LineRemoved { position: 1 }]);
    TestFramework::<Invoice>::with(())
        .given(vec![draft, added])
        .when(InvoiceCommand::RemoveLine { position: 2 })
        .then_expect_error(InvoiceError::NoSuchLine(2));
}

#[test]
fn currencies_never_mix_on_a_document() {
    let draft = created(1, DocumentKind::Invoice, "RON", vec![]);
    let mismatch = InvoiceError::CurrencyMismatch { expected: "RON".into(), found: "EUR".into() };
    TestFramework::<Invoice>::with(())
        .given(vec![draft.clone()])
        .when(InvoiceCommand::AddLine { line: line("Hosting", money(500, "EUR"), 1000) })
        .then_expect_error(mismatch.clone());
    let coupon =
        crate::billing::Coupon::new("Cupon", crate::billing::CouponValue::Amount(money(100, "EUR"))).unwrap();
    TestFramework::<Invoice>::with(())
        .given(vec![draft])
        .when(InvoiceCommand::SetCoupon { coupon: Some(coupon) })
        .then_expect_error(mismatch.clone());
    assert_eq!(mismatch.kind(), RefusalKind::Rule);
}

#[test]
fn a_discarded_draft_takes_no_more_changes_and_drafts_are_bounded() {
    let draft = created(1, DocumentKind::Invoice, "RON", vec![]);
    TestFramework::<Invoice>::with(())
        .given(vec![draft.clone()])
        .when(InvoiceCommand::Discard)
        .then_expect_events(vec![InvoiceEvent::DraftDiscarded]);
    TestFramework::<Invoice>::with(())
        .given(vec![draft.clone(), InvoiceEvent::DraftDiscarded])
        .when(InvoiceCommand::AddLine { line: line("X", money(100, "RON"), 1000) })
        .then_expect_error(InvoiceError::Discarded);
    TestFramework::<Invoice>::with(())
        .given(vec![draft.clone()])
        .when(InvoiceCommand::SetNotes { notes: vec!["".into()] })
        .then_expect_error(InvoiceError::Note("a note is empty".into()));
    TestFramework::<Invoice>::with(())
        .given(vec![draft])
        .when(InvoiceCommand::SetNotes { notes: vec!["Plata în 14 zile".into()] })
        .then_expect_events(vec![InvoiceEvent::NotesSet { notes: vec!["Plata în 14 zile".into()] }]);
    let create = |kind, code: &str, corrects, from_proforma| InvoiceCommand::CreateDraft {
        invoice_id: id(2),
        tenant_id: tenant(),
        kind,
        currency: currency(code),
        lines: vec![],
        coupon: None,
        billing: None,
        corrects,
        from_proforma,
    };
    TestFramework::<Invoice>::with(())
        .given_no_previous_events()
        .when(create(DocumentKind::Invoice, "GBP", None, None))
        .then_expect_error(InvoiceError::CurrencyNotOffered("GBP".into()));
    TestFramework::<Invoice>::with(())
        .given_no_previous_events()
        .when(create(DocumentKind::Invoice, "RON", Some(id(1)), None))
        .then_expect_error(InvoiceError::Links("only a credit note corrects an invoice"));
    TestFramework::<Invoice>::with(())
        .given_no_previous_events()
        .when(create(DocumentKind::Proforma, "RON", None, Some(id(1))))
        .then_expect_error(InvoiceError::Links("a proforma comes from no proforma"));
    assert!(matches!(
        DraftLine::new(
            "",
            Quantity::units(1).unwrap(),
            UnitCode::Month,
            money(1, "RON"),
            RateCategory::Standard,
            None
        ),
        Err(InvoiceError::Line(_))
    ));
}
