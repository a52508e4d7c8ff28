//! Typed identifiers. Every id in Berth is a UUIDv7 wrapped in its own type, so a site id can
//! never be passed where a tenant id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An id string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id: {0}")]
pub struct InvalidId(String);

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID (ids are minted outside the domain, see the crate doc).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| InvalidId(s.to_owned()))
            }
        }
    };
}

id_type!(
    /// A tenant: an organization that owns sites and members.
    TenantId
);
id_type!(
    /// A customer site (WordPress, PHP, Laravel or static).
    SiteId
);
id_type!(
    /// A person who can log in.
    UserId
);
id_type!(
    /// An invitation to join a tenant.
    InvitationId
);
id_type!(
    /// An API token.
    TokenId
);
id_type!(
    /// A platform operator (the hosting provider's staff).
    OperatorId
);
id_type!(
    /// A managed VPS.
    NodeId
);
id_type!(
    /// A billing plan (Starter, Pro, Enterprise).
    PlanId
);
id_type!(
    /// A tenant's subscription to a plan.
    SubscriptionId
);
id_type!(
    /// An invoice, credit note or proforma, from draft to issued.
    InvoiceId
);
id_type!(
    /// A coupon that subscriptions can redeem.
    CouponId
);
id_type!(
    /// A DNS zone hosted for a tenant.
    ZoneId
);
id_type!(
    /// One backup of a site: its files, its database or both, stored off the node.
    BackupId
);
id_type!(
    /// One restore of a backup into a site.
    RestoreId
);
id_type!(
    /// One evacuation of a node: its sites moved to other nodes.
    EvacuationId
);
id_type!(
    /// One deployment of a site's code: a commit put into a fresh release, or a switch back
    /// to a kept one. A successful deployment's release on the node is named by this id.
    DeploymentId
);
