//! Platform-wide unique values (a site's domain, a user's email, a node's name and address).
//!
//! An aggregate declares, next to its events, which values an event takes or gives back
//! ([`crate::aggregate::Consequences::uniques`]); the event store claims and releases them in
//! the same transaction as the events. So a claim and its release live in one place, and no
//! caller can forget either.

/// What kind of unique value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UniqueScope {
    /// A site's host name.
    Domain,
    /// A tenant user's email address (canonical form).
    Email,
    /// A platform operator's email address (canonical form).
    OperatorEmail,
    /// A node's name (lower-cased).
    NodeName,
    /// A node's address and SSH port.
    NodeAddress,
    /// A plan's code (`starter`).
    PlanCode,
    /// A coupon's code (`WELCOME10`).
    CouponCode,
    /// The one invoice of a subscription's billing period (`<subscription>@<first day>`).
    InvoicePeriod,
    /// A tenant's one running subscription (the tenant id).
    TenantSubscription,
    /// A DNS zone's name (its apex).
    Zone,
}

impl UniqueScope {
    /// The scope's stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Email => "email",
            Self::OperatorEmail => "operator-email",
            Self::NodeName => "node-name",
            Self::NodeAddress => "node-address",
            Self::PlanCode => "plan-code",
            Self::CouponCode => "coupon-code",
            Self::InvoicePeriod => "invoice-period",
            Self::TenantSubscription => "tenant-subscription",
            Self::Zone => "zone",
        }
    }

    /// The scope with stored name `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Domain,
            Self::Email,
            Self::OperatorEmail,
            Self::NodeName,
            Self::NodeAddress,
            Self::PlanCode,
            Self::CouponCode,
            Self::InvoicePeriod,
            Self::TenantSubscription,
            Self::Zone,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// One unique value and who holds it (`site:<id>`, `user:<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unique {
    /// Its kind.
    pub scope: UniqueScope,
    /// The value.
    pub value: String,
    /// The holder.
    pub owner: String,
}

impl Unique {
    /// `value` of `scope`, held by `owner`.
    pub fn new(scope: UniqueScope, value: impl Into<String>, owner: impl Into<String>) -> Self {
        Self { scope, value: value.into(), owner: owner.into() }
    }
}

/// Taking or giving back a unique value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UniqueChange {
    /// Take it; the command fails with "taken" if someone else holds it.
    Claim(Unique),
    /// Give it back, if the owner still holds it.
    Release(Unique),
}
