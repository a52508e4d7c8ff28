//! The steps of one site's move, each run once and recorded with its timing.

use std::time::Instant;

use berth_domain::allocation::{self, NodeLoad};
use berth_domain::backup::{Backup, BackupCommand, BackupKind, BackupTrigger, Status};
use berth_domain::certificate::Certificate;
use berth_domain::evacuation::{EvacuationMode, EvacuationStep};
use berth_domain::ids::{BackupId, NodeId, RestoreId, SiteId};
use berth_domain::node::{Node, NodeCommand};
use berth_domain::site::{Placement, Site, SiteCommand, SiteMove, SiteStatus};
use berth_eventstore::recorded::Recorded;
use berth_eventstore::unit_of_work::{UnitError, UnitOfWork};
use berth_projections::{backups, nodes};
use uuid::Uuid;

use super::{Evacuation, SAGA};
use crate::backup::pipeline::{self, Job};
use crate::node::backup::{RestoreFinish, RestoreStage, RestoreSwap};
use crate::node::contract::{SiteCreate, SiteDelete, SiteSuspend};
use crate::node::tls::SiteTls;
use crate::node::{saga_metadata, NodeCallError, TargetError};
use crate::saga::Outcome;

/// A step's early end: an [`Outcome`] other than done.
type Flow<T> = Result<T, Outcome>;

/// How a step ended.
enum Done {
    /// Finished: record it (with the node chosen, the backup used, a note).
    Step { target: Option<Placement>, backup_id: Option<BackupId>, detail: Option<String> },
    /// Waiting for something that wakes the saga again (the fresh backup).
    Waiting,
    /// Failed for good: the site stays where it was.
    Failed(String),
}

impl Done {
    fn plain() -> Self {
        Self::Step { target: None, backup_id: None, detail: None }
    }
}

/// The id of the fresh backup a live move takes (derived, so a repeated step asks once).
pub(super) fn live_backup_id(m: &SiteMove, site_id: SiteId) -> BackupId {
    let name = format!("evacuation:{}:{site_id}:backup", m.evacuation_id);
    BackupId::from_uuid(Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()))
}

/// The id the node's staging directory of the move's restore goes by.
fn restore_id(m: &SiteMove, site_id: SiteId) -> RestoreId {
    let name = format!("evacuation:{}:{site_id}:restore", m.evacuation_id);
    RestoreId::from_uuid(Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()))
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn node_error(error: NodeCallError) -> Flow<String> {
    match error {
        NodeCallError::Target(TargetError::Store(e)) => Err(Outcome::later(e)),
        other => Ok(other.to_string()),
    }
}

impl Evacuation {
    /// Runs the site's next steps until it has moved, failed, or waits.
    #[tracing::instrument(skip_all, fields(site_id = %site_id))]
    pub(super) async fn advance(&self, event: &Recorded, site_id: SiteId) -> Flow<()> {
        loop {
            let site = self.load_site(site_id).await?;
            let Some(m) = site.moving().cloned() else { return Ok(()) };
            let step = m.next_step();
            let started = Instant::now();
            let done = match step {
                EvacuationStep::Start | EvacuationStep::Backup => self.backup(event, site_id, &m).await?,
                EvacuationStep::Place => return self.place(event, site_id, &site, &m).await,
                EvacuationStep::Provision => self.provision(event, site_id, &site, &m).await?,
                EvacuationStep::Restore => self.restore(event, site_id, &site, &m).await?,
                EvacuationStep::Certificate => self.certificate(event, site_id, &m).await?,
                EvacuationStep::Switch => return self.switch(event, site_id, &site, &m).await,
            };
            let took_ms = elapsed_ms(started);
            match done {
                Done::Waiting => return Ok(()),
                Done::Failed(reason) => return self.fail(event, site_id, &m, step, reason).await,
                Done::Step { target, backup_id, detail } => {
                    metrics::histogram!("berth_evacuation_step_seconds", "step" => step.as_str())
                        .record(started.elapsed().as_secs_f64());
                    let command = SiteCommand::RecordEvacuationStep {
                        evacuation_id: m.evacuation_id,
                        step,
                        took_ms,
                        target,
                        backup_id,
                        detail,
                    };
                    let meta = saga_metadata(event, SAGA, step.as_str());
                    match self.work.record::<Site>(&site_id.to_string(), command, &meta).await {
                        Outcome::Done => {}
                        other => return Err(other),
                    }
                }
            }
        }
    }

