//! Who pays which VAT: the tax treatment of a supply by a seller established in Romania.
//!
//! Berth sells hosting, an electronically supplied service, so the place of supply is where
//! the customer is (Directive 2006/112/EC art. 44 for businesses, art. 58 for EU consumers,
//! art. 59 for consumers outside the EU). That gives four cases:
//!
//! | buyer | treatment | category |
//! |---|---|---|
//! | in Romania, company or person | Romanian VAT at the Romanian rate | `S` |
//! | EU business with a **verified** VAT id | reverse charge, the buyer accounts for VAT | `AE`, 0% |
//! | EU consumer, or EU business whose id is not verified | VAT of the buyer's country (OSS) | `S` |
//! | outside the EU | no EU VAT | `G`, 0% |
//!
//! An unverified VAT id never earns reverse charge: until VIES confirms it the buyer is treated
//! as a consumer, which charges the buyer's own country's rate through OSS. This is the safe
//! side of the rule (the seller owes the VAT if a reverse-charge claim proves wrong) and it is
//! the same rate the buyer would pay as a consumer, so no customer pays Romanian VAT by mistake.
//! OSS presumes the seller is registered for it (or over the EU-wide threshold of art. 59c).
//!
//! Outside the EU the supply is out of scope of EU VAT, which EN 16931 would call `O` ("not
//! subject to VAT"). The validators refuse `O` on a Romanian seller's invoice, though: rule
//! BR-O-02 forbids the seller's VAT id on any document with an `O` line (ANAF's guidance keeps
//! `O` for sellers not registered for VAT), while a VAT-registered Romanian seller must print
//! its VAT id on every invoice (Codul fiscal art. 319) and CIUS-RO needs a seller tax id. Of
//! the zero-VAT categories the EN 16931 and CIUS-RO rules accept with the seller's VAT id and
//! no buyer VAT id, `E` would claim an exemption, which this supply is not; `G` ("export
//! outside the EU, VAT not charged", reason `VATEX-EU-G`) says what happens, a supply that
//! leaves the EU without VAT and keeps the seller's right to deduct, so Berth uses `G` for
//! every supply to a buyer outside the EU.

use serde::{Deserialize, Serialize};
use time::Date;

use super::category::{LineTax, VatCategory};
use super::country::CountryCode;
use super::vat_id::VatId;
use super::vat_rates::{RateCategory, RateError, VatRateTable};

/// Whether VIES (or an equivalent check) has confirmed a VAT id. Kept apart from [`VatId`],
/// which only knows the id is well formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatIdStatus {
    /// Not checked yet, or the check failed.
    Unverified,
    /// Confirmed as valid by the registry.
    Verified,
}

/// What the tax rule needs to know about a buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuyerTaxProfile {
    /// A person, or an organisation that is not a taxable person.
    Consumer {
        /// Where the buyer is established (its billing address).
        country: CountryCode,
    },
    /// A company or other taxable person.
    Business {
        /// Where the buyer is established (its billing address).
        country: CountryCode,
        /// Its VAT id, if it gave one.
        vat_id: Option<VatId>,
        /// Whether that id is verified.
        status: VatIdStatus,
    },
}

/// The treatment of a supply, which decides each line's category and rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "treatment")]
pub enum TaxTreatment {
    /// Romanian VAT (buyer in Romania).
    Domestic,
    /// Reverse charge (EU business buyer with a verified VAT id).
    ReverseCharge,
    /// The buyer's country's VAT through the One-Stop Shop.
    OneStopShop {
        /// The buyer's member state, whose rate applies.
        country: CountryCode,
    },
    /// No EU VAT (buyer outside the EU).
    OutsideEu,
}

/// Why no treatment could be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreatmentError {
    /// Only sellers established in Romania are covered by these rules.
    #[error("the tax rules cover sellers established in Romania, not in {0}")]
    SellerNotInRomania(CountryCode),
    /// A business's VAT id was issued by another country than the one it is established in.
    #[error("the buyer is established in {buyer} but its VAT id was issued in {vat_id}")]
    VatIdCountryMismatch {
        /// The buyer's country.
        buyer: CountryCode,
        /// The VAT id's country.
        vat_id: CountryCode,
    },
}

impl TaxTreatment {
    /// Decides the treatment of a supply from `seller_country` to `buyer`.
    pub fn decide(seller_country: CountryCode, buyer: &BuyerTaxProfile) -> Result<Self, TreatmentError> {
        if seller_country != CountryCode::ROMANIA {
            return Err(TreatmentError::SellerNotInRomania(seller_country));
        }
        let (country, verified_id) = match buyer {
            BuyerTaxProfile::Consumer { country } => (*country, None),
            BuyerTaxProfile::Business { country, vat_id, status } => {
                if let Some(id) = vat_id.as_ref().filter(|id| id.country() != *country) {
                    return Err(TreatmentError::VatIdCountryMismatch {
                        buyer: *country,
                        vat_id: id.country(),
                    });
                }
                (*country, vat_id.as_ref().filter(|_| *status == VatIdStatus::Verified))
            }
        };
        Ok(if country == CountryCode::ROMANIA {
            Self::Domestic
        } else if !country.is_eu() {
            Self::OutsideEu
        } else if verified_id.is_some() {
            Self::ReverseCharge
        } else {
            Self::OneStopShop { country }
        })
    }

    /// The category and rate of a line under this treatment, for a supply on `supply_date`
    /// of something in `category` (hosting is [`RateCategory::Standard`]).
    pub fn line_tax(
        &self,
        table: &VatRateTable,
        category: RateCategory,
        supply_date: Date,
    ) -> Result<LineTax, RateError> {
        let charged = |country| {
            let rate = table.rate(country, category, supply_date)?;
            // The table only holds positive rates, so a standard-rated line always fits.
            LineTax::standard(rate).map_err(|_| RateError::Unknown { country, category, date: supply_date })
        };
        match self {
            Self::Domestic => charged(CountryCode::ROMANIA),
            Self::OneStopShop { country } => charged(*country),
            Self::ReverseCharge => Ok(LineTax::reverse_charge()),
            Self::OutsideEu => Ok(LineTax::outside_eu()),
        }
    }

    /// The category this treatment puts lines in.
    pub fn vat_category(&self) -> VatCategory {
        match self {
            Self::Domestic | Self::OneStopShop { .. } => VatCategory::Standard,
            Self::ReverseCharge => VatCategory::ReverseCharge,
            Self::OutsideEu => VatCategory::OutsideEu,
        }
    }
}
