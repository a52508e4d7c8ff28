//! Why a restore command was refused.

use crate::backup::BackupKind;
use crate::error::{Refusal, RefusalKind};

use super::Step;

/// A restore command that breaks a rule or does not fit the restore's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// `Request` on a restore that exists.
    #[error("the restore already exists")]
    AlreadyExists,
    /// Any command but `Request` on a restore that does not exist.
    #[error("the restore does not exist")]
    NotFound,
    /// Restoring what the backup does not hold.
    #[error("a {backup} backup holds no {what} to restore")]
    NotInBackup {
        /// What the backup holds.
        backup: &'static str,
        /// What was asked for.
        what: &'static str,
    },
    /// A step out of order.
    #[error("step {got} is not the next one ({expected} is)")]
    OutOfOrder {
        /// The step expected.
        expected: &'static str,
        /// The step recorded.
        got: &'static str,
    },
    /// The restore has finished (completed or failed).
    #[error("the restore is over")]
    Over,
    /// Only a verified backup is restored.
    #[error("the backup is not verified; only a verified backup can be restored")]
    BackupNotVerified,
    /// A restore to a point in time before the site's first verified backup holding what was
    /// asked for.
    #[error("no verified backup of the site holding its {what} was taken at or before {at}")]
    NoBackupAt {
        /// What was asked for.
        what: &'static str,
        /// The point in time, as given.
        at: String,
    },
}

impl RestoreError {
    pub(super) fn not_in_backup(backup: BackupKind, what: BackupKind) -> Self {
        Self::NotInBackup { backup: backup.as_str(), what: what.as_str() }
    }

    pub(super) fn out_of_order(expected: Option<Step>, got: Step) -> Self {
        Self::OutOfOrder { expected: expected.map_or("none", Step::as_str), got: got.as_str() }
    }
}

impl Refusal for RestoreError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists => "restore-exists",
            Self::NotFound => "restore-not-found",
            Self::NotInBackup { .. } => "restore-not-in-backup",
            Self::OutOfOrder { .. } => "restore-step-out-of-order",
            Self::Over => "restore-over",
            Self::BackupNotVerified => "restore-backup-not-verified",
            Self::NoBackupAt { .. } => "restore-no-backup-at",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::NotInBackup { .. } | Self::NoBackupAt { .. } => RefusalKind::Rule,
            Self::AlreadyExists | Self::OutOfOrder { .. } | Self::Over | Self::BackupNotVerified => {
                RefusalKind::Conflict
            }
        }
    }
}
