//! Integer division rounded half-up, the one rounding rule of billing.
//!
//! EN 16931 rounds amounts to the minor unit "half-up" (0.005 becomes 0.01); every place in
//! billing that divides (VAT, proration, percentage discounts, quantity times price) goes through
//! here so the rule is written once. Amounts are never negative in billing, but the function is
//! defined for negatives too (half away from zero) so it can never silently round the wrong way.

/// `numerator / denominator`, rounded half away from zero. `denominator` must be positive.
pub(crate) fn div_half_up(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0, "denominators are positive constants or day counts");
    let (magnitude, sign) = if numerator < 0 { (-numerator, -1) } else { (numerator, 1) };
    let quotient = magnitude / denominator;
    let remainder = magnitude % denominator;
    let rounded = if remainder * 2 >= denominator { quotient + 1 } else { quotient };
    rounded * sign
}

#[cfg(test)]
mod tests {
    use super::div_half_up;
    use proptest::prelude::*;

    #[test]
    fn halves_round_up() {
        assert_eq!(div_half_up(5, 10), 1);
        assert_eq!(div_half_up(4, 10), 0);
        assert_eq!(div_half_up(15, 10), 2);
        assert_eq!(div_half_up(14_999, 10_000), 1);
        assert_eq!(div_half_up(-5, 10), -1);
        assert_eq!(div_half_up(7, 3), 2);
        assert_eq!(div_half_up(0, 7), 0);
    }

    proptest! {
        #[test]
        fn result_is_within_half_a_unit(n in 0i128..1_000_000_000_000, d in 1i128..1_000_000) {
            let q = div_half_up(n, d);
            // |q*d - n| <= d/2, and a tie goes up.
            prop_assert!((q * d - n).abs() * 2 <= d);
            if (q * d - n) * 2 == -d { prop_assert!(false, "a tie rounded down"); }
        }
    }
}
