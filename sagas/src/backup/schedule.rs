//! The backup schedule saga: starts a site's schedule on its plan's terms when it goes live
//! and stops it when the site goes; takes the scheduled backup each time the schedule's timer
//! makes one due; and prunes, after each scheduled backup verifies and on each due time, what
//! grandfather-father-son retention no longer keeps: the object is deleted first, then the
//! backup recorded pruned.

use std::sync::Arc;
use std::time::Duration;

use berth_domain::backup::retention::{to_prune, Stored};
use berth_domain::backup::{Backup, BackupCommand, BackupEvent, BackupKind, BackupTrigger};
use berth_domain::backup_schedule::{BackupSchedule, ScheduleCommand, ScheduleEvent};
use berth_domain::event::Event;
use berth_domain::ids::{BackupId, SiteId};
use berth_domain::plan::{BackupFrequency, BackupPolicy as PlanBackups};
use berth_domain::site::{Site, SiteEvent};
use berth_eventstore::clock::Clock;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Backups;
use crate::context::SagaContext;
use crate::node::{saga_metadata, NodeWork};
use crate::outcome::{step, Step};
use crate::saga::{Outcome, Saga, Tuning};

const SAGA: &str = "backup_schedule";

/// The backup schedule saga.
pub struct ScheduleSaga {
    work: NodeWork,
    clock: Arc<dyn Clock>,
    backups: Backups,
}

/// `[sagas.backup_schedule]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSettings {
    /// Events worked on at once per sagas process.
    pub concurrency: usize,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self { concurrency: 2 }
    }
}

impl Saga for ScheduleSaga {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["site", "backup_schedule", "backup"];
    type Settings = ScheduleSettings;

    fn build(context: &SagaContext, _: &ScheduleSettings) -> Self {
        Self { work: NodeWork::new(context), clock: context.clock.clone(), backups: context.backups.clone() }
    }

    fn tuning(settings: &ScheduleSettings) -> Tuning {
        Tuning { concurrency: settings.concurrency.max(1), takeover: Duration::from_secs(120) }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Site(SiteEvent::Activated { .. } | SiteEvent::Deleted { .. })
                | Event::BackupSchedule(ScheduleEvent::Due { .. })
                | Event::Backup(BackupEvent::Verified { .. })
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(id) = event.aggregate_uuid() else { return Outcome::Done };
        let result = match &event.event {
            Event::Site(SiteEvent::Activated { .. }) => self.start(event, SiteId::from_uuid(id)).await,
            Event::Site(SiteEvent::Deleted { .. }) => self.stop(event, SiteId::from_uuid(id)).await,
            Event::BackupSchedule(ScheduleEvent::Due { due, next_at }) => {
                self.due(event, SiteId::from_uuid(id), *due, *next_at).await
            }
            Event::Backup(BackupEvent::Verified { .. }) => {
                self.verified(event, BackupId::from_uuid(id)).await
            }
            _ => Ok(()),
        };
        result.err().unwrap_or(Outcome::Done)
    }
}

impl ScheduleSaga {
    /// The site's plan's backup terms (a week of dailies without a running subscription).
    async fn terms(&self, site: &Site) -> Step<PlanBackups> {
        let fallback = PlanBackups { frequency: BackupFrequency::Daily, retention_days: 7, keep: None };
        let Some(tenant) = site.tenant_id() else { return Ok(fallback) };
        let running = berth_eventstore::billing::running_subscription(&self.work.store, tenant)
            .await
            .map_err(Outcome::later)?;
        Ok(running.and_then(|(_, s)| s.plan().map(|terms| terms.limits.backups)).unwrap_or(fallback))
    }

