//! Site events. These are a public, versioned contract: a released variant is never renamed
//! or reshaped; a change gets a new version and an upcaster.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::command::SiteLabel;
use super::{Placement, SiteStatus, StagingStep};
use crate::domain_name::DomainName;
use crate::evacuation::{EvacuationMode, EvacuationStep};
use crate::ids::{BackupId, EvacuationId, NodeId, RestoreId, SiteId, TenantId};
use crate::php::{PhpVersion, SiteKind};

/// Something that happened to a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiteEvent {
    /// A tenant asked for a new site.
    Created {
        /// The new site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// The host name it answers for.
        domain: DomainName,
        /// Its runtime.
        kind: SiteKind,
        /// Its PHP version (absent for static sites).
        php_version: Option<PhpVersion>,
    },
    /// Settings changed; only the fields present changed.
    Updated {
        /// The new PHP version.
        php_version: Option<PhpVersion>,
        /// The new display label.
        label: Option<SiteLabel>,
    },
    /// The tenant asked for the site to be removed.
    DeletionRequested,
    /// Capacity on a node was reserved and the site placed there.
    NodeAssigned {
        /// The node.
        node_id: NodeId,
        /// Its name at the time.
        node_name: String,
        /// Its address at the time.
        address: String,
        /// How long the step took, in milliseconds.
        took_ms: u64,
    },
    /// The node set the site up (vhost, pool, user, database, files).
    Provisioned {
        /// How long the step took, in milliseconds.
        took_ms: u64,
    },
    /// The node answered for the site's domain: the site is live.
    Activated {
        /// How long the verification took, in milliseconds.
        took_ms: u64,
    },
    /// Provisioning gave up; any capacity reserved was released. Version 2 (version 1 had
    /// no `code`; its upcaster derives one from the reason).
    ProvisioningFailed {
        /// The step that failed.
        step: ProvisioningStep,
        /// What went wrong, for programs.
        code: FailureCode,
        /// What went wrong, for people.
        reason: String,
    },
    /// Provisioning starts over after a failure.
    ProvisioningRetried,
    /// Suspension was asked for; the node has not done it yet.
    SuspensionRequested,
    /// The node stopped serving the site.
    Suspended {
        /// How long the node took, in milliseconds.
        took_ms: u64,
    },
    /// Resumption was asked for.
    ResumptionRequested,
    /// The node serves the site again.
    Resumed {
        /// How long the node took, in milliseconds.
        took_ms: u64,
    },
    /// The site was removed from its node and is gone.
    Deleted {
        /// How long the node took, in milliseconds.
        took_ms: u64,
    },
    /// A suspension, resumption or deletion could not be carried out; the site is as it was.
    OperationFailed {
        /// Which.
        operation: Operation,
        /// Why.
        reason: String,
        /// The status the site is back in.
        status: SiteStatus,
    },
    /// A verified custom domain now points at the site: its node serves it too.
    AliasAdded {
        /// The domain.
        domain: DomainName,
    },
    /// A custom domain was taken off the site.
    AliasRemoved {
        /// The domain.
        domain: DomainName,
    },
    /// The site is suspended for non-payment (with its `SuspensionRequested`): only the
    /// payment resumes it.
    BillingHoldPlaced {
        /// Why (`unpaid`).
        reason: String,
    },
    /// The payment came: the hold is lifted (with its `ResumptionRequested`).
    BillingHoldLifted,
    /// The site is to move to another node (its node is being evacuated, or it was lost and
    /// is restored). It keeps serving where it is until the move switches.
    EvacuationStarted {
        /// The evacuation it is part of.
        evacuation_id: EvacuationId,
        /// Where its content comes from.
        mode: EvacuationMode,
        /// The node it leaves.
        from_node: NodeId,
    },
    /// A step of the move finished.
    EvacuationStepCompleted {
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
        /// What the step did, for people.
        detail: Option<String>,
    },
    /// The site serves from its new node; the old node's capacity is released in the same
    /// commit.
    Evacuated {
        /// The evacuation.
        evacuation_id: EvacuationId,
        /// The node it left.
        from_node: NodeId,
        /// The node it is on now.
        node_id: NodeId,
        /// Its name.
        node_name: String,
        /// Its address.
        address: String,
        /// Whether the site was lost before (a restore rather than a move).
        was_lost: bool,
        /// Where its content came from.
        mode: EvacuationMode,
        /// The backup restored.
        backup_id: Option<BackupId>,
        /// How long the whole move took, in milliseconds.
        took_ms: u64,
    },
    /// The move failed at `step`; the site is where it was, and whatever was reserved or set up
    /// on the new node is given back.
    EvacuationFailed {
        /// The evacuation.
        evacuation_id: EvacuationId,
        /// The step that failed.
        step: EvacuationStep,
        /// Why, for people.
        reason: String,
    },
    /// The site's node is gone for good: nothing serves it. Its domain is given back; it can
    /// be restored from its latest verified backup, or deleted.
    Lost {
        /// The node that is gone.
        node_id: NodeId,
        /// Its latest verified backup, if it has one.
        latest_backup_id: Option<BackupId>,
        /// When that backup was verified.
        #[serde(default, with = "time::serde::rfc3339::option")]
        latest_backup_at: Option<time::OffsetDateTime>,
    },
    /// A staging copy of this site was asked for: site `staging_site_id`, at `domain`.
    StagingCreated {
        /// The copy's site.
        staging_site_id: SiteId,
        /// Its host name.
        domain: DomainName,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        requested_at: time::OffsetDateTime,
    },
    /// This site is the staging copy of `production_site_id`, placed on its node (recorded with
    /// its `Created`).
    CreatedAsStaging {
        /// The production site.
        production_site_id: SiteId,
        /// Production's node, where the copy goes.
        node_id: NodeId,
    },
    /// A step of making or promoting the staging copy finished.
    StagingStepCompleted {
        /// The copy's site.
        staging_site_id: SiteId,
        /// The step.
        step: StagingStep,
        /// The backup the step asked for.
        backup_id: Option<BackupId>,
        /// The restore the step asked for.
        restore_id: Option<RestoreId>,
        /// How long it took, in milliseconds.
        took_ms: u64,
        /// When it finished.
        #[serde(with = "time::serde::rfc3339")]
        completed_at: time::OffsetDateTime,
    },
    /// The staging copy serves production's content at its own name.
    StagingReady {
        /// The copy's site.
        staging_site_id: SiteId,
        /// How long making it took, in milliseconds.
        took_ms: u64,
    },
    /// A step of making or promoting the copy failed. Production is as it was; a failed copy
    /// can only be deleted, a failed promotion leaves the copy ready.
    StagingFailed {
        /// The copy's site.
        staging_site_id: SiteId,
        /// The step.
        step: StagingStep,
        /// Why, for people.
        reason: String,
    },
    /// The copy's content is to replace production's: backup `backup_id` of the copy first.
    StagingPromotionRequested {
        /// The copy's site.
        staging_site_id: SiteId,
        /// The backup of the copy to be taken.
        backup_id: BackupId,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        requested_at: time::OffsetDateTime,
    },
    /// Production serves what the copy held.
    StagingPromoted {
        /// The copy's site.
        staging_site_id: SiteId,
        /// How long the promotion took, in milliseconds.
        took_ms: u64,
    },
    /// The copy's site was deleted: this site has no staging copy any more.
    StagingRemoved {
        /// The copy's site.
        staging_site_id: SiteId,
    },
}

