//! Staging copies: a site of the tenant that holds a copy of a production site, on the same
//! node, at `staging.<production's domain>`, and that can be swapped back into production.
//!
//! Production's state keeps the copy and where its making or its promotion stands; the copy
//! knows which site it is the copy of and the node it must be placed on. The steps themselves
//! (a backup of production restored into the copy; a backup of the copy restored into
//! production) are backups and restores of their own; the staging saga moves from one to the
//! next and records each here, so the log tells how far a copy or a promotion got.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Site, SiteCommand, SiteError, SiteEvent, SiteStatus};
use crate::domain_name::DomainName;
use crate::ids::{BackupId, RestoreId, SiteId};

/// A step of making a staging copy or of promoting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StagingStep {
    /// The copy's site was set up on production's node.
    Provision,
    /// A backup of production was taken and verified.
    Backup,
    /// That backup was restored into the copy.
    Restore,
    /// A backup of the copy was taken and verified (promotion).
    PromoteBackup,
    /// That backup was restored into production, after a safety backup of it (promotion).
    PromoteRestore,
}

impl StagingStep {
    /// Every step, in the order they run.
    pub const ALL: [Self; 5] =
        [Self::Provision, Self::Backup, Self::Restore, Self::PromoteBackup, Self::PromoteRestore];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provision => "provision",
            Self::Backup => "backup",
            Self::Restore => "restore",
            Self::PromoteBackup => "promote_backup",
            Self::PromoteRestore => "promote_restore",
        }
    }

    /// The step's name among a site's steps (`staging_backup`).
    pub fn site_step(self) -> &'static str {
        match self {
            Self::Provision => "staging_provision",
            Self::Backup => "staging_backup",
            Self::Restore => "staging_restore",
            Self::PromoteBackup => "staging_promote_backup",
            Self::PromoteRestore => "staging_promote_restore",
        }
    }

    /// Whether it belongs to a promotion rather than to making the copy.
    pub fn promotes(self) -> bool {
        matches!(self, Self::PromoteBackup | Self::PromoteRestore)
    }

    /// The step after this one within its phase; `None` for a phase's last.
    fn next(self) -> Option<Self> {
        match self {
            Self::Provision => Some(Self::Backup),
            Self::Backup => Some(Self::Restore),
            Self::PromoteBackup => Some(Self::PromoteRestore),
            Self::Restore | Self::PromoteRestore => None,
        }
    }
}

/// Where a staging copy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StagingStatus {
    /// Being made.
    Copying,
    /// Serves the copy; can be promoted or deleted.
    Ready,
    /// Making it failed; it can only be deleted.
    Failed,
    /// Its content is being swapped into production.
    Promoting,
}

impl StagingStatus {
    /// Every value.
    pub const ALL: [Self; 4] = [Self::Copying, Self::Ready, Self::Failed, Self::Promoting];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Copying => "copying",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Promoting => "promoting",
        }
    }
}

/// Production's staging copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staging {
    /// The copy's site.
    pub site_id: SiteId,
    /// Its host name.
    pub domain: DomainName,
    /// Where it stands.
    pub status: StagingStatus,
    /// The step the current phase expects next (`None` when no phase runs).
    pub next: Option<StagingStep>,
    /// When the current phase, or its last step, ended.
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
    /// When the current phase started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The backup the current phase restores.
    pub backup_id: Option<BackupId>,
    /// The restore the current phase runs.
    pub restore_id: Option<RestoreId>,
}

/// What a copy knows of its production site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagingOf {
    /// The production site.
    pub production_site_id: SiteId,
    /// The node it is to be placed on (production's).
    pub node_id: crate::ids::NodeId,
}

fn millis(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
}

/// The decision for the commands of this module (and the one rule they add to `Delete`);
/// `None` for every other command.
pub(super) fn decide(site: &Site, command: &SiteCommand) -> Option<Result<Vec<SiteEvent>, SiteError>> {
    Some(match command {
        SiteCommand::CreateStaging { staging_site_id, domain, now } => {
            create(site, *staging_site_id, domain, *now)
        }
        SiteCommand::CreateAsStaging { site_id, tenant_id, domain, kind, php_version, of } => {
            if site.status != SiteStatus::None {
                return Some(Err(SiteError::AlreadyExists));
            }
            if let Err(refused) = super::command::check_php(*kind, *php_version) {
                return Some(Err(refused));
            }
            Ok(vec![
                SiteEvent::Created {
                    site_id: *site_id,
                    tenant_id: *tenant_id,
                    domain: domain.clone(),
                    kind: *kind,
                    php_version: *php_version,
                },
                SiteEvent::CreatedAsStaging {
                    production_site_id: of.production_site_id,
                    node_id: of.node_id,
                },
            ])
        }
        SiteCommand::RecordStagingStep { step, backup_id, restore_id, now } => {
            record_step(site, *step, *backup_id, *restore_id, *now)
        }
        SiteCommand::FailStaging { step, reason } => Ok(match &site.staging {
            Some(s) if s.next == Some(*step) => {
                vec![SiteEvent::StagingFailed {
                    staging_site_id: s.site_id,
                    step: *step,
                    reason: reason.clone(),
                }]
            }
            _ => Vec::new(),
        }),
        SiteCommand::PromoteStaging { backup_id, now } => promote(site, *backup_id, *now),
        SiteCommand::DetachStaging { staging_site_id } => Ok(match &site.staging {
            Some(s) if s.site_id == *staging_site_id => {
                vec![SiteEvent::StagingRemoved { staging_site_id: *staging_site_id }]
            }
            _ => Vec::new(),
        }),
        // Production goes only after its copy: deleting it first would leave a copy of nothing.
        SiteCommand::Delete if site.staging.is_some() => Err(SiteError::HasStaging),
        _ => return None,
    })
}

