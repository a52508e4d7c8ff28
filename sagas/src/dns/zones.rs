//! The zones saga: every change of a zone is put on the DNS server, and a site created in a
//! zone Berth serves for its tenant gets its address record there.
//!
//! Publishing is a reconciliation, not a replay: the saga reads the zone as it is now and makes
//! the server match it, then records the revision it published. A redelivered or late event
//! therefore does no harm, and drift (reported by the [`super::drift`] worker as an event) is
//! put back by the same code path as any change.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use berth_domain::event::Event;
use berth_domain::ids::ZoneId;
use berth_domain::site::{Site, SiteEvent};
use berth_domain::zone::{
    RecordName, RecordSet, RecordType, RecordValue, Ttl, Zone, ZoneCommand, ZoneEvent, ZoneStatus,
};
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::recorded::Recorded;
use berth_eventstore::store::EventStore;
use berth_projections::zones;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::{plan, DnsError, DnsProvider};
use crate::context::SagaContext;
use crate::node::saga_metadata;
use crate::outcome::{record, step, Step};
use crate::saga::{Outcome, Saga, Tuning};

const SAGA: &str = "zones";

/// The zones saga (consumes zone and site events).
pub struct Zones {
    store: EventStore,
    pool: PgPool,
    retry: RetryPolicy,
    dns: Arc<dyn DnsProvider>,
    settings: ZonesSettings,
}

/// `[sagas.zones]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZonesSettings {
    /// Zones worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
    /// The TTL of the address records Berth makes for sites.
    pub site_record_ttl: u32,
}

impl Default for ZonesSettings {
    fn default() -> Self {
        Self { concurrency: 4, takeover_secs: 30, site_record_ttl: 300 }
    }
}

impl Saga for Zones {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["zone", "site"];
    type Settings = ZonesSettings;

    fn build(context: &SagaContext, settings: &ZonesSettings) -> Self {
        Self {
            store: context.store.clone(),
            pool: context.pool.clone(),
            retry: context.retry,
            dns: context.dns.clone(),
            settings: settings.clone(),
        }
    }

    fn tuning(settings: &ZonesSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        match &event.event {
            Event::Zone(zone) => !matches!(
                zone,
                ZoneEvent::Published { .. } | ZoneEvent::PublishFailed { .. } | ZoneEvent::Deleted
            ),
            Event::Site(site) => matches!(
                site,
                SiteEvent::NodeAssigned { .. } | SiteEvent::Evacuated { .. } | SiteEvent::Deleted { .. }
            ),
            _ => false,
        }
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let result = match &event.event {
            Event::Zone(_) => match event.aggregate_uuid() {
                Some(id) => self.publish(event, ZoneId::from_uuid(id)).await,
                None => Err(Outcome::Failed(format!("`{}` is not a zone id", event.aggregate_id))),
            },
            // A site moved to another node: its record follows it.
            Event::Site(SiteEvent::NodeAssigned { address, .. } | SiteEvent::Evacuated { address, .. }) => {
                self.site_address(event, address).await
            }
            Event::Site(SiteEvent::Deleted { .. }) => self.site_gone(event).await,
            _ => Ok(()),
        };
        result.err().unwrap_or(Outcome::Done)
    }
}

