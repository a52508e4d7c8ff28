//! Whether a tenant's plan lets it have one more site: the allowance a subscription gives
//! ([`SiteAllowance::of`]), checked by the tenant's site quota when a site is admitted.

use serde::{Deserialize, Serialize};

use super::Subscription;
use crate::error::{Refusal, RefusalKind};
use crate::plan::Limit;

/// Why a plan does not allow what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// No subscription in a trial or a paid period.
    #[error("an active subscription or trial is required")]
    SubscriptionRequired,
    /// The plan's limit is reached.
    #[error("the {plan} plan allows {allowed} {limit}")]
    PlanLimit {
        /// Which limit (`sites`).
        limit: &'static str,
        /// The plan's code.
        plan: String,
        /// What it allows.
        allowed: u32,
    },
}

impl Refusal for LimitError {
    fn code(&self) -> &'static str {
        match self {
            Self::SubscriptionRequired => "subscription-required",
            Self::PlanLimit { .. } => "plan-limit",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::SubscriptionRequired => RefusalKind::PaymentRequired,
            Self::PlanLimit { .. } => RefusalKind::Conflict,
        }
    }
}

/// How many sites a tenant's subscription allows, as a site is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteAllowance {
    /// No subscription in a trial or a paid period: no site.
    NoSubscription,
    /// The plan `plan` allows `sites`.
    Plan {
        /// The code of the plan whose limit applies.
        plan: String,
        /// Its site limit.
        sites: Limit,
    },
}

impl SiteAllowance {
    /// What `subscription` (none if the tenant has none) allows. While a downgrade is
    /// scheduled, the smaller plan's limit applies already, so the downgrade still fits when
    /// it takes effect.
    pub fn of(subscription: Option<&Subscription>) -> Self {
        let Some(subscription) = subscription.filter(|s| s.is_running()) else { return Self::NoSubscription };
        let Some(current) = subscription.plan() else { return Self::NoSubscription };
        let smaller = subscription.pending_plan().filter(|pending| {
            match (pending.limits.sites.bound(), current.limits.sites.bound()) {
                (Some(p), Some(c)) => p < c,
                (Some(_), None) => true,
                _ => false,
            }
        });
        let plan = smaller.unwrap_or(current);
        Self::Plan { plan: plan.code.as_str().to_owned(), sites: plan.limits.sites }
    }

    /// Whether one more site fits next to `current_sites`.
    pub fn admits(&self, current_sites: u32) -> Result<(), LimitError> {
        match self {
            Self::NoSubscription => Err(LimitError::SubscriptionRequired),
            Self::Plan { plan, sites } => match sites.bound() {
                Some(allowed) if current_sites >= allowed => {
                    Err(LimitError::PlanLimit { limit: "sites", plan: plan.clone(), allowed })
                }
                _ => Ok(()),
            },
        }
    }
}

/// Whether a tenant with `subscription` (none if it has none) and `current_sites` sites may
/// create one more.
pub fn limits_allow_site(subscription: Option<&Subscription>, current_sites: u32) -> Result<(), LimitError> {
    SiteAllowance::of(subscription).admits(current_sites)
}
