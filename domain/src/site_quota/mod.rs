//! The site quota aggregate: how many sites a tenant has, one stream per tenant (keyed by the
//! tenant id), so that the plan's site limit holds when sites are created at the same moment.
//!
//! Creating a site admits it here in the same commit as the site's `Created` event, with the
//! allowance of the tenant's subscription as it was read (`SiteAllowance`). Two creations
//! racing for the last place both try to append this aggregate's next event; the event store
//! lets one through and the other is decided again on the new count, and refused. A deleted
//! site gives its place back (`Release`, from the site's `Deleted` event).

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::ids::{SiteId, TenantId};
use crate::subscription::{LimitError, SiteAllowance};

/// What can be asked of a tenant's site quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum SiteQuotaCommand {
    /// Count `site_id` among the tenant's sites, if `allowance` leaves room for it.
    Admit { tenant_id: TenantId, site_id: SiteId, allowance: SiteAllowance },
    /// Stop counting `site_id` (it was deleted).
    Release { site_id: SiteId },
}

/// Something that happened to a tenant's site quota: a public, versioned contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiteQuotaEvent {
    /// A site was admitted.
    SiteAdmitted {
        /// The tenant.
        tenant_id: TenantId,
        /// The site.
        site_id: SiteId,
    },
    /// A deleted site gave its place back.
    SiteReleased {
        /// The site.
        site_id: SiteId,
    },
}

impl DomainEvent for SiteQuotaEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SiteAdmitted { .. } => "SiteQuotaSiteAdmitted",
            Self::SiteReleased { .. } => "SiteQuotaSiteReleased",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::SiteAdmitted { .. } | Self::SiteReleased { .. } => "1",
        }
        .to_owned()
    }
}

/// A tenant's sites, as counted against its plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteQuota {
    tenant_id: Option<TenantId>,
    sites: BTreeSet<SiteId>,
}

impl SiteQuota {
    /// How many sites count against the plan.
    pub fn count(&self) -> u32 {
        u32::try_from(self.sites.len()).unwrap_or(u32::MAX)
    }
}

impl crate::aggregate::Consequences for SiteQuota {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }
}

impl Aggregate for SiteQuota {
    const TYPE: &'static str = "site_quota";
    type Command = SiteQuotaCommand;
    type Event = SiteQuotaEvent;
    type Error = LimitError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SiteQuotaCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), LimitError> {
        let events = match command {
            SiteQuotaCommand::Admit { site_id, .. } if self.sites.contains(&site_id) => Vec::new(),
            SiteQuotaCommand::Admit { tenant_id, site_id, allowance } => {
                allowance.admits(self.count())?;
                vec![SiteQuotaEvent::SiteAdmitted { tenant_id, site_id }]
            }
            SiteQuotaCommand::Release { site_id } if self.sites.contains(&site_id) => {
                vec![SiteQuotaEvent::SiteReleased { site_id }]
            }
            SiteQuotaCommand::Release { .. } => Vec::new(),
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SiteQuotaEvent) {
        match event {
            SiteQuotaEvent::SiteAdmitted { tenant_id, site_id } => {
                self.tenant_id = Some(tenant_id);
                self.sites.insert(site_id);
            }
            SiteQuotaEvent::SiteReleased { site_id } => {
                self.sites.remove(&site_id);
            }
        }
    }
}
