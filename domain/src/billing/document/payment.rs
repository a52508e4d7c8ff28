//! How the buyer pays: a bank transfer to an IBAN, or a card.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::billing::text::{checked, TextError};

/// Why payment details were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// Not an IBAN, or its check digits are wrong.
    #[error("`{0}` is not a valid IBAN")]
    Iban(String),
    /// Card digits other than the last four.
    #[error("a card is recorded by its last four digits only")]
    CardDigits,
    /// A bank or network name that is empty or too long.
    #[error(transparent)]
    Text(#[from] TextError),
}

/// An International Bank Account Number, checked with ISO 13616's mod-97 rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(String);

impl Iban {
    /// Checks an IBAN, spaces allowed: `RO49 AAAA 1B31 0075 9384 0000`.
    pub fn parse(input: &str) -> Result<Self, PaymentError> {
        let iban: String = input.chars().filter(|c| *c != ' ').map(|c| c.to_ascii_uppercase()).collect();
        let bad = || PaymentError::Iban(input.to_owned());
        let b = iban.as_bytes();
        let shaped = (15..=34).contains(&b.len())
            && b[..2].iter().all(u8::is_ascii_uppercase)
            && b[2..4].iter().all(u8::is_ascii_digit)
            && b[4..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !shaped {
            return Err(bad());
        }
        // Move the first four characters to the end, read letters as 10..35, and the number
        // modulo 97 must be 1. Folding digit by digit keeps it small.
        let remainder = iban[4..].bytes().chain(iban[..4].bytes()).fold(0u32, |acc, c| {
            if c.is_ascii_digit() {
                (acc * 10 + u32::from(c - b'0')) % 97
            } else {
                (acc * 100 + u32::from(c - b'A') + 10) % 97
            }
        });
        if remainder != 1 {
            return Err(bad());
        }
        Ok(Self(iban))
    }

    /// The IBAN without spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The IBAN in groups of four, as printed for people.
    pub fn grouped(&self) -> String {
        let chunks: Vec<&str> =
            self.0.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
        chunks.join(" ")
    }
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Iban {
    type Error = PaymentError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Iban> for String {
    fn from(value: Iban) -> Self {
        value.0
    }
}

/// The card a payment was taken from, as far as an invoice may show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardDetails {
    network: String,
    last_four: String,
}

impl CardDetails {
    /// The card network (`VISA`) and the last four digits of the card number; the full number
    /// never belongs on an invoice.
    pub fn new(network: &str, last_four: &str) -> Result<Self, PaymentError> {
        if last_four.len() != 4 || !last_four.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PaymentError::CardDigits);
        }
        Ok(Self { network: checked("the card network", network, 35)?, last_four: last_four.to_owned() })
    }

    /// The network.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The last four digits.
    pub fn last_four(&self) -> &str {
        &self.last_four
    }
}

/// How the document is to be (or was) paid (BG-16).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "means")]
pub enum PaymentMeans {
    /// A credit transfer to the seller's account (UNCL 4461 code 30).
    BankTransfer {
        /// The seller's account.
        iban: Iban,
        /// The bank's name, printed for people.
        bank_name: Option<String>,
    },
    /// A card payment (UNCL 4461 code 48).
    Card {
        /// The card, if known.
        card: Option<CardDetails>,
    },
}

impl PaymentMeans {
    /// A bank transfer; the bank name is optional and at most 100 characters.
    pub fn bank_transfer(iban: Iban, bank_name: Option<&str>) -> Result<Self, PaymentError> {
        let bank_name = bank_name.map(|n| checked("the bank name", n, 100)).transpose()?;
        Ok(Self::BankTransfer { iban, bank_name })
    }

    /// The UNCL 4461 payment means code (BT-81).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BankTransfer { .. } => "30",
            Self::Card { .. } => "48",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_are_checked_with_mod_97() {
        let iban = Iban::parse("RO49 AAAA 1B31 0075 9384 0000").unwrap();
        assert_eq!(iban.as_str(), "RO49AAAA1B31007593840000");
        assert_eq!(iban.grouped(), "RO49 AAAA 1B31 0075 9384 0000");
        assert!(Iban::parse("DE89370400440532013000").is_ok());
        for bad in ["RO48AAAA1B31007593840000", "DE89370400440532013001", "RO49", "", "1234567890123456"] {
            assert!(Iban::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cards_keep_only_four_digits() {
        assert!(CardDetails::new("VISA", "4242").is_ok());
        assert_eq!(CardDetails::new("VISA", "4242424242424242"), Err(PaymentError::CardDigits));
    }
}