    /// The backup to restore from: the latest verified one, or (live) a fresh one.
    async fn backup(&self, event: &Recorded, site_id: SiteId, m: &SiteMove) -> Flow<Done> {
        if m.mode == EvacuationMode::FromBackup {
            let found =
                backups::latest_verified(&self.work.pool, site_id.as_uuid()).await.map_err(Outcome::later)?;
            return Ok(match found {
                Some((id, at)) => Done::Step {
                    target: None,
                    backup_id: Some(BackupId::from_uuid(id)),
                    detail: Some(format!("the backup verified at {at}")),
                },
                None => Done::Failed("the site has no verified backup".to_owned()),
            });
        }
        let id = live_backup_id(m, site_id);
        let backup = self.work.store.load::<Backup>(&id.to_string()).await.map_err(Outcome::later)?.aggregate;
        Ok(match backup.status() {
            None => {
                let site = self.load_site(site_id).await?;
                let Some(tenant_id) = site.tenant_id() else { return Ok(Done::Failed("no tenant".into())) };
                let command = BackupCommand::Request {
                    site_id,
                    tenant_id,
                    kind: BackupKind::Full,
                    trigger: BackupTrigger::OnDemand,
                    note: Some("taken to move the site to another node".to_owned()),
                    now: self.clock.now(),
                    keep_until: None,
                    restore_id: None,
                };
                let meta = saga_metadata(event, SAGA, "fresh-backup");
                match self.work.record::<Backup>(&id.to_string(), command, &meta).await {
                    Outcome::Done => Done::Waiting,
                    other => return Err(other),
                }
            }
            Some(Status::Verified) => Done::Step {
                target: None,
                backup_id: Some(id),
                detail: Some("a fresh backup, verified".to_owned()),
            },
            Some(Status::Abandoned | Status::Pruned) => {
                Done::Failed("the fresh backup of the site failed".to_owned())
            }
            Some(_) => Done::Waiting,
        })
    }

    /// Reserves room on another ready node and records it as the move's target, in one commit.
    async fn place(&self, event: &Recorded, site_id: SiteId, site: &Site, m: &SiteMove) -> Flow<()> {
        let started = Instant::now();
        let Some(kind) = site.kind() else { return Ok(()) };
        let demand = allocation::demand(kind);
        let mut excluded: Vec<NodeId> = vec![m.from_node];
        for _ in 0..32 {
            let loads: Vec<NodeLoad> = nodes::loads(&self.work.pool)
                .await
                .map_err(Outcome::later)?
                .into_iter()
                .filter(|n| !excluded.contains(&n.id))
                .collect();
            let Some(node_id) = allocation::place(&loads, kind) else {
                let reason = format!("no ready node has room for a {} site", kind.as_str());
                return self.fail(event, site_id, m, EvacuationStep::Place, reason).await;
            };
            let node =
                self.work.store.load::<Node>(&node_id.to_string()).await.map_err(Outcome::later)?.aggregate;
            let Some(spec) = node.spec() else {
                excluded.push(node_id);
                continue;
            };
            let target = Placement {
                node_id,
                node_name: spec.name.as_str().to_owned(),
                address: spec.address.clone(),
            };
            let mut unit = UnitOfWork::new(&self.work.store);
            match unit.decide::<Node>(&node_id.to_string(), NodeCommand::Allocate { site_id, demand }).await {
                Ok(_) => {}
                Err(UnitError::Rejected(_)) => {
                    excluded.push(node_id);
                    continue;
                }
                Err(other) => return Err(Outcome::later(other)),
            }
            let record = SiteCommand::RecordEvacuationStep {
                evacuation_id: m.evacuation_id,
                step: EvacuationStep::Place,
                took_ms: elapsed_ms(started),
                target: Some(target),
                backup_id: None,
                detail: None,
            };
            unit.decide::<Site>(&site_id.to_string(), record).await.map_err(Outcome::later)?;
            match unit.commit(&saga_metadata(event, SAGA, &format!("place:{node_id}"))).await {
                Ok(_) => return Box::pin(self.advance(event, site_id)).await,
                Err(UnitError::Conflict) => continue,
                Err(other) => return Err(Outcome::later(other)),
            }
        }
        Err(Outcome::later("placement kept losing races"))
    }

