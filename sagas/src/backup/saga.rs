//! The backups saga: takes each requested (or retried) backup, verifies what it stored, and
//! clears away what a backup that failed for good left behind. Every outcome is a command on
//! the backup; a failed attempt carries its retry time, and the backup's own durable timer
//! starts the next attempt (no saga waits).
//!
//! A step that dies half-way (the process killed during an upload) leaves an aborted or
//! unfinished multipart upload, never a completed object; its event is delivered again and
//! the attempt starts over. A backup counts only once `BackupVerified` is recorded, which
//! happens only after the stored object was read back whole.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_domain::backup::{
    Backup, BackupCommand, BackupEvent, BackupTrigger, FailureReason, Manifest, Status,
};
use berth_domain::event::Event;
use berth_domain::ids::{BackupId, TenantId};
use berth_domain::site::Site;
use berth_eventstore::clock::Clock;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::pipeline::{self, Failure, Job};
use super::{crypt, store, Backups};
use crate::context::SagaContext;
use crate::node::{saga_metadata, NodeWork, TargetError};
use crate::outcome::{step, Step};
use crate::saga::{Outcome, Saga, Tuning};

const SAGA: &str = "backups";

/// The backups saga (consumes backup events).
pub struct BackupSaga {
    work: NodeWork,
    clock: Arc<dyn Clock>,
    backups: Backups,
}

/// `[sagas.backups]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSagaSettings {
    /// Backups worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
}

impl Default for BackupSagaSettings {
    fn default() -> Self {
        Self { concurrency: 2, takeover_secs: 600 }
    }
}

/// The id of a tenant's backup key in the vault.
pub fn key_id(tenant: TenantId) -> uuid::Uuid {
    uuid::Uuid::new_v5(&tenant.as_uuid(), b"berth-backup-key")
}

impl Saga for BackupSaga {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["backup"];
    type Settings = BackupSagaSettings;

    fn build(context: &SagaContext, _: &BackupSagaSettings) -> Self {
        Self { work: NodeWork::new(context), clock: context.clock.clone(), backups: context.backups.clone() }
    }

    fn tuning(settings: &BackupSagaSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Backup(
                BackupEvent::Requested { .. }
                    | BackupEvent::Retried { .. }
                    | BackupEvent::Taken { .. }
                    | BackupEvent::Failed { retry_at: None, .. }
                    | BackupEvent::HoldEnded { .. }
            )
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(id) = event.aggregate_uuid().map(BackupId::from_uuid) else {
            return Outcome::Failed(format!("`{}` is not a backup id", event.aggregate_id));
        };
        let result = match &event.event {
            Event::Backup(BackupEvent::Requested { .. }) => self.take(event, id, 1).await,
            Event::Backup(BackupEvent::Retried { attempt }) => self.take(event, id, *attempt).await,
            Event::Backup(BackupEvent::Taken { attempt, .. }) => self.verify(event, id, *attempt).await,
            Event::Backup(BackupEvent::Failed { .. } | BackupEvent::HoldEnded { .. }) => {
                self.discard(event, id).await
            }
            _ => Ok(()),
        };
        result.err().unwrap_or(Outcome::Done)
    }
}

impl BackupSaga {
    async fn load(&self, id: BackupId) -> Step<Backup> {
        Ok(self.work.store.load::<Backup>(&id.to_string()).await.map_err(Outcome::later)?.aggregate)
    }

    /// Everything a pipeline job needs but the key; a failure to record if something is missing.
    async fn job_parts(
        &self,
        backup: &Backup,
    ) -> Step<Result<(crate::ssh::Target, super::BackupStorage), Failure>> {
        let site =
            self.work.store.load::<Site>(&backup.site_id().to_string()).await.map_err(Outcome::later)?;
        let Some(placement) = site.aggregate.node() else {
            return Ok(Err(failure(FailureReason::NodeUnreachable, "the site is on no node")));
        };
        let Some(storage) = self.backups.storage.clone() else {
            return Ok(Err(failure(
                FailureReason::UploadFailed,
                "no object storage is configured ([backups] endpoint)",
            )));
        };
        match self.work.target(placement.node_id).await {
            Ok(target) => Ok(Ok((target, storage))),
            Err(TargetError::Store(error)) => Err(Outcome::later(error)),
            Err(error) => Ok(Err(failure(FailureReason::NodeUnreachable, error.to_string()))),
        }
    }