/// A step of provisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisioningStep {
    /// Choosing a node and reserving capacity there.
    Allocate,
    /// Setting the site up on the node.
    Provision,
    /// Checking that the node answers for the site.
    Verify,
}

impl ProvisioningStep {
    /// Every value, in the order the APIs list them.
    pub const ALL: [Self; 3] = [Self::Allocate, Self::Provision, Self::Verify];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allocate => "allocate",
            Self::Provision => "provision",
            Self::Verify => "verify",
        }
    }
}

/// Why provisioning failed, for programs (the reason says it for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// No ready node has room for the site.
    NoRoom,
    /// The node has no php-fpm for the site's PHP version.
    UnsupportedPhp,
    /// The node's disk is full.
    DiskFull,
    /// The node refused the request as malformed.
    BadInput,
    /// A service on the node did not answer.
    ServiceDown,
    /// The node could not be reached over SSH.
    NodeUnreachable,
    /// The node refused Berth's SSH key.
    AuthRefused,
    /// The node presented another host key than the pinned one.
    HostKeyMismatch,
    /// Work on the node is stopped (after a host key mismatch).
    NodeBlocked,
    /// The node did not finish in time.
    Timeout,
    /// The node did not serve the site after setting it up.
    NotServing,
    /// Anything else (and every code a newer version may add).
    #[serde(other)]
    Unknown,
}

impl FailureCode {
    /// Every value, in the order the APIs list them.
    pub const ALL: [Self; 12] = [
        Self::NoRoom,
        Self::UnsupportedPhp,
        Self::DiskFull,
        Self::BadInput,
        Self::ServiceDown,
        Self::NodeUnreachable,
        Self::AuthRefused,
        Self::HostKeyMismatch,
        Self::NodeBlocked,
        Self::Timeout,
        Self::NotServing,
        Self::Unknown,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoRoom => "no_room",
            Self::UnsupportedPhp => "unsupported_php",
            Self::DiskFull => "disk_full",
            Self::BadInput => "bad_input",
            Self::ServiceDown => "service_down",
            Self::NodeUnreachable => "node_unreachable",
            Self::AuthRefused => "auth_refused",
            Self::HostKeyMismatch => "host_key_mismatch",
            Self::NodeBlocked => "node_blocked",
            Self::Timeout => "timeout",
            Self::NotServing => "not_serving",
            Self::Unknown => "unknown",
        }
    }

    /// The code named `name`; unknown names are [`FailureCode::Unknown`].
    pub fn from_name(name: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).unwrap_or(Self::Unknown)
    }
}

