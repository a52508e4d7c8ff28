//! The staging saga: makes a site's staging copy and promotes it, through backups and restores.
//!
//! Making a copy: the copy's site is provisioned on production's node like any site; once it is
//! active, a backup of production is asked for; once that is verified, it is restored into the
//! copy (the restore rehomes WordPress to the copy's name and turns its search engine setting
//! off); once the restore completes, the copy is ready. Promoting: a backup of the copy, then
//! its restore into production, which takes a safety backup of production first and leaves
//! production as it was if any of its steps fails. Each step is recorded on the production
//! site as it ends; a failure is recorded with its reason. A deleted copy is detached from
//! production.
//!
//! The saga does no node work of its own: the backups and restores sagas do it. The ids of the
//! backups and restores it asks for derive from the event that asked, so a redelivered event
//! asks for nothing twice.

use std::sync::Arc;

use berth_domain::backup::{Backup, BackupCommand, BackupEvent, BackupKind, BackupTrigger};
use berth_domain::event::Event;
use berth_domain::ids::{BackupId, RestoreId, SiteId};
use berth_domain::restore::{Restore, RestoreCommand, RestoreEvent};
use berth_domain::site::{Site, SiteCommand, SiteEvent, StagingStatus, StagingStep};
use berth_eventstore::clock::Clock;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::context::SagaContext;
use crate::node::{saga_metadata, NodeWork};
use crate::outcome::{step, Step};
use crate::saga::{Outcome, Saga, Tuning};

const SAGA: &str = "staging";

/// The staging saga (consumes site, backup and restore events).
pub struct StagingSaga {
    work: NodeWork,
    clock: Arc<dyn Clock>,
}

/// `[sagas.staging]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StagingSettings {
    /// Events worked on at once per sagas process.
    pub concurrency: usize,
}

impl Default for StagingSettings {
    fn default() -> Self {
        Self { concurrency: 4 }
    }
}

impl Saga for StagingSaga {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["site", "backup", "restore"];
    type Settings = StagingSettings;

    fn build(context: &SagaContext, _: &StagingSettings) -> Self {
        Self { work: NodeWork::new(context), clock: context.clock.clone() }
    }

    fn tuning(settings: &StagingSettings) -> Tuning {
        Tuning { concurrency: settings.concurrency.max(1), takeover: std::time::Duration::from_secs(60) }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Site(
                SiteEvent::Activated { .. }
                    | SiteEvent::ProvisioningFailed { .. }
                    | SiteEvent::StagingPromotionRequested { .. }
                    | SiteEvent::Deleted { .. }
            ) | Event::Backup(BackupEvent::Verified { .. } | BackupEvent::Failed { retry_at: None, .. })
                | Event::Restore(RestoreEvent::Completed { .. } | RestoreEvent::Failed { .. })
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let result = match &event.event {
            Event::Site(site_event) => match event.aggregate_uuid().map(SiteId::from_uuid) {
                Some(site_id) => self.on_site(event, site_id, site_event).await,
                None => Ok(()),
            },
            Event::Backup(backup_event) => self.on_backup(event, backup_event).await,
            Event::Restore(restore_event) => self.on_restore(event, restore_event).await,
            _ => Ok(()),
        };
        result.err().unwrap_or(Outcome::Done)
    }
}

/// An id for what `event` asks for, the same on every delivery of it.
fn derived(event: &Recorded, what: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{}:{SAGA}:{what}", event.event_id).as_bytes())
}

impl StagingSaga {
    async fn site(&self, id: SiteId) -> Step<Site> {
        Ok(self.work.store.load::<Site>(&id.to_string()).await.map_err(Outcome::later)?.aggregate)
    }

    async fn on_site(&self, event: &Recorded, site_id: SiteId, site_event: &SiteEvent) -> Step<()> {
        let site = self.site(site_id).await?;
        if let SiteEvent::StagingPromotionRequested { staging_site_id, backup_id, .. } = site_event {
            return self.back_up(event, *staging_site_id, *backup_id, &site, "taken to promote it").await;
        }
        // The other site events matter for a copy only.
        let Some(of) = site.staging_of() else { return Ok(()) };
        let production_id = of.production_site_id;
        let production = self.site(production_id).await?;
        let Some(staging) = production.staging().filter(|s| s.site_id == site_id) else { return Ok(()) };
        match site_event {
            SiteEvent::Activated { .. } => {
                // The step first, naming the backup, so the backup's outcome always finds the
                // copy waiting for it; a redelivery (the step recorded, the backup perhaps
                // not asked for) asks for the same backup again, which refuses a repeat.
                let backup_id = BackupId::from_uuid(derived(event, "copy-backup"));
                let ours = staging.next == Some(StagingStep::Provision)
                    || (staging.next == Some(StagingStep::Backup) && staging.backup_id == Some(backup_id));
                if !ours {
                    return Ok(());
                }
                let command = SiteCommand::RecordStagingStep {
                    step: StagingStep::Provision,
                    backup_id: Some(backup_id),
                    restore_id: None,
                    now: self.clock.now(),
                };
                self.record(event, production_id, "provisioned", command).await?;
                self.back_up(event, production_id, backup_id, &production, "taken for its staging copy").await
            }
            SiteEvent::ProvisioningFailed { reason, .. } => {
                let command =
                    SiteCommand::FailStaging { step: StagingStep::Provision, reason: reason.clone() };
                self.record(event, production_id, "provision-failed", command).await
            }
            SiteEvent::Deleted { .. } => {
                let command = SiteCommand::DetachStaging { staging_site_id: site_id };
                self.record(event, production_id, "detach", command).await
            }
            _ => Ok(()),
        }
    }