    #[tracing::instrument(skip_all, fields(backup_id = %id, attempt))]
    async fn take(&self, event: &Recorded, id: BackupId, attempt: u32) -> Step<()> {
        let backup = self.load(id).await?;
        if backup.status() != Some(Status::Taking) || backup.attempt() != attempt {
            return Ok(());
        }
        let Some(tenant) = backup.tenant_id() else { return Ok(()) };
        let (target, storage) = match self.job_parts(&backup).await? {
            Ok(parts) => parts,
            Err(failed) => return self.fail(event, id, &backup, failed).await,
        };
        let key_id = key_id(tenant);
        let key = self
            .work
            .vault
            .open_or_create(&self.work.pool, key_id, "backup-key", || {
                Zeroizing::new(crypt::generate_key().map(|k| k.to_vec()).unwrap_or_default())
            })
            .await
            .map_err(Outcome::later)?;
        let path = store::object_key(&storage.prefix, tenant, id);
        let job = Job {
            shell: &*self.work.shell,
            target: &target,
            store: storage.store.clone(),
            path: path.clone(),
            key: &key,
            site: backup.site_id(),
            backup: id,
            kind: backup.kind(),
            part_size: storage.part_size,
        };
        let started = Instant::now();
        match pipeline::take(&job).await {
            Ok(taken) => {
                tracing::info!(size = taken.size, took_ms = ?started.elapsed(), "backup stored");
                let manifest = Manifest {
                    size: taken.size,
                    sha256: taken.sha256,
                    object_key: path.to_string(),
                    kind: backup.kind(),
                    parts: taken.parts,
                    key_id,
                };
                let command = BackupCommand::RecordTaken { attempt, manifest, now: self.clock.now() };
                step(
                    self.work
                        .record::<Backup>(&id.to_string(), command, &saga_metadata(event, SAGA, "taken"))
                        .await,
                )
            }
            Err(failed) => self.fail(event, id, &backup, failed).await,
        }
    }

    #[tracing::instrument(skip_all, fields(backup_id = %id, attempt))]
    async fn verify(&self, event: &Recorded, id: BackupId, attempt: u32) -> Step<()> {
        let backup = self.load(id).await?;
        let Some(manifest) = backup.manifest().cloned() else { return Ok(()) };
        if backup.status() != Some(Status::Verifying) || backup.attempt() != attempt {
            return Ok(());
        }
        let (target, storage) = match self.job_parts(&backup).await? {
            Ok(parts) => parts,
            Err(failed) => return self.fail(event, id, &backup, failed).await,
        };
        let key = self.work.vault.open(&self.work.pool, manifest.key_id).await.map_err(Outcome::later)?;
        let job = Job {
            shell: &*self.work.shell,
            target: &target,
            store: storage.store.clone(),
            path: object_store::path::Path::from(manifest.object_key.as_str()),
            key: &key,
            site: backup.site_id(),
            backup: id,
            kind: manifest.kind,
            part_size: storage.part_size,
        };
        match pipeline::verify(&job, manifest.size, &manifest.sha256).await {
            Ok(checked) => {
                tracing::info!(tables = checked.tables, entries = checked.entries, "backup verified");
                let now = self.clock.now();
                metrics::gauge!("berth_site_last_verified_backup_timestamp_seconds", "site" => backup.site_id().to_string())
                    .set(now.unix_timestamp() as f64);
                let command = BackupCommand::RecordVerified { attempt, now };
                step(
                    self.work
                        .record::<Backup>(&id.to_string(), command, &saga_metadata(event, SAGA, "verified"))
                        .await,
                )
            }
            Err(failed) => self.fail(event, id, &backup, failed).await,
        }
    }

    /// Records a failed attempt, with the next attempt's time unless it was the last.
    async fn fail(&self, event: &Recorded, id: BackupId, backup: &Backup, failed: Failure) -> Step<()> {
        tracing::warn!(backup_id = %id, reason = failed.reason.as_str(), detail = %failed.detail, "backup attempt failed");
        metrics::counter!("berth_backup_failures_total", "reason" => failed.reason.as_str()).increment(1);
        let now = self.clock.now();
        let retry_at = self
            .backups
            .policy
            .retry_after(backup.attempt())
            .map(|wait| now + time::Duration::seconds(i64::try_from(wait.as_secs()).unwrap_or(i64::MAX)));
        let command = BackupCommand::RecordFailure {
            attempt: backup.attempt(),
            reason: failed.reason,
            detail: failed.detail,
            now,
            retry_at,
        };
        step(
            self.work.record::<Backup>(&id.to_string(), command, &saga_metadata(event, SAGA, "failed")).await,
        )
    }

    /// A backup that failed for good, or whose hold ended: whatever it stored is deleted, then
    /// it is recorded pruned.
    async fn discard(&self, event: &Recorded, id: BackupId) -> Step<()> {
        let backup = self.load(id).await?;
        let held_until_now = backup.status() == Some(Status::Verified) && backup.keep_until().is_none();
        if backup.status() != Some(Status::Abandoned)
            && !(held_until_now && backup.trigger() == BackupTrigger::BeforeDelete)
        {
            return Ok(());
        }
        let Some(manifest) = backup.manifest() else { return Ok(()) };
        let Some(storage) = &self.backups.storage else { return Ok(()) };
        match storage.store.delete(&object_store::path::Path::from(manifest.object_key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(Outcome::later(error)),
        }
        let command = BackupCommand::RecordPruned { now: self.clock.now() };
        step(
            self.work
                .record::<Backup>(&id.to_string(), command, &saga_metadata(event, SAGA, "discarded"))
                .await,
        )
    }
}

fn failure(reason: FailureReason, detail: impl Into<String>) -> Failure {
    Failure { reason, detail: detail.into() }
}
