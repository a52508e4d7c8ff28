//! Backup events: a public, versioned contract (a released variant is never reshaped; a
//! change gets a new version and an upcaster).

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{BackupKind, BackupTrigger, FailureReason, Manifest};
use crate::ids::{RestoreId, SiteId, TenantId};

/// Something that happened to a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackupEvent {
    /// A backup was asked for; attempt 1 starts.
    Requested {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// What it is to hold.
        kind: BackupKind,
        /// Why.
        trigger: BackupTrigger,
        /// The asker's note, if any.
        note: Option<String>,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        requested_at: OffsetDateTime,
        /// Until when it is kept whatever the retention policy says (a backup taken before a
        /// site is deleted); `None`: the plan's retention decides.
        #[serde(with = "time::serde::rfc3339::option")]
        keep_until: Option<OffsetDateTime>,
        /// The restore this is the safety backup of, if any.
        restore_id: Option<RestoreId>,
    },
    /// Attempt `attempt` stored the archive; it is not a backup until verified.
    Taken {
        /// The attempt.
        attempt: u32,
        /// What was stored.
        manifest: Manifest,
        /// When the upload finished.
        #[serde(with = "time::serde::rfc3339")]
        taken_at: OffsetDateTime,
    },
    /// The stored object was read back and matches its manifest, and its dump restored into a
    /// scratch database: from now on it counts as a backup.
    Verified {
        /// The attempt.
        attempt: u32,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        verified_at: OffsetDateTime,
    },
    /// Attempt `attempt` failed. With `retry_at` it is tried again then; without, it was the
    /// last attempt and the backup has failed for good (the site's owners are to be told).
    Failed {
        /// The site, so the failure can be told without reading the rest of the history.
        site_id: SiteId,
        /// The attempt.
        attempt: u32,
        /// What failed, for programs.
        reason: FailureReason,
        /// What failed, for people.
        detail: String,
        /// When it failed.
        #[serde(with = "time::serde::rfc3339")]
        failed_at: OffsetDateTime,
        /// When the next attempt starts, if there is one.
        #[serde(with = "time::serde::rfc3339::option")]
        retry_at: Option<OffsetDateTime>,
    },
    /// A failed attempt is tried again as attempt `attempt`.
    Retried {
        /// The new attempt.
        attempt: u32,
    },
    /// The time it was held until has come (it was taken before its site was deleted): it is
    /// to be pruned.
    HoldEnded {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// The stored object was deleted (by retention, or because the backup failed for good and
    /// left a partial object); the backup no longer exists in storage.
    Pruned {
        /// The object that was deleted, if there was one.
        object_key: Option<String>,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        pruned_at: OffsetDateTime,
    },
}

impl DomainEvent for BackupEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Requested { .. } => "BackupRequested",
            Self::Taken { .. } => "BackupTaken",
            Self::Verified { .. } => "BackupVerified",
            Self::Failed { .. } => "BackupFailed",
            Self::Retried { .. } => "BackupRetried",
            Self::HoldEnded { .. } => "BackupHoldEnded",
            Self::Pruned { .. } => "BackupPruned",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for BackupEvent {}
