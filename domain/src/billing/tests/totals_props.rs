//! Property tests of the totals: the EN 16931 identities always hold, and VAT is rounded
//! half-up once per rate, on the rate's taxable total.

use proptest::prelude::*;
use time::macros::date;

use super::{draft, line, money, romanian_company};
use crate::billing::{Coupon, CouponValue, IssuedDocument, LineDiscount, LineTax, Percent, VatSubtotal};

const RATES: [u32; 6] = [500, 900, 1100, 1900, 2100, 2550];

fn tax(rate_index: usize) -> LineTax {
    LineTax::standard(Percent::from_basis_points(RATES[rate_index]).unwrap()).unwrap()
}

/// Half-up written independently of the code under test: `floor((2n·r + 10000) / 20000)`.
fn vat_half_up(taxable: i64, rate_bp: u32) -> i64 {
    ((2 * i128::from(taxable) * i128::from(rate_bp) + 10_000) / 20_000) as i64
}

fn arb_line() -> impl Strategy<Value = (usize, i64, i64, Option<u32>)> {
    (0..RATES.len(), 0i64..2_000_000, 1i64..5_000, prop::option::of(0u32..=10_000))
}

fn arb_coupon() -> impl Strategy<Value = Option<(bool, u32)>> {
    prop::option::of((any::<bool>(), 0u32..=10_000))
}

fn issue(lines: &[(usize, i64, i64, Option<u32>)], coupon: Option<(bool, u32)>) -> IssuedDocument {
    let drafts = lines
        .iter()
        .map(|&(rate, price, quantity, discount)| {
            let mut l = line("Hosting", money(price, "RON"), quantity, tax(rate));
            l.discount = discount.map(|bp| LineDiscount::Percent(Percent::from_basis_points(bp).unwrap()));
            l
        })
        .collect();
    let mut d = draft(romanian_company(), "RON", date!(2025 - 09 - 01), drafts);
    let document = IssuedDocument::issue(d.clone()).unwrap();
    let net = document.totals().line_net_total.amount_minor();
    d.coupon = coupon.map(|(as_percent, fraction)| {
        let value = if as_percent {
            CouponValue::Percent(Percent::from_basis_points(fraction).unwrap())
        } else {
            CouponValue::Amount(money(net * i64::from(fraction) / 10_000, "RON"))
        };
        Coupon::new("Cupon TEST", value).unwrap()
    });
    IssuedDocument::issue(d).unwrap()
}

fn minor(subtotals: &[VatSubtotal], f: fn(&VatSubtotal) -> i64) -> i64 {
    subtotals.iter().map(f).sum()
}

proptest! {
    #[test]
    fn totals_obey_the_en16931_identities(
        lines in prop::collection::vec(arb_line(), 1..8),
        coupon in arb_coupon(),
    ) {
        let document = issue(&lines, coupon);
        let t = document.totals();
        let lines_net: i64 = document.lines().iter().map(|l| l.net().amount_minor()).sum();
        let allowances: i64 = document.allowances().iter().map(|a| a.amount().amount_minor()).sum();
        // BR-CO-10, BR-CO-11, BR-CO-13, BR-CO-14, BR-CO-15, BR-CO-16.
        prop_assert_eq!(t.line_net_total.amount_minor(), lines_net);
        prop_assert_eq!(t.allowance_total.amount_minor(), allowances);
        prop_assert_eq!(t.tax_exclusive.amount_minor(), lines_net - allowances);
        prop_assert_eq!(t.vat_total.amount_minor(), minor(document.vat_breakdown(), |s| s.vat().amount_minor()));
        prop_assert_eq!(t.tax_inclusive.amount_minor(), t.tax_exclusive.amount_minor() + t.vat_total.amount_minor());
        prop_assert_eq!(t.payable, t.tax_inclusive);
        // The breakdown's taxable amounts add up to the total without VAT.
        prop_assert_eq!(minor(document.vat_breakdown(), |s| s.taxable().amount_minor()), t.tax_exclusive.amount_minor());
        for subtotal in document.vat_breakdown() {
            // BR-S-08: taxable = this rate's line net − this rate's allowances.
            let net: i64 = document.lines().iter().filter(|l| l.tax() == subtotal.tax()).map(|l| l.net().amount_minor()).sum();
            let allowed: i64 = document.allowances().iter().filter(|a| a.tax() == subtotal.tax()).map(|a| a.amount().amount_minor()).sum();
            prop_assert_eq!(subtotal.taxable().amount_minor(), net - allowed);
            // BR-CO-17: VAT on the rate's total, half-up, once.
            prop_assert_eq!(subtotal.vat().amount_minor(), vat_half_up(subtotal.taxable().amount_minor(), subtotal.tax().rate().basis_points()));
        }
        // A stored document reads back equal, its totals re-checked.
        let json = serde_json::to_string(&document).unwrap();
        prop_assert_eq!(serde_json::from_str::<IssuedDocument>(&json).unwrap(), document);
    }

    #[test]
    fn vat_is_rounded_on_the_total_not_summed_from_lines(
        prices in prop::collection::vec(1i64..100_000, 1..10),
        rate in 0..RATES.len(),
    ) {
        let lines: Vec<_> = prices.iter().map(|p| (rate, *p, 1000, None)).collect();
        let document = issue(&lines, None);
        let total: i64 = prices.iter().sum();
        prop_assert_eq!(document.totals().vat_total.amount_minor(), vat_half_up(total, RATES[rate]));
    }
}

#[test]
fn rounding_per_line_would_give_another_cent() {
    // Three lines of 10.02 RON at 19%: per line 1.9038 → 1.90, summed 5.70; on the total
    // 30.06 × 19% = 5.7114 → 5.71. The document says 5.71.
    let document = issue(&[(3, 1_002, 1000, None), (3, 1_002, 1000, None), (3, 1_002, 1000, None)], None);
    let per_line: i64 = document.lines().iter().map(|l| vat_half_up(l.net().amount_minor(), 1900)).sum();
    assert_eq!(per_line, 570);
    assert_eq!(document.totals().vat_total.amount_minor(), 571);
}

#[test]
fn a_half_cent_of_vat_rounds_up() {
    // 0.50 RON at 21% = 0.105 → 0.11 (half-up), not 0.10 (half-even would keep 0.10).
    let document = issue(&[(4, 50, 1000, None)], None);
    assert_eq!(document.totals().vat_total.amount_minor(), 11);
}

#[test]
fn a_coupon_over_two_rates_is_spread_and_taxed_per_rate() {
    // Lines: 30.00 at 21% and 10.00 at 11%; coupon 10% of 40.00 = 4.00, spread 3:1 → 3.00
    // and 1.00. Taxable 27.00 and 9.00; VAT 27.00 × 21% = 5.67 and 9.00 × 11% = 0.99.
    // Total without VAT 36.00, VAT 6.66, with VAT 42.66.
    let document = issue(&[(4, 3_000, 1000, None), (2, 1_000, 1000, None)], Some((true, 1000)));
    let allowances: Vec<i64> = document.allowances().iter().map(|a| a.amount().amount_minor()).collect();
    assert_eq!(allowances, vec![100, 300]);
    let vat: Vec<i64> = document.vat_breakdown().iter().map(|s| s.vat().amount_minor()).collect();
    assert_eq!(vat, vec![99, 567]);
    assert_eq!(document.totals().tax_inclusive.amount_minor(), 4_266);
}
