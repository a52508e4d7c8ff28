//! Why a custom domain command was refused.

use crate::error::{Refusal, RefusalKind};

/// A custom domain command that breaks a rule or does not fit the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomDomainError {
    /// Another tenant's site has verified the domain.
    #[error("the domain is verified for another site")]
    ClaimedElsewhere,
    /// The domain is the site's own primary domain.
    #[error("the domain is the site's own domain")]
    IsPrimary,
    /// No claim by this site.
    #[error("the site has not claimed this domain")]
    NoClaim,
    /// Too many sites are waiting to verify the domain.
    #[error("{0} sites are already waiting to verify this domain")]
    TooManyClaims(usize),
}

impl Refusal for CustomDomainError {
    fn code(&self) -> &'static str {
        match self {
            Self::ClaimedElsewhere => "domain-claimed",
            Self::IsPrimary => "domain-is-primary",
            Self::NoClaim => "domain-claim-not-found",
            Self::TooManyClaims(_) => "too-many-domain-claims",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::ClaimedElsewhere | Self::TooManyClaims(_) => RefusalKind::Conflict,
            Self::IsPrimary => RefusalKind::Rule,
            Self::NoClaim => RefusalKind::NotFound,
        }
    }
}
