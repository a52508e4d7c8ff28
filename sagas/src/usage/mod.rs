//! Usage sampling: every node that holds sites is asked, on an interval, what each of its sites
//! uses (the `usage` verb: bytes on disk, in its database, served). Samples are Prometheus
//! gauges, never events; once a day each tenant's storage in use (its sites' files and
//! databases and its stored backups) becomes one `UsageRecorded` reading of `storage_gb` on its
//! subscription ([`storage`]), which billing rates against the plan at the period's end.
//!
//! Gauges (labels are ids): `berth_site_disk_bytes{site,node}`,
//! `berth_site_database_bytes{site,node}`, `berth_site_served_bytes{site,node}` (the body
//! bytes in the site's current access log) and `berth_storage_bytes{tenant,kind}` with kind
//! `site`, `database` and `backup`.
//!
//! Every round also holds each tenant's storage against its plan's limit: at or past it, the
//! SFTP uploads of its sites are locked until it is back under ([`storage::enforce`]).

pub mod storage;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_domain::ids::{NodeId, SiteId};
use berth_eventstore::clock::Clock;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::shutdown::pause;
use berth_projections::nodes;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::context::SagaContext;
use crate::node::reply::SiteUsage;
use crate::node::usage::Usage;
use crate::node::NodeWork;
use crate::saga::Worker;

/// The usage sampler: a worker, not driven by events.
pub struct UsageSampling {
    work: NodeWork,
    clock: Arc<dyn Clock>,
    interval: Duration,
    record_storage: bool,
}

/// `[sagas.usage]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageSettings {
    /// Seconds between two rounds of samples.
    pub interval_secs: u64,
    /// Whether each day's first complete round records the tenants' storage for billing.
    pub record_storage: bool,
}

impl Default for UsageSettings {
    fn default() -> Self {
        Self { interval_secs: 300, record_storage: true }
    }
}

impl Worker for UsageSampling {
    const NAME: &'static str = "usage";
    type Settings = UsageSettings;

    fn build(context: &SagaContext, settings: &UsageSettings) -> Self {
        Self {
            work: NodeWork::new(context),
            clock: context.clock.clone(),
            interval: Duration::from_secs(settings.interval_secs.max(1)),
            record_storage: settings.record_storage,
        }
    }

    async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let samples = self.sample().await;
            match storage::totals(&self.work.pool, &samples).await {
                Ok(totals) => {
                    storage::export(&totals);
                    storage::enforce(&self.work, &totals).await;
                    if self.record_storage {
                        let today = self.clock.now().date();
                        storage::record(&self.work, &totals, today).await;
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot sum the tenants' storage"),
            }
            pause(&shutdown, self.interval).await;
        }
    }
}

/// One round: what every site on every watched node uses, by site; the nodes that did not
/// answer are listed apart, so that no tenant is recorded from part of its sites.
#[derive(Debug, Default)]
pub struct Samples {
    /// Each answered site's usage.
    pub sites: HashMap<SiteId, SiteUsage>,
    /// The nodes that did not answer.
    pub missing: Vec<NodeId>,
}

impl UsageSampling {
    async fn sample(&self) -> Samples {
        let mut samples = Samples::default();
        let watched = match nodes::watched(&self.work.pool).await {
            Ok(watched) => watched,
            Err(error) => {
                tracing::warn!(%error, "cannot list nodes to sample");
                return samples;
            }
        };
        let meta = CommandMetadata::new(None, "saga:usage");
        let calls = watched.iter().map(|node| {
            let call = self.work.call(*node, Usage, &meta);
            async move { (*node, tokio::time::timeout(Duration::from_secs(120), call).await) }
        });
        for (node, answer) in futures::future::join_all(calls).await {
            match answer {
                Ok(Ok(report)) => {
                    let label = node.to_string();
                    for site in report.sites {
                        gauges(&label, &site);
                        samples.sites.insert(site.site, site);
                    }
                }
                Ok(Err(error)) => {
                    tracing::debug!(%error, node_id = %node, "no usage sample");
                    samples.missing.push(node);
                }
                Err(_) => samples.missing.push(node),
            }
        }
        samples
    }
}

#[expect(clippy::cast_precision_loss, reason = "byte counts below 2^53 are exact in an f64")]
fn gauges(node: &str, usage: &SiteUsage) {
    let site = usage.site.to_string();
    let samples = [
        ("berth_site_disk_bytes", usage.disk_bytes),
        ("berth_site_database_bytes", usage.database_bytes),
        ("berth_site_served_bytes", usage.served_bytes),
    ];
    for (name, value) in samples {
        metrics::gauge!(name, "site" => site.clone(), "node" => node.to_owned()).set(value as f64);
    }
}
