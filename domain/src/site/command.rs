//! Site commands, and the decision function that turns a command into events.

use serde::{Deserialize, Serialize};

use super::{Operation, Placement, Site, SiteError, SiteEvent, SiteStatus};
use crate::domain_name::DomainName;
use crate::evacuation::{EvacuationMode, EvacuationStep};
use crate::ids::{BackupId, EvacuationId, NodeId, SiteId, TenantId};
use crate::php::{PhpVersion, SiteKind};

/// A display name for a site ("Client X blog"), at most [`SiteLabel::MAX`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteLabel(String);

impl SiteLabel {
    /// The longest label accepted, in characters.
    pub const MAX: usize = 100;

    /// Trims and checks a label.
    pub fn parse(input: &str) -> Result<Self, SiteError> {
        let trimmed = input.trim();
        if trimmed.chars().count() > Self::MAX {
            return Err(SiteError::LabelTooLong { max: Self::MAX });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(SiteError::LabelControl);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The label text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SiteLabel {
    type Error = SiteError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SiteLabel> for String {
    fn from(value: SiteLabel) -> Self {
        value.0
    }
}

/// What a caller can ask of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiteCommand {
    /// Create a new site.
    Create {
        /// The id minted for it.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// Its host name.
        domain: DomainName,
        /// Its runtime.
        kind: SiteKind,
        /// Required for PHP kinds, refused for static.
        php_version: Option<PhpVersion>,
    },
    /// Change settings; absent fields stay as they are.
    Update {
        /// A new PHP version.
        php_version: Option<PhpVersion>,
        /// A new label.
        label: Option<SiteLabel>,
    },
    /// Remove the site.
    Delete,
    /// Stop serving the site, keeping its data.
    Suspend,
    /// Serve a suspended site again.
    Resume,
    /// Suspend an active site for non-payment (a site suspended already is left alone).
    SuspendUnpaid,
    /// Resume a site suspended for non-payment, once paid.
    ResumePaid,
    /// Start provisioning over after a failure.
    RetryProvisioning,
    /// Record the node the site was placed on (capacity is reserved there in the same commit).
    AssignNode {
        /// The node.
        node_id: NodeId,
        /// Its name.
        node_name: String,
        /// Its address.
        address: String,
        /// How long placement took, in milliseconds.
        took_ms: u64,
    },
    /// Record that the node set the site up.
    RecordProvisioned {
        /// How long it took, in milliseconds.
        took_ms: u64,
    },
    /// Record that the node answers for the site: it is live.
    Activate {
        /// How long verification took, in milliseconds.
        took_ms: u64,
    },
    /// Record that provisioning gave up at `step`.
    FailProvisioning {
        /// Which step.
        step: super::ProvisioningStep,
        /// Why, for programs.
        code: super::FailureCode,
        /// Why, for people.
        reason: String,
    },
    /// Record that the node carried out the pending operation.
    CompleteOperation {
        /// Which operation.
        operation: Operation,
        /// How long it took, in milliseconds.
        took_ms: u64,
    },
    /// Record that the pending operation could not be carried out.
    FailOperation {
        /// Which operation.
        operation: Operation,
        /// Why.
        reason: String,
    },
    /// Serve a verified custom domain too.
    AddAlias {
        /// The domain.
        domain: DomainName,
    },
    /// Stop serving a custom domain.
    RemoveAlias {
        /// The domain.
        domain: DomainName,
    },
    /// Move the site off `from_node` (or, for a lost site, restore it onto another node).
    StartEvacuation {
        /// The evacuation.
        evacuation_id: EvacuationId,
        /// Where its content comes from.
        mode: EvacuationMode,
        /// The node it leaves.
        from_node: NodeId,
    },
    /// Record that a step of the move finished.
    RecordEvacuationStep {
        /// The evacuation.
        evacuation_id: EvacuationId,
        /// The step.
        step: EvacuationStep,
        /// How long it took, in milliseconds.
        took_ms: u64,
        /// The node chosen (the `place` step).
        target: Option<Placement>,
        /// The backup restored from (the `backup` step).
        backup_id: Option<BackupId>,
        /// What the step did.
        detail: Option<String>,
    },
    /// Record that the site serves from its new node.
    CompleteEvacuation {
        /// The evacuation.
        evacuation_id: EvacuationId,
        /// How long the whole move took, in milliseconds.
        took_ms: u64,
    },
    /// Record that the move failed; the site stays where it was.
    FailEvacuation {
        /// The evacuation.
        evacuation_id: EvacuationId,
        /// The step.
        step: EvacuationStep,
        /// Why.
        reason: String,
    },
    /// Record that the site's node is gone for good.
    MarkLost {
        /// The node.
        node_id: NodeId,
        /// Its latest verified backup, if any.
        latest_backup_id: Option<BackupId>,
        /// When that backup was verified.
        #[serde(default, with = "time::serde::rfc3339::option")]
        latest_backup_at: Option<time::OffsetDateTime>,
    },
    /// Make a staging copy of this (production) site, as site `staging_site_id` at `domain`.
    CreateStaging {
        /// The copy's site.
        staging_site_id: SiteId,
        /// Its host name.
        domain: DomainName,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: time::OffsetDateTime,
    },
    /// Create this site as the staging copy of another (no site quota is taken).
    CreateAsStaging {
        /// The id minted for it.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// Its host name.
        domain: DomainName,
        /// Production's runtime.
        kind: SiteKind,
        /// Production's PHP version.
        php_version: Option<PhpVersion>,
        /// The production site and its node.
        of: super::StagingOf,
    },
    /// Record that a step of making or promoting the staging copy finished.
    RecordStagingStep {
        /// The step.
        step: super::StagingStep,
        /// The backup the phase restores (named by the step that asked for it).
        backup_id: Option<BackupId>,
        /// The restore the phase runs (named by the step that asked for it).
        restore_id: Option<crate::ids::RestoreId>,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: time::OffsetDateTime,
    },
    /// Record that a step of making or promoting the staging copy failed.
    FailStaging {
        /// The step.
        step: super::StagingStep,
        /// Why.
        reason: String,
    },
    /// Swap the staging copy's content into this site, after a backup of each.
    PromoteStaging {
        /// The id the backup of the copy is to have.
        backup_id: BackupId,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: time::OffsetDateTime,
    },
    /// Forget the staging copy once its site is deleted.
    DetachStaging {
        /// The copy's site.
        staging_site_id: SiteId,
    },
}

/// The most custom domains one site serves.
pub const MAX_ALIASES: usize = 50;

/// Decides the events for `command` given the current state. Pure: same input, same output.
pub(super) fn decide(site: &Site, command: SiteCommand) -> Result<Vec<SiteEvent>, SiteError> {
    if let Some(decided) = super::evacuate::decide(site, &command) {
        return decided;
    }
    if let Some(decided) = super::staging::decide(site, &command) {
        return decided;
    }
    match command {
        SiteCommand::Create { site_id, tenant_id, domain, kind, php_version } => {
            if site.status != SiteStatus::None {
                return Err(SiteError::AlreadyExists);
            }
            check_php(kind, php_version)?;
            Ok(vec![SiteEvent::Created { site_id, tenant_id, domain, kind, php_version }])
        }
        SiteCommand::Update { php_version, label } => {
            require_live(site)?;
            if let (Some(kind), Some(version)) = (site.kind, php_version) {
                check_php(kind, Some(version))?;
            }
            let php_version = php_version.filter(|v| site.php_version != Some(*v));
            let label = label.filter(|l| site.label.as_ref() != Some(l));
            if php_version.is_none() && label.is_none() {
                return Ok(Vec::new());
            }
            Ok(vec![SiteEvent::Updated { php_version, label }])
        }
        SiteCommand::Delete => {
            require_live(site)?;
            require_idle(site)?;
            Ok(vec![SiteEvent::DeletionRequested])
        }
        SiteCommand::Suspend => {
            operate(site, SiteStatus::Active, SiteStatus::Suspended, SiteEvent::SuspensionRequested)
        }
        SiteCommand::Resume => {
            if site.billing_hold {
                return Err(SiteError::BillingHold);
            }
            operate(site, SiteStatus::Suspended, SiteStatus::Active, SiteEvent::ResumptionRequested)
        }
        SiteCommand::SuspendUnpaid => {
            require_live(site)?;
            if site.billing_hold || site.status != SiteStatus::Active {
                return Ok(Vec::new());
            }
            require_idle(site)?;
            Ok(vec![
                SiteEvent::BillingHoldPlaced { reason: "unpaid".to_owned() },
                SiteEvent::SuspensionRequested,
            ])
        }
        SiteCommand::ResumePaid => {
            if !site.billing_hold || site.status == SiteStatus::Deleted {
                return Ok(Vec::new());
            }
            require_idle(site)?;
            Ok(match site.status {
                SiteStatus::Suspended => vec![SiteEvent::BillingHoldLifted, SiteEvent::ResumptionRequested],
                _ => vec![SiteEvent::BillingHoldLifted],
            })
        }
        SiteCommand::RetryProvisioning => match site.status {
            SiteStatus::Failed => Ok(vec![SiteEvent::ProvisioningRetried]),
            SiteStatus::Requested | SiteStatus::Provisioning => Ok(Vec::new()),
            other => Err(SiteError::WrongStatus(other.as_str())),
        },
        SiteCommand::AssignNode { node_id, node_name, address, took_ms } => match site.status {
            SiteStatus::Requested => {
                Ok(vec![SiteEvent::NodeAssigned { node_id, node_name, address, took_ms }])
            }
            SiteStatus::Provisioning if site.node.as_ref().map(|n| n.node_id) == Some(node_id) => {
                Ok(Vec::new())
            }
            other => Err(SiteError::WrongStatus(other.as_str())),
        },
        SiteCommand::RecordProvisioned { took_ms } => match site.status {
            SiteStatus::Provisioning if !site.provisioned => Ok(vec![SiteEvent::Provisioned { took_ms }]),
            SiteStatus::Provisioning | SiteStatus::Active => Ok(Vec::new()),
            other => Err(SiteError::WrongStatus(other.as_str())),
        },
        SiteCommand::Activate { took_ms } => match site.status {
            SiteStatus::Provisioning if site.provisioned => Ok(vec![SiteEvent::Activated { took_ms }]),
            SiteStatus::Active => Ok(Vec::new()),
            other => Err(SiteError::WrongStatus(other.as_str())),
        },
        SiteCommand::FailProvisioning { step, code, reason } => match site.status {
            SiteStatus::Requested | SiteStatus::Provisioning => {
                Ok(vec![SiteEvent::ProvisioningFailed { step, code, reason }])
            }
            SiteStatus::Failed => Ok(Vec::new()),
            other => Err(SiteError::WrongStatus(other.as_str())),
        },
        SiteCommand::CompleteOperation { operation, took_ms } => Ok(match (site.pending, operation) {
            (Some(Operation::Suspend), Operation::Suspend) => vec![SiteEvent::Suspended { took_ms }],
            (Some(Operation::Resume), Operation::Resume) => vec![SiteEvent::Resumed { took_ms }],
            (Some(Operation::Delete), Operation::Delete) => vec![SiteEvent::Deleted { took_ms }],
            _ => Vec::new(),
        }),
        SiteCommand::FailOperation { operation, reason } => Ok(if site.pending == Some(operation) {
            let status = if operation == Operation::Delete { site.status_before_delete } else { site.status };
            vec![SiteEvent::OperationFailed { operation, reason, status }]
        } else {
            Vec::new()
        }),
        SiteCommand::AddAlias { domain } => {
            require_live(site)?;
            if site.domain.as_ref() == Some(&domain) || site.aliases.contains(&domain) {
                return Ok(Vec::new());
            }
            // The node must hold the site before its vhost can take another name.
            match site.status {
                SiteStatus::Active | SiteStatus::Suspended => {}
                SiteStatus::Requested | SiteStatus::Provisioning => {
                    return Err(SiteError::Busy("provisioning"))
                }
                other => return Err(SiteError::WrongStatus(other.as_str())),
            }
            if site.aliases.len() >= MAX_ALIASES {
                return Err(SiteError::TooManyAliases(MAX_ALIASES));
            }
            Ok(vec![SiteEvent::AliasAdded { domain }])
        }
        SiteCommand::RemoveAlias { domain } => {
            require_live(site)?;
            Ok(if site.aliases.contains(&domain) {
                vec![SiteEvent::AliasRemoved { domain }]
            } else {
                Vec::new()
            })
        }
        // Decided by `evacuate::decide` above.
        SiteCommand::StartEvacuation { .. }
        | SiteCommand::RecordEvacuationStep { .. }
        | SiteCommand::CompleteEvacuation { .. }
        | SiteCommand::FailEvacuation { .. }
        | SiteCommand::MarkLost { .. } => Ok(Vec::new()),
        // Decided by `staging::decide` above.
        SiteCommand::CreateStaging { .. }
        | SiteCommand::CreateAsStaging { .. }
        | SiteCommand::RecordStagingStep { .. }
        | SiteCommand::FailStaging { .. }
        | SiteCommand::PromoteStaging { .. }
        | SiteCommand::DetachStaging { .. } => Ok(Vec::new()),
    }
}

/// Suspend and resume: from `from` they start the operation; in `to` already, nothing to do.
fn operate(
    site: &Site,
    from: SiteStatus,
    to: SiteStatus,
    event: SiteEvent,
) -> Result<Vec<SiteEvent>, SiteError> {
    require_live(site)?;
    require_idle(site)?;
    match site.status {
        s if s == from => Ok(vec![event]),
        s if s == to => Ok(Vec::new()),
        other => Err(SiteError::WrongStatus(other.as_str())),
    }
}

/// Refuses while provisioning or another operation is under way: two node-side changes to
/// one site must not race.
pub(super) fn require_idle(site: &Site) -> Result<(), SiteError> {
    if site.moving.is_some() {
        return Err(SiteError::Busy("evacuation"));
    }
    if let Some(operation) = site.pending {
        return Err(SiteError::Busy(operation.as_str()));
    }
    match site.status {
        SiteStatus::Requested | SiteStatus::Provisioning => Err(SiteError::Busy("provisioning")),
        _ => Ok(()),
    }
}

pub(super) fn require_live(site: &Site) -> Result<(), SiteError> {
    match site.status {
        SiteStatus::None => Err(SiteError::NotFound),
        SiteStatus::Deleting | SiteStatus::Deleted => Err(SiteError::Deleted),
        // Nothing serves a lost site: restoring it or deleting it are the only ways on.
        SiteStatus::Lost => Err(SiteError::WrongStatus("lost")),
        _ => Ok(()),
    }
}

pub(super) fn check_php(kind: SiteKind, php_version: Option<PhpVersion>) -> Result<(), SiteError> {
    match (kind.runs_php(), php_version) {
        (true, None) => Err(SiteError::PhpVersionRequired(kind)),
        (false, Some(_)) => Err(SiteError::PhpVersionNotAllowed),
        _ => Ok(()),
    }
}
