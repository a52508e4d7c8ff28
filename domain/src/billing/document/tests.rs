use time::macros::date;

use super::*;
use crate::billing::tests::{draft, foreign_company, line, money, person, romanian_company};
use crate::billing::{
    Coupon, CouponValue, DocumentDraft, LineDiscount, LineError, LineTax, Percent, TotalsError,
};

fn standard() -> LineTax {
    LineTax::standard(Percent::from_basis_points(2100).unwrap()).unwrap()
}

fn ron_invoice() -> DocumentDraft {
    draft(
        romanian_company(),
        "RON",
        date!(2025 - 09 - 01),
        vec![line("Găzduire", money(10_000, "RON"), 1000, standard())],
    )
}

#[test]
fn an_invoice_needs_lines_a_due_date_and_no_correction() {
    let mut d = ron_invoice();
    d.lines.clear();
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::NoLines));
    let mut d = ron_invoice();
    d.due_date = None;
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::DueDate));
    let mut d = ron_invoice();
    d.due_date = Some(date!(2025 - 08 - 31));
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::DueDate));
    let mut d = ron_invoice();
    d.corrects = Some(InvoiceReference { number: d.number.clone(), issue_date: date!(2025 - 08 - 01) });
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::Correction));
}

#[test]
fn a_credit_note_names_an_earlier_invoice() {
    let mut d = ron_invoice();
    d.kind = DocumentKind::CreditNote;
    assert_eq!(IssuedDocument::issue(d.clone()), Err(DocumentError::Correction));
    d.corrects = Some(InvoiceReference { number: d.number.clone(), issue_date: date!(2025 - 09 - 02) });
    assert_eq!(IssuedDocument::issue(d.clone()), Err(DocumentError::CorrectionDate));
    d.corrects = Some(InvoiceReference { number: d.number.clone(), issue_date: date!(2025 - 08 - 01) });
    d.due_date = None;
    assert!(IssuedDocument::issue(d).is_ok());
}

#[test]
fn currencies_never_mix() {
    let mut d = ron_invoice();
    d.lines.push(line("Backup", money(500, "EUR"), 1000, standard()));
    assert!(matches!(
        IssuedDocument::issue(d),
        Err(DocumentError::Line { position: 2, error: LineError::Currency { .. } })
    ));
    let mut d = ron_invoice();
    d.coupon = Some(Coupon::new("Cupon", CouponValue::Amount(money(100, "EUR"))).unwrap());
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::Totals(TotalsError::CouponCurrency)));
    let mut d = ron_invoice();
    d.lines[0].discount = Some(LineDiscount::Amount(money(100, "EUR")));
    assert!(matches!(
        IssuedDocument::issue(d),
        Err(DocumentError::Line { error: LineError::Currency { .. }, .. })
    ));
}

#[test]
fn foreign_currency_needs_a_rate_to_lei_and_records_vat_in_lei() {
    let mut d = draft(
        person("FR"),
        "EUR",
        date!(2025 - 09 - 01),
        vec![line("Hosting", money(4_200, "EUR"), 1000, standard())],
    );
    let rate = d.exchange_rate.take();
    assert_eq!(IssuedDocument::issue(d.clone()), Err(DocumentError::ExchangeRate));
    d.exchange_rate = rate;
    let document = IssuedDocument::issue(d).unwrap();
    // VAT 42.00 × 21% = 8.82 EUR; × 4.9763 = 43.890966 → 43.89 lei.
    assert_eq!(document.vat_in_lei().unwrap().vat_total, money(4_389, "RON"));
    let mut d = ron_invoice();
    d.exchange_rate = Some(crate::billing::ExchangeRate::parse("1", date!(2025 - 09 - 01)).unwrap());
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::ExchangeRate));
}

#[test]
fn a_document_has_one_treatment_and_reverse_charge_needs_the_buyer_id() {
    let mut d = ron_invoice();
    d.lines.push(line("Backup", money(500, "RON"), 1000, LineTax::reverse_charge()));
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::MixedCategories));
    let reverse = vec![line("Hosting", money(500, "EUR"), 1000, LineTax::reverse_charge())];
    let d = draft(foreign_company("DE", None), "EUR", date!(2025 - 09 - 01), reverse.clone());
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::BuyerVatId));
    let d = draft(
        romanian_company(),
        "RON",
        date!(2025 - 09 - 01),
        vec![line("Hosting", money(500, "RON"), 1000, LineTax::reverse_charge())],
    );
    assert!(matches!(IssuedDocument::issue(d), Err(DocumentError::ReverseChargeAtHome(_))));
}

