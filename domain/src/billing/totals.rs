//! A document's amounts, computed the EN 16931 way from its lines and coupon.
//!
//! 1. Each line has a net amount (`line`).
//! 2. Lines are grouped by VAT category and rate; a coupon becomes one allowance per group
//!    (`discount`).
//! 3. Each group's taxable amount is its lines' net minus its allowance, and its VAT is
//!    `taxable × rate`, **rounded half-up once on that total** (BR-CO-17), never the sum of
//!    per-line VAT.
//! 4. The totals: sum of line net (BT-106), allowances (BT-107), tax exclusive (BT-109 =
//!    106 − 107), VAT (BT-110 = Σ group VAT), tax inclusive (BT-112 = 109 + 110), payable
//!    (BT-115 = 112, as Berth records no prepayment on a document).
//!
//! `check` verifies the same identities on a stored document, so a document read back from
//! an event can be trusted as much as one just computed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::category::LineTax;
use super::discount::{spread, Coupon, CouponValue};
use super::line::{line_gross, DocumentLine, MAX_AMOUNT_MINOR};
use super::rounding::div_half_up;
use crate::money::{Currency, Money};

/// A document-level allowance: the part of a coupon that falls on one VAT group (BG-20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentAllowance {
    pub(super) reason: String,
    pub(super) tax: LineTax,
    pub(super) amount: Money,
}

impl DocumentAllowance {
    /// The reason printed (BT-97).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The VAT group it reduces (BT-95, BT-96).
    pub fn tax(&self) -> LineTax {
        self.tax
    }

    /// The amount (BT-92).
    pub fn amount(&self) -> Money {
        self.amount
    }
}

/// One VAT group of the breakdown (BG-23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatSubtotal {
    pub(super) tax: LineTax,
    pub(super) taxable: Money,
    pub(super) vat: Money,
}

impl VatSubtotal {
    /// The category and rate (BT-118, BT-119); `tax().category().exemption()` gives the
    /// exemption reason where no VAT is charged.
    pub fn tax(&self) -> LineTax {
        self.tax
    }

    /// The taxable amount (BT-116).
    pub fn taxable(&self) -> Money {
        self.taxable
    }

    /// The VAT (BT-117).
    pub fn vat(&self) -> Money {
        self.vat
    }
}

/// The document totals (BG-22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentTotals {
    /// Sum of line net amounts (BT-106).
    pub line_net_total: Money,
    /// Sum of document-level allowances (BT-107).
    pub allowance_total: Money,
    /// Total without VAT (BT-109).
    pub tax_exclusive: Money,
    /// Total VAT (BT-110).
    pub vat_total: Money,
    /// Total with VAT (BT-112).
    pub tax_inclusive: Money,
    /// Amount due (BT-115).
    pub payable: Money,
}

/// Why amounts could not be computed, or a stored document's amounts do not add up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotalsError {
    /// The coupon is in another currency than the document.
    #[error("the coupon is in another currency than the document")]
    CouponCurrency,
    /// The coupon takes off more than the lines are worth.
    #[error("the coupon is larger than the lines' net total")]
    CouponTooLarge,
    /// A total over the limit.
    #[error("the document's total is too large")]
    TooLarge,
    /// A stored document whose amounts break an EN 16931 identity.
    #[error("the document's amounts are inconsistent: {0}")]
    Inconsistent(&'static str),
}

/// Allowances, breakdown and totals of a set of lines.
pub(super) struct Computed {
    pub allowances: Vec<DocumentAllowance>,
    pub breakdown: Vec<VatSubtotal>,
    pub totals: DocumentTotals,
}

/// Computes allowances, the VAT breakdown and the totals.
pub(super) fn compute(
    currency: Currency,
    lines: &[DocumentLine],
    coupon: Option<&Coupon>,
) -> Result<Computed, TotalsError> {
    let groups = net_by_group(lines);
    let net_total: i64 = groups.values().sum();
    let coupon_total = match coupon.map(Coupon::value) {
        None => 0,
        Some(CouponValue::Percent(p)) => {
            div_half_up(i128::from(net_total) * i128::from(p.basis_points()), 10_000) as i64
        }
        Some(CouponValue::Amount(amount)) if amount.currency() != currency => {
            return Err(TotalsError::CouponCurrency)
        }
        Some(CouponValue::Amount(amount)) => amount.amount_minor(),
    };
    if coupon_total > net_total {
        return Err(TotalsError::CouponTooLarge);
    }
    let weights: Vec<i64> = groups.values().copied().collect();
    let parts = spread(coupon_total, &weights);
    let money = |minor: i64| Money::new(minor, currency).map_err(|_| TotalsError::TooLarge);
    let mut allowances = Vec::new();
    let mut breakdown = Vec::new();
    for ((tax, net), part) in groups.iter().zip(parts) {
        if let (Some(coupon), true) = (coupon, part > 0) {
            allowances.push(DocumentAllowance {
                reason: coupon.reason().to_owned(),
                tax: *tax,
                amount: money(part)?,
            });
        }
        let taxable = net - part;
        breakdown.push(VatSubtotal {
            tax: *tax,
            taxable: money(taxable)?,
            vat: money(vat_of(taxable, *tax))?,
        });
    }
    let vat_total: i64 = breakdown.iter().map(|s| s.vat.amount_minor()).sum();
    let tax_exclusive = net_total - coupon_total;
    let tax_inclusive = tax_exclusive + vat_total;
    if tax_inclusive > MAX_AMOUNT_MINOR {
        return Err(TotalsError::TooLarge);
    }
    let totals = DocumentTotals {
        line_net_total: money(net_total)?,
        allowance_total: money(coupon_total)?,
        tax_exclusive: money(tax_exclusive)?,
        vat_total: money(vat_total)?,
        tax_inclusive: money(tax_inclusive)?,
        payable: money(tax_inclusive)?,
    };
    Ok(Computed { allowances, breakdown, totals })
}

