//! `Quantity`: how much of a line's unit was supplied, in thousandths.
//!
//! Hosting bills whole months most of the time, but also 1.5 GB of extra storage or 0.25 of a
//! month; three decimals cover those without floats. `Quantity::from_thousandths(1500)` is 1.5.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a quantity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not a number with at most three decimals.
    #[error("`{0}` is not a quantity with at most three decimals, like 1 or 1.5")]
    Shape(String),
    /// Zero, or over a billion.
    #[error("a quantity must be more than 0 and at most {max} units", max = Quantity::MAX_UNITS)]
    OutOfRange,
}

/// A positive quantity with three decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Quantity(i64);

impl Quantity {
    /// The largest quantity accepted, in units; it keeps quantity × price inside `i64`.
    pub const MAX_UNITS: i64 = 1_000_000_000;

    /// A quantity from thousandths of a unit.
    pub fn from_thousandths(thousandths: i64) -> Result<Self, QuantityError> {
        if thousandths <= 0 || thousandths > Self::MAX_UNITS * 1000 {
            return Err(QuantityError::OutOfRange);
        }
        Ok(Self(thousandths))
    }

    /// A whole number of units.
    pub fn units(units: i64) -> Result<Self, QuantityError> {
        Self::from_thousandths(units.checked_mul(1000).ok_or(QuantityError::OutOfRange)?)
    }

    /// Reads `3`, `1.5` or `0.250`.
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let shape = || QuantityError::Shape(input.to_owned());
        let text = input.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let ok = !whole.is_empty()
            && whole.len() <= 10
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.len() <= 3
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && !text.ends_with('.');
        if !ok {
            return Err(shape());
        }
        let whole: i64 = whole.parse().map_err(|_| shape())?;
        let fraction: i64 = format!("{fraction:0<3}").parse().map_err(|_| shape())?;
        Self::from_thousandths(whole * 1000 + fraction)
    }

    /// The quantity in thousandths.
    pub fn thousandths(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Quantity {
    /// Three decimals: `1.500`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

impl TryFrom<i64> for Quantity {
    type Error = QuantityError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::from_thousandths(value)
    }
}

impl From<Quantity> for i64 {
    fn from(value: Quantity) -> Self {
        value.0
    }
}

/// The unit a line is counted in, with its UN/ECE Recommendation 20 code (BT-130).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitCode {
    /// One item (`C62`).
    Each,
    /// A month of service (`MON`).
    Month,
    /// A day of service (`DAY`).
    Day,
    /// An hour (`HUR`).
    Hour,
    /// A gigabyte (`E34`).
    Gigabyte,
}

impl UnitCode {
    /// Every unit.
    pub const ALL: [Self; 5] = [Self::Each, Self::Month, Self::Day, Self::Hour, Self::Gigabyte];

    /// The snake_case name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Each => "each",
            Self::Month => "month",
            Self::Day => "day",
            Self::Hour => "hour",
            Self::Gigabyte => "gigabyte",
        }
    }

    /// The Recommendation 20 code that e-invoices carry.
    pub fn code(self) -> &'static str {
        match self {
            Self::Each => "C62",
            Self::Month => "MON",
            Self::Day => "DAY",
            Self::Hour => "HUR",
            Self::Gigabyte => "E34",
        }
    }

    /// The short Romanian label printed on a PDF.
    pub fn label_ro(self) -> &'static str {
        match self {
            Self::Each => "buc.",
            Self::Month => "lună",
            Self::Day => "zi",
            Self::Hour => "oră",
            Self::Gigabyte => "GB",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_quantities() {
        assert_eq!(Quantity::parse("3").unwrap().thousandths(), 3000);
        assert_eq!(Quantity::parse("1.5").unwrap().to_string(), "1.500");
        assert_eq!(Quantity::parse("0.001").unwrap().thousandths(), 1);
    }

    #[test]
    fn rejects_zero_negative_and_malformed() {
        for bad in ["0", "0.000", "-1", "", "1.", "1.0001", "abc", "1e3", "10000000000"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_reparses(t in 1i64..=1_000_000_000_000) {
            let q = Quantity::from_thousandths(t).unwrap();
            prop_assert_eq!(Quantity::parse(&q.to_string()), Ok(q));
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,16}") {
            let _ = Quantity::parse(&input);
        }
    }
}