    /// Asks for a full backup of `site_id` with id `backup_id`.
    async fn back_up(
        &self,
        event: &Recorded,
        site_id: SiteId,
        backup_id: BackupId,
        site: &Site,
        why: &str,
    ) -> Step<()> {
        let Some(tenant_id) = site.tenant_id() else { return Ok(()) };
        let command = BackupCommand::Request {
            site_id,
            tenant_id,
            kind: BackupKind::Full,
            trigger: BackupTrigger::OnDemand,
            note: Some(why.to_owned()),
            now: self.clock.now(),
            keep_until: None,
            restore_id: None,
        };
        let meta = saga_metadata(event, SAGA, "backup");
        step(self.work.record::<Backup>(&backup_id.to_string(), command, &meta).await)
    }

    /// A backup of production verified (or given up on) for its copy, or one of the copy for
    /// a promotion: its restore is asked for (or the failure recorded).
    async fn on_backup(&self, event: &Recorded, backup_event: &BackupEvent) -> Step<()> {
        let Some(backup_id) = event.aggregate_uuid().map(BackupId::from_uuid) else { return Ok(()) };
        let backup =
            self.work.store.load::<Backup>(&backup_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let source_id = backup.site_id();
        let source = self.site(source_id).await?;
        // The copy's backup of production, or production's promotion from its copy.
        let (production_id, production, target, at) = match (source.staging(), source.staging_of()) {
            (Some(s), _) if s.status == StagingStatus::Copying && s.backup_id == Some(backup_id) => {
                (source_id, source.clone(), s.site_id, StagingStep::Backup)
            }
            (_, Some(of)) => {
                let production = self.site(of.production_site_id).await?;
                match production.staging() {
                    Some(s)
                        if s.site_id == source_id
                            && s.status == StagingStatus::Promoting
                            && s.backup_id == Some(backup_id) =>
                    {
                        (
                            of.production_site_id,
                            production.clone(),
                            of.production_site_id,
                            StagingStep::PromoteBackup,
                        )
                    }
                    _ => return Ok(()),
                }
            }
            _ => return Ok(()),
        };
        let restore_id = RestoreId::from_uuid(derived(event, "restore"));
        let (next, asked) = production.staging().map_or((None, None), |s| (s.next, s.restore_id));
        let then = if at == StagingStep::Backup { StagingStep::Restore } else { StagingStep::PromoteRestore };
        // Waiting for this backup, or recorded it and perhaps not yet asked for the restore.
        if next != Some(at) && !(next == Some(then) && asked == Some(restore_id)) {
            return Ok(());
        }
        if let BackupEvent::Failed { reason, detail, .. } = backup_event {
            let reason = format!("the backup failed: {} ({detail})", reason.as_str());
            let command = SiteCommand::FailStaging { step: at, reason };
            return self.record(event, production_id, "backup-failed", command).await;
        }
        let Some(tenant_id) = production.tenant_id() else { return Ok(()) };
        let command = RestoreCommand::Request {
            backup_id,
            backup_kind: backup.kind(),
            source_site_id: source_id,
            target_site_id: target,
            tenant_id,
            what: backup.kind(),
            safety_backup_id: BackupId::from_uuid(derived(event, "safety")),
            now: self.clock.now(),
        };
        let record = SiteCommand::RecordStagingStep {
            step: at,
            backup_id: None,
            restore_id: Some(restore_id),
            now: self.clock.now(),
        };
        self.record(event, production_id, "backed-up", record).await?;
        let meta = saga_metadata(event, SAGA, "restore");
        step(self.work.record::<Restore>(&restore_id.to_string(), command, &meta).await)
    }

    /// A restore into the copy, or into production for a promotion, ended.
    async fn on_restore(&self, event: &Recorded, restore_event: &RestoreEvent) -> Step<()> {
        let Some(restore_id) = event.aggregate_uuid().map(RestoreId::from_uuid) else { return Ok(()) };
        let restore =
            self.work.store.load::<Restore>(&restore_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let Some(request) = restore.request() else { return Ok(()) };
        let target = self.site(request.target_site_id).await?;
        let (production_id, at) = match target.staging_of() {
            Some(of) => (of.production_site_id, StagingStep::Restore),
            None => (request.target_site_id, StagingStep::PromoteRestore),
        };
        let production =
            if production_id == request.target_site_id { target } else { self.site(production_id).await? };
        let Some(staging) = production.staging() else { return Ok(()) };
        if staging.next != Some(at) || staging.restore_id != Some(restore_id) {
            return Ok(());
        }
        let command = match restore_event {
            RestoreEvent::Failed { step, reason, detail, .. } => SiteCommand::FailStaging {
                step: at,
                reason: format!("the restore failed at {}: {} ({detail})", step.as_str(), reason.as_str()),
            },
            _ => SiteCommand::RecordStagingStep {
                step: at,
                backup_id: None,
                restore_id: None,
                now: self.clock.now(),
            },
        };
        self.record(event, production_id, "restored", command).await
    }

    async fn record(&self, event: &Recorded, site_id: SiteId, name: &str, command: SiteCommand) -> Step<()> {
        step(self.work.record::<Site>(&site_id.to_string(), command, &saga_metadata(event, SAGA, name)).await)
    }
}
