//! Issuing a draft: everything the document needs beyond the draft ([`IssueTerms`]), and the
//! one function that turns both into the frozen `IssuedDocument`.
//!
//! The function is pure and is what the `Issue` command runs; callers that must know the
//! document before they commit it (a credit note is checked against what remains of its
//! invoice in the same commit) call it too and get the same document.

use serde::{Deserialize, Serialize};
use time::Date;

use super::{Invoice, InvoiceError, InvoiceStatus};
use crate::billing::{
    BuyerTaxProfile, DocumentDraft, ExchangeRate, InvoiceReference, IssuedDocument, Party, PartyKind,
    PaymentMeans, TaxTreatment, VatIdStatus, VatRateTable,
};
use crate::billing::{DocumentNumber, VatCategory};
use crate::money::Currency;

/// What issuing adds to a draft: its number, its dates, the parties as they are now, the VAT
/// rates in force and, for a document not in lei, the rate to lei.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueTerms {
    /// The number taken from the series, in the same commit.
    pub number: DocumentNumber,
    /// The issue date.
    #[serde(with = "crate::billing::iso_date")]
    pub issue_date: Date,
    /// When payment is due (invoices and proformas).
    #[serde(with = "crate::billing::iso_date::option")]
    pub due_date: Option<Date>,
    /// The date of supply, which decides the VAT rates.
    #[serde(with = "crate::billing::iso_date")]
    pub supply_date: Date,
    /// The seller as it is now.
    pub seller: Party,
    /// How to pay the seller.
    pub payment: PaymentMeans,
    /// The buyer as it is now (for a credit note: as on the invoice it corrects).
    pub buyer: Party,
    /// Whether the buyer's VAT id is verified; an unverified one never gets reverse charge.
    pub buyer_vat: VatIdStatus,
    /// The VAT rates.
    pub rates: VatRateTable,
    /// Lei per unit of the document's currency, when it is not RON.
    pub exchange_rate: Option<ExchangeRate>,
    /// For a credit note, the invoice it corrects.
    pub corrects: Option<InvoiceReference>,
}

/// What a credit note for an issued invoice takes from it: the buyer and tax treatment the
/// invoice had, its date of supply (so the same rates apply), its currency and reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionBasis {
    /// The buyer as on the invoice.
    pub buyer: Party,
    /// Verified when the invoice was reverse-charged, so the credit note is too.
    pub buyer_vat: VatIdStatus,
    /// The invoice's date of supply.
    pub supply_date: Date,
    /// The invoice's currency.
    pub currency: Currency,
    /// The invoice's number and date.
    pub reference: InvoiceReference,
}

impl Invoice {
    /// The document the draft becomes when issued with `terms`.
    pub fn freeze(&self, terms: &IssueTerms) -> Result<IssuedDocument, InvoiceError> {
        self.require_draft()?;
        let (Some(kind), Some(currency)) = (self.kind, self.currency) else {
            return Err(InvoiceError::NotFound);
        };
        let profile = match terms.buyer.kind() {
            PartyKind::Person => BuyerTaxProfile::Consumer { country: terms.buyer.address().country() },
            PartyKind::Company => BuyerTaxProfile::Business {
                country: terms.buyer.address().country(),
                vat_id: terms.buyer.vat_id().cloned(),
                status: terms.buyer_vat,
            },
        };
        let treatment = TaxTreatment::decide(terms.seller.address().country(), &profile)
            .map_err(|e| InvoiceError::Tax(e.to_string()))?;
        let lines = self
            .lines
            .iter()
            .map(|line| {
                let tax = treatment
                    .line_tax(&terms.rates, line.rate(), terms.supply_date)
                    .map_err(|e| InvoiceError::Tax(e.to_string()))?;
                Ok(line.to_document_line(tax))
            })
            .collect::<Result<Vec<_>, InvoiceError>>()?;
        let draft = DocumentDraft {
            kind,
            number: terms.number.clone(),
            issue_date: terms.issue_date,
            due_date: terms.due_date,
            supply_date: terms.supply_date,
            period: self.billing.map(|b| b.period),
            currency,
            seller: terms.seller.clone(),
            buyer: terms.buyer.clone(),
            payment: terms.payment.clone(),
            lines,
            coupon: self.coupon.clone(),
            exchange_rate: terms.exchange_rate,
            notes: self.notes.clone(),
            corrects: terms.corrects.clone(),
        };
        IssuedDocument::issue(draft).map_err(InvoiceError::Document)
    }

    /// What a credit note for this invoice takes from it.
    pub fn correction_basis(&self) -> Result<CorrectionBasis, InvoiceError> {
        let document = self.creditable()?;
        let reverse_charged =
            document.vat_breakdown().iter().any(|s| s.tax().category() == VatCategory::ReverseCharge);
        Ok(CorrectionBasis {
            buyer: document.buyer().clone(),
            buyer_vat: if reverse_charged { VatIdStatus::Verified } else { VatIdStatus::Unverified },
            supply_date: document.supply_date(),
            currency: document.currency(),
            reference: InvoiceReference {
                number: document.number().clone(),
                issue_date: document.issue_date(),
            },
        })
    }

    /// Refuses anything but a draft, naming why.
    pub(super) fn require_draft(&self) -> Result<(), InvoiceError> {
        match self.status {
            InvoiceStatus::Draft => Ok(()),
            InvoiceStatus::None => Err(InvoiceError::NotFound),
            InvoiceStatus::Discarded => Err(InvoiceError::Discarded),
            InvoiceStatus::Issued => Err(InvoiceError::Issued {
                number: self.document.as_ref().map(|d| d.number().to_string()).unwrap_or_default(),
            }),
        }
    }
}
