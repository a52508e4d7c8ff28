//! The steps of a restore, and why one fails.

use serde::{Deserialize, Serialize};

use crate::backup::BackupKind;

/// One step of a restore, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The stored object is read back and matches its manifest, before anything is touched.
    VerifyChecksum,
    /// The target's current state is backed up (and verified).
    SafetyBackup,
    /// The target answers 503 while it changes.
    MaintenanceOn,
    /// The backup's files are unpacked into a fresh directory.
    RestoreFiles,
    /// The dump is loaded into a fresh database.
    RestoreDatabase,
    /// The fresh directory and database replace the live ones, at once.
    Swap,
    /// The site answers.
    CheckSite,
    /// Maintenance is over.
    MaintenanceOff,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Self; 8] = [
        Self::VerifyChecksum,
        Self::SafetyBackup,
        Self::MaintenanceOn,
        Self::RestoreFiles,
        Self::RestoreDatabase,
        Self::Swap,
        Self::CheckSite,
        Self::MaintenanceOff,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyChecksum => "verify_checksum",
            Self::SafetyBackup => "safety_backup",
            Self::MaintenanceOn => "maintenance_on",
            Self::RestoreFiles => "restore_files",
            Self::RestoreDatabase => "restore_database",
            Self::Swap => "swap",
            Self::CheckSite => "check_site",
            Self::MaintenanceOff => "maintenance_off",
        }
    }

    /// The steps a restore of `what` runs, in order.
    pub fn plan(what: BackupKind) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|s| match s {
                Self::RestoreFiles => what.has_files(),
                Self::RestoreDatabase => what.has_database(),
                _ => true,
            })
            .collect()
    }
}

/// Why a restore failed (the target is left as it was).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreFailure {
    /// The backup is not verified, or not there any more.
    BackupUnavailable,
    /// The stored object does not match its manifest.
    ChecksumMismatch,
    /// The safety backup of the current state failed.
    SafetyBackupFailed,
    /// The node could not be reached.
    NodeUnreachable,
    /// Unpacking the files failed.
    FilesFailed,
    /// Loading the dump failed.
    DatabaseFailed,
    /// The swap failed (and was undone).
    SwapFailed,
    /// The site did not answer after the swap (which was undone).
    SiteCheckFailed,
}

impl RestoreFailure {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackupUnavailable => "backup_unavailable",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::SafetyBackupFailed => "safety_backup_failed",
            Self::NodeUnreachable => "node_unreachable",
            Self::FilesFailed => "files_failed",
            Self::DatabaseFailed => "database_failed",
            Self::SwapFailed => "swap_failed",
            Self::SiteCheckFailed => "site_check_failed",
        }
    }
}
