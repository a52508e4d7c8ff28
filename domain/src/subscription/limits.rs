//! Whether a tenant's plan lets it have one more site: a pure check the site creation calls
//! with the tenant's subscription and its current site count.

use super::Subscription;
use crate::error::{Refusal, RefusalKind};

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

/// Whether a tenant with `subscription` (none if it has none) and `current_sites` sites may
/// create one more.
pub fn limits_allow_site(subscription: Option<&Subscription>, current_sites: u32) -> Result<(), LimitError> {
    let Some(plan) = subscription.filter(|s| s.is_running()).and_then(Subscription::plan) else {
        return Err(LimitError::SubscriptionRequired);
    };
    match plan.limits.sites.bound() {
        Some(allowed) if current_sites >= allowed => {
            Err(LimitError::PlanLimit { limit: "sites", plan: plan.code.as_str().to_owned(), allowed })
        }
        _ => Ok(()),
    }
}
