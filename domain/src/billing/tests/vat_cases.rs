//! The VAT cases a Romanian hosting provider meets, each worked out by hand.

use time::macros::date;
use time::Date;

use super::{country, draft, foreign_company, line, money, person, romanian_company, seller};
use crate::billing::{
    BuyerTaxProfile, CountryCode, IssuedDocument, Party, RateCategory, TaxTreatment, VatCategory,
    VatIdStatus, VatRateTable,
};

struct Case {
    name: &'static str,
    buyer: Party,
    profile: BuyerTaxProfile,
    currency: &'static str,
    supply: Date,
    /// (rate category, unit price in minor units, quantity in thousandths) per line.
    lines: Vec<(RateCategory, i64, i64)>,
    treatment: TaxTreatment,
    /// (category, rate in basis points, taxable, VAT) per breakdown entry, in minor units.
    breakdown: Vec<(VatCategory, u32, i64, i64)>,
    /// Total with VAT, in minor units.
    total: i64,
}

fn business(code: &str, vat_id: &str, status: VatIdStatus) -> BuyerTaxProfile {
    let vat_id = Some(crate::billing::VatId::parse(vat_id).unwrap());
    BuyerTaxProfile::Business { country: country(code), vat_id, status }
}

fn cases() -> Vec<Case> {
    use RateCategory::{Reduced, SecondReduced, Standard};
    use VatCategory::{OutsideEu, ReverseCharge, Standard as S};
    let ro = CountryCode::ROMANIA;
    vec![
        // 100.00 RON at 21% (supply after 2025-08-01): VAT 21.00, total 121.00.
        Case {
            name: "Romanian company",
            buyer: romanian_company(),
            profile: business("RO", "RO14399840", VatIdStatus::Verified),
            currency: "RON",
            supply: date!(2025 - 09 - 01),
            lines: vec![(Standard, 10_000, 1000)],
            treatment: TaxTreatment::Domestic,
            breakdown: vec![(S, 2100, 10_000, 2_100)],
            total: 12_100,
        },
        // 3 × 49.99 = 149.97 RON; 149.97 × 21% = 31.4937 → 31.49; total 181.46.
        Case {
            name: "Romanian person",
            buyer: person("RO"),
            profile: BuyerTaxProfile::Consumer { country: ro },
            currency: "RON",
            supply: date!(2025 - 09 - 01),
            lines: vec![(Standard, 4_999, 3000)],
            treatment: TaxTreatment::Domestic,
            breakdown: vec![(S, 2100, 14_997, 3_149)],
            total: 18_146,
        },
        // Supplied on the last day of 19%: 100.00 × 19% = 19.00, total 119.00.
        Case {
            name: "supply on 2025-07-31",
            buyer: romanian_company(),
            profile: business("RO", "RO14399840", VatIdStatus::Verified),
            currency: "RON",
            supply: date!(2025 - 07 - 31),
            lines: vec![(Standard, 10_000, 1000)],
            treatment: TaxTreatment::Domestic,
            breakdown: vec![(S, 1900, 10_000, 1_900)],
            total: 11_900,
        },
        // Supplied on the first day of 21%: 100.00 × 21% = 21.00, total 121.00.
        Case {
            name: "supply on 2025-08-01",
            buyer: romanian_company(),
            profile: business("RO", "RO14399840", VatIdStatus::Verified),
            currency: "RON",
            supply: date!(2025 - 08 - 01),
            lines: vec![(Standard, 10_000, 1000)],
            treatment: TaxTreatment::Domestic,
            breakdown: vec![(S, 2100, 10_000, 2_100)],
            total: 12_100,
        },
        // Verified German id: reverse charge, 250.00 EUR at 0%, total 250.00.
        Case {
            name: "German business, verified id",
            buyer: foreign_company("DE", Some("DE123456789")),
            profile: business("DE", "DE123456789", VatIdStatus::Verified),
            currency: "EUR",
            supply: date!(2025 - 09 - 01),
            lines: vec![(Standard, 25_000, 1000)],
            treatment: TaxTreatment::ReverseCharge,
            breakdown: vec![(ReverseCharge, 0, 25_000, 0)],
            total: 25_000,
        },
        // The same id not verified: treated as a consumer, German 19% through OSS:
        // 250.00 × 19% = 47.50, total 297.50.
        Case {
            name: "German business, unverified id",
            buyer: foreign_company("DE", Some("DE123456789")),
            profile: business("DE", "DE123456789", VatIdStatus::Unverified),
            currency: "EUR",
            supply: date!(2025 - 09 - 01),
            lines: vec![(Standard, 25_000, 1000)],
            treatment: TaxTreatment::OneStopShop { country: country("DE") },
            breakdown: vec![(S, 1900, 25_000, 4_750)],
            total: 29_750,
        },
        // French consumer, French 20%: 9.99 × 20% = 1.998 → 2.00; total 11.99.
        Case {
            name: "French consumer",
            buyer: person("FR"),
            profile: BuyerTaxProfile::Consumer { country: country("FR") },
            currency: "EUR",
            supply: date!(2025 - 09 - 01),
            lines: vec![(Standard, 999, 1000)],
            treatment: TaxTreatment::OneStopShop { country: country("FR") },
            breakdown: vec![(S, 2000, 999, 200)],
            total: 1_199,
        },
        // US company: outside the EU, no VAT: 120.00 USD, total 120.00.
        Case {
            name: "US company",
            buyer: foreign_company("US", None),
            profile: BuyerTaxProfile::Business {
                country: country("US"),
                vat_id: None,
                status: VatIdStatus::Unverified,
            },
            currency: "USD",
            supply: date!(2025 - 09 - 01),
            lines: vec![(Standard, 12_000, 1000)],
            treatment: TaxTreatment::OutsideEu,
            breakdown: vec![(OutsideEu, 0, 12_000, 0)],
            total: 12_000,
        },
        // Three Romanian rates before 2025-08-01, amounts chosen so per-line rounding differs:
        // 19%: 3 lines of 10.02 = 30.06; per line 1.9038 → 1.90 (×3 = 5.70); on the total
        //      30.06 × 19% = 5.7114 → 5.71.
        //  9%: 2 lines of 4.05 = 8.10; per line 0.3645 → 0.36 (×2 = 0.72); on the total
        //      8.10 × 9% = 0.729 → 0.73.
        //  5%: 3 lines of 0.90 = 2.70; per line 0.045 → 0.05 (×3 = 0.15); on the total
        //      2.70 × 5% = 0.135 → 0.14.
        // Net 40.86, VAT 5.71 + 0.73 + 0.14 = 6.58 (per line it would be 6.57), total 47.44.
        Case {
            name: "three rates on one invoice",
            buyer: romanian_company(),
            profile: business("RO", "RO14399840", VatIdStatus::Verified),
            currency: "RON",
            supply: date!(2025 - 07 - 15),
            lines: vec![
                (Standard, 1_002, 1000),
                (Standard, 1_002, 1000),
                (Standard, 1_002, 1000),
                (Reduced, 405, 1000),
                (Reduced, 405, 1000),
                (SecondReduced, 90, 1000),
                (SecondReduced, 90, 1000),
                (SecondReduced, 90, 1000),
            ],
            treatment: TaxTreatment::Domestic,
            breakdown: vec![(S, 500, 270, 14), (S, 900, 810, 73), (S, 1900, 3_006, 571)],
            total: 4_744,
        },
    ]
}

