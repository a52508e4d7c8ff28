//! The drift check: now and then every zone in step with the DNS server (published at its
//! current revision) is compared with what the server holds; what differs is reported on the
//! zone as drift, which the zones saga puts back. A zone with a change on its way to the
//! server is not compared: the difference would be Berth's own.

use std::sync::Arc;
use std::time::Duration;

use berth_domain::ids::ZoneId;
use berth_domain::zone::{Zone, ZoneCommand, ZoneStatus};
use berth_eventstore::execute::{ExecuteError, RetryPolicy};
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::shutdown::pause;
use berth_eventstore::store::EventStore;
use berth_projections::zones;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{plan, DnsProvider};
use crate::context::SagaContext;
use crate::saga::Worker;

/// The drift check.
pub struct DriftCheck {
    store: EventStore,
    pool: PgPool,
    retry: RetryPolicy,
    dns: Arc<dyn DnsProvider>,
    interval: Duration,
}

/// `[sagas.dns_drift]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftSettings {
    /// Seconds between two comparisons of every zone.
    pub interval_secs: u64,
}

impl Default for DriftSettings {
    fn default() -> Self {
        Self { interval_secs: 300 }
    }
}

impl Worker for DriftCheck {
    const NAME: &'static str = "dns_drift";
    type Settings = DriftSettings;

    fn build(context: &SagaContext, settings: &DriftSettings) -> Self {
        Self {
            store: context.store.clone(),
            pool: context.pool.clone(),
            retry: context.retry,
            dns: context.dns.clone(),
            interval: Duration::from_secs(settings.interval_secs.max(1)),
        }
    }

    async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            match zones::active(&self.pool).await {
                Ok(ids) => {
                    for id in ids {
                        self.check(id).await;
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot list zones for the drift check"),
            }
            pause(&shutdown, self.interval).await;
        }
    }
}

impl DriftCheck {
    async fn check(&self, zone_id: ZoneId) {
        let id = zone_id.to_string();
        let zone = match self.store.load::<Zone>(&id).await {
            Ok(loaded) => loaded.aggregate,
            Err(error) => {
                return tracing::warn!(%error, zone_id = id, "cannot load a zone for the drift check")
            }
        };
        let Some(name) = zone.name() else { return };
        if zone.status() != ZoneStatus::Active || zone.published() != zone.revision() {
            return;
        }
        let server = match self.dns.record_sets(name).await {
            Ok(Some(sets)) => sets,
            // A zone removed from the server behind Berth's back: every record set is missing.
            Ok(None) => Vec::new(),
            Err(error) => {
                return tracing::warn!(%error, zone = %name, "cannot read a zone for the drift check")
            }
        };
        let (_, differences) = plan(&zone, &server);
        if differences.is_empty() {
            return;
        }
        tracing::warn!(zone = %name, count = differences.len(), "records changed on the DNS server; putting them back");
        metrics::counter!("berth_dns_drift_total").increment(differences.len() as u64);
        // One report per revision: a repeat finds the command recorded and appends nothing.
        let revision = zone.revision();
        let mut meta = CommandMetadata::new(zone.tenant_id().map(|t| t.as_uuid()), "saga:dns_drift");
        meta.command_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("drift:{id}:{revision}").as_bytes());
        meta.correlation_id = meta.command_id;
        let command = ZoneCommand::ReportDrift { revision, differences };
        match self.store.execute::<Zone>(&id, command, &meta, self.retry).await {
            Ok(_) | Err(ExecuteError::Rejected(_)) => {}
            Err(error) => tracing::warn!(%error, zone = %name, "could not report drift; the next check will"),
        }
    }
}