/// Work on a live site that a node carries out after the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Stop serving.
    Suspend,
    /// Serve again.
    Resume,
    /// Remove.
    Delete,
}

impl Operation {
    /// Every value, in the order the APIs list them.
    pub const ALL: [Self; 3] = [Self::Suspend, Self::Resume, Self::Delete];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Delete => "delete",
        }
    }
}

impl DomainEvent for SiteEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "SiteCreated",
            Self::Updated { .. } => "SiteUpdated",
            Self::DeletionRequested => "SiteDeletionRequested",
            Self::NodeAssigned { .. } => "SiteNodeAssigned",
            Self::Provisioned { .. } => "SiteProvisioned",
            Self::Activated { .. } => "SiteActivated",
            Self::ProvisioningFailed { .. } => "SiteProvisioningFailed",
            Self::ProvisioningRetried => "SiteProvisioningRetried",
            Self::SuspensionRequested => "SiteSuspensionRequested",
            Self::Suspended { .. } => "SiteSuspended",
            Self::ResumptionRequested => "SiteResumptionRequested",
            Self::Resumed { .. } => "SiteResumed",
            Self::Deleted { .. } => "SiteDeleted",
            Self::OperationFailed { .. } => "SiteOperationFailed",
            Self::AliasAdded { .. } => "SiteAliasAdded",
            Self::AliasRemoved { .. } => "SiteAliasRemoved",
            Self::BillingHoldPlaced { .. } => "SiteBillingHoldPlaced",
            Self::BillingHoldLifted => "SiteBillingHoldLifted",
            Self::EvacuationStarted { .. } => "SiteEvacuationStarted",
            Self::EvacuationStepCompleted { .. } => "SiteEvacuationStepCompleted",
            Self::Evacuated { .. } => "SiteEvacuated",
            Self::EvacuationFailed { .. } => "SiteEvacuationFailed",
            Self::Lost { .. } => "SiteLost",
            Self::StagingCreated { .. } => "SiteStagingCreated",
            Self::CreatedAsStaging { .. } => "SiteCreatedAsStaging",
            Self::StagingStepCompleted { .. } => "SiteStagingStepCompleted",
            Self::StagingReady { .. } => "SiteStagingReady",
            Self::StagingFailed { .. } => "SiteStagingFailed",
            Self::StagingPromotionRequested { .. } => "SiteStagingPromotionRequested",
            Self::StagingPromoted { .. } => "SiteStagingPromoted",
            Self::StagingRemoved { .. } => "SiteStagingRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::ProvisioningFailed { .. } => "2",
            _ => "1",
        }
        .to_owned()
    }
}

impl crate::event::Versioned for SiteEvent {
    const UPCASTERS: &'static [crate::event::Upcaster] = &[crate::event::Upcaster {
        event_type: "SiteProvisioningFailed",
        from: "1",
        to: "2",
        upcast: provisioning_failed_v1_to_v2,
    }];
}

/// Version 1 of `SiteProvisioningFailed` had a free-text step and no code. The code is
/// recovered from the reason as version 1 wrote it: node script failures started with the
/// script's own code (`disk_full: ...`), the others with fixed phrases.
fn provisioning_failed_v1_to_v2(mut payload: serde_json::Value) -> Result<serde_json::Value, String> {
    let body = payload
        .get_mut("ProvisioningFailed")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or("not a ProvisioningFailed payload")?;
    let reason = body.get("reason").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let step = match body.get("step").and_then(serde_json::Value::as_str) {
        Some("allocate") => "allocate",
        Some("verify") => "verify",
        _ => "provision",
    };
    let code = if reason.starts_with("no ready node has room") {
        FailureCode::NoRoom
    } else if reason.starts_with("node unreachable") {
        FailureCode::NodeUnreachable
    } else if reason.contains("presented host key") || reason.contains("presented another host key") {
        FailureCode::HostKeyMismatch
    } else if step == "verify" {
        FailureCode::NotServing
    } else {
        reason.split_once(':').map_or(FailureCode::Unknown, |(prefix, _)| FailureCode::from_name(prefix))
    };
    body.insert("step".to_owned(), step.into());
    body.insert("code".to_owned(), code.as_str().into());
    Ok(payload)
}
