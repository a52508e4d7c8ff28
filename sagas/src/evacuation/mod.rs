//! Moving sites off a node: one run per site, woken by the site's `SiteEvacuationStarted` (and,
//! in a live evacuation, by the fresh backup's outcome), running the site's next steps in order
//! and recording each with its timing on the site.
//!
//! The site keeps serving where it is until the last step. Before it, the move only reserves
//! room on another node, sets the site up there and restores a backup into it, so a move that
//! fails at any step is recorded together with the release of what it reserved, and the site
//! stays where it was with the reason. The last step records the site on its new node and
//! releases the old node's capacity in one commit; the zones saga then points the site's
//! address record at the new node when Berth serves its zone.
//!
//! [`loss`] fans a node's evacuation or retirement out to its sites.

pub mod loss;
mod steps;

use std::sync::Arc;
use std::time::Duration;

use berth_domain::backup::{Backup, BackupEvent, BackupTrigger};
use berth_domain::event::Event;
use berth_domain::ids::SiteId;
use berth_domain::site::{Site, SiteEvent};
use berth_eventstore::clock::Clock;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};

use crate::backup::Backups;
use crate::context::SagaContext;
use crate::node::NodeWork;
use crate::saga::{Outcome, Saga, Tuning};

const SAGA: &str = "evacuation";

/// The evacuation saga (consumes site events and the fresh backups' outcomes).
pub struct Evacuation {
    work: NodeWork,
    clock: Arc<dyn Clock>,
    backups: Backups,
}

/// `[sagas.evacuation]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvacuationSettings {
    /// Sites moved at once per sagas process: each move streams a backup to a node and loads
    /// it, so a handful at a time keeps the object store and the target nodes responsive.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a move whose worker died.
    pub takeover_secs: u64,
}

impl Default for EvacuationSettings {
    fn default() -> Self {
        Self { concurrency: 2, takeover_secs: 600 }
    }
}

impl Saga for Evacuation {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["site", "backup"];
    type Settings = EvacuationSettings;

    fn build(context: &SagaContext, _: &EvacuationSettings) -> Self {
        Self { work: NodeWork::new(context), clock: context.clock.clone(), backups: context.backups.clone() }
    }

    fn tuning(settings: &EvacuationSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Site(SiteEvent::EvacuationStarted { .. })
                | Event::Backup(BackupEvent::Verified { .. } | BackupEvent::Failed { retry_at: None, .. })
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let site_id = match &event.event {
            Event::Site(_) => event.aggregate_uuid().map(SiteId::from_uuid),
            Event::Backup(_) => match self.moving_site_of(event).await {
                Ok(found) => found,
                Err(outcome) => return outcome,
            },
            _ => None,
        };
        let Some(site_id) = site_id else { return Outcome::Done };
        match self.advance(event, site_id).await {
            Ok(()) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }
}

impl Evacuation {
    /// The site a backup event's backup was taken to move, if it was.
    async fn moving_site_of(&self, event: &Recorded) -> Result<Option<SiteId>, Outcome> {
        let backup =
            self.work.store.load::<Backup>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
        if backup.trigger() != BackupTrigger::OnDemand {
            return Ok(None);
        }
        let site_id = backup.site_id();
        let site = self.load_site(site_id).await?;
        let ours = site.moving().and_then(|m| m.backup_id.or(Some(steps::live_backup_id(m, site_id))));
        Ok((ours.map(|b| b.to_string()) == Some(event.aggregate_id.clone())).then_some(site_id))
    }

    async fn load_site(&self, site_id: SiteId) -> Result<Site, Outcome> {
        Ok(self.work.store.load::<Site>(&site_id.to_string()).await.map_err(Outcome::later)?.aggregate)
    }
}
