//! Billing profile commands and the rules that decide them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{BillingProfile, BillingProfileError, BillingProfileEvent, VatVerification};
use crate::billing::{Party, VatId};
use crate::ids::TenantId;
use crate::money::Currency;
use crate::plan::is_offered;

/// What can be asked of a billing profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum BillingProfileCommand {
    /// Create or replace the profile. A new or changed VAT id starts unverified.
    Set { tenant_id: TenantId, party: Party, currency: Currency },
    /// Record what VIES answered about `vat_id` at `checked_at`. An answer about an id the
    /// profile no longer has is dropped: the id changed while the check ran.
    RecordVatCheck {
        vat_id: VatId,
        valid: bool,
        #[serde(with = "time::serde::rfc3339")]
        checked_at: OffsetDateTime,
    },
}

/// Decides the events for `command`.
pub(super) fn decide(
    profile: &BillingProfile,
    command: BillingProfileCommand,
) -> Result<Vec<BillingProfileEvent>, BillingProfileError> {
    match command {
        BillingProfileCommand::Set { tenant_id, party, currency } => {
            if profile.tenant_id.is_some_and(|t| t != tenant_id) {
                return Err(BillingProfileError::OtherTenant);
            }
            if !is_offered(currency) {
                return Err(BillingProfileError::CurrencyNotOffered(currency.as_str().to_owned()));
            }
            if profile.party.as_ref() == Some(&party) && profile.currency == Some(currency) {
                return Ok(Vec::new());
            }
            let same_id = party.vat_id().is_some() && profile.vat_id() == party.vat_id();
            let vat = if same_id { profile.vat } else { VatVerification::Unverified };
            Ok(vec![BillingProfileEvent::Set { tenant_id, party, currency, vat }])
        }
        BillingProfileCommand::RecordVatCheck { vat_id, valid, checked_at } => {
            if profile.party.is_none() {
                return Err(BillingProfileError::NotFound);
            }
            if profile.vat_id() != Some(&vat_id) {
                return Ok(Vec::new());
            }
            Ok(vec![if valid {
                BillingProfileEvent::VatIdVerified { vat_id, checked_at }
            } else {
                BillingProfileEvent::VatIdRejected { vat_id, checked_at }
            }])
        }
    }
}