    fn target(m: &SiteMove) -> Flow<NodeId> {
        m.target.as_ref().map(|t| t.node_id).ok_or_else(|| Outcome::Failed("the move has no target".into()))
    }

    /// Sets the site up on the new node, as provisioning does.
    async fn provision(&self, event: &Recorded, site_id: SiteId, site: &Site, m: &SiteMove) -> Flow<Done> {
        let (Some(kind), Some(domain)) = (site.kind(), site.domain()) else {
            return Ok(Done::Failed("the site has no kind or domain".into()));
        };
        let resources = self.work.site_resources(site.tenant_id()).await.map_err(Outcome::later)?;
        let verb = SiteCreate {
            site: site_id,
            domain: domain.clone(),
            kind,
            php: site.php_version(),
            resources,
            noindex: site.staging_of().is_some(),
        };
        let meta = saga_metadata(event, SAGA, "host-key");
        Ok(match self.work.call(Self::target(m)?, verb, &meta).await {
            Ok(_) => Done::plain(),
            Err(error) => Done::Failed(node_error(error)?),
        })
    }

    /// Streams the backup into the site on the new node, swaps it in and checks it answers.
    async fn restore(&self, event: &Recorded, site_id: SiteId, site: &Site, m: &SiteMove) -> Flow<Done> {
        let Some(backup_id) = m.backup_id else { return Ok(Done::Failed("no backup was chosen".into())) };
        let Some(storage) = self.backups.storage.clone() else {
            return Ok(Done::Failed("no object storage is configured".into()));
        };
        let backup =
            self.work.store.load::<Backup>(&backup_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let Some(manifest) = backup.manifest().cloned() else {
            return Ok(Done::Failed("the backup has no object".into()));
        };
        let node_id = Self::target(m)?;
        let target = match self.work.target(node_id).await {
            Ok(target) => target,
            Err(TargetError::Store(error)) => return Err(Outcome::later(error)),
            Err(error) => return Ok(Done::Failed(error.to_string())),
        };
        let key = self.work.vault.open(&self.work.pool, manifest.key_id).await.map_err(Outcome::later)?;
        let restore = restore_id(m, site_id);
        let job = Job {
            shell: &*self.work.shell,
            target: &target,
            store: storage.store.clone(),
            path: object_store::path::Path::from(manifest.object_key.as_str()),
            key: &key,
            site: site_id,
            backup: backup_id,
            kind: manifest.kind,
            part_size: storage.part_size,
        };
        let what = manifest.kind;
        if let Err(failure) =
            pipeline::open_to_node(&job, &RestoreStage { site: site_id, restore, what }).await
        {
            return Ok(Done::Failed(format!("unpacking the backup failed: {}", failure.detail)));
        }
        let meta = saga_metadata(event, SAGA, "host-key");
        if let Err(error) = self.work.call(node_id, RestoreSwap { site: site_id, restore, what }, &meta).await
        {
            return Ok(Done::Failed(format!("the restored site did not answer: {}", node_error(error)?)));
        }
        if let Err(error) = self.work.call(node_id, RestoreFinish { site: site_id, restore }, &meta).await {
            tracing::warn!(%error, "what the restore set aside on the new node was not dropped");
        }
        // A suspended site stays suspended where it goes.
        if site.status() == SiteStatus::Suspended {
            if let Err(error) = self.work.call(node_id, SiteSuspend { site: site_id }, &meta).await {
                return Ok(Done::Failed(format!(
                    "suspending the site on its new node failed: {}",
                    node_error(error)?
                )));
            }
        }
        Ok(Done::Step { target: None, backup_id: None, detail: Some(format!("backup {backup_id}")) })
    }

    /// Installs the site's certificate on the new node, when it has one.
    async fn certificate(&self, event: &Recorded, site_id: SiteId, m: &SiteMove) -> Flow<Done> {
        let certificate = self
            .work
            .store
            .load::<Certificate>(&site_id.to_string())
            .await
            .map_err(Outcome::later)?
            .aggregate;
        let (Some(live), Some(names)) = (certificate.current(), certificate.names()) else {
            return Ok(Done::Step { target: None, backup_id: None, detail: Some("no certificate".into()) });
        };
        if certificate.retired() {
            return Ok(Done::Step { target: None, backup_id: None, detail: Some("no certificate".into()) });
        }
        let pem = self.work.vault.open(&self.work.pool, live.key_id).await.map_err(Outcome::later)?;
        let verb = SiteTls { site: site_id, hsts: certificate.hsts(), wildcard: names.wildcard, pem };
        let meta = saga_metadata(event, SAGA, "host-key");
        Ok(match self.work.call(Self::target(m)?, verb, &meta).await {
            Ok(_) => {
                Done::Step { target: None, backup_id: None, detail: Some(format!("serial {}", live.serial)) }
            }
            Err(error) => Done::Failed(format!("installing the certificate failed: {}", node_error(error)?)),
        })
    }

    /// Records the site on its new node and releases the old node's capacity, in one commit;
    /// then (live) takes the site off the old node.
    async fn switch(&self, event: &Recorded, site_id: SiteId, site: &Site, m: &SiteMove) -> Flow<()> {
        let mut unit = UnitOfWork::new(&self.work.store);
        let complete = SiteCommand::CompleteEvacuation { evacuation_id: m.evacuation_id, took_ms: m.took_ms };
        unit.decide::<Site>(&site_id.to_string(), complete).await.map_err(Outcome::later)?;
        unit.decide::<Node>(&m.from_node.to_string(), NodeCommand::Release { site_id })
            .await
            .map_err(Outcome::later)?;
        unit.commit(&saga_metadata(event, SAGA, "switch")).await.map_err(Outcome::later)?;
        metrics::counter!("berth_evacuation_sites_total", "outcome" => "moved").increment(1);
        if m.mode == EvacuationMode::Live && site.status() != SiteStatus::Lost {
            let meta = saga_metadata(event, SAGA, "host-key");
            if let Err(error) = self.work.call(m.from_node, SiteDelete { site: site_id }, &meta).await {
                tracing::warn!(%error, "the moved site could not be removed from its old node");
            }
        }
        Ok(())
    }

    /// Records that the move failed at `step`, releasing the new node's reservation in the same
    /// commit; then takes down what was set up there.
    async fn fail(
        &self,
        event: &Recorded,
        site_id: SiteId,
        m: &SiteMove,
        step: EvacuationStep,
        reason: String,
    ) -> Flow<()> {
        tracing::warn!(step = step.as_str(), reason, "the site's move failed; it stays where it was");
        metrics::counter!("berth_evacuation_sites_total", "outcome" => "failed").increment(1);
        let mut unit = UnitOfWork::new(&self.work.store);
        let command = SiteCommand::FailEvacuation { evacuation_id: m.evacuation_id, step, reason };
        unit.decide::<Site>(&site_id.to_string(), command).await.map_err(Outcome::later)?;
        if let Some(target) = &m.target {
            unit.decide::<Node>(&target.node_id.to_string(), NodeCommand::Release { site_id })
                .await
                .map_err(Outcome::later)?;
        }
        unit.commit(&saga_metadata(event, SAGA, "failed")).await.map_err(Outcome::later)?;
        if let Some(target) = &m.target {
            if m.done.contains(&EvacuationStep::Provision) || step >= EvacuationStep::Provision {
                let meta = saga_metadata(event, SAGA, "host-key");
                if let Err(error) = self.work.call(target.node_id, SiteDelete { site: site_id }, &meta).await
                {
                    tracing::warn!(%error, "what the failed move set up on the new node was not removed");
                }
            }
        }
        Ok(())
    }
}
