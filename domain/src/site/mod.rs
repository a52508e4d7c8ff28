//! The site aggregate: one customer site and its lifecycle.
//!
//! Lifecycle: `requested → provisioning → active ⇄ suspended → deleting → deleted`, with
//! `failed` reachable from provisioning. This module holds the state and how events change
//! it; `command` decides which events a command produces.

mod command;
mod error;
mod evacuate;
#[cfg(test)]
mod evacuate_tests;
mod event;
mod staging;
#[cfg(test)]
mod staging_tests;
#[cfg(test)]
mod tests;

pub use command::{SiteCommand, SiteLabel, MAX_ALIASES};
pub use error::SiteError;
pub use evacuate::SiteMove;
pub use event::{FailureCode, Operation, ProvisioningStep, SiteEvent};
pub use staging::{Staging, StagingOf, StagingStatus, StagingStep};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::domain_name::DomainName;
use crate::ids::{NodeId, SiteId, TenantId};
use crate::php::{PhpVersion, SiteKind};
use crate::unique::{Unique, UniqueChange, UniqueScope};

/// Where a site is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteStatus {
    /// No such site yet (the state of a fresh aggregate).
    #[default]
    None,
    /// Accepted, waiting for a node.
    Requested,
    /// Being set up on a node.
    Provisioning,
    /// Serving traffic.
    Active,
    /// Stopped by the provider, data kept.
    Suspended,
    /// Being removed from its node.
    Deleting,
    /// Gone.
    Deleted,
    /// Provisioning gave up.
    Failed,
    /// Its node is gone for good; it can be restored onto another node from its latest
    /// verified backup, or deleted.
    Lost,
}

impl SiteStatus {
    /// Every value, in the order the APIs list them.
    pub const ALL: [Self; 8] = [
        Self::Requested,
        Self::Provisioning,
        Self::Active,
        Self::Suspended,
        Self::Deleting,
        Self::Deleted,
        Self::Failed,
        Self::Lost,
    ];

    /// The lowercase name, as the APIs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Requested => "requested",
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
            Self::Failed => "failed",
            Self::Lost => "lost",
        }
    }
}

/// The node a site is placed on, as recorded when it was assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The node.
    pub node_id: NodeId,
    /// Its name.
    pub node_name: String,
    /// Its address.
    pub address: String,
}

/// The site aggregate's state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    id: Option<SiteId>,
    tenant_id: Option<TenantId>,
    domain: Option<DomainName>,
    kind: Option<SiteKind>,
    php_version: Option<PhpVersion>,
    label: Option<SiteLabel>,
    status: SiteStatus,
    node: Option<Placement>,
    provisioned: bool,
    pending: Option<Operation>,
    status_before_delete: SiteStatus,
    #[serde(default)]
    aliases: Vec<DomainName>,
    #[serde(default)]
    billing_hold: bool,
    #[serde(default)]
    moving: Option<SiteMove>,
    #[serde(default)]
    staging: Option<Staging>,
    #[serde(default)]
    staging_of: Option<StagingOf>,
}

impl Site {
    /// The lifecycle state.
    pub fn status(&self) -> SiteStatus {
        self.status
    }

    /// Whether it is suspended for non-payment.
    pub fn billing_hold(&self) -> bool {
        self.billing_hold
    }

    /// The owning tenant, once created.
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant_id
    }

    /// The host name, once created.
    pub fn domain(&self) -> Option<&DomainName> {
        self.domain.as_ref()
    }

    /// The PHP version, for PHP sites.
    pub fn php_version(&self) -> Option<PhpVersion> {
        self.php_version
    }

    /// The site's kind, once created.
    pub fn kind(&self) -> Option<SiteKind> {
        self.kind
    }

    /// The node the site is placed on, if any.
    pub fn node(&self) -> Option<&Placement> {
        self.node.as_ref()
    }

    /// Whether the node has set the site up (during provisioning).
    pub fn provisioned(&self) -> bool {
        self.provisioned
    }

    /// The operation waiting for the node, if any.
    pub fn pending(&self) -> Option<Operation> {
        self.pending
    }

    /// The display label, if one was set.
    pub fn label(&self) -> Option<&SiteLabel> {
        self.label.as_ref()
    }

    /// The move to another node under way, if any.
    pub fn moving(&self) -> Option<&SiteMove> {
        self.moving.as_ref()
    }

    /// Its staging copy, if it has one.
    pub fn staging(&self) -> Option<&Staging> {
        self.staging.as_ref()
    }

    /// The production site this is the staging copy of, and its node.
    pub fn staging_of(&self) -> Option<StagingOf> {
        self.staging_of
    }

    /// The verified custom domains it serves, sorted.
    pub fn aliases(&self) -> &[DomainName] {
        &self.aliases
    }
}

