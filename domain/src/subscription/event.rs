//! Subscription events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::billing::{PlanChange, ServicePeriod};
use crate::coupon::AppliedCoupon;
use crate::ids::{SubscriptionId, TenantId};
use crate::money::Money;
use crate::plan::PlanTerms;

/// Something that happened to a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubscriptionEvent {
    /// The tenant subscribed; the first period (the trial, if any) began.
    Subscribed {
        /// The subscription.
        subscription_id: SubscriptionId,
        /// The tenant.
        tenant_id: TenantId,
        /// The plan's terms for the first period.
        plan: PlanTerms,
        /// The coupon redeemed with it (in the same commit).
        coupon: Option<AppliedCoupon>,
        /// The first period.
        current: ServicePeriod,
        /// Whether that period is a trial.
        trial: bool,
        /// The day of the month periods begin on.
        anchor_day: u8,
    },
    /// During the trial, another plan was chosen (in any currency and period); the trial
    /// keeps its end, and the first paid period is on this plan.
    TrialPlanChosen {
        /// The plan's terms.
        plan: PlanTerms,
        /// The coupon redeemed with it (in the same commit), replacing any earlier one.
        coupon: Option<AppliedCoupon>,
    },
    /// The plan changed at once to a dearer one.
    Upgraded {
        /// The new plan's terms.
        plan: PlanTerms,
        /// The first day on the new plan.
        #[serde(with = "crate::billing::iso_date")]
        on: Date,
        /// The prorated credit and charge (none during a trial, when nothing was paid).
        proration: Option<PlanChange>,
    },
    /// The plan changes to a cheaper one when the current period ends.
    DowngradeScheduled {
        /// The new plan's terms as they were when asked.
        plan: PlanTerms,
        /// The first day on it.
        #[serde(with = "crate::billing::iso_date")]
        effective: Date,
    },
    /// The subscription ends when the current period does.
    CancellationScheduled {
        /// The first day without it.
        #[serde(with = "crate::billing::iso_date")]
        effective: Date,
    },
    /// A scheduled cancellation was withdrawn.
    CancellationWithdrawn,
    /// The subscription was cancelled with immediate effect.
    Cancelled {
        /// The first day without it.
        #[serde(with = "crate::billing::iso_date")]
        on: Date,
        /// The prorated credit for the unused days (none during a trial).
        credit: Option<Money>,
        /// The days credited, from `on` to the end of the period.
        remaining_days: i64,
        /// The days in the period.
        period_days: i64,
    },
    /// A period came to its end.
    PeriodEnded {
        /// The period.
        period: ServicePeriod,
    },
    /// The subscription ended at the end of its period, as scheduled.
    Ended {
        /// The first day without it.
        #[serde(with = "crate::billing::iso_date")]
        on: Date,
    },
    /// An invoice went unpaid past its grace period: the subscription is past due.
    PastDue {
        /// The invoice.
        invoice: crate::ids::InvoiceId,
    },
    /// That invoice was paid.
    PastDueCleared {
        /// The invoice.
        invoice: crate::ids::InvoiceId,
    },
    /// The next paid period began.
    PeriodStarted {
        /// The period.
        period: ServicePeriod,
        /// The plan's terms for it (a scheduled downgrade takes effect here).
        plan: PlanTerms,
        /// Which paid period it is, from 1.
        paid_period: u32,
    },
}

impl DomainEvent for SubscriptionEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Subscribed { .. } => "Subscribed",
            Self::TrialPlanChosen { .. } => "SubscriptionTrialPlanChosen",
            Self::Upgraded { .. } => "SubscriptionUpgraded",
            Self::DowngradeScheduled { .. } => "SubscriptionDowngradeScheduled",
            Self::CancellationScheduled { .. } => "SubscriptionCancellationScheduled",
            Self::CancellationWithdrawn => "SubscriptionCancellationWithdrawn",
            Self::Cancelled { .. } => "SubscriptionCancelled",
            Self::PeriodEnded { .. } => "SubscriptionPeriodEnded",
            Self::Ended { .. } => "SubscriptionEnded",
            Self::PeriodStarted { .. } => "SubscriptionPeriodStarted",
            Self::PastDue { .. } => "SubscriptionPastDue",
            Self::PastDueCleared { .. } => "SubscriptionPastDueCleared",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::Subscribed { .. }
            | Self::TrialPlanChosen { .. }
            | Self::Upgraded { .. }
            | Self::DowngradeScheduled { .. }
            | Self::CancellationScheduled { .. }
            | Self::CancellationWithdrawn
            | Self::Cancelled { .. }
            | Self::PeriodEnded { .. }
            | Self::Ended { .. }
            | Self::PeriodStarted { .. }
            | Self::PastDue { .. }
            | Self::PastDueCleared { .. } => "1",
        }
        .to_owned()
    }
}
