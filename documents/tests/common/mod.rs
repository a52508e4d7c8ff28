//! Documents of every kind Berth issues, shared by the e-Factura and PDF tests.

use berth_domain::billing::{
    BuyerTaxProfile, CountryCode, Coupon, CouponValue, DocumentDraft, DocumentKind, DocumentNumber,
    ExchangeRate, Iban, InvoiceReference, IssuedDocument, LineDiscount, LineDraft, Party, PaymentMeans,
    Percent, PostalAddress, Quantity, RateCategory, Series, ServicePeriod, TaxTreatment, UnitCode, VatId,
    VatIdStatus, VatRateTable,
};
use berth_domain::email::Email;
use berth_domain::money::{Currency, Money};
use time::macros::date;
use time::Date;

fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap()
}

fn address(
    lines: &[&str],
    city: &str,
    postal: Option<&str>,
    county: Option<&str>,
    code: &str,
) -> PostalAddress {
    PostalAddress::new(lines, city, postal, county, country(code)).unwrap()
}

fn seller() -> Party {
    Party::company(
        "Berth Găzduire & Servicii SRL",
        address(&["Str. Memorandumului 28", "Etaj 3"], "Cluj-Napoca", Some("400114"), Some("RO-CJ"), "RO"),
        Some(VatId::parse("RO18547290").unwrap()),
        Some("J12/3456/2020"),
        Some(Email::parse("facturare@berth-hosting.ro").unwrap()),
    )
    .unwrap()
}

fn romanian_company() -> Party {
    Party::company(
        "Țesătoria Ștefănescu & Fiii SRL",
        address(&["Bd. Unirii 10", "Bl. 7B, Sc. 2", "Ap. 41"], "SECTOR3", Some("030167"), Some("RO-B"), "RO"),
        Some(VatId::parse("RO14399840").unwrap()),
        Some("J40/1234/2015"),
        None,
    )
    .unwrap()
}

fn romanian_person() -> Party {
    let home = address(&["Str. Lăpușneanu 5"], "Iași", Some("700057"), Some("RO-IS"), "RO");
    Party::person("Ioana-Ștefania Țîrcă-Mânăstireanu", home, None, None).unwrap()
}

fn german_company() -> Party {
    let office = address(&["Friedrichstraße 123"], "Berlin", Some("10117"), None, "DE");
    Party::company("Müller <Hosting> GmbH", office, Some(VatId::parse("DE123456789").unwrap()), None, None)
        .unwrap()
}

fn french_consumer() -> Party {
    Party::person(
        "Élodie Lefèvre",
        address(&["12 rue de l'Église"], "Lyon", Some("69002"), None, "FR"),
        None,
        None,
    )
    .unwrap()
}

fn us_company() -> Party {
    let office = address(&["500 Market Street"], "San Francisco", Some("94105"), Some("CA"), "US");
    Party::company("Acme Web Inc.", office, None, None, None).unwrap()
}

fn money(minor: i64, currency: &str) -> Money {
    Money::new(minor, Currency::parse(currency).unwrap()).unwrap()
}

fn september() -> ServicePeriod {
    ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 30)).unwrap()
}

