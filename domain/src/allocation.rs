//! Where a new site goes: a pure placement policy over the nodes' capacity and load.
//!
//! A node is eligible when it is ready, not draining, not down, not blocked by a changed host
//! key, and has room for the site's demand in every dimension (CPU, memory, disk). Among the
//! eligible, healthy nodes come before degraded ones, then the node left with the most room
//! (the smallest of its free fractions, so no one dimension runs out first), then the one with
//! fewest sites, then the lowest id: equal nodes take turns, spreading sites.

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};

use crate::ids::NodeId;
use crate::php::SiteKind;

/// An amount of node resources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// CPU in thousandths of a core.
    pub millicores: u64,
    /// Memory in MiB.
    pub memory_mb: u64,
    /// Disk in GiB.
    pub disk_gb: u64,
}

impl Resources {
    /// Whether `demand` fits in `self`.
    pub fn fits(&self, demand: &Self) -> bool {
        demand.millicores <= self.millicores
            && demand.memory_mb <= self.memory_mb
            && demand.disk_gb <= self.disk_gb
    }

    /// `self - other`, floored at zero.
    pub fn minus(&self, other: &Self) -> Self {
        Self {
            millicores: self.millicores.saturating_sub(other.millicores),
            memory_mb: self.memory_mb.saturating_sub(other.memory_mb),
            disk_gb: self.disk_gb.saturating_sub(other.disk_gb),
        }
    }

    /// `self + other`.
    pub fn plus(&self, other: &Self) -> Self {
        Self {
            millicores: self.millicores.saturating_add(other.millicores),
            memory_mb: self.memory_mb.saturating_add(other.memory_mb),
            disk_gb: self.disk_gb.saturating_add(other.disk_gb),
        }
    }
}

/// What a site of each kind reserves on its node.
pub fn demand(kind: SiteKind) -> Resources {
    match kind {
        SiteKind::Static => Resources { millicores: 50, memory_mb: 64, disk_gb: 1 },
        SiteKind::Php | SiteKind::Laravel => Resources { millicores: 250, memory_mb: 256, disk_gb: 5 },
        SiteKind::Wordpress => Resources { millicores: 500, memory_mb: 512, disk_gb: 10 },
    }
}

/// A node's lifecycle as far as placement cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Registered, not bootstrapped.
    Registered,
    /// Takes new sites.
    Ready,
    /// Keeps its sites, takes no new ones.
    Draining,
    /// Gone.
    Decommissioned,
}

impl NodeState {
    /// Every value, in the order the APIs list them.
    pub const ALL: [Self; 4] = [Self::Registered, Self::Ready, Self::Draining, Self::Decommissioned];

    /// The lowercase name, as the APIs show it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Ready => "ready",
            Self::Draining => "draining",
            Self::Decommissioned => "decommissioned",
        }
    }
}

/// A node's health as last probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Not probed yet.
    Unknown,
    /// All well.
    Healthy,
    /// Working, with a warning (high load, disk filling).
    Degraded,
    /// Unreachable or failing.
    Down,
}

impl Health {
    /// Every value, in the order the APIs list them.
    pub const ALL: [Self; 4] = [Self::Unknown, Self::Healthy, Self::Degraded, Self::Down];

    /// The lowercase name, as the APIs show it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Down => "down",
        }
    }
}

/// What placement knows about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLoad {
    /// The node.
    pub id: NodeId,
    /// Its lifecycle state.
    pub state: NodeState,
    /// Its health.
    pub health: Health,
    /// Whether work on it is stopped because its host key changed.
    pub blocked: bool,
    /// What it has.
    pub capacity: Resources,
    /// What its sites reserve.
    pub allocated: Resources,
    /// How many sites it holds.
    pub sites: u32,
}

impl NodeLoad {
    /// Whether a site with `demand` may go here.
    pub fn eligible(&self, demand: &Resources) -> bool {
        self.state == NodeState::Ready
            && !self.blocked
            && !matches!(self.health, Health::Down)
            && self.capacity.minus(&self.allocated).fits(demand)
    }

    /// The smallest free fraction across dimensions after placing `demand`, in millionths.
    fn headroom(&self, demand: &Resources) -> u64 {
        let after = self.capacity.minus(&self.allocated.plus(demand));
        let fraction = |free: u64, total: u64| free.saturating_mul(1_000_000).checked_div(total).unwrap_or(0);
        fraction(after.millicores, self.capacity.millicores)
            .min(fraction(after.memory_mb, self.capacity.memory_mb))
            .min(fraction(after.disk_gb, self.capacity.disk_gb))
    }
}

