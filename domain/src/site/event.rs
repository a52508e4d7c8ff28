//! Site events. These are a public, versioned contract: a released variant is never renamed
//! or reshaped; a change gets a new version and an upcaster.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::command::SiteLabel;
use crate::domain_name::DomainName;
use crate::ids::{SiteId, TenantId};
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
}

impl DomainEvent for SiteEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "SiteCreated",
            Self::Updated { .. } => "SiteUpdated",
            Self::DeletionRequested => "SiteDeletionRequested",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
