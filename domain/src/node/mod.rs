//! The node aggregate: a VPS Berth manages over SSH.
//!
//! Lifecycle: `registered → ready → draining → decommissioned`; a node that is gone for good
//! is retired (decommissioned with the sites it held lost). Health (`healthy`, `degraded`,
//! `down`) changes are recorded as events, samples are not. A host key that differs from the
//! pinned one blocks all work on the node until an operator re-pins it.

mod command;
mod event;
mod host_key;
#[cfg(test)]
mod tests;

pub use command::NodeCommand;
pub use event::NodeEvent;
pub use host_key::{HostKey, HostKeyError};

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::allocation::{Health, NodeLoad, NodeState, Resources};
use crate::error::{Refusal, RefusalKind};
use crate::ids::{NodeId, SiteId};
use crate::money::Money;
use crate::name::DisplayName;
use crate::unique::{Unique, UniqueChange, UniqueScope};

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
    /// The node is down.
    #[error("the node is down")]
    Down,
    /// The node has no room left for the site.
    #[error("the node has no room for the site")]
    NoRoom,
}

/// The node's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    id: Option<NodeId>,
    spec: Option<Box<NodeSpec>>,
    state: Option<NodeState>,
    health: Option<Health>,
    blocked: bool,
    allocations: BTreeMap<SiteId, Resources>,
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

    /// The node's description, once registered.
    pub fn spec(&self) -> Option<&NodeSpec> {
        self.spec.as_deref()
    }

    /// What `site` has reserved here, if anything.
    pub fn allocation_of(&self, site: SiteId) -> Option<Resources> {
        self.allocations.get(&site).copied()
    }

    /// What placement needs to know about this node.
    pub fn load(&self) -> Option<NodeLoad> {
        let (id, spec, state) = (self.id?, self.spec.as_ref()?, self.state?);
        Some(NodeLoad {
            id,
            state,
            health: self.health(),
            blocked: self.blocked,
            capacity: spec.capacity,
            allocated: self.allocations.values().fold(Resources::default(), |sum, r| sum.plus(r)),
            sites: u32::try_from(self.allocations.len()).unwrap_or(u32::MAX),
        })
    }
}

impl Refusal for NodeError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyRegistered => "node-exists",
            Self::NotFound => "node-not-found",
            Self::WrongState(_) => "node-wrong-state",
            Self::NotEmpty(_) => "node-not-empty",
            Self::Blocked => "node-blocked",
            Self::Down => "node-down",
            Self::NoRoom => "node-full",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            _ => RefusalKind::Conflict,
        }
    }
}

impl crate::aggregate::Consequences for Node {
    fn uniques(&self, event: &NodeEvent) -> Vec<UniqueChange> {
        let (Some(id), Some(spec)) = (self.id, self.spec()) else { return Vec::new() };
        let owner = format!("node:{id}");
        let held = [
            Unique::new(UniqueScope::NodeName, spec.name.as_str().to_lowercase(), owner.clone()),
            Unique::new(UniqueScope::NodeAddress, format!("{}:{}", spec.address, spec.ssh_port), owner),
        ];
        match event {
            NodeEvent::Registered { .. } => held.into_iter().map(UniqueChange::Claim).collect(),
            // A retired node's name and address are free again: a replacement VPS often gets
            // the same address, and the name should be reusable.
            NodeEvent::Decommissioned | NodeEvent::Retired { .. } => {
                held.into_iter().map(UniqueChange::Release).collect()
            }
            _ => Vec::new(),
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
        for event in command::decide(self, command)? {
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
            NodeEvent::BootstrapRequested | NodeEvent::BootstrapFailed { .. } => {}
            NodeEvent::CapacityAllocated { site_id, demand } => {
                self.allocations.insert(site_id, demand);
            }
            NodeEvent::CapacityReleased { site_id, .. } => {
                self.allocations.remove(&site_id);
            }
            NodeEvent::EvacuationStarted { .. } => {}
            NodeEvent::Retired { .. } => {
                self.state = Some(NodeState::Decommissioned);
                self.allocations.clear();
            }
        }
    }
}
