//! Why a series command was refused.

use time::Date;

use crate::billing::DocumentKind;
use crate::error::{Refusal, RefusalKind};

/// A series command that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    /// Not a series prefix.
    #[error("`{0}` is not a series prefix: 1 to 6 capital letters, like BRT")]
    Prefix(String),
    /// `Open` on a series that is open.
    #[error("the series is already open")]
    AlreadyOpen,
    /// A number from a series that was never opened.
    #[error("the series is not open")]
    NotOpen,
    /// A number for a kind of document the series does not number.
    #[error("the series numbers {series:?} documents, not {document:?}")]
    WrongKind {
        /// What the series numbers.
        series: DocumentKind,
        /// What asked for a number.
        document: DocumentKind,
    },
    /// An issue date before the series' last one: numbers follow the dates of issue.
    #[error("the series' last document is dated {last}; a document dated {given} cannot follow it")]
    Backdated {
        /// The last issue date.
        last: Date,
        /// The one given.
        given: Date,
    },
    /// Not the next number (the caller read the series before another document took it).
    #[error("the next number is {next}, not {given}")]
    OutOfTurn {
        /// The next number.
        next: String,
        /// The number asked for.
        given: String,
    },
}

impl Refusal for SeriesError {
    fn code(&self) -> &'static str {
        match self {
            Self::Prefix(_) => "series-prefix-invalid",
            Self::AlreadyOpen => "series-exists",
            Self::NotOpen => "series-not-open",
            Self::WrongKind { .. } => "series-wrong-kind",
            Self::Backdated { .. } => "series-backdated",
            Self::OutOfTurn { .. } => "series-number-out-of-turn",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::Prefix(_) | Self::WrongKind { .. } => RefusalKind::Rule,
            Self::AlreadyOpen | Self::NotOpen | Self::Backdated { .. } | Self::OutOfTurn { .. } => {
                RefusalKind::Conflict
            }
        }
    }
}
