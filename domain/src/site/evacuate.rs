//! Moving a site to another node, and losing it with its node: the decisions and the state.
//!
//! A move starts on the site's current node and keeps the site serving there until the
//! `switch` step: the steps before only reserve and fill a place on the new node, so a move that
//! fails leaves the site where it was. A lost site has no node that serves it; the same move,
//! from its latest verified backup, restores it.

use serde::{Deserialize, Serialize};

use super::{Placement, Site, SiteCommand, SiteError, SiteEvent, SiteStatus};
use crate::evacuation::{EvacuationMode, EvacuationStep};
use crate::ids::{BackupId, EvacuationId, NodeId};

/// A move under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteMove {
    /// The evacuation it is part of.
    pub evacuation_id: EvacuationId,
    /// Where the content comes from.
    pub mode: EvacuationMode,
    /// The node it leaves.
    pub from_node: NodeId,
    /// The node chosen, once placed.
    pub target: Option<Placement>,
    /// The backup restored from, once chosen.
    pub backup_id: Option<BackupId>,
    /// The steps finished so far, in order.
    pub done: Vec<EvacuationStep>,
    /// The time the steps so far took, in milliseconds.
    #[serde(default)]
    pub took_ms: u64,
}

impl SiteMove {
    /// The next step to run (`Switch` last).
    pub fn next_step(&self) -> EvacuationStep {
        EvacuationStep::ALL
            .into_iter()
            .find(|s| *s != EvacuationStep::Start && !self.done.contains(s))
            .unwrap_or(EvacuationStep::Switch)
    }
}

/// The decision for the commands of this module; `None` for every other command.
pub(super) fn decide(site: &Site, command: &SiteCommand) -> Option<Result<Vec<SiteEvent>, SiteError>> {
    Some(match command {
        SiteCommand::StartEvacuation { evacuation_id, mode, from_node } => {
            start(site, *evacuation_id, *mode, *from_node)
        }
        SiteCommand::RecordEvacuationStep { evacuation_id, step, took_ms, target, backup_id, detail } => {
            Ok(match &site.moving {
                Some(m) if m.evacuation_id == *evacuation_id && !m.done.contains(step) => {
                    vec![SiteEvent::EvacuationStepCompleted {
                        evacuation_id: *evacuation_id,
                        step: *step,
                        took_ms: *took_ms,
                        target: target.clone(),
                        backup_id: *backup_id,
                        detail: detail.clone(),
                    }]
                }
                _ => Vec::new(),
            })
        }
        SiteCommand::CompleteEvacuation { evacuation_id, took_ms } => match &site.moving {
            Some(m) if m.evacuation_id == *evacuation_id => match &m.target {
                Some(target) => Ok(vec![SiteEvent::Evacuated {
                    evacuation_id: *evacuation_id,
                    from_node: m.from_node,
                    node_id: target.node_id,
                    node_name: target.node_name.clone(),
                    address: target.address.clone(),
                    was_lost: site.status == SiteStatus::Lost,
                    mode: m.mode,
                    backup_id: m.backup_id,
                    took_ms: *took_ms,
                }]),
                None => Err(SiteError::WrongStatus("not placed on a new node yet")),
            },
            _ => Ok(Vec::new()),
        },
        SiteCommand::FailEvacuation { evacuation_id, step, reason } => Ok(match &site.moving {
            Some(m) if m.evacuation_id == *evacuation_id => vec![SiteEvent::EvacuationFailed {
                evacuation_id: *evacuation_id,
                step: *step,
                reason: reason.clone(),
            }],
            _ => Vec::new(),
        }),
        SiteCommand::MarkLost { node_id, latest_backup_id, latest_backup_at } => {
            let on_node = site.node.as_ref().is_some_and(|n| n.node_id == *node_id);
            let gone = matches!(site.status, SiteStatus::None | SiteStatus::Deleted | SiteStatus::Lost);
            Ok(if on_node && !gone {
                vec![SiteEvent::Lost {
                    node_id: *node_id,
                    latest_backup_id: *latest_backup_id,
                    latest_backup_at: *latest_backup_at,
                }]
            } else {
                Vec::new()
            })
        }
        // Nothing serves a lost site, so nothing has to be removed from a node.
        SiteCommand::Delete if site.status == SiteStatus::Lost => {
            if site.moving.is_some() {
                return Some(Err(SiteError::Busy("evacuation")));
            }
            Ok(vec![SiteEvent::Deleted { took_ms: 0 }])
        }
        _ => return None,
    })
}

fn start(
    site: &Site,
    evacuation_id: EvacuationId,
    mode: EvacuationMode,
    from_node: NodeId,
) -> Result<Vec<SiteEvent>, SiteError> {
    let refused = |reason: String| {
        Ok(vec![
            SiteEvent::EvacuationStarted { evacuation_id, mode, from_node },
            SiteEvent::EvacuationFailed { evacuation_id, step: EvacuationStep::Start, reason },
        ])
    };
    match site.status {
        SiteStatus::None => return Err(SiteError::NotFound),
        // Gone, or never set up anywhere: there is nothing to move.
        SiteStatus::Deleted | SiteStatus::Deleting | SiteStatus::Failed => return Ok(Vec::new()),
        _ => {}
    }
    if site.node.as_ref().map(|n| n.node_id) != Some(from_node) {
        return Ok(Vec::new()); // moved already
    }
    if let Some(current) = &site.moving {
        if current.evacuation_id == evacuation_id {
            return Ok(Vec::new());
        }
        return Err(SiteError::Busy("evacuation"));
    }
    if site.status == SiteStatus::Lost && mode == EvacuationMode::Live {
        return Err(SiteError::WrongStatus("lost"));
    }
    if let Some(operation) = site.pending {
        return refused(format!("the site is busy: {} is under way", operation.as_str()));
    }
    if matches!(site.status, SiteStatus::Requested | SiteStatus::Provisioning) {
        return refused("the site is still being provisioned".to_owned());
    }
    Ok(vec![SiteEvent::EvacuationStarted { evacuation_id, mode, from_node }])
}

/// How the events of this module change the site.
pub(super) fn apply(site: &mut Site, event: SiteEvent) {
    match event {
        SiteEvent::EvacuationStarted { evacuation_id, mode, from_node } => {
            site.moving = Some(SiteMove {
                evacuation_id,
                mode,
                from_node,
                target: None,
                backup_id: None,
                done: vec![EvacuationStep::Start],
                took_ms: 0,
            });
        }
        SiteEvent::EvacuationStepCompleted { step, target, backup_id, took_ms, .. } => {
            if let Some(m) = site.moving.as_mut() {
                m.done.push(step);
                m.took_ms = m.took_ms.saturating_add(took_ms);
                if target.is_some() {
                    m.target = target;
                }
                if backup_id.is_some() {
                    m.backup_id = backup_id;
                }
            }
        }
        SiteEvent::Evacuated { node_id, node_name, address, .. } => {
            site.node = Some(Placement { node_id, node_name, address });
            site.moving = None;
            if site.status == SiteStatus::Lost {
                site.status = SiteStatus::Active;
            }
        }
        SiteEvent::EvacuationFailed { .. } => site.moving = None,
        SiteEvent::Lost { .. } => {
            site.status = SiteStatus::Lost;
            site.moving = None;
            site.pending = None;
        }
        _ => {}
    }
}
