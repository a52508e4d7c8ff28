//! Zone events: a public, versioned contract (a released variant is never reshaped; a change
//! gets a new version and an upcaster).

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::record::{RecordName, RecordSet, RecordType, RecordValue};
use crate::domain_name::DomainName;
use crate::ids::{TenantId, ZoneId};

/// A record set that differed between Berth and the DNS server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// Its owner name.
    pub name: RecordName,
    /// Its type.
    #[serde(rename = "type")]
    pub rtype: RecordType,
    /// What Berth holds (empty: nothing, the server has a set Berth never wrote).
    pub expected: Vec<RecordValue>,
    /// What the server held (empty: the set was missing there).
    pub found: Vec<RecordValue>,
}

/// Something that happened to a zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZoneEvent {
    /// A tenant created the zone.
    Created {
        /// The zone.
        zone_id: ZoneId,
        /// Its owner.
        tenant_id: TenantId,
        /// Its name (the apex).
        name: DomainName,
    },
    /// A record set was created or replaced.
    RecordSetChanged {
        /// The set, whole.
        set: RecordSet,
    },
    /// A record set was removed.
    RecordSetRemoved {
        /// Its owner name.
        name: RecordName,
        /// Its type.
        #[serde(rename = "type")]
        rtype: RecordType,
    },
    /// The DNS server holds the zone as of `revision`.
    Published {
        /// The revision published.
        revision: u64,
    },
    /// The DNS server refused the zone's records; the reason says why.
    PublishFailed {
        /// The revision that was refused.
        revision: u64,
        /// Why.
        reason: String,
    },
    /// Record sets on the DNS server were changed behind Berth's back; they are put back.
    DriftFound {
        /// What differed.
        differences: Vec<Drift>,
    },
    /// The tenant asked for the zone to be removed.
    DeletionRequested,
    /// The DNS server no longer serves the zone; its name is free again.
    Deleted,
}

impl DomainEvent for ZoneEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "ZoneCreated",
            Self::RecordSetChanged { .. } => "ZoneRecordSetChanged",
            Self::RecordSetRemoved { .. } => "ZoneRecordSetRemoved",
            Self::Published { .. } => "ZonePublished",
            Self::PublishFailed { .. } => "ZonePublishFailed",
            Self::DriftFound { .. } => "ZoneDriftFound",
            Self::DeletionRequested => "ZoneDeletionRequested",
            Self::Deleted => "ZoneDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for ZoneEvent {}
