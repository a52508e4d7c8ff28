//! The quota saga: a deleted site gives its place in its tenant's site quota back, so the
//! plan's limit counts the sites that exist.

use std::time::Duration;

use berth_domain::event::Event;
use berth_domain::ids::SiteId;
use berth_domain::site::SiteEvent;
use berth_domain::site_quota::{SiteQuota, SiteQuotaCommand};
use berth_eventstore::execute::ExecuteError;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};

use crate::context::SagaContext;
use crate::node::saga_metadata;
use crate::saga::{Outcome, Saga, Tuning};

/// The quota saga (consumes site events).
pub struct QuotaRelease {
    context: SagaContext,
}

/// `[sagas.quota]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaSettings {
    /// Site events worked on at once per sagas process.
    pub concurrency: usize,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        Self { concurrency: 4 }
    }
}

impl Saga for QuotaRelease {
    const NAME: &'static str = "quota";
    const AGGREGATES: &'static [&'static str] = &["site"];
    type Settings = QuotaSettings;

    fn build(context: &SagaContext, _: &QuotaSettings) -> Self {
        Self { context: context.clone() }
    }

    fn tuning(settings: &QuotaSettings) -> Tuning {
        Tuning { concurrency: settings.concurrency.max(1), takeover: Duration::from_secs(30) }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(event.event, Event::Site(SiteEvent::Deleted { .. }))
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let (Some(site_id), Some(tenant)) = (event.aggregate_uuid().map(SiteId::from_uuid), event.tenant_id)
        else {
            return Outcome::Failed(format!("site event {} names no site or tenant", event.event_id));
        };
        let meta = saga_metadata(event, Self::NAME, "release");
        let release = SiteQuotaCommand::Release { site_id };
        match self
            .context
            .store
            .execute::<SiteQuota>(&tenant.to_string(), release, &meta, self.context.retry)
            .await
        {
            Ok(_) | Err(ExecuteError::Rejected(_)) => Outcome::Done,
            Err(error) => Outcome::later(error),
        }
    }
}
