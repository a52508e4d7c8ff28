//! Document numbers: a series and a gapless sequence number, such as `BRT000123`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a series or a number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Not 1 to 10 capital letters or digits.
    #[error("`{0}` is not a series: 1 to 10 capital letters or digits, like BRT")]
    Series(String),
    /// Sequence numbers start at 1.
    #[error("sequence numbers start at 1")]
    Zero,
}

/// A numbering series (`BRT`). Each series has its own gapless sequence; the allocation
/// happens where the invoice is issued, not here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Series(String);

impl Series {
    /// Checks a series name.
    pub fn parse(input: &str) -> Result<Self, NumberError> {
        let ok = (1..=10).contains(&input.len())
            && input.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(NumberError::Series(input.to_owned()))
        }
    }

    /// The series name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Series {
    type Error = NumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Series> for String {
    fn from(value: Series) -> Self {
        value.0
    }
}

/// A document's number: its series and its place in that series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DocumentNumber {
    series: Series,
    sequence: u64,
}

impl DocumentNumber {
    /// The `sequence`-th document of `series` (from 1).
    pub fn new(series: Series, sequence: u64) -> Result<Self, NumberError> {
        if sequence == 0 {
            return Err(NumberError::Zero);
        }
        Ok(Self { series, sequence })
    }

    /// The series.
    pub fn series(&self) -> &Series {
        &self.series
    }

    /// The sequence number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The sequence number as printed, at least six digits: `000123`.
    pub fn padded_sequence(&self) -> String {
        format!("{:06}", self.sequence)
    }
}

impl fmt::Display for DocumentNumber {
    /// The full number as e-invoices carry it (BT-1): `BRT000123`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:06}", self.series.as_str(), self.sequence)
    }
}
