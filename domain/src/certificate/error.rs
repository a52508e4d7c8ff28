//! Why a certificate command was refused.

use crate::error::{Refusal, RefusalKind};

/// A certificate command that does not fit the certificate's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The site is gone.
    #[error("the site's certificate is retired")]
    Retired,
    /// The outcome is for an attempt that is no longer the one under way.
    #[error("attempt {0} is no longer under way")]
    StaleAttempt(u32),
    /// More names than one certificate covers.
    #[error("too many names: a certificate covers at most {0}")]
    TooManyNames(usize),
}

impl Refusal for CertificateError {
    fn code(&self) -> &'static str {
        match self {
            Self::Retired => "certificate-retired",
            Self::StaleAttempt(_) => "certificate-attempt-stale",
            Self::TooManyNames(_) => "certificate-too-many-names",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::Retired | Self::StaleAttempt(_) => RefusalKind::Conflict,
            Self::TooManyNames(_) => RefusalKind::Rule,
        }
    }
}