impl crate::aggregate::Consequences for Site {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }

    fn uniques(&self, event: &SiteEvent) -> Vec<UniqueChange> {
        let (Some(domain), Some(id)) = (&self.domain, self.id) else { return Vec::new() };
        let unique = || Unique::new(UniqueScope::Domain, domain.as_str(), format!("site:{id}"));
        match event {
            SiteEvent::Created { .. } => vec![UniqueChange::Claim(unique())],
            // Given back only once no node serves the site any more (a lost site's node is gone).
            SiteEvent::Deleted { .. } | SiteEvent::Lost { .. } => vec![UniqueChange::Release(unique())],
            // A lost site takes its name back while it is restored, and gives it up again if
            // the restore fails.
            SiteEvent::EvacuationStarted { .. } if self.status == SiteStatus::Lost => {
                vec![UniqueChange::Claim(unique())]
            }
            SiteEvent::EvacuationFailed { .. } if self.status == SiteStatus::Lost => {
                vec![UniqueChange::Release(unique())]
            }
            _ => Vec::new(),
        }
    }
}

impl Aggregate for Site {
    const TYPE: &'static str = "site";
    type Command = SiteCommand;
    type Event = SiteEvent;
    type Error = SiteError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SiteCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SiteError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SiteEvent) {
        match event {
            SiteEvent::Created { site_id, tenant_id, domain, kind, php_version } => {
                self.id = Some(site_id);
                self.tenant_id = Some(tenant_id);
                self.domain = Some(domain);
                self.kind = Some(kind);
                self.php_version = php_version;
                self.status = SiteStatus::Requested;
            }
            SiteEvent::Updated { php_version, label } => {
                if php_version.is_some() {
                    self.php_version = php_version;
                }
                if label.is_some() {
                    self.label = label;
                }
            }
            SiteEvent::DeletionRequested => {
                self.status_before_delete = self.status;
                self.status = SiteStatus::Deleting;
                self.pending = Some(Operation::Delete);
            }
            SiteEvent::NodeAssigned { node_id, node_name, address, .. } => {
                self.node = Some(Placement { node_id, node_name, address });
                self.status = SiteStatus::Provisioning;
            }
            SiteEvent::Provisioned { .. } => self.provisioned = true,
            SiteEvent::Activated { .. } => self.status = SiteStatus::Active,
            SiteEvent::ProvisioningFailed { .. } => self.status = SiteStatus::Failed,
            SiteEvent::ProvisioningRetried => {
                self.status = SiteStatus::Requested;
                self.node = None;
                self.provisioned = false;
            }
            SiteEvent::SuspensionRequested => self.pending = Some(Operation::Suspend),
            SiteEvent::ResumptionRequested => self.pending = Some(Operation::Resume),
            SiteEvent::Suspended { .. } => {
                self.pending = None;
                self.status = SiteStatus::Suspended;
            }
            SiteEvent::Resumed { .. } => {
                self.pending = None;
                self.status = SiteStatus::Active;
            }
            SiteEvent::Deleted { .. } => {
                self.pending = None;
                self.status = SiteStatus::Deleted;
            }
            SiteEvent::OperationFailed { status, .. } => {
                self.pending = None;
                self.status = status;
            }
            SiteEvent::AliasAdded { domain } => {
                self.aliases.push(domain);
                self.aliases.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            }
            SiteEvent::AliasRemoved { domain } => self.aliases.retain(|a| *a != domain),
            SiteEvent::BillingHoldPlaced { .. } => self.billing_hold = true,
            SiteEvent::BillingHoldLifted => self.billing_hold = false,
            SiteEvent::EvacuationStarted { .. }
            | SiteEvent::EvacuationStepCompleted { .. }
            | SiteEvent::Evacuated { .. }
            | SiteEvent::EvacuationFailed { .. }
            | SiteEvent::Lost { .. } => evacuate::apply(self, event),
            SiteEvent::StagingCreated { .. }
            | SiteEvent::CreatedAsStaging { .. }
            | SiteEvent::StagingStepCompleted { .. }
            | SiteEvent::StagingReady { .. }
            | SiteEvent::StagingFailed { .. }
            | SiteEvent::StagingPromotionRequested { .. }
            | SiteEvent::StagingPromoted { .. }
            | SiteEvent::StagingRemoved { .. } => staging::apply(self, event),
        }
    }
}