/// Verifies a stored document's amounts: every line, every VAT group and every total.
pub(super) fn check(
    currency: Currency,
    lines: &[DocumentLine],
    allowances: &[DocumentAllowance],
    breakdown: &[VatSubtotal],
    totals: &DocumentTotals,
) -> Result<(), TotalsError> {
    let fail = |rule| Err(TotalsError::Inconsistent(rule));
    let amounts = lines
        .iter()
        .flat_map(|l| [Some(l.unit_price), Some(l.gross), l.discount, Some(l.net)])
        .flatten()
        .chain(allowances.iter().map(|a| a.amount))
        .chain(breakdown.iter().flat_map(|s| [s.taxable, s.vat]))
        .chain([totals.line_net_total, totals.allowance_total, totals.tax_exclusive])
        .chain([totals.vat_total, totals.tax_inclusive, totals.payable]);
    if amounts.into_iter().any(|m| m.currency() != currency) {
        return fail("every amount is in the document currency");
    }
    for line in lines {
        if line_gross(line.quantity, line.unit_price.amount_minor()).ok() != Some(line.gross.amount_minor()) {
            return fail("line gross = quantity × unit price");
        }
        if line.net.amount_minor() + line.discount.map_or(0, |d| d.amount_minor())
            != line.gross.amount_minor()
        {
            return fail("line net = gross − discount");
        }
    }
    let groups = net_by_group(lines);
    let taxes: BTreeSet<LineTax> = breakdown.iter().map(|s| s.tax).collect();
    if breakdown.len() != groups.len()
        || !taxes.iter().eq(groups.keys())
        || allowances.iter().any(|a| !groups.contains_key(&a.tax))
    {
        return fail("one VAT subtotal per category and rate of the lines (BR-CO-18, BR-S-01)");
    }
    for subtotal in breakdown {
        let net = groups.get(&subtotal.tax).copied().unwrap_or(-1);
        let allowed: i64 =
            allowances.iter().filter(|a| a.tax == subtotal.tax).map(|a| a.amount.amount_minor()).sum();
        if subtotal.taxable.amount_minor() != net - allowed {
            return fail("VAT taxable amount = line net − allowances of its group (BR-S-08)");
        }
        if subtotal.vat.amount_minor() != vat_of(subtotal.taxable.amount_minor(), subtotal.tax) {
            return fail("VAT = taxable × rate, rounded half-up (BR-CO-17)");
        }
    }
    let sum = |it: &mut dyn Iterator<Item = Money>| it.map(|m| m.amount_minor()).sum::<i64>();
    let t = |m: Money| m.amount_minor();
    if t(totals.line_net_total) != sum(&mut lines.iter().map(|l| l.net)) {
        return fail("sum of line net (BR-CO-10)");
    }
    if t(totals.allowance_total) != sum(&mut allowances.iter().map(|a| a.amount)) {
        return fail("sum of allowances (BR-CO-11)");
    }
    if t(totals.tax_exclusive) != t(totals.line_net_total) - t(totals.allowance_total) {
        return fail("total without VAT (BR-CO-13)");
    }
    if t(totals.vat_total) != sum(&mut breakdown.iter().map(|s| s.vat)) {
        return fail("total VAT (BR-CO-14)");
    }
    if t(totals.tax_inclusive) != t(totals.tax_exclusive) + t(totals.vat_total) {
        return fail("total with VAT (BR-CO-15)");
    }
    if t(totals.payable) != t(totals.tax_inclusive) {
        return fail("amount due (BR-CO-16)");
    }
    Ok(())
}

/// Net amounts per VAT category and rate, in a stable order (category, then rate).
fn net_by_group(lines: &[DocumentLine]) -> BTreeMap<LineTax, i64> {
    let mut groups = BTreeMap::new();
    for line in lines {
        *groups.entry(line.tax).or_insert(0) += line.net.amount_minor();
    }
    groups
}

/// `taxable × rate`, rounded half-up to the minor unit.
pub(super) fn vat_of(taxable_minor: i64, tax: LineTax) -> i64 {
    div_half_up(i128::from(taxable_minor) * i128::from(tax.rate().basis_points()), 10_000) as i64
}