#[test]
fn discounts_larger_than_what_they_reduce_are_refused() {
    let mut d = ron_invoice();
    d.lines[0].discount = Some(LineDiscount::Amount(money(10_001, "RON")));
    assert!(matches!(
        IssuedDocument::issue(d),
        Err(DocumentError::Line { error: LineError::DiscountTooLarge, .. })
    ));
    let mut d = ron_invoice();
    d.coupon = Some(Coupon::new("Cupon", CouponValue::Amount(money(10_001, "RON"))).unwrap());
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::Totals(TotalsError::CouponTooLarge)));
}

#[test]
fn currencies_without_two_decimals_are_refused() {
    let d = draft(
        foreign_company("US", None),
        "JPY",
        date!(2025 - 09 - 01),
        vec![line("Hosting", money(500, "JPY"), 1000, LineTax::outside_eu())],
    );
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::Currency("JPY".into())));
}

#[test]
fn a_stored_document_with_tampered_totals_does_not_load() {
    let document = IssuedDocument::issue(ron_invoice()).unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&document).unwrap();
    assert_eq!(serde_json::from_value::<IssuedDocument>(json.clone()).unwrap(), document);
    json["totals"]["vat_total"]["amount_minor"] = serde_json::json!(2_101);
    assert!(serde_json::from_value::<IssuedDocument>(json.clone()).is_err());
    json["totals"]["vat_total"]["amount_minor"] = serde_json::json!(2_100);
    json["vat_breakdown"][0]["vat"]["amount_minor"] = serde_json::json!(2_099);
    assert!(serde_json::from_value::<IssuedDocument>(json).is_err());
}

#[test]
fn numbers_print_with_their_series() {
    let number = DocumentNumber::new(Series::parse("BRT").unwrap(), 123).unwrap();
    assert_eq!(number.to_string(), "BRT000123");
    assert_eq!(number.padded_sequence(), "000123");
    assert!(Series::parse("brt").is_err());
    assert!(DocumentNumber::new(Series::parse("BRT").unwrap(), 0).is_err());
}

#[test]
fn dates_are_stored_as_iso_calendar_dates() {
    let json = serde_json::to_value(IssuedDocument::issue(ron_invoice()).unwrap()).unwrap();
    assert_eq!(json["issue_date"], "2025-09-01");
    assert_eq!(json["due_date"], "2025-09-15");
    assert_eq!(json["supply_date"], "2025-09-01");
}

#[test]
fn the_stored_shape_is_frozen() {
    // Issued documents live inside events for good: renaming or reshaping a field breaks
    // every stored invoice. If this fails, add a new event version instead of editing this.
    let mut d = ron_invoice();
    d.lines[0].period =
        Some(crate::billing::ServicePeriod::new(date!(2025 - 08 - 01), date!(2025 - 08 - 31)).unwrap());
    d.lines[0].discount = Some(LineDiscount::Percent(Percent::from_basis_points(1000).unwrap()));
    d.coupon = Some(Coupon::new("Cupon", CouponValue::Amount(money(500, "RON"))).unwrap());
    d.notes = vec!["Mulțumim!".into()];
    let json = serde_json::to_value(IssuedDocument::issue(d).unwrap()).unwrap();
    let frozen: serde_json::Value = serde_json::from_str(include_str!("frozen_shape.json")).unwrap();
    assert_eq!(json, frozen, "{}", serde_json::to_string_pretty(&json).unwrap());
}

#[test]
fn notes_and_bank_names_are_checked_text() {
    let mut d = ron_invoice();
    d.notes = vec!["x".repeat(301)];
    assert!(matches!(IssuedDocument::issue(d), Err(DocumentError::Text(_))));
    let mut d = ron_invoice();
    d.notes = vec!["o notă".into(); 21];
    assert_eq!(IssuedDocument::issue(d), Err(DocumentError::TooManyNotes { max: 20 }));
    let mut d = ron_invoice();
    d.payment = PaymentMeans::BankTransfer {
        iban: Iban::parse("RO49AAAA1B31007593840000").unwrap(),
        bank_name: Some("Banca\u{0}".into()),
    };
    assert!(matches!(IssuedDocument::issue(d), Err(DocumentError::Text(_))));
}
