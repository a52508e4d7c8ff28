//! The restores saga: runs a restore's steps in order, each recorded as it finishes.
//!
//! Nothing is touched before the stored object is read back whole and matches its manifest.
//! Then a safety backup of the target is taken (by the backups saga; this saga moves on when
//! it is verified), the target goes into maintenance, the backup is staged into a fresh
//! directory and database, swapped in, and checked to answer; maintenance ends. A step that
//! fails after maintenance began puts the target back as it was (`restore-abort`) before the
//! failure is recorded, so a failed restore leaves the site serving what it served.
//!
//! Every handler looks at the restore's next step and runs it, whichever event woke it, so a
//! redelivered event repeats at most the step it was for.

use std::sync::Arc;
use std::time::Instant;

use berth_domain::backup::{Backup, BackupCommand, BackupEvent, BackupTrigger, FailureReason, Status};
use berth_domain::event::Event;
use berth_domain::ids::{RestoreId, SiteId};
use berth_domain::restore::{Requested, Restore, RestoreCommand, RestoreEvent, RestoreFailure, Step};
use berth_domain::site::Site;
use berth_eventstore::clock::Clock;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};

use crate::backup::pipeline::{self, Job};
use crate::backup::{BackupStorage, Backups};
use crate::context::SagaContext;
use crate::node::backup::{RestoreAbort, RestoreFinish, RestoreStage, RestoreSwap, SiteMaintenance};
use crate::node::scripts::{self, ErrorCode, ScriptError};
use crate::node::{saga_metadata, NodeWork, TargetError};
use crate::outcome::{step, Step as Flow};
use crate::saga::{Outcome, Saga, Tuning};
use crate::ssh::Target;

const SAGA: &str = "restores";

/// The restores saga (consumes restore events and the safety backups' outcomes).
pub struct RestoreSaga {
    work: NodeWork,
    clock: Arc<dyn Clock>,
    backups: Backups,
}

/// `[sagas.restores]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestoreSagaSettings {
    /// Restores worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
}

impl Default for RestoreSagaSettings {
    fn default() -> Self {
        Self { concurrency: 2, takeover_secs: 600 }
    }
}

/// What woke the saga for a restore.
#[derive(Debug, Clone, Copy)]
enum Waker {
    /// The request itself.
    Request,
    /// A step that finished.
    Step(Step),
    /// The safety backup's outcome.
    SafetyBackup,
}

/// A step's failure: which step, why, and what happened.
struct Failed(Step, RestoreFailure, String);

impl Saga for RestoreSaga {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["restore", "backup"];
    type Settings = RestoreSagaSettings;

    fn build(context: &SagaContext, _: &RestoreSagaSettings) -> Self {
        Self { work: NodeWork::new(context), clock: context.clock.clone(), backups: context.backups.clone() }
    }

    fn tuning(settings: &RestoreSagaSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: std::time::Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Restore(RestoreEvent::Requested { .. } | RestoreEvent::StepCompleted { .. })
                | Event::Backup(BackupEvent::Verified { .. } | BackupEvent::Failed { retry_at: None, .. })
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let restore_id = match &event.event {
            Event::Restore(_) => event.aggregate_uuid().map(RestoreId::from_uuid),
            Event::Backup(_) => match self.safety_of(event).await {
                Ok(found) => found,
                Err(outcome) => return outcome,
            },
            _ => None,
        };
        let Some(restore_id) = restore_id else { return Outcome::Done };
        let woken_by = match &event.event {
            Event::Restore(RestoreEvent::StepCompleted { step, .. }) => Waker::Step(*step),
            Event::Restore(_) => Waker::Request,
            _ => Waker::SafetyBackup,
        };
        self.advance(event, restore_id, woken_by).await.err().unwrap_or(Outcome::Done)
    }
}

