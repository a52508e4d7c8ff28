//! Backup commands, and the rules that decide them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::event::BackupEvent as E;
use super::{Backup, BackupError, BackupKind, BackupTrigger, FailureReason, Manifest, Status};
use crate::ids::{RestoreId, SiteId, TenantId};

/// The longest note a backup keeps, in characters.
pub const MAX_NOTE: usize = 500;

/// What can be asked of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackupCommand {
    /// Take a backup of `site_id`.
    Request {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// What it is to hold.
        kind: BackupKind,
        /// Why.
        trigger: BackupTrigger,
        /// The asker's note.
        note: Option<String>,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
        /// Kept at least until then, whatever retention says.
        #[serde(with = "time::serde::rfc3339::option")]
        keep_until: Option<OffsetDateTime>,
        /// The restore this is the safety backup of.
        restore_id: Option<RestoreId>,
    },
    /// Record that attempt `attempt` stored its archive as `manifest`.
    RecordTaken {
        /// The attempt.
        attempt: u32,
        /// What was stored.
        manifest: Manifest,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Record that attempt `attempt`'s object was read back and checked.
    RecordVerified {
        /// The attempt.
        attempt: u32,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Record that attempt `attempt` failed; with `retry_at` another starts then.
    RecordFailure {
        /// The attempt.
        attempt: u32,
        /// What failed.
        reason: FailureReason,
        /// What failed, for people.
        detail: String,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
        /// When to try again; `None` after the last attempt.
        #[serde(with = "time::serde::rfc3339::option")]
        retry_at: Option<OffsetDateTime>,
    },
    /// Try failed attempt `attempt` again (the retry timer's command).
    Retry {
        /// The attempt that failed.
        attempt: u32,
    },
    /// The hold ends (the timer set by `keep_until`): a verified backup is to be pruned.
    EndHold {
        /// When it was due.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Record that the stored object is deleted.
    RecordPruned {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
}

pub(super) fn decide(backup: &Backup, command: BackupCommand) -> Result<Vec<E>, BackupError> {
    if let BackupCommand::Request { site_id, tenant_id, kind, trigger, note, now, keep_until, restore_id } =
        command
    {
        if backup.status.is_some() {
            return Err(BackupError::AlreadyExists);
        }
        let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
            return Err(BackupError::NoteTooLong(MAX_NOTE));
        }
        return Ok(vec![E::Requested {
            site_id,
            tenant_id,
            kind,
            trigger,
            note,
            requested_at: now,
            keep_until,
            restore_id,
        }]);
    }
    let Some(status) = backup.status else {
        return Err(BackupError::NotFound);
    };
    match command {
        BackupCommand::Request { .. } => unreachable!("handled above"),
        BackupCommand::RecordTaken { attempt, manifest, now } => {
            current(backup, attempt)?;
            match status {
                Status::Taking => {}
                Status::Verifying => return Ok(Vec::new()),
                other => return Err(BackupError::WrongStatus(other.as_str())),
            }
            if manifest.kind != backup.kind {
                return Err(BackupError::KindMismatch);
            }
            Ok(vec![E::Taken { attempt, manifest, taken_at: now }])
        }
        BackupCommand::RecordVerified { attempt, now } => {
            current(backup, attempt)?;
            match status {
                Status::Verifying => Ok(vec![E::Verified { attempt, verified_at: now }]),
                Status::Verified => Ok(Vec::new()),
                other => Err(BackupError::WrongStatus(other.as_str())),
            }
        }
        BackupCommand::RecordFailure { attempt, reason, detail, now, retry_at } => {
            current(backup, attempt)?;
            match status {
                Status::Taking | Status::Verifying => Ok(vec![E::Failed {
                    site_id: backup.site_id,
                    attempt,
                    reason,
                    detail,
                    failed_at: now,
                    retry_at,
                }]),
                Status::Failed | Status::Abandoned => Ok(Vec::new()),
                other => Err(BackupError::WrongStatus(other.as_str())),
            }
        }
        BackupCommand::Retry { attempt } => Ok(if status == Status::Failed && attempt == backup.attempt {
            vec![E::Retried { attempt: attempt + 1 }]
        } else {
            Vec::new()
        }),
        BackupCommand::EndHold { at } => {
            Ok(if status == Status::Verified { vec![E::HoldEnded { at }] } else { Vec::new() })
        }
        BackupCommand::RecordPruned { now } => match status {
            Status::Pruned => Ok(Vec::new()),
            Status::Verified | Status::Abandoned => Ok(vec![E::Pruned {
                object_key: backup.manifest.as_ref().map(|m| m.object_key.clone()),
                pruned_at: now,
            }]),
            other => Err(BackupError::WrongStatus(other.as_str())),
        },
    }
}

fn current(backup: &Backup, attempt: u32) -> Result<(), BackupError> {
    if attempt == backup.attempt {
        Ok(())
    } else {
        Err(BackupError::StaleAttempt(attempt))
    }
}
