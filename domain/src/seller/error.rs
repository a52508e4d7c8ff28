//! Why a seller command was refused, or a document cannot be issued for want of a seller.

use crate::billing::DocumentKind;
use crate::error::{Refusal, RefusalKind};

/// A seller command that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SellerError {
    /// A person as the seller.
    #[error("the seller is a company")]
    NotACompany,
    /// A seller without a VAT id.
    #[error("the seller needs a VAT id: every document carries it")]
    VatIdRequired,
    /// A seller established outside Romania.
    #[error("the tax rules cover a seller established in Romania, not in {0}")]
    NotInRomania(String),
    /// A bank name that is empty, too long or holds control characters.
    #[error("{0}")]
    BankName(String),
    /// A document issued before the seller's details were set.
    #[error("the seller's details are not set yet")]
    NotConfigured,
    /// A document of a kind no series numbers yet.
    #[error("no series numbers {0:?} documents yet")]
    NoSeries(DocumentKind),
}

impl Refusal for SellerError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotACompany => "seller-not-a-company",
            Self::VatIdRequired => "seller-vat-id-required",
            Self::NotInRomania(_) => "seller-not-in-romania",
            Self::BankName(_) => "seller-bank-name-invalid",
            Self::NotConfigured => "seller-not-configured",
            Self::NoSeries(_) => "series-not-chosen",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotACompany | Self::VatIdRequired | Self::NotInRomania(_) | Self::BankName(_) => {
                RefusalKind::Rule
            }
            Self::NotConfigured | Self::NoSeries(_) => RefusalKind::Conflict,
        }
    }
}