/// The node a new site of `kind` should go to, or `None` if no node can take it.
pub fn place(nodes: &[NodeLoad], kind: SiteKind) -> Option<NodeId> {
    let demand = demand(kind);
    nodes
        .iter()
        .filter(|n| n.eligible(&demand))
        .max_by_key(|n| (n.health != Health::Degraded, n.headroom(&demand), Reverse(n.sites), Reverse(n.id)))
        .map(|n| n.id)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    fn node(
        n: u128,
        state: NodeState,
        health: Health,
        capacity: Resources,
        allocated: Resources,
        sites: u32,
    ) -> NodeLoad {
        NodeLoad {
            id: NodeId::from_uuid(Uuid::from_u128(n)),
            state,
            health,
            blocked: false,
            capacity,
            allocated,
            sites,
        }
    }

    const BIG: Resources = Resources { millicores: 4000, memory_mb: 8192, disk_gb: 160 };

    #[test]
    fn never_a_draining_down_blocked_or_full_node() {
        let full = Resources { millicores: 3900, memory_mb: 8000, disk_gb: 150 };
        let mut blocked = node(4, NodeState::Ready, Health::Healthy, BIG, Resources::default(), 0);
        blocked.blocked = true;
        let nodes = vec![
            node(1, NodeState::Draining, Health::Healthy, BIG, Resources::default(), 0),
            node(2, NodeState::Ready, Health::Down, BIG, Resources::default(), 0),
            node(3, NodeState::Ready, Health::Healthy, BIG, full, 9),
            blocked,
            node(5, NodeState::Registered, Health::Healthy, BIG, Resources::default(), 0),
        ];
        assert_eq!(place(&nodes, SiteKind::Wordpress), None);
        assert_eq!(place(&nodes, SiteKind::Static), Some(NodeId::from_uuid(Uuid::from_u128(3))));
    }

    #[test]
    fn equal_nodes_take_turns() {
        let mut nodes: Vec<NodeLoad> = (1..=3)
            .map(|n| node(n, NodeState::Ready, Health::Healthy, BIG, Resources::default(), 0))
            .collect();
        for _ in 0..6 {
            let chosen = place(&nodes, SiteKind::Wordpress).unwrap();
            let target = nodes.iter_mut().find(|n| n.id == chosen).unwrap();
            target.allocated = target.allocated.plus(&demand(SiteKind::Wordpress));
            target.sites += 1;
        }
        assert!(
            nodes.iter().all(|n| n.sites == 2),
            "{:?}",
            nodes.iter().map(|n| n.sites).collect::<Vec<_>>()
        );
    }

    fn arb_node(n: u128) -> impl Strategy<Value = NodeLoad> {
        let state = prop_oneof![
            Just(NodeState::Registered),
            Just(NodeState::Ready),
            Just(NodeState::Draining),
            Just(NodeState::Decommissioned)
        ];
        let health = prop_oneof![
            Just(Health::Unknown),
            Just(Health::Healthy),
            Just(Health::Degraded),
            Just(Health::Down)
        ];
        (
            state,
            health,
            any::<bool>(),
            0u64..8000,
            0u64..16384,
            0u64..320,
            0u64..8000,
            0u64..16384,
            0u64..320,
            0u32..50,
        )
            .prop_map(move |(state, health, blocked, c, m, d, ac, am, ad, sites)| NodeLoad {
                id: NodeId::from_uuid(Uuid::from_u128(n)),
                state,
                health,
                blocked,
                capacity: Resources { millicores: c, memory_mb: m, disk_gb: d },
                allocated: Resources { millicores: ac, memory_mb: am, disk_gb: ad },
                sites,
            })
    }

    proptest! {
        /// Whatever the fleet, the chosen node is eligible and keeps within its capacity, and a
        /// node is refused only when none can take the site.
        #[test]
        fn placement_is_safe_and_complete(
            nodes in (1u128..8).prop_flat_map(|count| (1..=count).map(arb_node).collect::<Vec<_>>()),
            kind in prop_oneof![Just(SiteKind::Static), Just(SiteKind::Php), Just(SiteKind::Wordpress)]) {
            let want = demand(kind);
            match place(&nodes, kind) {
                Some(id) => {
                    let chosen = nodes.iter().find(|n| n.id == id).unwrap();
                    prop_assert!(chosen.eligible(&want));
                    prop_assert!(chosen.allocated.plus(&want).millicores <= chosen.capacity.millicores);
                    prop_assert!(chosen.allocated.plus(&want).memory_mb <= chosen.capacity.memory_mb);
                    prop_assert!(chosen.allocated.plus(&want).disk_gb <= chosen.capacity.disk_gb);
                    prop_assert!(chosen.state == NodeState::Ready && chosen.health != Health::Down && !chosen.blocked);
                }
                None => prop_assert!(nodes.iter().all(|n| !n.eligible(&want))),
            }
        }
    }
}
