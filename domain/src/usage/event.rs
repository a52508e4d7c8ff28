//! Usage events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::UsageKey;
use crate::billing::{Quantity, ServicePeriod};
use crate::ids::{SubscriptionId, TenantId};
use crate::plan::Metric;

/// Something a subscription used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsageEvent {
    /// A meter reading was recorded.
    Recorded {
        /// The tenant.
        tenant_id: TenantId,
        /// The subscription.
        subscription_id: SubscriptionId,
        /// What was measured.
        metric: Metric,
        /// How much.
        quantity: Quantity,
        /// The billing period it belongs to.
        period: ServicePeriod,
        /// The meter's idempotency key.
        key: UsageKey,
    },
}

impl DomainEvent for UsageEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Recorded { .. } => "UsageRecorded",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::Recorded { .. } => "1",
        }
        .to_owned()
    }
}
