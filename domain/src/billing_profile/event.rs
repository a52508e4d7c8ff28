//! Billing profile events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::VatVerification;
use crate::billing::{Party, VatId};
use crate::ids::TenantId;
use crate::money::Currency;

/// Something that happened to a billing profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BillingProfileEvent {
    /// The profile was set (created or replaced).
    Set {
        /// The tenant.
        tenant_id: TenantId,
        /// The buyer as documents name it.
        party: Party,
        /// The currency it is billed in.
        currency: Currency,
        /// Where its VAT id stands after the change (a new id is unverified).
        vat: VatVerification,
    },
    /// VIES confirmed the VAT id.
    VatIdVerified {
        /// The id.
        vat_id: VatId,
        /// When VIES answered.
        #[serde(with = "time::serde::rfc3339")]
        checked_at: OffsetDateTime,
    },
    /// VIES says the VAT id is not registered.
    VatIdRejected {
        /// The id.
        vat_id: VatId,
        /// When VIES answered.
        #[serde(with = "time::serde::rfc3339")]
        checked_at: OffsetDateTime,
    },
}

impl DomainEvent for BillingProfileEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Set { .. } => "BillingProfileSet",
            Self::VatIdVerified { .. } => "BillingVatIdVerified",
            Self::VatIdRejected { .. } => "BillingVatIdRejected",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::Set { .. } | Self::VatIdVerified { .. } | Self::VatIdRejected { .. } => "1",
        }
        .to_owned()
    }
}
