//! The zone aggregate: a DNS zone a tenant hosts with Berth, and its record sets.
//!
//! Berth is the zone's source of truth: every change is an event, the zones saga puts the
//! result on the DNS server, and whatever changes there behind Berth's back is reported as
//! drift and put back. A `revision` counts the changes to the records, so the saga and the
//! views can say which state the server holds (`published`). Lifecycle: `active → deleting →
//! deleted`; the zone's name is unique on the platform while it exists.

mod command;
mod error;
mod event;
mod record;
#[cfg(test)]
mod tests;
mod value;

pub use command::{ZoneCommand, MAX_RECORD_SETS};
pub use error::ZoneError;
pub use event::{Drift, ZoneEvent};
pub use record::{key, RecordError, RecordName, RecordSet, RecordType, RecordValue, Ttl};

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::domain_name::DomainName;
use crate::ids::{TenantId, ZoneId};
use crate::unique::{Unique, UniqueChange, UniqueScope};

/// Where a zone is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneStatus {
    /// No such zone yet.
    #[default]
    None,
    /// Served.
    Active,
    /// Being removed from the DNS server.
    Deleting,
    /// Gone.
    Deleted,
}

impl ZoneStatus {
    /// Every value the APIs show.
    pub const ALL: [Self; 3] = [Self::Active, Self::Deleting, Self::Deleted];

    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Active => "active",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
        }
    }
}

/// The zone's state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    id: Option<ZoneId>,
    tenant_id: Option<TenantId>,
    name: Option<DomainName>,
    status: ZoneStatus,
    sets: BTreeMap<String, RecordSet>,
    revision: u64,
    published: u64,
    failed: Option<u64>,
}

impl Zone {
    /// The lifecycle state.
    pub fn status(&self) -> ZoneStatus {
        self.status
    }

    /// The owner, once created.
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant_id
    }

    /// The zone's name, once created.
    pub fn name(&self) -> Option<&DomainName> {
        self.name.as_ref()
    }

    /// Every record set, by name and type.
    pub fn record_sets(&self) -> impl Iterator<Item = &RecordSet> {
        self.sets.values()
    }

    /// The set of `name` and `rtype`, if there is one.
    pub fn record_set(&self, name: &RecordName, rtype: RecordType) -> Option<&RecordSet> {
        self.sets.get(&key(name, rtype))
    }

    /// The number of changes to the records so far.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The revision the DNS server is known to hold.
    pub fn published(&self) -> u64 {
        self.published
    }
}

impl crate::aggregate::Consequences for Zone {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }

    fn uniques(&self, event: &ZoneEvent) -> Vec<UniqueChange> {
        let (Some(name), Some(id)) = (&self.name, self.id) else { return Vec::new() };
        let unique = || Unique::new(UniqueScope::Zone, name.as_str(), format!("zone:{id}"));
        match event {
            ZoneEvent::Created { .. } => vec![UniqueChange::Claim(unique())],
            // Given back once the DNS server no longer serves it.
            ZoneEvent::Deleted => vec![UniqueChange::Release(unique())],
            _ => Vec::new(),
        }
    }
}

impl Aggregate for Zone {
    const TYPE: &'static str = "zone";
    type Command = ZoneCommand;
    type Event = ZoneEvent;
    type Error = ZoneError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ZoneCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ZoneError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ZoneEvent) {
        match event {
            ZoneEvent::Created { zone_id, tenant_id, name } => {
                self.id = Some(zone_id);
                self.tenant_id = Some(tenant_id);
                self.name = Some(name);
                self.status = ZoneStatus::Active;
                self.revision = 1;
            }
            ZoneEvent::RecordSetChanged { set } => {
                self.sets.insert(set.key(), set);
                self.revision += 1;
            }
            ZoneEvent::RecordSetRemoved { name, rtype } => {
                self.sets.remove(&key(&name, rtype));
                self.revision += 1;
            }
            // The records are the same; the server must be told again.
            ZoneEvent::DriftFound { .. } => self.revision += 1,
            ZoneEvent::Published { revision } => {
                self.published = revision;
                self.failed = None;
            }
            ZoneEvent::PublishFailed { revision, .. } => self.failed = Some(revision),
            ZoneEvent::DeletionRequested => self.status = ZoneStatus::Deleting,
            ZoneEvent::Deleted => self.status = ZoneStatus::Deleted,
        }
    }
}

/// The record set a request describes, each part checked against `zone`; an error names the
/// part (`name`, `type`, `ttl` or `records[i]`) that is wrong.
pub fn parse_record_set(
    zone: &DomainName,
    name: &str,
    rtype: &str,
    ttl: u32,
    values: &[String],
) -> Result<RecordSet, (String, RecordError)> {
    fn at(field: &'static str) -> impl Fn(RecordError) -> (String, RecordError) {
        move |e| (field.to_owned(), e)
    }
    let name = RecordName::parse(name, zone).map_err(at("name"))?;
    let rtype = RecordType::parse(rtype).map_err(at("type"))?;
    if rtype == RecordType::Cname && name.is_apex(zone) {
        return Err(("name".to_owned(), RecordError::CnameAtApex));
    }
    let ttl = Ttl::new(ttl).map_err(at("ttl"))?;
    let values = values
        .iter()
        .enumerate()
        .map(|(i, v)| RecordValue::parse(rtype, v).map_err(|e| (format!("records[{i}]"), e)))
        .collect::<Result<Vec<_>, _>>()?;
    RecordSet::new(name, rtype, ttl, values).map_err(at("records"))
}
