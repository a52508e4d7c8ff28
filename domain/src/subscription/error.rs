//! Why a subscription command was refused.

use time::Date;

use crate::error::{Refusal, RefusalKind};

/// A subscription command that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// `Subscribe` on a subscription that exists.
    #[error("the subscription already exists")]
    AlreadyExists,
    /// Any other command on a subscription that does not exist.
    #[error("the subscription does not exist")]
    NotFound,
    /// A change to a subscription that has ended.
    #[error("the subscription has ended")]
    Ended,
    /// A change dated outside the current period (it ended and was not renewed yet).
    #[error("the date is outside the current period")]
    PeriodOver,
    /// A renewal before the current period ended.
    #[error("the current period runs until {period_end}")]
    NotDue {
        /// The current period's last day.
        period_end: Date,
    },
    /// A plan priced in another currency than the subscription.
    #[error("the subscription is billed in {expected}, not {found}")]
    CurrencyMismatch {
        /// The subscription's currency.
        expected: String,
        /// The plan terms'.
        found: String,
    },
    /// A plan for another period (monthly instead of yearly).
    #[error("the plan's terms are for another billing period than the subscription's")]
    PeriodMismatch,
    /// An upgrade to a plan that costs no more.
    #[error("an upgrade moves to a dearer plan ({asked} is not more than {current}); downgrade instead")]
    NotAnUpgrade {
        /// The current price.
        current: String,
        /// The new plan's.
        asked: String,
    },
    /// A downgrade to a plan that costs no less.
    #[error("a downgrade moves to a cheaper plan ({asked} is not less than {current}); upgrade instead")]
    NotADowngrade {
        /// The current price.
        current: String,
        /// The new plan's.
        asked: String,
    },
    /// A downgrade to a plan the tenant's usage does not fit.
    #[error("the plan allows {allowed} {limit}, but {used} are in use")]
    DowngradeDoesNotFit {
        /// The limit that does not fit (`sites`, `storage_gb`).
        limit: &'static str,
        /// What is in use.
        used: u32,
        /// What the plan allows.
        allowed: u32,
    },
    /// A renewal on another plan than the next one.
    #[error("the next period is on plan {expected}")]
    WrongPlan {
        /// The plan expected.
        expected: String,
    },
    /// Charges asked for a period that bills nothing (a trial, or an ended subscription).
    #[error("the current period bills nothing")]
    NothingToBill,
    /// The period's charges do not make valid draft lines.
    #[error("the period's charges cannot be billed: {0}")]
    Charges(crate::invoice::InvoiceError),
}

impl Refusal for SubscriptionError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists => "subscription-exists",
            Self::NotFound => "subscription-not-found",
            Self::Ended => "subscription-ended",
            Self::PeriodOver => "subscription-period-over",
            Self::NotDue { .. } => "subscription-renewal-not-due",
            Self::CurrencyMismatch { .. } => "subscription-currency-mismatch",
            Self::PeriodMismatch => "subscription-period-mismatch",
            Self::NotAnUpgrade { .. } => "not-an-upgrade",
            Self::NotADowngrade { .. } => "not-a-downgrade",
            Self::DowngradeDoesNotFit { .. } => "downgrade-exceeds-limit",
            Self::WrongPlan { .. } => "subscription-wrong-plan",
            Self::NothingToBill => "subscription-nothing-to-bill",
            Self::Charges(_) => "subscription-charges-invalid",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists
            | Self::Ended
            | Self::PeriodOver
            | Self::NotDue { .. }
            | Self::DowngradeDoesNotFit { .. }
            | Self::NothingToBill => RefusalKind::Conflict,
            Self::CurrencyMismatch { .. }
            | Self::PeriodMismatch
            | Self::NotAnUpgrade { .. }
            | Self::NotADowngrade { .. }
            | Self::WrongPlan { .. }
            | Self::Charges(_) => RefusalKind::Rule,
        }
    }
}
