//! Node events: a public, versioned contract (never renamed or reshaped; new versions get an
//! upcaster).

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::NodeSpec;
use crate::allocation::{Health, Resources};
use crate::evacuation::EvacuationMode;
use crate::ids::{EvacuationId, NodeId, SiteId};

/// Something that happened to a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeEvent {
    /// The node was registered.
    Registered {
        /// The node.
        node_id: NodeId,
        /// Its description.
        spec: Box<NodeSpec>,
    },
    /// Bootstrap finished.
    Ready {
        /// The node scripts' version.
        scripts_version: String,
    },
    /// No new sites.
    DrainStarted,
    /// Retired.
    Decommissioned,
    /// Health changed.
    HealthChanged {
        /// Before.
        from: Health,
        /// After.
        to: Health,
        /// Why.
        reason: String,
    },
    /// Another host key was presented; all work on the node stops.
    HostKeyMismatched {
        /// The key presented.
        presented: String,
    },
    /// An operator asked for the node to be bootstrapped (or re-checked).
    BootstrapRequested,
    /// Bootstrap did not finish.
    BootstrapFailed {
        /// Why, in a line.
        reason: String,
    },
    /// Capacity was reserved for a site.
    CapacityAllocated {
        /// The site.
        site_id: SiteId,
        /// What it reserves.
        demand: Resources,
    },
    /// A site's reservation was given back.
    CapacityReleased {
        /// The site.
        site_id: SiteId,
        /// What it had reserved.
        demand: Resources,
    },
    /// An operator asked for every site on the node to be moved to other nodes.
    EvacuationStarted {
        /// The evacuation.
        evacuation_id: EvacuationId,
        /// Where the sites' content comes from.
        mode: EvacuationMode,
        /// The sites it held when asked.
        sites: Vec<SiteId>,
    },
    /// The node is gone for good: every reservation on it is given back, the sites it still
    /// held are lost, and its name and address are free again.
    Retired {
        /// Why.
        reason: String,
        /// The sites it still held.
        sites: Vec<SiteId>,
    },
}

impl DomainEvent for NodeEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Registered { .. } => "NodeRegistered",
            Self::Ready { .. } => "NodeReady",
            Self::DrainStarted => "NodeDrainStarted",
            Self::Decommissioned => "NodeDecommissioned",
            Self::HealthChanged { .. } => "NodeHealthChanged",
            Self::HostKeyMismatched { .. } => "NodeHostKeyMismatched",
            Self::BootstrapRequested => "NodeBootstrapRequested",
            Self::BootstrapFailed { .. } => "NodeBootstrapFailed",
            Self::CapacityAllocated { .. } => "NodeCapacityAllocated",
            Self::CapacityReleased { .. } => "NodeCapacityReleased",
            Self::EvacuationStarted { .. } => "NodeEvacuationStarted",
            Self::Retired { .. } => "NodeRetired",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
