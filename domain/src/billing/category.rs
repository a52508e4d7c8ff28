//! The VAT category of a line (EN 16931 BT-151, codes from UNCL 5305) and its rate.

use serde::{Deserialize, Serialize};

use super::percent::Percent;

/// The EN 16931 VAT categories Berth issues documents in.
///
/// Adding a variant later is a compatible change for stored documents; renaming one is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatCategory {
    /// `S`: VAT charged at a positive rate (domestic supplies, and OSS supplies to EU consumers).
    Standard,
    /// `AE`: reverse charge; the buyer accounts for the VAT (EU business with a verified id).
    ReverseCharge,
    /// `G`: no EU VAT charged because the service is supplied outside the EU. See
    /// `treatment` for why `G` rather than `O`.
    OutsideEu,
}

impl VatCategory {
    /// The UNCL 5305 code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Standard => "S",
            Self::ReverseCharge => "AE",
            Self::OutsideEu => "G",
        }
    }

    /// Why no VAT is charged, for the categories that charge none (BT-120 and BT-121).
    pub fn exemption(self) -> Option<Exemption> {
        match self {
            Self::Standard => None,
            Self::ReverseCharge => Some(Exemption {
                code: "VATEX-EU-AE",
                text: "Taxare inversă / Reverse charge (art. 196 Directiva 2006/112/CE)",
            }),
            Self::OutsideEu => Some(Exemption {
                code: "VATEX-EU-G",
                text: "Neimpozabil în UE: locul prestării este în afara UE / Supplied outside the EU",
            }),
        }
    }
}

/// Why a category charges no VAT: the VATEX code and the legal mention printed with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Exemption {
    /// The VATEX exemption reason code (BT-121).
    pub code: &'static str,
    /// The mention printed on the document (BT-120), Romanian first.
    pub text: &'static str,
}

/// Why a category and rate do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineTaxError {
    /// A standard-rated line at 0%.
    #[error("a standard-rated line needs a rate above 0%")]
    ZeroStandardRate,
    /// Reverse charge or a supply outside the EU with a rate.
    #[error("a {0:?} line carries no VAT, so its rate must be 0%")]
    RateNotZero(VatCategory),
}

/// A line's VAT category and rate, consistent with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LineTax {
    category: VatCategory,
    rate: Percent,
}

impl LineTax {
    /// Checks the pair: `S` has a positive rate, `AE` and `G` have 0%.
    pub fn new(category: VatCategory, rate: Percent) -> Result<Self, LineTaxError> {
        match category {
            VatCategory::Standard if rate.is_zero() => Err(LineTaxError::ZeroStandardRate),
            VatCategory::ReverseCharge | VatCategory::OutsideEu if !rate.is_zero() => {
                Err(LineTaxError::RateNotZero(category))
            }
            _ => Ok(Self { category, rate }),
        }
    }

    /// A standard-rated line at `rate`.
    pub fn standard(rate: Percent) -> Result<Self, LineTaxError> {
        Self::new(VatCategory::Standard, rate)
    }

    /// A reverse-charge line.
    pub fn reverse_charge() -> Self {
        Self { category: VatCategory::ReverseCharge, rate: Percent::ZERO }
    }

    /// A line supplied outside the EU.
    pub fn outside_eu() -> Self {
        Self { category: VatCategory::OutsideEu, rate: Percent::ZERO }
    }

    /// The category.
    pub fn category(&self) -> VatCategory {
        self.category
    }

    /// The rate.
    pub fn rate(&self) -> Percent {
        self.rate
    }
}
