//! Plan events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::Date;

use super::{OveragePrice, PlanCode, PlanLimits, Price};
use crate::ids::PlanId;
use crate::name::DisplayName;

/// Something that happened to a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlanEvent {
    /// The plan was created.
    Created {
        /// The plan.
        plan_id: PlanId,
        /// Its code, unique on the platform.
        code: PlanCode,
        /// Its name.
        name: DisplayName,
        /// One price per currency and period.
        prices: Vec<Price>,
        /// What it allows.
        limits: PlanLimits,
        /// Days of trial for a new subscription (0: none).
        trial_days: u32,
        /// Prices beyond what it includes.
        overage: Vec<OveragePrice>,
        /// The first day its prices apply to.
        #[serde(with = "crate::billing::iso_date")]
        effective_from: Date,
    },
    /// A price was set for periods starting on or after `effective_from`.
    PriceChanged {
        /// The new price of one period in one currency.
        price: Price,
        /// The first day of a period that pays it.
        #[serde(with = "crate::billing::iso_date")]
        effective_from: Date,
    },
    /// The limits changed (for periods that begin from now on).
    LimitsChanged {
        /// The new limits.
        limits: PlanLimits,
    },
    /// The overage prices changed (for periods that begin from now on).
    OverageChanged {
        /// Every overage price, replacing the old list.
        overage: Vec<OveragePrice>,
    },
    /// The plan takes no new subscriptions; running ones keep it.
    Retired,
}

impl DomainEvent for PlanEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "PlanCreated",
            Self::PriceChanged { .. } => "PlanPriceChanged",
            Self::LimitsChanged { .. } => "PlanLimitsChanged",
            Self::OverageChanged { .. } => "PlanOverageChanged",
            Self::Retired => "PlanRetired",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::Created { .. }
            | Self::PriceChanged { .. }
            | Self::LimitsChanged { .. }
            | Self::OverageChanged { .. }
            | Self::Retired => "1",
        }
        .to_owned()
    }
}
