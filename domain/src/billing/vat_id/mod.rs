//! `VatId`: an EU VAT identification number, checked for its country's format.
//!
//! A VAT id is a member state's prefix (the ISO code, but `EL` for Greece) followed by the
//! national number. Parsing normalises what people type (spaces, dots and dashes go, letters
//! are upper-cased) and then checks the number against its country's pattern (`format`), and
//! for Romania the CUI check digit (`cui`). Whether VIES has confirmed the id is *not* part of
//! the value: the same id is valid before and after verification, and the verification state
//! travels next to it (`treatment::VatIdStatus`).

mod cui;
mod format;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::country::CountryCode;

/// Why a string is not a VAT id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatIdError {
    /// The first two letters are not an EU member state's VAT prefix.
    #[error("`{0}` does not start with an EU VAT prefix (like RO or DE; Greece is EL)")]
    Prefix(String),
    /// The number does not have the country's format.
    #[error("`{id}` does not have the format of a {prefix} VAT id ({expected})")]
    Format {
        /// The id as given, normalised.
        id: String,
        /// The prefix.
        prefix: String,
        /// The expected shape, in words.
        expected: &'static str,
    },
    /// A Romanian CUI whose check digit is wrong.
    #[error("`{0}` is not a valid Romanian CUI: its check digit is wrong")]
    CheckDigit(String),
}

/// A VAT id whose format (and, for Romania, check digit) is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VatId {
    /// The whole id, prefix included, normalised: `RO18547290`.
    id: String,
    /// The member state that issued it.
    country: CountryCode,
}

impl VatId {
    /// Normalises and checks an id such as `RO 18547290` or `de123456789`.
    pub fn parse(input: &str) -> Result<Self, VatIdError> {
        let id: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let prefix = id.get(..2).ok_or_else(|| VatIdError::Prefix(id.clone()))?;
        let country = CountryCode::eu_members()
            .find(|c| c.vat_prefix() == prefix)
            .ok_or_else(|| VatIdError::Prefix(id.clone()))?;
        let number = &id[2..];
        if let Err(expected) = format::check(prefix, number) {
            return Err(VatIdError::Format { id: id.clone(), prefix: prefix.to_owned(), expected });
        }
        if country == CountryCode::ROMANIA && !cui::check_digit_ok(number) {
            return Err(VatIdError::CheckDigit(id));
        }
        Ok(Self { id, country })
    }

    /// The id with its prefix: `RO18547290`.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The national number without the prefix: `18547290`.
    pub fn number(&self) -> &str {
        &self.id[2..]
    }

    /// The member state that issued the id (`GR` for an `EL` id).
    pub fn country(&self) -> CountryCode {
        self.country
    }
}

impl fmt::Display for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl TryFrom<String> for VatId {
    type Error = VatIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<VatId> for String {
    fn from(value: VatId) -> Self {
        value.id
    }
}
