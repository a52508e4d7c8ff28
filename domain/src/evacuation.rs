//! Moving sites off a node that is lost or being emptied: the mode of an evacuation and the
//! steps each site goes through. The steps are recorded on the site itself (so its tenant sees
//! them), the evacuation as a whole on the node it empties.

use serde::{Deserialize, Serialize};

/// Where an evacuated site's content comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvacuationMode {
    /// The latest verified backup (the node is down or gone).
    FromBackup,
    /// A backup taken now (the node still answers).
    Live,
}

impl EvacuationMode {
    /// Every mode, in the order the APIs list them.
    pub const ALL: [Self; 2] = [Self::FromBackup, Self::Live];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FromBackup => "from_backup",
            Self::Live => "live",
        }
    }
}

/// One step of moving a site, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvacuationStep {
    /// The move was asked for (a refusal at the start is recorded at this step).
    Start,
    /// The backup to restore from is chosen: the latest verified one, or a fresh one taken and
    /// verified now.
    Backup,
    /// Another ready node with room is chosen and capacity reserved there.
    Place,
    /// The site is set up on the new node.
    Provision,
    /// The backup is unpacked there, swapped in and checked to answer.
    Restore,
    /// The site's certificate is installed there (when it has one).
    Certificate,
    /// The site is recorded on the new node and the old node's capacity is released.
    Switch,
}

impl EvacuationStep {
    /// Every step, in order.
    pub const ALL: [Self; 7] = [
        Self::Start,
        Self::Backup,
        Self::Place,
        Self::Provision,
        Self::Restore,
        Self::Certificate,
        Self::Switch,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Backup => "backup",
            Self::Place => "place",
            Self::Provision => "provision",
            Self::Restore => "restore",
            Self::Certificate => "certificate",
            Self::Switch => "switch",
        }
    }

    /// The name of the step in a site's list of steps (`evacuation_place`).
    pub fn site_step(self) -> &'static str {
        match self {
            Self::Start => "evacuation_start",
            Self::Backup => "evacuation_backup",
            Self::Place => "evacuation_place",
            Self::Provision => "evacuation_provision",
            Self::Restore => "evacuation_restore",
            Self::Certificate => "evacuation_certificate",
            Self::Switch => "evacuation_switch",
        }
    }
}