impl RestoreSaga {
    /// The restore a backup event's backup is the safety backup of.
    async fn safety_of(&self, event: &Recorded) -> Flow<Option<RestoreId>> {
        let backup =
            self.work.store.load::<Backup>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
        Ok(backup.restore_id().filter(|_| backup.trigger() == BackupTrigger::BeforeRestore))
    }

    async fn advance(&self, event: &Recorded, id: RestoreId, woken_by: Waker) -> Flow<()> {
        let restore =
            self.work.store.load::<Restore>(&id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let (Some(next), Some(request)) = (restore.next_step(), restore.request().cloned()) else {
            return Ok(());
        };
        // Only the event that brought the restore where it is moves it on: several steps
        // recorded together wake this saga once each, and a step must run once.
        let current = match woken_by {
            Waker::Request => restore.last_done().is_none(),
            Waker::Step(step) => restore.last_done() == Some(step),
            Waker::SafetyBackup => next == Step::SafetyBackup,
        };
        if !current {
            return Ok(());
        }
        let started = Instant::now();
        let result = match next {
            Step::VerifyChecksum => self.verify_checksum(&request).await?,
            Step::SafetyBackup => match self.safety_backup(event, &request, id).await? {
                Some(result) => result,
                None => return Ok(()),
            },
            Step::MaintenanceOn => self.maintenance(&request, true).await?,
            Step::RestoreFiles | Step::RestoreDatabase => self.stage(&request, id).await?,
            Step::Swap | Step::CheckSite => self.swap(&request, id).await?,
            Step::MaintenanceOff => self.finish(&request, id).await?,
        };
        let took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(done) => {
                for (n, done_step) in done.into_iter().enumerate() {
                    let command =
                        RestoreCommand::RecordStep { step: done_step, now: self.clock.now(), took_ms };
                    let meta = saga_metadata(event, SAGA, &format!("{}-{n}", done_step.as_str()));
                    step(self.work.record::<Restore>(&id.to_string(), command, &meta).await)?;
                }
                Ok(())
            }
            Err(Failed(at, reason, detail)) => {
                if at >= Step::MaintenanceOn {
                    self.put_back(&request, id).await?;
                }
                tracing::warn!(restore_id = %id, step = at.as_str(), reason = reason.as_str(), %detail, "restore failed");
                metrics::counter!("berth_restore_failures_total", "reason" => reason.as_str()).increment(1);
                let command =
                    RestoreCommand::RecordFailure { step: at, reason, detail, now: self.clock.now() };
                step(
                    self.work
                        .record::<Restore>(&id.to_string(), command, &saga_metadata(event, SAGA, "failed"))
                        .await,
                )
            }
        }
    }

