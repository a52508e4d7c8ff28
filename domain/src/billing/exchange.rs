//! The VAT total in lei for a document issued in another currency.
//!
//! Romanian law wants the VAT of an invoice in a foreign currency stated in lei as well, and
//! CIUS-RO enforces it: a document not in RON names RON as its VAT accounting currency
//! (BR-RO-030) and then must give its total VAT in RON (BR-53, BT-111). The rate (usually the
//! National Bank of Romania's for the relevant date) comes in from outside; the conversion is
//! the total VAT × rate, rounded half-up to the ban once.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

use super::rounding::div_half_up;
use crate::money::{Currency, Money};

/// Why an exchange rate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeRateError {
    /// Not a positive number with at most six decimals.
    #[error(
        "`{0}` is not an exchange rate: a positive number of lei with at most six decimals, like 4.9763"
    )]
    Shape(String),
}

/// Lei per one unit of the document currency, exact to six decimals, and the date it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExchangeRate {
    lei_millionths: i64,
    #[serde(with = "super::iso_date")]
    date: Date,
}

impl ExchangeRate {
    /// Reads a rate such as `4.9763` (lei per unit) for `date`.
    pub fn parse(input: &str, date: Date) -> Result<Self, ExchangeRateError> {
        let shape = || ExchangeRateError::Shape(input.to_owned());
        let (whole, fraction) = input.trim().split_once('.').unwrap_or((input.trim(), ""));
        let digits = |s: &str, max: usize| s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole, 6) || !digits(fraction, 6) || input.trim().ends_with('.') {
            return Err(shape());
        }
        let whole: i64 = whole.parse().map_err(|_| shape())?;
        let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| shape())?;
        let lei_millionths = whole * 1_000_000 + fraction;
        if lei_millionths == 0 {
            return Err(shape());
        }
        Ok(Self { lei_millionths, date })
    }

    /// The rate in millionths of a leu per unit.
    pub fn lei_millionths(&self) -> i64 {
        self.lei_millionths
    }

    /// The date the rate is for.
    pub fn date(&self) -> Date {
        self.date
    }

    /// `amount` in lei, rounded half-up to the ban.
    pub fn to_lei(&self, amount: Money) -> Option<Money> {
        let lei = div_half_up(i128::from(amount.amount_minor()) * i128::from(self.lei_millionths), 1_000_000);
        Money::new(i64::try_from(lei).ok()?, ron()).ok()
    }
}

impl fmt::Display for ExchangeRate {
    /// Four to six decimals, as rates are usually quoted: `4.9763`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fraction = format!("{:06}", self.lei_millionths % 1_000_000);
        let trimmed = fraction.trim_end_matches('0');
        let shown = if trimmed.len() < 4 { &fraction[..4] } else { trimmed };
        write!(f, "{}.{}", self.lei_millionths / 1_000_000, shown)
    }
}

/// The total VAT of a foreign-currency document, in lei (BT-111).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatInLei {
    /// The rate used.
    pub rate: ExchangeRate,
    /// The total VAT in RON.
    pub vat_total: Money,
}

/// The Romanian leu.
pub(super) fn ron() -> Currency {
    Currency::parse("RON").expect("RON is a currency code")
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn converts_and_rounds_half_up() {
        let rate = ExchangeRate::parse("4.9763", date!(2025 - 08 - 01)).unwrap();
        let eur = Currency::parse("EUR").unwrap();
        // 42.00 EUR × 4.9763 = 209.0046 → 209.00 lei.
        assert_eq!(rate.to_lei(Money::new(4200, eur).unwrap()).unwrap().amount_minor(), 20900);
        // 0.50 EUR × 4.9763 = 2.48815 → 2.49 lei.
        assert_eq!(rate.to_lei(Money::new(50, eur).unwrap()).unwrap().amount_minor(), 249);
        assert_eq!(rate.to_string(), "4.9763");
    }

    #[test]
    fn rejects_what_is_not_a_rate() {
        for bad in ["", "0", "0.000", "-4.97", "4.", "4.1234567", "abc"] {
            assert!(ExchangeRate::parse(bad, date!(2025 - 08 - 01)).is_err(), "{bad}");
        }
    }
}