    async fn start(&self, event: &Recorded, site_id: SiteId) -> Step<()> {
        // Without storage there is nothing to schedule: the missing-backup alert says so.
        if self.backups.storage.is_none() {
            tracing::warn!(site_id = %site_id, "no backup storage is configured; the site is not backed up");
            return Ok(());
        }
        let site =
            self.work.store.load::<Site>(&site_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let Some(tenant_id) = site.tenant_id() else { return Ok(()) };
        let terms = self.terms(&site).await?;
        interval_gauge(site_id, terms.frequency);
        let command = ScheduleCommand::Start {
            site_id,
            tenant_id,
            frequency: terms.frequency,
            keep: terms.keep(),
            now: self.clock.now(),
        };
        let meta = saga_metadata(event, SAGA, "start");
        step(self.work.record::<BackupSchedule>(&site_id.to_string(), command, &meta).await)
    }

    async fn stop(&self, event: &Recorded, site_id: SiteId) -> Step<()> {
        let meta = saga_metadata(event, SAGA, "stop");
        step(self.work.record::<BackupSchedule>(&site_id.to_string(), ScheduleCommand::Stop, &meta).await)
    }

    /// The scheduled backup due at `due`, whose id derives from the site and the time, then
    /// retention. A due time whose successor has passed too (the sagas were down, or a test
    /// clock jumped) is skipped: only the latest missed backup is taken.
    async fn due(
        &self,
        event: &Recorded,
        site_id: SiteId,
        due: OffsetDateTime,
        next_at: OffsetDateTime,
    ) -> Step<()> {
        if next_at <= self.clock.now() {
            return Ok(());
        }
        let schedule = self
            .work
            .store
            .load::<BackupSchedule>(&site_id.to_string())
            .await
            .map_err(Outcome::later)?
            .aggregate;
        let site =
            self.work.store.load::<Site>(&site_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let Some(tenant_id) = site.tenant_id() else { return Ok(()) };
        let name = format!("scheduled:{site_id}:{}", due.unix_timestamp());
        let backup = BackupId::from_uuid(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()));
        let command = BackupCommand::Request {
            site_id,
            tenant_id,
            kind: BackupKind::Full,
            trigger: BackupTrigger::Scheduled,
            note: None,
            now: due,
            keep_until: None,
            restore_id: None,
        };
        step(
            self.work
                .record::<Backup>(&backup.to_string(), command, &saga_metadata(event, SAGA, "take"))
                .await,
        )?;
        self.prune(event, site_id, schedule.keep(), self.clock.now(), None).await
    }

    async fn verified(&self, event: &Recorded, id: BackupId) -> Step<()> {
        let backup = self.work.store.load::<Backup>(&id.to_string()).await.map_err(Outcome::later)?.aggregate;
        if backup.trigger() != BackupTrigger::Scheduled {
            return Ok(());
        }
        let schedule = self
            .work
            .store
            .load::<BackupSchedule>(&backup.site_id().to_string())
            .await
            .map_err(Outcome::later)?
            .aggregate;
        self.prune(event, backup.site_id(), schedule.keep(), self.clock.now(), Some(id)).await
    }

    /// Deletes the objects retention no longer keeps, then records each backup pruned. Retention
    /// reads the backups view; after `verified` verified, the view must show it so (else the
    /// step is tried again shortly): a view a moment behind would leave it out and keep, as the
    /// newest of their day or week, backups it replaces.
    async fn prune(
        &self,
        event: &Recorded,
        site_id: SiteId,
        keep: berth_domain::plan::GfsKeep,
        now: OffsetDateTime,
        verified: Option<BackupId>,
    ) -> Step<()> {
        let Some(storage) = &self.backups.storage else { return Ok(()) };
        let rows: Vec<(uuid::Uuid, OffsetDateTime, String, Option<OffsetDateTime>)> = sqlx::query_as(
            "SELECT backup_id, requested_at, status, keep_until FROM proj_backups.backups
              WHERE site_id = $1 AND status IN ('verified', 'abandoned')",
        )
        .bind(site_id.as_uuid())
        .fetch_all(&self.work.pool)
        .await
        .map_err(Outcome::later)?;
        let settled: Vec<Stored> = rows
            .into_iter()
            .map(|(id, taken_at, status, keep_until)| Stored {
                id: BackupId::from_uuid(id),
                taken_at,
                verified: status == "verified",
                keep_until,
            })
            .collect();
        if let Some(newest) = verified.filter(|v| !settled.iter().any(|s| s.id == *v && s.verified)) {
            return Err(Outcome::later(format!("the backups view does not show {newest} verified yet")));
        }
        for id in to_prune(&settled, keep, now) {
            let backup =
                self.work.store.load::<Backup>(&id.to_string()).await.map_err(Outcome::later)?.aggregate;
            if let Some(manifest) = backup.manifest() {
                let path = object_store::path::Path::from(manifest.object_key.as_str());
                match storage.store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(error) => return Err(Outcome::later(error)),
                }
            }
            let meta = saga_metadata(event, SAGA, &format!("prune:{id}"));
            step(
                self.work.record::<Backup>(&id.to_string(), BackupCommand::RecordPruned { now }, &meta).await,
            )?;
        }
        Ok(())
    }
}

/// `berth_site_backup_interval_seconds{site}`: how often the site is to be backed up, next to
/// `berth_site_last_verified_backup_timestamp_seconds{site}` for the missing-backup alert.
fn interval_gauge(site_id: SiteId, frequency: BackupFrequency) {
    let seconds = match frequency {
        BackupFrequency::Hourly => 3600.0,
        BackupFrequency::Daily => 86_400.0,
    };
    metrics::gauge!("berth_site_backup_interval_seconds", "site" => site_id.to_string()).set(seconds);
}
