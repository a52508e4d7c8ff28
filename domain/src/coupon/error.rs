//! Why a coupon command was refused.

use crate::error::{Refusal, RefusalKind};

/// A coupon command that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    /// `Create` on a coupon that exists.
    #[error("the coupon already exists")]
    AlreadyExists,
    /// No such coupon.
    #[error("no such coupon")]
    NotFound,
    /// Not a coupon code.
    #[error("`{0}` is not a coupon code: 3 to 32 characters of A-Z, 0-9, `-` and `_`")]
    Code(String),
    /// A coupon of 0% or without any amount.
    #[error("a coupon takes something off: a percentage above 0 or at least one amount")]
    NothingOff,
    /// An amount of zero, or above the largest amount Berth bills.
    #[error("a coupon amount is more than 0 and at most {max} minor units")]
    AmountOutOfRange {
        /// The largest amount accepted.
        max: i64,
    },
    /// An amount in a currency Berth does not sell in.
    #[error("Berth sells in RON, EUR and USD, not {0}")]
    CurrencyNotOffered(String),
    /// Two amounts in one currency.
    #[error("the coupon has two amounts in {0}")]
    DuplicateCurrency(String),
    /// A duration of 0 periods, or a maximum of 0 redemptions.
    #[error("a coupon lasts at least one period and can be redeemed at least once")]
    ZeroCount,
    /// An expiry that has passed already.
    #[error("the coupon's expiry is in the past")]
    ExpiryInPast,
    /// Redeemed after its expiry.
    #[error("the coupon has expired")]
    Expired,
    /// Redeemed once more than its maximum.
    #[error("the coupon has been redeemed as often as it may be")]
    UsedUp,
    /// Redeemed after it was withdrawn.
    #[error("the coupon was withdrawn")]
    Withdrawn,
    /// Redeemed for a plan it does not apply to.
    #[error("the coupon does not apply to this plan")]
    NotForPlan,
    /// A fixed-amount coupon redeemed in a currency it has no amount in.
    #[error("the coupon has no amount in {0}")]
    NoAmountIn(String),
}

impl Refusal for CouponError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists => "coupon-exists",
            Self::NotFound => "coupon-not-found",
            Self::Code(_) => "coupon-code-invalid",
            Self::NothingOff => "coupon-nothing-off",
            Self::AmountOutOfRange { .. } => "coupon-amount-out-of-range",
            Self::CurrencyNotOffered(_) => "coupon-currency-not-offered",
            Self::DuplicateCurrency(_) => "coupon-currency-duplicate",
            Self::ZeroCount => "coupon-zero-count",
            Self::ExpiryInPast => "coupon-expiry-in-past",
            Self::Expired => "coupon-expired",
            Self::UsedUp => "coupon-used-up",
            Self::Withdrawn => "coupon-withdrawn",
            Self::NotForPlan => "coupon-not-for-plan",
            Self::NoAmountIn(_) => "coupon-currency-missing",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists => RefusalKind::Conflict,
            // An expired or used-up coupon is bad input for the subscription that names it
            // (422), not a conflict the caller can wait out.
            Self::Code(_)
            | Self::NothingOff
            | Self::AmountOutOfRange { .. }
            | Self::CurrencyNotOffered(_)
            | Self::DuplicateCurrency(_)
            | Self::ZeroCount
            | Self::ExpiryInPast
            | Self::Expired
            | Self::UsedUp
            | Self::Withdrawn
            | Self::NotForPlan
            | Self::NoAmountIn(_) => RefusalKind::Rule,
        }
    }
}
