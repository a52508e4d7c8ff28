//! Coupon events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CouponCode, CouponDiscount, CouponDuration};
use crate::ids::{CouponId, PlanId, SubscriptionId};

/// Something that happened to a coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CouponEvent {
    /// The coupon was created.
    Created {
        /// The coupon.
        coupon_id: CouponId,
        /// Its code, unique on the platform.
        code: CouponCode,
        /// What it takes off.
        discount: CouponDiscount,
        /// For how many paid periods.
        duration: CouponDuration,
        /// How many subscriptions may redeem it (`None`: no limit).
        max_redemptions: Option<u32>,
        /// When it stops being redeemable.
        #[serde(with = "time::serde::rfc3339::option")]
        expires_at: Option<OffsetDateTime>,
        /// The plans it applies to (empty: all).
        plans: Vec<PlanId>,
    },
    /// A subscription redeemed it, in the same commit as the subscription.
    Redeemed {
        /// The subscription.
        subscription_id: SubscriptionId,
        /// Its plan.
        plan_id: PlanId,
        /// Redemptions so far, this one included.
        redemptions: u32,
    },
    /// It can no longer be redeemed.
    Withdrawn,
}

impl DomainEvent for CouponEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "CouponCreated",
            Self::Redeemed { .. } => "CouponRedeemed",
            Self::Withdrawn => "CouponWithdrawn",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::Created { .. } | Self::Redeemed { .. } | Self::Withdrawn => "1",
        }
        .to_owned()
    }
}
