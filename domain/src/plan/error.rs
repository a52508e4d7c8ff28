//! Why a plan command was refused.

use crate::error::{Refusal, RefusalKind};

/// A plan command that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `Create` on a plan that exists.
    #[error("the plan already exists")]
    AlreadyExists,
    /// Any other command on a plan that does not exist.
    #[error("the plan does not exist")]
    NotFound,
    /// A new subscription to a retired plan.
    #[error("the plan is retired and takes no new subscriptions")]
    Retired,
    /// Not a plan code.
    #[error("`{0}` is not a plan code: 2 to 32 characters of a-z, 0-9 and `-`, starting with a letter")]
    Code(String),
    /// A plan without any price.
    #[error("a plan has at least one price")]
    NoPrices,
    /// A price of zero, or above the largest amount Berth bills.
    #[error("a price is more than 0 and at most {max} minor units")]
    PriceOutOfRange {
        /// The largest price accepted.
        max: i64,
    },
    /// A price or overage price in a currency Berth does not sell in.
    #[error("Berth sells in RON, EUR and USD, not {0}")]
    CurrencyNotOffered(String),
    /// Two prices for one currency and period, or two overage prices for one metric and currency.
    #[error("{0} is priced twice")]
    DuplicatePrice(String),
    /// A price change dated before today.
    #[error("a price change takes effect today or later, not {0}")]
    Retroactive(String),
    /// A trial over the limit.
    #[error("a trial lasts at most {max} days")]
    TrialTooLong {
        /// The limit.
        max: u32,
    },
    /// No price for the currency and period asked for.
    #[error("the plan has no {period}ly price in {currency}")]
    NoPrice {
        /// The currency.
        currency: String,
        /// The period.
        period: &'static str,
    },
}

impl Refusal for PlanError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists => "plan-exists",
            Self::NotFound => "plan-not-found",
            Self::Retired => "plan-retired",
            Self::Code(_) => "plan-code-invalid",
            Self::NoPrices => "plan-without-prices",
            Self::PriceOutOfRange { .. } => "price-out-of-range",
            Self::CurrencyNotOffered(_) => "plan-currency-not-offered",
            Self::DuplicatePrice(_) => "price-duplicate",
            Self::Retroactive(_) => "price-change-retroactive",
            Self::TrialTooLong { .. } => "trial-too-long",
            Self::NoPrice { .. } => "plan-price-missing",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists | Self::Retired => RefusalKind::Conflict,
            Self::Code(_)
            | Self::NoPrices
            | Self::PriceOutOfRange { .. }
            | Self::CurrencyNotOffered(_)
            | Self::DuplicatePrice(_)
            | Self::Retroactive(_)
            | Self::TrialTooLong { .. }
            | Self::NoPrice { .. } => RefusalKind::Rule,
        }
    }
}
