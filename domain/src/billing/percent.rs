//! `Percent`: a VAT rate or a discount rate in hundredths of a percent (basis points).
//!
//! 21% is 2100, Finland's 25.5% is 2550. Two decimals are what EN 16931 prints for a rate
//! (BT-119, BT-152) and no EU rate needs more, so integers carry every rate exactly.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a percentage was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    /// Not a number with at most two decimals.
    #[error("`{0}` is not a percentage with at most two decimals, like 19 or 25.5")]
    Shape(String),
    /// Over 100%.
    #[error("a percentage must be between 0 and 100")]
    OutOfRange,
}

/// A percentage between 0 and 100, exact to a hundredth of a percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Percent(u32);

impl Percent {
    /// 0%.
    pub const ZERO: Percent = Percent(0);
    /// 100% in basis points.
    pub const MAX_BASIS_POINTS: u32 = 10_000;

    /// A rate from hundredths of a percent: `from_basis_points(1900)` is 19%.
    pub fn from_basis_points(basis_points: u32) -> Result<Self, PercentError> {
        if basis_points > Self::MAX_BASIS_POINTS {
            return Err(PercentError::OutOfRange);
        }
        Ok(Self(basis_points))
    }

    /// Reads `19`, `19.0`, `25.5` or `5.00`.
    pub fn parse(input: &str) -> Result<Self, PercentError> {
        let shape = || PercentError::Shape(input.to_owned());
        let (whole, fraction) = input.trim().split_once('.').unwrap_or((input.trim(), ""));
        let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape());
        }
        if input.trim().ends_with('.') {
            return Err(shape());
        }
        let whole: u32 = whole.parse().map_err(|_| shape())?;
        let fraction: u32 = format!("{fraction:0<2}").parse().map_err(|_| shape())?;
        Self::from_basis_points(whole * 100 + fraction)
    }

    /// The rate in hundredths of a percent.
    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// Whether this is 0%.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Percent {
    /// Two decimals, as EN 16931 prints a rate: `19.00`, `25.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl TryFrom<u32> for Percent {
    type Error = PercentError;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::from_basis_points(value)
    }
}

impl From<Percent> for u32 {
    fn from(value: Percent) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_whole_and_decimal_rates() {
        assert_eq!(Percent::parse("19").unwrap().basis_points(), 1900);
        assert_eq!(Percent::parse("25.5").unwrap().basis_points(), 2550);
        assert_eq!(Percent::parse("5.00").unwrap().to_string(), "5.00");
        assert_eq!(Percent::parse("100").unwrap().basis_points(), 10_000);
    }

    #[test]
    fn rejects_what_is_not_a_rate() {
        for bad in ["", "x", "19.", ".5", "19.005", "-1", "1e2", "100.01", "19,5"] {
            assert!(Percent::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_reparses(bp in 0u32..=10_000) {
            let p = Percent::from_basis_points(bp).unwrap();
            prop_assert_eq!(Percent::parse(&p.to_string()), Ok(p));
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,12}") {
            let _ = Percent::parse(&input);
        }
    }
}
