//! Why a dunning command was refused.

use crate::error::{Refusal, RefusalKind};

/// A dunning command that does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DunningError {
    /// No collection for that document.
    #[error("the document is not being collected")]
    NotFound,
    /// A collection of nothing.
    #[error("nothing is due on the document")]
    NothingDue,
    /// The document is paid: nothing more happens.
    #[error("the document is paid")]
    Settled,
    /// A site held before grace ended.
    #[error("the grace period has not ended")]
    InGrace,
    /// An attempt recorded out of turn.
    #[error("attempt {got} recorded while attempt {expected} is the next")]
    AttemptOutOfOrder {
        /// The next attempt.
        expected: u32,
        /// The one recorded.
        got: u32,
    },
}

impl Refusal for DunningError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "dunning-not-found",
            Self::NothingDue => "nothing-due",
            Self::Settled => "invoice-paid",
            Self::InGrace => "dunning-in-grace",
            Self::AttemptOutOfOrder { .. } => "dunning-attempt-out-of-order",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::NothingDue => RefusalKind::Rule,
            Self::Settled | Self::InGrace | Self::AttemptOutOfOrder { .. } => RefusalKind::Conflict,
        }
    }
}
