//! Zone commands, and the decision function that turns a command into events.

use serde::{Deserialize, Serialize};

use super::event::{Drift, ZoneEvent};
use super::record::{key, RecordName, RecordSet, RecordType, RecordValue};
use super::{Zone, ZoneError, ZoneStatus};
use crate::domain_name::DomainName;
use crate::ids::{TenantId, ZoneId};

/// What can be asked of a zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZoneCommand {
    /// Create the zone.
    Create {
        /// The id minted for it.
        zone_id: ZoneId,
        /// Its owner.
        tenant_id: TenantId,
        /// Its name.
        name: DomainName,
    },
    /// Create or replace a record set.
    SetRecordSet {
        /// The set, whole.
        set: RecordSet,
    },
    /// Remove a record set; with `only_if`, only while it still holds exactly those values
    /// (a site's address, an ACME challenge: never remove what someone has changed since).
    RemoveRecordSet {
        /// Its owner name.
        name: RecordName,
        /// Its type.
        rtype: RecordType,
        /// The values it must still hold.
        only_if: Option<Vec<RecordValue>>,
    },
    /// Record that the DNS server holds the zone as of `revision`.
    RecordPublished {
        /// The revision.
        revision: u64,
    },
    /// Record that the DNS server refused `revision`.
    RecordPublishFailed {
        /// The revision.
        revision: u64,
        /// Why.
        reason: String,
    },
    /// Report record sets that differ on the DNS server from `revision`.
    ReportDrift {
        /// The revision they were compared with.
        revision: u64,
        /// What differed.
        differences: Vec<Drift>,
    },
    /// Remove the zone.
    Delete,
    /// Record that the DNS server no longer serves the zone.
    RecordDeleted,
}

/// The most record sets a zone holds.
pub const MAX_RECORD_SETS: usize = 1000;

pub(super) fn decide(zone: &Zone, command: ZoneCommand) -> Result<Vec<ZoneEvent>, ZoneError> {
    match command {
        ZoneCommand::Create { zone_id, tenant_id, name } => {
            if zone.status != ZoneStatus::None {
                return Err(ZoneError::AlreadyExists);
            }
            Ok(vec![ZoneEvent::Created { zone_id, tenant_id, name }])
        }
        ZoneCommand::SetRecordSet { set } => {
            let name = require_live(zone)?;
            if set.rtype() == RecordType::Cname && set.name().is_apex(name) {
                return Err(ZoneError::CnameConflict(set.name().to_string()));
            }
            let beside = zone.sets.values().filter(|s| s.name() == set.name() && s.rtype() != set.rtype());
            let clash = beside
                .map(RecordSet::rtype)
                .any(|t| t == RecordType::Cname || set.rtype() == RecordType::Cname);
            if clash {
                return Err(ZoneError::CnameConflict(set.name().to_string()));
            }
            match zone.sets.get(&set.key()) {
                Some(same) if *same == set => Ok(Vec::new()),
                None if zone.sets.len() >= MAX_RECORD_SETS => {
                    Err(ZoneError::TooManyRecordSets(MAX_RECORD_SETS))
                }
                _ => Ok(vec![ZoneEvent::RecordSetChanged { set }]),
            }
        }
        ZoneCommand::RemoveRecordSet { name, rtype, only_if } => {
            require_live(zone)?;
            let Some(set) = zone.sets.get(&key(&name, rtype)) else {
                return match only_if {
                    // A conditional removal of what is not there is done already.
                    Some(_) => Ok(Vec::new()),
                    None => Err(ZoneError::NoSuchRecordSet(name.to_string(), rtype.as_str())),
                };
            };
            if only_if.is_some_and(|mut values| {
                values.sort();
                values.dedup();
                values != set.values()
            }) {
                return Ok(Vec::new());
            }
            Ok(vec![ZoneEvent::RecordSetRemoved { name, rtype }])
        }
        ZoneCommand::RecordPublished { revision } => {
            if zone.status == ZoneStatus::None {
                return Err(ZoneError::NotFound);
            }
            Ok(if revision > zone.published && revision <= zone.revision {
                vec![ZoneEvent::Published { revision }]
            } else {
                Vec::new()
            })
        }
        ZoneCommand::RecordPublishFailed { revision, reason } => {
            require_live(zone)?;
            Ok(if revision == zone.revision && zone.failed != Some(revision) {
                vec![ZoneEvent::PublishFailed { revision, reason }]
            } else {
                Vec::new()
            })
        }
        ZoneCommand::ReportDrift { revision, differences } => {
            require_live(zone)?;
            // Compared with an older revision, the difference may be Berth's own change on its
            // way to the server: not drift.
            Ok(if revision == zone.revision && !differences.is_empty() {
                vec![ZoneEvent::DriftFound { differences }]
            } else {
                Vec::new()
            })
        }
        ZoneCommand::Delete => {
            require_live(zone)?;
            Ok(vec![ZoneEvent::DeletionRequested])
        }
        ZoneCommand::RecordDeleted => match zone.status {
            ZoneStatus::Deleting => Ok(vec![ZoneEvent::Deleted]),
            ZoneStatus::Deleted => Ok(Vec::new()),
            ZoneStatus::None => Err(ZoneError::NotFound),
            ZoneStatus::Active => Err(ZoneError::Deleted),
        },
    }
}

fn require_live(zone: &Zone) -> Result<&DomainName, ZoneError> {
    match (zone.status, zone.name.as_ref()) {
        (ZoneStatus::Active, Some(name)) => Ok(name),
        (ZoneStatus::None, _) | (_, None) => Err(ZoneError::NotFound),
        _ => Err(ZoneError::Deleted),
    }
}