#[test]
fn each_case_gets_its_treatment_rates_and_amounts() {
    let table = VatRateTable::builtin();
    for case in cases() {
        let treatment = TaxTreatment::decide(seller().address().country(), &case.profile).unwrap();
        assert_eq!(treatment, case.treatment, "{}", case.name);
        let lines = case
            .lines
            .iter()
            .map(|&(category, price, quantity)| {
                let tax = treatment.line_tax(table, category, case.supply).unwrap();
                line("Găzduire web", money(price, case.currency), quantity, tax)
            })
            .collect();
        let document = IssuedDocument::issue(draft(case.buyer, case.currency, case.supply, lines))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let breakdown: Vec<_> = document
            .vat_breakdown()
            .iter()
            .map(|s| {
                (
                    s.tax().category(),
                    s.tax().rate().basis_points(),
                    s.taxable().amount_minor(),
                    s.vat().amount_minor(),
                )
            })
            .collect();
        assert_eq!(breakdown, case.breakdown, "{}", case.name);
        assert_eq!(document.totals().tax_inclusive.amount_minor(), case.total, "{}", case.name);
        assert_eq!(document.totals().payable.amount_minor(), case.total, "{}", case.name);
    }
}

#[test]
fn reverse_charge_carries_the_legal_mention_and_both_vat_ids() {
    let table = VatRateTable::builtin();
    let supply = date!(2025 - 09 - 01);
    let tax = TaxTreatment::ReverseCharge.line_tax(table, RateCategory::Standard, supply).unwrap();
    let buyer = foreign_company("DE", Some("DE123456789"));
    let document = IssuedDocument::issue(draft(
        buyer,
        "EUR",
        supply,
        vec![line("Hosting", money(25_000, "EUR"), 1000, tax)],
    ))
    .unwrap();
    assert!(document.notes()[0].starts_with("Taxare inversă"));
    assert!(document.seller().vat_id().is_some() && document.buyer().vat_id().is_some());
    assert_eq!(VatCategory::ReverseCharge.exemption().unwrap().code, "VATEX-EU-AE");
}

#[test]
fn an_unverified_id_never_gets_reverse_charge() {
    for code in ["DE", "FR", "AT"] {
        let id = match code {
            "DE" => "DE123456789",
            "FR" => "FR12123456789",
            _ => "ATU12345678",
        };
        let profile = business(code, id, VatIdStatus::Unverified);
        let treatment = TaxTreatment::decide(CountryCode::ROMANIA, &profile).unwrap();
        assert_eq!(treatment, TaxTreatment::OneStopShop { country: country(code) });
    }
}

#[test]
fn the_rule_is_for_romanian_sellers_and_consistent_ids() {
    let profile = BuyerTaxProfile::Consumer { country: country("FR") };
    assert!(TaxTreatment::decide(country("DE"), &profile).is_err());
    let mismatch = business("AT", "DE123456789", VatIdStatus::Verified);
    assert!(TaxTreatment::decide(CountryCode::ROMANIA, &mismatch).is_err());
    // A Romanian buyer pays Romanian VAT even without any VAT id.
    let unregistered = BuyerTaxProfile::Business {
        country: CountryCode::ROMANIA,
        vat_id: None,
        status: VatIdStatus::Unverified,
    };
    assert_eq!(TaxTreatment::decide(CountryCode::ROMANIA, &unregistered), Ok(TaxTreatment::Domestic));
}
