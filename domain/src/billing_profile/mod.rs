//! The billing profile aggregate: who a tenant is as a buyer — company or person, legal name,
//! address, VAT id, invoice email — and the currency it is billed in. One per tenant, keyed by
//! the tenant id.
//!
//! A VAT id is well formed when it is accepted (format, and the CUI check digit in Romania),
//! but it is only *verified* once a VIES check says so, recorded here as an event. Until then
//! (and after VIES rejects it) the buyer is taxed as a consumer: an unverified id never gets
//! reverse charge.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

pub use command::BillingProfileCommand;
pub use error::BillingProfileError;
pub use event::BillingProfileEvent;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::billing::{Party, VatId, VatIdStatus};
use crate::ids::TenantId;
use crate::money::Currency;

/// Where a VAT id stands with VIES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VatVerification {
    /// Not checked yet (or the profile has no VAT id).
    #[default]
    Unverified,
    /// VIES confirmed it.
    Verified,
    /// VIES says no such id is registered.
    Invalid,
}

impl VatVerification {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Verified => "verified",
            Self::Invalid => "invalid",
        }
    }

    /// What the tax rules make of it: only a verified id counts.
    pub fn tax_status(self) -> VatIdStatus {
        match self {
            Self::Verified => VatIdStatus::Verified,
            Self::Unverified | Self::Invalid => VatIdStatus::Unverified,
        }
    }
}

/// A tenant's billing profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingProfile {
    tenant_id: Option<TenantId>,
    party: Option<Party>,
    currency: Option<Currency>,
    vat: VatVerification,
}

impl BillingProfile {
    /// The buyer as documents name it, and whether its VAT id is verified.
    pub fn buyer(&self) -> Result<(&Party, VatIdStatus), BillingProfileError> {
        let party = self.party.as_ref().ok_or(BillingProfileError::NotFound)?;
        Ok((party, self.vat.tax_status()))
    }

    /// The currency the tenant is billed in.
    pub fn currency(&self) -> Option<Currency> {
        self.currency
    }

    /// Where the VAT id stands with VIES.
    pub fn vat_verification(&self) -> VatVerification {
        self.vat
    }

    /// The VAT id, if the profile has one.
    pub fn vat_id(&self) -> Option<&VatId> {
        self.party.as_ref().and_then(Party::vat_id)
    }
}

impl crate::aggregate::Consequences for BillingProfile {}

impl Aggregate for BillingProfile {
    const TYPE: &'static str = "billing_profile";
    type Command = BillingProfileCommand;
    type Event = BillingProfileEvent;
    type Error = BillingProfileError;
    type Services = ();

    async fn handle(
        &mut self,
        command: BillingProfileCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), BillingProfileError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: BillingProfileEvent) {
        match event {
            BillingProfileEvent::Set { tenant_id, party, currency, vat } => {
                self.tenant_id = Some(tenant_id);
                self.party = Some(party);
                self.currency = Some(currency);
                self.vat = vat;
            }
            BillingProfileEvent::VatIdVerified { .. } => self.vat = VatVerification::Verified,
            BillingProfileEvent::VatIdRejected { .. } => self.vat = VatVerification::Invalid,
        }
    }
}
