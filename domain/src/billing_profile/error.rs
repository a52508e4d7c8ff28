//! Why a billing profile command was refused.

use crate::error::{Refusal, RefusalKind};

/// A billing profile command that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingProfileError {
    /// The tenant has no billing profile yet (a document cannot be issued to it).
    #[error("the tenant has no billing profile yet")]
    NotFound,
    /// A profile set for another tenant than the one it belongs to.
    #[error("the billing profile belongs to another tenant")]
    OtherTenant,
    /// A currency Berth does not sell in.
    #[error("Berth bills in RON, EUR and USD, not {0}")]
    CurrencyNotOffered(String),
}

impl Refusal for BillingProfileError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "billing-profile-missing",
            Self::OtherTenant => "billing-profile-other-tenant",
            Self::CurrencyNotOffered(_) => "currency-not-offered",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::Conflict,
            Self::OtherTenant | Self::CurrencyNotOffered(_) => RefusalKind::Rule,
        }
    }
}
