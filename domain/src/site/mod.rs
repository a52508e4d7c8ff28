//! The site aggregate: one customer site and its lifecycle.
//!
//! Lifecycle: `requested → provisioning → active ⇄ suspended → deleting → deleted`, with
//! `failed` reachable from provisioning. This module holds the state and how events change
//! it; `command` decides which events a command produces.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

pub use command::{SiteCommand, SiteLabel};
pub use error::SiteError;
pub use event::SiteEvent;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::domain_name::DomainName;
use crate::ids::{SiteId, TenantId};
use crate::php::{PhpVersion, SiteKind};

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
}

impl Site {
    /// The lifecycle state.
    pub fn status(&self) -> SiteStatus {
        self.status
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

    /// The display label, if one was set.
    pub fn label(&self) -> Option<&SiteLabel> {
        self.label.as_ref()
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
            SiteEvent::DeletionRequested => self.status = SiteStatus::Deleting,
        }
    }
}
