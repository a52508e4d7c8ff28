//! Restore events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{RestoreFailure, Step};
use crate::backup::BackupKind;
use crate::ids::{BackupId, SiteId, TenantId};

/// Something that happened to a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestoreEvent {
    /// A restore of `backup_id` into `target_site_id` was asked for.
    Requested {
        /// The backup.
        backup_id: BackupId,
        /// The site it was taken of.
        source_site_id: SiteId,
        /// The site it is restored into (the same one, or another of the tenant's).
        target_site_id: SiteId,
        /// Their owner.
        tenant_id: TenantId,
        /// What is restored.
        what: BackupKind,
        /// The backup of the target's current state taken first.
        safety_backup_id: BackupId,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        requested_at: OffsetDateTime,
    },
    /// A step finished.
    StepCompleted {
        /// The step.
        step: Step,
        /// When it finished.
        #[serde(with = "time::serde::rfc3339")]
        completed_at: OffsetDateTime,
        /// How long it took, in milliseconds.
        took_ms: u64,
    },
    /// Every step finished: the target serves the backup's content.
    Completed {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        completed_at: OffsetDateTime,
    },
    /// A step failed; the target was left (or put back) as it was before the restore.
    Failed {
        /// The site restored into, so the failure can be told from this event alone.
        target_site_id: SiteId,
        /// The step.
        step: Step,
        /// What failed, for programs.
        reason: RestoreFailure,
        /// What failed, for people.
        detail: String,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        failed_at: OffsetDateTime,
    },
}

impl DomainEvent for RestoreEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Requested { .. } => "RestoreRequested",
            Self::StepCompleted { .. } => "RestoreStepCompleted",
            Self::Completed { .. } => "RestoreCompleted",
            Self::Failed { .. } => "RestoreFailed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for RestoreEvent {}
