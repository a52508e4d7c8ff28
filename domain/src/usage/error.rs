//! Why a usage command was refused.

use crate::billing::ServicePeriod;
use crate::error::{Refusal, RefusalKind};

/// A usage command that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// Not an idempotency key.
    #[error("`{0}` is not a usage key: 1 to 200 characters of A-Z, a-z, 0-9 and `:._-`")]
    Key(String),
    /// A reading for another subscription or tenant than this stream's.
    #[error("the reading is for another subscription")]
    OtherSubscription,
    /// A reading for a period that starts like a known one but ends elsewhere.
    #[error("the period starting {} ends on {}, not {}", known.start(), known.end(), given.end())]
    PeriodMismatch {
        /// The period already recorded.
        known: ServicePeriod,
        /// The one given.
        given: ServicePeriod,
    },
    /// A total beyond what a bill can carry.
    #[error("the period's total for this metric would be too large")]
    TotalTooLarge,
}

impl Refusal for UsageError {
    fn code(&self) -> &'static str {
        match self {
            Self::Key(_) => "usage-key-invalid",
            Self::OtherSubscription => "usage-other-subscription",
            Self::PeriodMismatch { .. } => "usage-period-mismatch",
            Self::TotalTooLarge => "usage-too-large",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::Key(_) | Self::OtherSubscription | Self::PeriodMismatch { .. } | Self::TotalTooLarge => {
                RefusalKind::Rule
            }
        }
    }
}
