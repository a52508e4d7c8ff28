//! Coupons: a discount on the whole document, applied before tax.
//!
//! EN 16931 carries a document-level discount as allowances (BG-20), each with the VAT
//! category and rate it reduces, and every VAT group's taxable amount is its lines' net minus
//! its allowances (BR-S-08, BR-AE-08, BR-G-08). A coupon that spans several rates is
//! therefore spread over the groups in proportion to their net amounts, by the largest
//! remainder method: each group gets the integer part of its exact share, and the cents left
//! over go one each to the groups with the largest fractional parts (the first group wins a
//! tie). The parts add up to the coupon exactly, so the totals identities hold to the cent.

use serde::{Deserialize, Serialize};

use super::percent::Percent;
use super::text::{checked, TextError};
use crate::money::Money;

/// How much a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponValue {
    /// A percentage of the lines' net total, rounded half-up once on that total.
    Percent(Percent),
    /// A fixed amount, at most the lines' net total.
    Amount(Money),
}

/// A discount on the whole document, with the reason printed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    reason: String,
    value: CouponValue,
}

impl Coupon {
    /// A coupon; `reason` (up to 100 characters) is printed on the document, such as
    /// `Cupon WELCOME10`.
    pub fn new(reason: &str, value: CouponValue) -> Result<Self, TextError> {
        Ok(Self { reason: checked("the coupon reason", reason, 100)?, value })
    }

    /// The reason printed for the discount (BT-97).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// How much it takes off.
    pub fn value(&self) -> CouponValue {
        self.value
    }
}

/// Splits `total` over `weights` in proportion, by the largest remainder method. The parts
/// add up to `total`; every weight must be non-negative and their sum positive, and `total`
/// non-negative.
pub(super) fn spread(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    // (integer part, remainder) of each exact share `total × weight / sum`.
    let exact: Vec<(i64, i128)> = weights
        .iter()
        .map(|w| {
            let scaled = i128::from(total) * i128::from(*w);
            ((scaled / sum) as i64, scaled % sum)
        })
        .collect();
    let mut parts: Vec<i64> = exact.iter().map(|(q, _)| *q).collect();
    let left_over = total - parts.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Largest remainder first; `sort_by` is stable, so ties keep the groups' order.
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1));
    for &i in order.iter().take(left_over as usize) {
        parts[i] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::spread;
    use proptest::prelude::*;

    #[test]
    fn spreads_by_largest_remainder() {
        // 10.00 over 1:1:1 → 3.333… each; 333 each and the one cent left goes to the first.
        assert_eq!(spread(1000, &[100, 100, 100]), vec![334, 333, 333]);
        // 5 over 3000:1000 → 3.75 and 1.25 → 3 and 1, the left-over cent to the .75.
        assert_eq!(spread(5, &[3000, 1000]), vec![4, 1]);
        assert_eq!(spread(0, &[1, 2]), vec![0, 0]);
    }

    proptest! {
        #[test]
        fn parts_add_up_and_stay_within_a_cent_of_the_exact_share(
            weights in prop::collection::vec(0i64..10_000_000, 1..6),
            fraction in 0u32..=100,
        ) {
            let sum: i64 = weights.iter().sum();
            prop_assume!(sum > 0);
            let total = sum * i64::from(fraction) / 100;
            let parts = spread(total, &weights);
            prop_assert_eq!(parts.iter().sum::<i64>(), total);
            for (part, weight) in parts.iter().zip(&weights) {
                let exact = i128::from(total) * i128::from(*weight);
                let scaled = i128::from(*part) * i128::from(sum);
                prop_assert!((scaled - exact).abs() < i128::from(sum));
                prop_assert!(part <= weight);
            }
        }
    }
}
