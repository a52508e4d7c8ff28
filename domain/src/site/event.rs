//! Site events. These are a public, versioned contract: a released variant is never renamed
//! or reshaped; a change gets a new version and an upcaster.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::command::SiteLabel;
use super::SiteStatus;
use crate::domain_name::DomainName;
use crate::ids::{NodeId, SiteId, TenantId};
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
    /// Provisioning gave up; any capacity reserved was released.
    ProvisioningFailed {
        /// The step that failed: `allocate`, `provision` or `verify`.
        step: String,
        /// Why.
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
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
