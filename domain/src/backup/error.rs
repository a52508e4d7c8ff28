//! Why a backup command was refused.

use crate::error::{Refusal, RefusalKind};

/// A backup command that does not fit the backup's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// `Request` on a backup that exists.
    #[error("the backup already exists")]
    AlreadyExists,
    /// Any command but `Request` on a backup that does not exist.
    #[error("the backup does not exist")]
    NotFound,
    /// The outcome is for an attempt that is no longer the one under way.
    #[error("attempt {0} is no longer under way")]
    StaleAttempt(u32),
    /// The command does not fit the backup's status.
    #[error("the backup is {0}")]
    WrongStatus(&'static str),
    /// The manifest is for another kind than was asked for.
    #[error("the manifest is of another kind than the backup")]
    KindMismatch,
    /// A note over the length limit.
    #[error("a note is at most {0} characters")]
    NoteTooLong(usize),
}

impl Refusal for BackupError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists => "backup-exists",
            Self::NotFound => "backup-not-found",
            Self::StaleAttempt(_) => "backup-attempt-stale",
            Self::WrongStatus(_) => "backup-wrong-status",
            Self::KindMismatch => "backup-kind-mismatch",
            Self::NoteTooLong(_) => "backup-note-too-long",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists | Self::StaleAttempt(_) | Self::WrongStatus(_) => RefusalKind::Conflict,
            Self::KindMismatch | Self::NoteTooLong(_) => RefusalKind::Rule,
        }
    }
}
