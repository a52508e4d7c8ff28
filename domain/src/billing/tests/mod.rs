//! Tests across the billing modules, and the fixtures they share.

mod totals_props;
mod vat_cases;

use time::macros::date;
use time::Date;

use super::{
    CountryCode, DocumentDraft, DocumentKind, DocumentNumber, ExchangeRate, Iban, LineDraft, LineTax, Party,
    PaymentMeans, PostalAddress, Quantity, Series, UnitCode, VatId,
};
use crate::money::{Currency, Money};

pub(crate) fn currency(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

pub(crate) fn money(minor: i64, code: &str) -> Money {
    Money::new(minor, currency(code)).unwrap()
}

pub(crate) fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap()
}

/// The hosting provider: a Cluj company with a valid CUI.
pub(crate) fn seller() -> Party {
    let address = PostalAddress::new(
        &["Str. Memorandumului 28"],
        "Cluj-Napoca",
        Some("400114"),
        Some("RO-CJ"),
        CountryCode::ROMANIA,
    )
    .unwrap();
    Party::company(
        "Berth Găzduire SRL",
        address,
        Some(VatId::parse("RO18547290").unwrap()),
        Some("J12/3456/2020"),
        None,
    )
    .unwrap()
}

pub(crate) fn romanian_company() -> Party {
    let address =
        PostalAddress::new(&["Bd. Unirii 10"], "SECTOR3", Some("030167"), Some("RO-B"), CountryCode::ROMANIA)
            .unwrap();
    Party::company("Țesătoria Ștefănescu SRL", address, Some(VatId::parse("RO14399840").unwrap()), None, None)
        .unwrap()
}

pub(crate) fn foreign_company(code: &str, vat_id: Option<&str>) -> Party {
    let address =
        PostalAddress::new(&["Main Street 1"], "Capital", Some("12345"), None, country(code)).unwrap();
    Party::company("Example Ltd", address, vat_id.map(|id| VatId::parse(id).unwrap()), None, None).unwrap()
}

pub(crate) fn person(code: &str) -> Party {
    let subdivision = (code == "RO").then_some("RO-IS");
    let address =
        PostalAddress::new(&["Str. Lăpușneanu 5"], "Iași", None, subdivision, country(code)).unwrap();
    Party::person("Ioana Ștefănescu", address, None, None).unwrap()
}

pub(crate) fn line(description: &str, price: Money, quantity_thousandths: i64, tax: LineTax) -> LineDraft {
    LineDraft {
        description: description.to_owned(),
        quantity: Quantity::from_thousandths(quantity_thousandths).unwrap(),
        unit: UnitCode::Month,
        unit_price: price,
        tax,
        period: None,
        discount: None,
    }
}

/// An invoice draft in `code` to `buyer`, supplied on `supply_date`, with a rate to lei when
/// it is not in RON.
pub(crate) fn draft(buyer: Party, code: &str, supply_date: Date, lines: Vec<LineDraft>) -> DocumentDraft {
    DocumentDraft {
        kind: DocumentKind::Invoice,
        number: DocumentNumber::new(Series::parse("BRT").unwrap(), 123).unwrap(),
        issue_date: date!(2025 - 09 - 01),
        due_date: Some(date!(2025 - 09 - 15)),
        supply_date,
        period: None,
        currency: currency(code),
        seller: seller(),
        buyer,
        payment: PaymentMeans::bank_transfer(Iban::parse("RO49AAAA1B31007593840000").unwrap(), None).unwrap(),
        lines,
        coupon: None,
        exchange_rate: (code != "RON").then(|| ExchangeRate::parse("4.9763", supply_date).unwrap()),
        notes: vec![],
        corrects: None,
    }
}