    async fn target(&self, site_id: SiteId, at: Step) -> Flow<Result<Target, Failed>> {
        let site =
            self.work.store.load::<Site>(&site_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let Some(placement) = site.node() else {
            return Ok(Err(Failed(at, RestoreFailure::NodeUnreachable, "the site is on no node".to_owned())));
        };
        match self.work.target(placement.node_id).await {
            Ok(target) => Ok(Ok(target)),
            Err(TargetError::Store(error)) => Err(Outcome::later(error)),
            Err(error) => Ok(Err(Failed(at, RestoreFailure::NodeUnreachable, error.to_string()))),
        }
    }

    fn storage(&self, at: Step) -> Result<BackupStorage, Failed> {
        self.backups.storage.clone().ok_or_else(|| {
            Failed(at, RestoreFailure::BackupUnavailable, "no object storage is configured".to_owned())
        })
    }

    /// The backup must be verified and its object must still match its manifest.
    async fn verify_checksum(&self, request: &Requested) -> Flow<Result<Vec<Step>, Failed>> {
        let at = Step::VerifyChecksum;
        let backup = self
            .work
            .store
            .load::<Backup>(&request.backup_id.to_string())
            .await
            .map_err(Outcome::later)?
            .aggregate;
        let (Some(Status::Verified), Some(manifest)) = (backup.status(), backup.manifest()) else {
            return Ok(Err(Failed(
                at,
                RestoreFailure::BackupUnavailable,
                "the backup is not verified".to_owned(),
            )));
        };
        let storage = match self.storage(at) {
            Ok(storage) => storage,
            Err(failed) => return Ok(Err(failed)),
        };
        let path = object_store::path::Path::from(manifest.object_key.as_str());
        Ok(match pipeline::read_back(storage.store.as_ref(), &path).await {
            Ok(found) if found.size == manifest.size && found.sha256 == manifest.sha256 => Ok(vec![at]),
            Ok(found) => Err(Failed(
                at,
                RestoreFailure::ChecksumMismatch,
                format!(
                    "the stored object has {} bytes with SHA-256 {}; the manifest says {} bytes with {}",
                    found.size,
                    found.sha256.as_str(),
                    manifest.size,
                    manifest.sha256.as_str()
                ),
            )),
            Err(failure) => Err(Failed(at, RestoreFailure::BackupUnavailable, failure.detail)),
        })
    }

    /// Asks for the safety backup, or reads its outcome; `None` while it is under way.
    async fn safety_backup(
        &self,
        event: &Recorded,
        request: &Requested,
        restore: RestoreId,
    ) -> Flow<Option<Result<Vec<Step>, Failed>>> {
        let id = request.safety_backup_id.to_string();
        let safety = self.work.store.load::<Backup>(&id).await.map_err(Outcome::later)?.aggregate;
        match safety.status() {
            None => {
                let command = BackupCommand::Request {
                    site_id: request.target_site_id,
                    tenant_id: request.tenant_id,
                    kind: request.what,
                    trigger: BackupTrigger::BeforeRestore,
                    note: Some(format!("taken before restoring backup {}", request.backup_id)),
                    now: self.clock.now(),
                    keep_until: None,
                    restore_id: Some(restore),
                };
                step(self.work.record::<Backup>(&id, command, &saga_metadata(event, SAGA, "safety")).await)?;
                Ok(None)
            }
            Some(Status::Verified) => Ok(Some(Ok(vec![Step::SafetyBackup]))),
            Some(Status::Abandoned | Status::Pruned) => Ok(Some(Err(Failed(
                Step::SafetyBackup,
                RestoreFailure::SafetyBackupFailed,
                "the safety backup of the current state failed".to_owned(),
            )))),
            Some(_) => Ok(None),
        }
    }

    async fn maintenance(&self, request: &Requested, on: bool) -> Flow<Result<Vec<Step>, Failed>> {
        let at = if on { Step::MaintenanceOn } else { Step::MaintenanceOff };
        let target = match self.target(request.target_site_id, at).await? {
            Ok(target) => target,
            Err(failed) => return Ok(Err(failed)),
        };
        let verb = SiteMaintenance { site: request.target_site_id, on };
        Ok(match scripts::call(&*self.work.shell, &target, &verb).await {
            Ok(_) => Ok(vec![at]),
            Err(error) => Err(node_failure(at, &error)),
        })
    }

    /// Unpacks the backup into a fresh directory and database on the target's node.
    async fn stage(&self, request: &Requested, id: RestoreId) -> Flow<Result<Vec<Step>, Failed>> {
        let first = if request.what.has_files() { Step::RestoreFiles } else { Step::RestoreDatabase };
        let target = match self.target(request.target_site_id, first).await? {
            Ok(target) => target,
            Err(failed) => return Ok(Err(failed)),
        };
        let storage = match self.storage(first) {
            Ok(storage) => storage,
            Err(failed) => return Ok(Err(failed)),
        };
        let backup = self
            .work
            .store
            .load::<Backup>(&request.backup_id.to_string())
            .await
            .map_err(Outcome::later)?
            .aggregate;
        let Some(manifest) = backup.manifest().cloned() else {
            return Ok(Err(Failed(
                first,
                RestoreFailure::BackupUnavailable,
                "the backup has no object".to_owned(),
            )));
        };
        let key = self.work.vault.open(&self.work.pool, manifest.key_id).await.map_err(Outcome::later)?;
        let job = Job {
            shell: &*self.work.shell,
            target: &target,
            store: storage.store.clone(),
            path: object_store::path::Path::from(manifest.object_key.as_str()),
            key: &key,
            site: request.target_site_id,
            backup: request.backup_id,
            kind: manifest.kind,
            part_size: storage.part_size,
        };
        let verb = RestoreStage { site: request.target_site_id, restore: id, what: request.what };
        Ok(match pipeline::open_to_node(&job, &verb).await {
            Ok(_) => Ok([Step::RestoreFiles, Step::RestoreDatabase]
                .into_iter()
                .filter(|s| Step::plan(request.what).contains(s))
                .collect()),
            Err(failure) => Err(match failure.reason {
                FailureReason::DumpFailed => {
                    Failed(Step::RestoreDatabase, RestoreFailure::DatabaseFailed, failure.detail)
                }
                FailureReason::ChecksumMismatch => {
                    Failed(first, RestoreFailure::ChecksumMismatch, failure.detail)
                }
                FailureReason::NodeUnreachable => {
                    Failed(first, RestoreFailure::NodeUnreachable, failure.detail)
                }
                _ => Failed(first, RestoreFailure::FilesFailed, failure.detail),
            }),
        })
    }

    /// Swaps the staged files and tables in; the node undoes it unless the site answers.
    async fn swap(&self, request: &Requested, id: RestoreId) -> Flow<Result<Vec<Step>, Failed>> {
        let target = match self.target(request.target_site_id, Step::Swap).await? {
            Ok(target) => target,
            Err(failed) => return Ok(Err(failed)),
        };
        let verb = RestoreSwap { site: request.target_site_id, restore: id, what: request.what };
        Ok(match scripts::call(&*self.work.shell, &target, &verb).await {
            Ok(_) => Ok(vec![Step::Swap, Step::CheckSite]),
            Err(error) if error.code() == Some(&ErrorCode::SiteCheckFailed) => {
                Err(Failed(Step::CheckSite, RestoreFailure::SiteCheckFailed, error.to_string()))
            }
            Err(error) => Err(node_failure(Step::Swap, &error)),
        })
    }

    /// Drops what the swap set aside and ends maintenance.
    async fn finish(&self, request: &Requested, id: RestoreId) -> Flow<Result<Vec<Step>, Failed>> {
        let target = match self.target(request.target_site_id, Step::MaintenanceOff).await? {
            Ok(target) => target,
            Err(failed) => return Ok(Err(failed)),
        };
        let verb = RestoreFinish { site: request.target_site_id, restore: id };
        if let Err(error) = scripts::call(&*self.work.shell, &target, &verb).await {
            // The site already serves the restored content; what is left is disk space.
            tracing::warn!(%error, restore_id = %id, "what the swap set aside was not dropped");
        }
        self.maintenance(request, false).await
    }

    /// Puts the target back as it was before the restore began, and out of maintenance.
    async fn put_back(&self, request: &Requested, id: RestoreId) -> Flow<()> {
        let Ok(target) = self.target(request.target_site_id, Step::MaintenanceOn).await? else {
            return Ok(());
        };
        let verb = RestoreAbort { site: request.target_site_id, restore: id };
        match scripts::call(&*self.work.shell, &target, &verb).await {
            Ok(_) => Ok(()),
            // Until the site is back as it was, the failure is not recorded: try again.
            Err(error) => Err(Outcome::later(format!("putting the site back failed: {error}"))),
        }
    }
}

fn node_failure(at: Step, error: &ScriptError) -> Failed {
    let reason = match error {
        ScriptError::Shell(_) => RestoreFailure::NodeUnreachable,
        _ if at == Step::Swap => RestoreFailure::SwapFailed,
        _ => RestoreFailure::NodeUnreachable,
    };
    Failed(at, reason, error.to_string())
}
