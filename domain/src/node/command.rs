//! Node commands, and the decision function that turns one into events.

use serde::{Deserialize, Serialize};

use super::{Node, NodeError, NodeEvent, NodeSpec};
use crate::allocation::{Health, NodeState, Resources};
use crate::evacuation::EvacuationMode;
use crate::ids::{EvacuationId, NodeId, SiteId};

/// What can be asked of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeCommand {
    /// Register a node.
    Register {
        /// The new node's id.
        node_id: NodeId,
        /// Its description.
        spec: Box<NodeSpec>,
    },
    /// Ask for the node scripts to be installed and the node checked.
    RequestBootstrap,
    /// Record that bootstrap finished: the node takes sites.
    MarkReady {
        /// The version of the node scripts it now runs.
        scripts_version: String,
    },
    /// Record that bootstrap failed.
    FailBootstrap {
        /// Why.
        reason: String,
    },
    /// Stop placing sites here.
    Drain,
    /// Retire the node (only once it holds no sites).
    Decommission,
    /// Record the health a probe found (an event only when it changes).
    RecordHealth {
        /// What the probe found.
        health: Health,
        /// Why, in a line.
        reason: String,
    },
    /// Record that the node presented another host key than the pinned one.
    RecordHostKeyMismatch {
        /// The key it presented.
        presented: String,
    },
    /// Reserve room for a site. Idempotent per site.
    Allocate {
        /// The site.
        site_id: SiteId,
        /// What it needs.
        demand: Resources,
    },
    /// Give a site's reservation back. Idempotent.
    Release {
        /// The site.
        site_id: SiteId,
    },
    /// Move every site off the node (draining it first, so nothing new lands there).
    Evacuate {
        /// The evacuation's id.
        evacuation_id: EvacuationId,
        /// Where the sites' content comes from.
        mode: EvacuationMode,
    },
    /// Forget a node that is gone for good: the sites it still holds are lost, its capacity
    /// and its name and address are given back.
    Retire {
        /// Why, for the log.
        reason: String,
    },
}

/// Decides the events for `command` given the node's state. Pure.
pub(super) fn decide(node: &Node, command: NodeCommand) -> Result<Vec<NodeEvent>, NodeError> {
    let Some(state) = node.state else {
        return match command {
            NodeCommand::Register { node_id, spec } => Ok(vec![NodeEvent::Registered { node_id, spec }]),
            _ => Err(NodeError::NotFound),
        };
    };
    let events = match command {
        NodeCommand::Register { .. } => return Err(NodeError::AlreadyRegistered),
        NodeCommand::RequestBootstrap | NodeCommand::MarkReady { .. } if node.blocked => {
            return Err(NodeError::Blocked)
        }
        NodeCommand::RequestBootstrap => match state {
            NodeState::Registered | NodeState::Ready => vec![NodeEvent::BootstrapRequested],
            other => return Err(NodeError::WrongState(other)),
        },
        NodeCommand::MarkReady { scripts_version } => match state {
            NodeState::Registered | NodeState::Ready => vec![NodeEvent::Ready { scripts_version }],
            other => return Err(NodeError::WrongState(other)),
        },
        NodeCommand::FailBootstrap { reason } => vec![NodeEvent::BootstrapFailed { reason }],
        NodeCommand::Drain => match state {
            NodeState::Ready | NodeState::Registered => vec![NodeEvent::DrainStarted],
            NodeState::Draining => Vec::new(),
            other => return Err(NodeError::WrongState(other)),
        },
        NodeCommand::Decommission => match (state, node.allocations.len()) {
            (NodeState::Decommissioned, _) => Vec::new(),
            (_, 0) => vec![NodeEvent::Decommissioned],
            (_, n) => return Err(NodeError::NotEmpty(u32::try_from(n).unwrap_or(u32::MAX))),
        },
        NodeCommand::RecordHealth { health, reason } => {
            let from = node.health();
            if from == health {
                Vec::new()
            } else {
                vec![NodeEvent::HealthChanged { from, to: health, reason }]
            }
        }
        NodeCommand::RecordHostKeyMismatch { presented } => {
            if node.blocked {
                Vec::new()
            } else {
                vec![NodeEvent::HostKeyMismatched { presented }]
            }
        }
        NodeCommand::Allocate { site_id, demand } => {
            if node.allocations.contains_key(&site_id) {
                return Ok(Vec::new());
            }
            let load = node.load().ok_or(NodeError::NotFound)?;
            if !load.eligible(&demand) {
                return Err(if node.blocked {
                    NodeError::Blocked
                } else if state != NodeState::Ready {
                    NodeError::WrongState(state)
                } else if node.health() == Health::Down {
                    NodeError::Down
                } else {
                    NodeError::NoRoom
                });
            }
            vec![NodeEvent::CapacityAllocated { site_id, demand }]
        }
        NodeCommand::Release { site_id } => match node.allocations.get(&site_id) {
            Some(demand) => vec![NodeEvent::CapacityReleased { site_id, demand: *demand }],
            None => Vec::new(),
        },
        NodeCommand::Evacuate { evacuation_id, mode } => {
            let mut events = match state {
                NodeState::Ready | NodeState::Registered => vec![NodeEvent::DrainStarted],
                NodeState::Draining => Vec::new(),
                other => return Err(NodeError::WrongState(other)),
            };
            let sites = node.allocations.keys().copied().collect();
            events.push(NodeEvent::EvacuationStarted { evacuation_id, mode, sites });
            events
        }
        NodeCommand::Retire { reason } => match state {
            NodeState::Decommissioned => Vec::new(),
            _ => vec![NodeEvent::Retired { reason, sites: node.allocations.keys().copied().collect() }],
        },
    };
    Ok(events)
}
