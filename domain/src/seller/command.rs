//! Seller commands and the rules that decide them.

use serde::{Deserialize, Serialize};

use super::{Seller, SellerError, SellerEvent};
use crate::billing::{CountryCode, DocumentKind, Iban, Party, PartyKind, PaymentMeans};
use crate::series::SeriesPrefix;

/// What an operator can ask of the seller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum SellerCommand {
    /// Set the seller's legal details (a company, with its VAT id and registration number)
    /// and the account buyers pay into.
    SetDetails { party: Box<Party>, iban: Iban, bank_name: Option<String> },
    /// Number documents of `kind` in the series `prefix` from now on.
    ChooseSeries { kind: DocumentKind, prefix: SeriesPrefix },
}

/// Decides the events for `command`.
pub(super) fn decide(seller: &Seller, command: SellerCommand) -> Result<Vec<SellerEvent>, SellerError> {
    match command {
        SellerCommand::SetDetails { party, iban, bank_name } => {
            if party.kind() != PartyKind::Company {
                return Err(SellerError::NotACompany);
            }
            // Every document names the seller's VAT id, and the tax rules cover a seller
            // established in Romania (see `billing::treatment`).
            if party.vat_id().is_none() {
                return Err(SellerError::VatIdRequired);
            }
            let country = party.address().country();
            if country != CountryCode::ROMANIA {
                return Err(SellerError::NotInRomania(country.to_string()));
            }
            let payment = PaymentMeans::bank_transfer(iban, bank_name.as_deref())
                .map_err(|e| SellerError::BankName(e.to_string()))?;
            if seller.party.as_ref() == Some(&*party) && seller.payment.as_ref() == Some(&payment) {
                return Ok(Vec::new());
            }
            Ok(vec![SellerEvent::DetailsChanged { party, payment }])
        }
        SellerCommand::ChooseSeries { kind, prefix } => {
            if seller.series_for(kind).ok() == Some(&prefix) {
                return Ok(Vec::new());
            }
            Ok(vec![SellerEvent::SeriesChosen { kind, prefix }])
        }
    }
}