impl Zones {
    /// Makes the server hold the zone as it is now.
    #[tracing::instrument(skip_all, fields(zone_id = %zone_id))]
    async fn publish(&self, event: &Recorded, zone_id: ZoneId) -> Step<()> {
        let id = zone_id.to_string();
        let zone = self.store.load::<Zone>(&id).await.map_err(Outcome::later)?.aggregate;
        let Some(name) = zone.name().cloned() else { return Ok(()) };
        let meta = |step: &str| saga_metadata(event, SAGA, step);
        if zone.status() == ZoneStatus::Deleting {
            return match self.dns.delete_zone(&name).await {
                Ok(()) => step(
                    record::<Zone>(
                        &self.store,
                        self.retry,
                        &id,
                        ZoneCommand::RecordDeleted,
                        &meta("deleted"),
                        &[],
                    )
                    .await,
                ),
                Err(error) => self.failed(&id, zone.revision(), error, &meta("delete-failed")).await,
            };
        }
        if zone.status() != ZoneStatus::Active {
            return Ok(());
        }
        let revision = zone.revision();
        let applied = async {
            let server = match self.dns.record_sets(&name).await? {
                Some(sets) => sets,
                None => {
                    self.dns.create_zone(&name).await?;
                    self.dns.record_sets(&name).await?.unwrap_or_default()
                }
            };
            let (changes, _) = plan(&zone, &server);
            self.dns.apply(&name, &changes).await?;
            metrics::counter!("berth_dns_changes_total").increment(changes.len() as u64);
            Ok::<_, DnsError>(())
        };
        match applied.await {
            Ok(()) => {
                let command = ZoneCommand::RecordPublished { revision };
                step(
                    record::<Zone>(
                        &self.store,
                        self.retry,
                        &id,
                        command,
                        &meta(&format!("published:{revision}")),
                        &[],
                    )
                    .await,
                )
            }
            Err(error) => self.failed(&id, revision, error, &meta(&format!("failed:{revision}"))).await,
        }
    }

    /// A server that is down is tried again with the event; one that refuses (or none at all)
    /// is recorded on the zone.
    async fn failed(
        &self,
        id: &str,
        revision: u64,
        error: DnsError,
        meta: &berth_eventstore::metadata::CommandMetadata,
    ) -> Step<()> {
        if let DnsError::Unavailable(_) = error {
            return Err(Outcome::later(error));
        }
        tracing::warn!(%error, zone_id = id, "the DNS server refused the zone");
        let command = ZoneCommand::RecordPublishFailed { revision, reason: error.to_string() };
        step(record::<Zone>(&self.store, self.retry, id, command, meta, &[]).await)
    }

    /// The site's address record, in the zone its domain lies in, if Berth serves that zone for
    /// the same tenant (a zone of another tenant is never written for a site).
    async fn site_address(&self, event: &Recorded, address: &str) -> Step<()> {
        let Some((zone_id, set)) = self.site_record(event, address).await? else { return Ok(()) };
        let meta = saga_metadata(event, SAGA, "site-address");
        step(
            record::<Zone>(
                &self.store,
                self.retry,
                &zone_id.to_string(),
                ZoneCommand::SetRecordSet { set },
                &meta,
                &[],
            )
            .await,
        )
    }

    /// A deleted site's address record goes, unless someone has changed it since.
    async fn site_gone(&self, event: &Recorded) -> Step<()> {
        let site = self.store.load::<Site>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
        let Some(address) = site.node().map(|n| n.address.clone()) else { return Ok(()) };
        let Some((zone_id, set)) = self.site_record(event, &address).await? else { return Ok(()) };
        let command = ZoneCommand::RemoveRecordSet {
            name: set.name().clone(),
            rtype: set.rtype(),
            only_if: Some(set.values().to_vec()),
        };
        let meta = saga_metadata(event, SAGA, "site-gone");
        step(record::<Zone>(&self.store, self.retry, &zone_id.to_string(), command, &meta, &[]).await)
    }

    async fn site_record(&self, event: &Recorded, address: &str) -> Step<Option<(ZoneId, RecordSet)>> {
        let site = self.store.load::<Site>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
        let (Some(domain), Some(tenant)) = (site.domain(), site.tenant_id()) else { return Ok(None) };
        let Some((zone_id, owner)) =
            zones::containing(&self.pool, domain.as_str()).await.map_err(Outcome::later)?
        else {
            return Ok(None);
        };
        let zone = self.store.load::<Zone>(&zone_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        let (Some(zone_name), true) = (zone.name(), owner == tenant) else { return Ok(None) };
        let rtype = match address.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => RecordType::A,
            Ok(IpAddr::V6(_)) => RecordType::Aaaa,
            // A node known by host name: its own records say where it is.
            Err(_) => return Ok(None),
        };
        let built = RecordName::under("", domain, zone_name).and_then(|name| {
            let value = RecordValue::parse(rtype, address)?;
            RecordSet::new(
                name,
                rtype,
                Ttl::new(self.settings.site_record_ttl.clamp(Ttl::MIN, Ttl::MAX))?,
                vec![value],
            )
        });
        Ok(built.ok().map(|set| (zone_id, set)))
    }
}
