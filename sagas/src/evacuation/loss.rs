//! A node's evacuation or retirement, told to each of its sites: an evacuation starts every
//! site's move; a retirement marks every site it still held lost, with its latest verified
//! backup. Each site's command carries the site's own tenant, so the tenant sees it in its
//! audit trail and live stream, and no other tenant does.

use std::time::Duration;

use berth_domain::event::Event;
use berth_domain::ids::{BackupId, NodeId, SiteId};
use berth_domain::node::{Node, NodeCommand, NodeEvent};
use berth_domain::site::{Site, SiteCommand};
use berth_eventstore::recorded::Recorded;
use berth_eventstore::unit_of_work::UnitOfWork;
use berth_projections::backups;
use serde::{Deserialize, Serialize};

use crate::context::SagaContext;
use crate::node::{saga_metadata, NodeWork};
use crate::saga::{Outcome, Saga, Tuning};

const SAGA: &str = "node_loss";

/// The node loss saga (consumes node events).
pub struct NodeLoss {
    work: NodeWork,
}

/// `[sagas.node_loss]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeLossSettings {
    /// Node events worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
}

impl Default for NodeLossSettings {
    fn default() -> Self {
        Self { concurrency: 2, takeover_secs: 60 }
    }
}

impl Saga for NodeLoss {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["node"];
    type Settings = NodeLossSettings;

    fn build(context: &SagaContext, _: &NodeLossSettings) -> Self {
        Self { work: NodeWork::new(context) }
    }

    fn tuning(settings: &NodeLossSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(event.event, Event::Node(NodeEvent::EvacuationStarted { .. } | NodeEvent::Retired { .. }))
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(node_id) = event.aggregate_uuid().map(NodeId::from_uuid) else { return Outcome::Done };
        let (sites, start) = match &event.event {
            Event::Node(NodeEvent::EvacuationStarted { evacuation_id, mode, sites }) => {
                (sites, Some((*evacuation_id, *mode)))
            }
            Event::Node(NodeEvent::Retired { sites, .. }) => (sites, None),
            _ => return Outcome::Done,
        };
        for site_id in sites {
            let result = match start {
                Some((evacuation_id, mode)) => {
                    let command = SiteCommand::StartEvacuation { evacuation_id, mode, from_node: node_id };
                    self.tell(event, *site_id, "start", command).await
                }
                None => self.lost(event, node_id, *site_id).await,
            };
            if let Err(outcome) = result {
                return outcome;
            }
        }
        Outcome::Done
    }
}

impl NodeLoss {
    async fn lost(&self, event: &Recorded, node_id: NodeId, site_id: SiteId) -> Result<(), Outcome> {
        let latest =
            backups::latest_verified(&self.work.pool, site_id.as_uuid()).await.map_err(Outcome::later)?;
        metrics::counter!("berth_sites_lost_total", "with_backup" => latest.is_some().to_string())
            .increment(1);
        let command = SiteCommand::MarkLost {
            node_id,
            latest_backup_id: latest.map(|(id, _)| BackupId::from_uuid(id)),
            latest_backup_at: latest.map(|(_, at)| at),
        };
        let site =
            self.work.store.load::<Site>(&site_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let Some(target) = site.moving().and_then(|m| m.target.clone()) else {
            return self.tell(event, site_id, "lost", command).await;
        };
        // A move under way ends with the loss: what it reserved on its new node is given back
        // in the same commit.
        let mut meta = saga_metadata(event, SAGA, &format!("lost:{site_id}"));
        meta.tenant_id = site.tenant_id().map(|t| t.as_uuid());
        let mut unit = UnitOfWork::new(&self.work.store);
        unit.decide::<Site>(&site_id.to_string(), command).await.map_err(Outcome::later)?;
        unit.decide::<Node>(&target.node_id.to_string(), NodeCommand::Release { site_id })
            .await
            .map_err(Outcome::later)?;
        unit.commit(&meta).await.map_err(Outcome::later)?;
        Ok(())
    }

    /// Runs `command` on the site as the site's tenant.
    async fn tell(
        &self,
        event: &Recorded,
        site_id: SiteId,
        step: &str,
        command: SiteCommand,
    ) -> Result<(), Outcome> {
        let site =
            self.work.store.load::<Site>(&site_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let mut meta = saga_metadata(event, SAGA, &format!("{step}:{site_id}"));
        meta.tenant_id = site.tenant_id().map(|t| t.as_uuid());
        match self.work.record::<Site>(&site_id.to_string(), command, &meta).await {
            Outcome::Done => Ok(()),
            other => Err(other),
        }
    }
}