fn create(
    site: &Site,
    staging_site_id: SiteId,
    domain: &DomainName,
    now: OffsetDateTime,
) -> Result<Vec<SiteEvent>, SiteError> {
    super::command::require_live(site)?;
    if site.staging_of.is_some() {
        return Err(SiteError::IsStaging);
    }
    if site.staging.is_some() {
        return Err(SiteError::StagingExists);
    }
    super::command::require_idle(site)?;
    if site.status != SiteStatus::Active {
        return Err(SiteError::WrongStatus(site.status.as_str()));
    }
    if site.node.is_none() {
        return Err(SiteError::WrongStatus("on no node"));
    }
    Ok(vec![SiteEvent::StagingCreated { staging_site_id, domain: domain.clone(), requested_at: now }])
}

fn record_step(
    site: &Site,
    step: StagingStep,
    backup_id: Option<BackupId>,
    restore_id: Option<RestoreId>,
    now: OffsetDateTime,
) -> Result<Vec<SiteEvent>, SiteError> {
    let Some(staging) = &site.staging else { return Err(SiteError::NoStaging) };
    // A step recorded already (a redelivered event) changes nothing.
    if staging.next != Some(step) {
        return Ok(Vec::new());
    }
    let mut events = vec![SiteEvent::StagingStepCompleted {
        staging_site_id: staging.site_id,
        step,
        backup_id,
        restore_id,
        took_ms: millis(staging.last_at, now),
        completed_at: now,
    }];
    match step {
        StagingStep::Restore => events.push(SiteEvent::StagingReady {
            staging_site_id: staging.site_id,
            took_ms: millis(staging.started_at, now),
        }),
        StagingStep::PromoteRestore => events.push(SiteEvent::StagingPromoted {
            staging_site_id: staging.site_id,
            took_ms: millis(staging.started_at, now),
        }),
        _ => {}
    }
    Ok(events)
}

fn promote(site: &Site, backup_id: BackupId, now: OffsetDateTime) -> Result<Vec<SiteEvent>, SiteError> {
    super::command::require_live(site)?;
    let Some(staging) = &site.staging else { return Err(SiteError::NoStaging) };
    match staging.status {
        StagingStatus::Ready => {}
        StagingStatus::Promoting => return Err(SiteError::Busy("promotion")),
        other => return Err(SiteError::StagingNotReady(other.as_str())),
    }
    super::command::require_idle(site)?;
    Ok(vec![SiteEvent::StagingPromotionRequested {
        staging_site_id: staging.site_id,
        backup_id,
        requested_at: now,
    }])
}

/// How the events of this module change the state.
pub(super) fn apply(site: &mut Site, event: SiteEvent) {
    match event {
        SiteEvent::StagingCreated { staging_site_id, domain, requested_at } => {
            site.staging = Some(Staging {
                site_id: staging_site_id,
                domain,
                status: StagingStatus::Copying,
                next: Some(StagingStep::Provision),
                last_at: requested_at,
                started_at: requested_at,
                backup_id: None,
                restore_id: None,
            });
        }
        SiteEvent::CreatedAsStaging { production_site_id, node_id } => {
            site.staging_of = Some(StagingOf { production_site_id, node_id });
        }
        SiteEvent::StagingStepCompleted { step, backup_id, restore_id, completed_at, .. } => {
            if let Some(s) = site.staging.as_mut() {
                s.next = step.next();
                s.last_at = completed_at;
                if backup_id.is_some() {
                    s.backup_id = backup_id;
                }
                if restore_id.is_some() {
                    s.restore_id = restore_id;
                }
            }
        }
        SiteEvent::StagingReady { .. } | SiteEvent::StagingPromoted { .. } => {
            if let Some(s) = site.staging.as_mut() {
                s.status = StagingStatus::Ready;
                s.next = None;
            }
        }
        SiteEvent::StagingFailed { step, .. } => {
            if let Some(s) = site.staging.as_mut() {
                // A failed promotion leaves production as it was and the copy as it is.
                s.status = if step.promotes() { StagingStatus::Ready } else { StagingStatus::Failed };
                s.next = None;
            }
        }
        SiteEvent::StagingPromotionRequested { backup_id, requested_at, .. } => {
            if let Some(s) = site.staging.as_mut() {
                s.status = StagingStatus::Promoting;
                s.next = Some(StagingStep::PromoteBackup);
                s.started_at = requested_at;
                s.last_at = requested_at;
                s.backup_id = Some(backup_id);
                s.restore_id = None;
            }
        }
        SiteEvent::StagingRemoved { .. } => site.staging = None,
        _ => {}
    }
}