/// One line: description, rate category, unit price (minor units), quantity (thousandths).
type Line = (&'static str, RateCategory, i64, i64);

struct Spec {
    kind: DocumentKind,
    sequence: u64,
    buyer: Party,
    profile: BuyerTaxProfile,
    currency: &'static str,
    supply: Date,
    lines: Vec<Line>,
}

fn draft(spec: Spec) -> DocumentDraft {
    let treatment = TaxTreatment::decide(CountryCode::ROMANIA, &spec.profile).unwrap();
    let lines = spec
        .lines
        .iter()
        .map(|&(description, category, price, quantity)| LineDraft {
            description: description.to_owned(),
            quantity: Quantity::from_thousandths(quantity).unwrap(),
            unit: UnitCode::Month,
            unit_price: money(price, spec.currency),
            tax: treatment.line_tax(VatRateTable::builtin(), category, spec.supply).unwrap(),
            period: Some(september()),
            discount: None,
        })
        .collect();
    DocumentDraft {
        kind: spec.kind,
        number: DocumentNumber::new(Series::parse("BRT").unwrap(), spec.sequence).unwrap(),
        issue_date: date!(2025 - 10 - 01),
        due_date: Some(date!(2025 - 10 - 15)),
        supply_date: spec.supply,
        period: Some(september()),
        currency: Currency::parse(spec.currency).unwrap(),
        seller: seller(),
        buyer: spec.buyer,
        payment: PaymentMeans::bank_transfer(
            Iban::parse("RO49AAAA1B31007593840000").unwrap(),
            Some("Banca Transilvania"),
        )
        .unwrap(),
        lines,
        coupon: None,
        exchange_rate: (spec.currency != "RON")
            .then(|| ExchangeRate::parse("5.0843", date!(2025 - 09 - 30)).unwrap()),
        notes: vec![],
        corrects: None,
    }
}

const HOSTING: Line = ("Găzduire web Business — septembrie 2025", RateCategory::Standard, 14_999, 1000);
const BACKUP: Line = ("Backup zilnic & restaurare", RateCategory::Standard, 2_550, 2000);

fn verified(id: &str, code: &str) -> BuyerTaxProfile {
    BuyerTaxProfile::Business {
        country: country(code),
        vat_id: Some(VatId::parse(id).unwrap()),
        status: VatIdStatus::Verified,
    }
}

/// Every document the tests render, by name.
pub fn documents() -> Vec<(&'static str, IssuedDocument)> {
    let end_of_september = date!(2025 - 09 - 30);
    let ro_b2b = || Spec {
        kind: DocumentKind::Invoice,
        sequence: 123,
        buyer: romanian_company(),
        profile: verified("RO14399840", "RO"),
        currency: "RON",
        supply: end_of_september,
        lines: vec![HOSTING, BACKUP],
    };
    let ro_b2c = Spec {
        sequence: 124,
        buyer: romanian_person(),
        profile: BuyerTaxProfile::Consumer { country: CountryCode::ROMANIA },
        ..ro_b2b()
    };
    let reverse_charge = Spec {
        sequence: 125,
        buyer: german_company(),
        profile: verified("DE123456789", "DE"),
        currency: "EUR",
        lines: vec![("Managed hosting, September 2025", RateCategory::Standard, 25_000, 1000)],
        ..ro_b2b()
    };
    let oss = Spec {
        sequence: 126,
        buyer: french_consumer(),
        profile: BuyerTaxProfile::Consumer { country: country("FR") },
        currency: "EUR",
        lines: vec![("Hébergement web — septembre 2025", RateCategory::Standard, 999, 1000)],
        ..ro_b2b()
    };
    let outside_eu = Spec {
        sequence: 127,
        buyer: us_company(),
        profile: BuyerTaxProfile::Business {
            country: country("US"),
            vat_id: None,
            status: VatIdStatus::Unverified,
        },
        currency: "USD",
        lines: vec![("Managed hosting, September 2025", RateCategory::Standard, 12_000, 1000)],
        ..ro_b2b()
    };
    // Three rates before 2025-08-01: amounts whose VAT rounds differently per line and per rate.
    let multi_rate = Spec {
        sequence: 128,
        supply: date!(2025 - 07 - 15),
        lines: vec![
            ("Găzduire web", RateCategory::Standard, 1_002, 3000),
            ("Domeniu .ro", RateCategory::Standard, 1_002, 1000),
            ("Publicație tipărită", RateCategory::Reduced, 405, 2000),
            ("Carte: Ghidul găzduirii", RateCategory::SecondReduced, 90, 3000),
        ],
        ..ro_b2b()
    };
    let mut coupon = draft(Spec { sequence: 129, lines: vec![HOSTING, BACKUP], ..ro_b2b() });
    coupon.lines[1].discount = Some(LineDiscount::Percent(Percent::parse("15").unwrap()));
    coupon.coupon = Some(
        Coupon::new("Cupon BUNVENIT10 (−10%)", CouponValue::Percent(Percent::parse("10").unwrap())).unwrap(),
    );
    let mut credit_note = draft(Spec {
        kind: DocumentKind::CreditNote,
        sequence: 130,
        lines: vec![(
            "Credit pentru zilele nefolosite: Găzduire web Business (11/30 zile)",
            RateCategory::Standard,
            5_500,
            1000,
        )],
        ..ro_b2b()
    });
    credit_note.corrects = Some(InvoiceReference {
        number: DocumentNumber::new(Series::parse("BRT").unwrap(), 123).unwrap(),
        issue_date: date!(2025 - 10 - 01),
    });
    credit_note.notes =
        vec!["Corectează factura BRT000123: trecere la planul Starter de la 20.09.2025.".into()];
    let mut proforma = draft(Spec { kind: DocumentKind::Proforma, sequence: 1, ..ro_b2b() });
    proforma.number = DocumentNumber::new(Series::parse("PRO").unwrap(), 1).unwrap();
    let mut card = draft(Spec { sequence: 131, ..ro_b2b() });
    card.payment =
        PaymentMeans::Card { card: Some(berth_domain::billing::CardDetails::new("VISA", "4242").unwrap()) };
    let mut many = draft(Spec { sequence: 132, ..ro_b2b() });
    many.lines = (1..=70)
        .map(|i| LineDraft {
            description: format!(
                "Găzduire site nr. {i} — plan Business, septembrie 2025, cu backup zilnic inclus"
            ),
            ..many.lines[0].clone()
        })
        .collect();
    let issue = |d: DocumentDraft| IssuedDocument::issue(d).unwrap();
    vec![
        ("ro-b2b", issue(draft(ro_b2b()))),
        ("ro-b2c", issue(draft(ro_b2c))),
        ("eu-reverse-charge", issue(draft(reverse_charge))),
        ("eu-consumer-oss", issue(draft(oss))),
        ("outside-eu", issue(draft(outside_eu))),
        ("multi-rate", issue(draft(multi_rate))),
        ("coupon", issue(coupon)),
        ("credit-note", issue(credit_note)),
        ("card-payment", issue(card)),
        ("proforma", issue(proforma)),
        ("many-lines", issue(many)),
    ]
}

/// The document called `name`.
pub fn document(name: &str) -> IssuedDocument {
    documents().into_iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no fixture {name}")).1
}
