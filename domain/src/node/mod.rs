//! The node aggregate: a VPS Berth manages over SSH.
//!
//! Lifecycle: `registered → ready → draining → decommissioned`. Health (`healthy`, `degraded`,
//! `down`) changes are recorded as events, samples are not. A host key that differs from the
//! pinned one blocks all work on the node until an operator re-pins it.

mod host_key;
#[cfg(test)]
mod tests;

pub use host_key::{HostKey, HostKeyError};

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::allocation::{Health, NodeState, Resources};
use crate::ids::NodeId;
use crate::money::Money;
use crate::name::DisplayName;

/// Where a node is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// A name for people.
    pub name: DisplayName,
    /// Host name or IP address.
    pub address: String,
    /// SSH port.
    pub ssh_port: u16,
    /// SSH user.
    pub ssh_user: String,
    /// The pinned host key.
    pub host_key: HostKey,
    /// What it has.
    pub capacity: Resources,
    /// Who rents it out (for cost reports).
    pub provider: String,
    /// Where it is.
    pub region: String,
    /// What it costs a month.
    pub monthly_cost: Money,
    /// The id of Berth's SSH key pair for it (the private key is stored encrypted, never here).
    pub key_id: uuid::Uuid,
}

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
    /// Record that bootstrap finished: the node takes sites.
    MarkReady {
        /// The version of the node scripts it now runs.
        scripts_version: String,
    },
    /// Stop placing sites here.
    Drain,
    /// Retire the node (only once it holds no sites).
    Decommission {
        /// How many sites it still holds.
        sites: u32,
    },
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
}

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
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a node command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// `Register` on a known node.
    #[error("the node is already registered")]
    AlreadyRegistered,
    /// Anything else on an unknown node.
    #[error("no such node")]
    NotFound,
    /// The command does not fit the node's state.
    #[error("the node is {0:?}")]
    WrongState(NodeState),
    /// Decommissioning a node that still holds sites.
    #[error("the node still holds {0} sites")]
    NotEmpty(u32),
    /// Work on the node is blocked by a host key mismatch.
    #[error("work on the node is stopped: it presented another host key")]
    Blocked,
}

/// The node's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    id: Option<NodeId>,
    spec: Option<Box<NodeSpec>>,
    state: Option<NodeState>,
    health: Option<Health>,
    blocked: bool,
}

impl Node {
    /// The lifecycle state, once registered.
    pub fn state(&self) -> Option<NodeState> {
        self.state
    }

    /// The health as last recorded.
    pub fn health(&self) -> Health {
        self.health.unwrap_or(Health::Unknown)
    }

    /// Whether work is stopped by a host key mismatch.
    pub fn blocked(&self) -> bool {
        self.blocked
    }

    fn decide(&self, command: NodeCommand) -> Result<Vec<NodeEvent>, NodeError> {
        let Some(state) = self.state else {
            return match command {
                NodeCommand::Register { node_id, spec } => Ok(vec![NodeEvent::Registered { node_id, spec }]),
                _ => Err(NodeError::NotFound),
            };
        };
        match command {
            NodeCommand::Register { .. } => Err(NodeError::AlreadyRegistered),
            NodeCommand::MarkReady { .. } if self.blocked => Err(NodeError::Blocked),
            NodeCommand::MarkReady { scripts_version } => match state {
                NodeState::Registered | NodeState::Ready => Ok(vec![NodeEvent::Ready { scripts_version }]),
                other => Err(NodeError::WrongState(other)),
            },
            NodeCommand::Drain => match state {
                NodeState::Ready | NodeState::Registered => Ok(vec![NodeEvent::DrainStarted]),
                NodeState::Draining => Ok(Vec::new()),
                other => Err(NodeError::WrongState(other)),
            },
            NodeCommand::Decommission { sites } => match (state, sites) {
                (NodeState::Decommissioned, _) => Ok(Vec::new()),
                (_, 0) => Ok(vec![NodeEvent::Decommissioned]),
                (_, n) => Err(NodeError::NotEmpty(n)),
            },
            NodeCommand::RecordHealth { health, reason } => {
                let from = self.health();
                Ok(if from == health {
                    Vec::new()
                } else {
                    vec![NodeEvent::HealthChanged { from, to: health, reason }]
                })
            }
            NodeCommand::RecordHostKeyMismatch { presented } => {
                Ok(if self.blocked { Vec::new() } else { vec![NodeEvent::HostKeyMismatched { presented }] })
            }
        }
    }
}

impl Aggregate for Node {
    const TYPE: &'static str = "node";
    type Command = NodeCommand;
    type Event = NodeEvent;
    type Error = NodeError;
    type Services = ();

    async fn handle(
        &mut self,
        command: NodeCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), NodeError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: NodeEvent) {
        match event {
            NodeEvent::Registered { node_id, spec } => {
                self.id = Some(node_id);
                self.spec = Some(spec);
                self.state = Some(NodeState::Registered);
            }
            NodeEvent::Ready { .. } => self.state = Some(NodeState::Ready),
            NodeEvent::DrainStarted => self.state = Some(NodeState::Draining),
            NodeEvent::Decommissioned => self.state = Some(NodeState::Decommissioned),
            NodeEvent::HealthChanged { to, .. } => self.health = Some(to),
            NodeEvent::HostKeyMismatched { .. } => self.blocked = true,
        }
    }
}
