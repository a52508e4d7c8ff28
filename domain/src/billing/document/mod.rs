//! `IssuedDocument`: an invoice, credit note or proforma as it was issued, frozen.
//!
//! An issued document is carried whole inside the event that issues it and never changes
//! afterwards (a credit note corrects it). It holds everything a renderer needs, amounts
//! already worked out, so the XML and the PDF of a document are the same today and in ten
//! years. The only way to build one is [`IssuedDocument::issue`], which computes the VAT
//! breakdown and totals from the lines; reading one back from JSON re-checks the EN 16931
//! identities, so a stored document can never carry totals that do not add up.

mod error;
mod issue;
mod number;
mod payment;
#[cfg(test)]
mod tests;

pub use error::DocumentError;
pub use issue::DocumentDraft;
pub use number::{DocumentNumber, NumberError, Series};
pub use payment::{CardDetails, Iban, PaymentError, PaymentMeans};

use serde::{Deserialize, Serialize};
use time::Date;

use super::exchange::VatInLei;
use super::line::DocumentLine;
use super::party::Party;
use super::period::ServicePeriod;
use super::totals::{self, DocumentAllowance, DocumentTotals, VatSubtotal};
use crate::money::Currency;

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A fiscal invoice (UNTDID 1001 code 380).
    Invoice,
    /// A credit note correcting an invoice (381).
    CreditNote,
    /// A proforma: a request for payment that is not a fiscal document.
    Proforma,
}

impl DocumentKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Invoice, Self::CreditNote, Self::Proforma];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
            Self::Proforma => "proforma",
        }
    }
}

/// The invoice a credit note corrects (BG-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceReference {
    /// Its number.
    pub number: DocumentNumber,
    /// Its issue date.
    #[serde(with = "crate::billing::iso_date")]
    pub issue_date: Date,
}

/// An issued document. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Body", into = "Body")]
pub struct IssuedDocument(Body);

/// The stored shape of an issued document; `IssuedDocument` guards how it is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Body {
    kind: DocumentKind,
    number: DocumentNumber,
    #[serde(with = "crate::billing::iso_date")]
    issue_date: Date,
    #[serde(with = "crate::billing::iso_date::option")]
    due_date: Option<Date>,
    #[serde(with = "crate::billing::iso_date")]
    supply_date: Date,
    period: Option<ServicePeriod>,
    currency: Currency,
    seller: Party,
    buyer: Party,
    payment: PaymentMeans,
    lines: Vec<DocumentLine>,
    allowances: Vec<DocumentAllowance>,
    vat_breakdown: Vec<VatSubtotal>,
    totals: DocumentTotals,
    vat_in_lei: Option<VatInLei>,
    notes: Vec<String>,
    corrects: Option<InvoiceReference>,
}

impl TryFrom<Body> for IssuedDocument {
    type Error = DocumentError;
    fn try_from(body: Body) -> Result<Self, Self::Error> {
        totals::check(body.currency, &body.lines, &body.allowances, &body.vat_breakdown, &body.totals)?;
        Ok(Self(body))
    }
}

impl From<IssuedDocument> for Body {
    fn from(document: IssuedDocument) -> Self {
        document.0
    }
}

impl IssuedDocument {
    /// Invoice, credit note or proforma.
    pub fn kind(&self) -> DocumentKind {
        self.0.kind
    }

    /// The number (BT-1).
    pub fn number(&self) -> &DocumentNumber {
        &self.0.number
    }

    /// The issue date (BT-2).
    pub fn issue_date(&self) -> Date {
        self.0.issue_date
    }

    /// The payment due date (BT-9).
    pub fn due_date(&self) -> Option<Date> {
        self.0.due_date
    }

    /// The date of supply, which decided the VAT rates (BT-72).
    pub fn supply_date(&self) -> Date {
        self.0.supply_date
    }

    /// The service period the document bills (BG-14).
    pub fn period(&self) -> Option<ServicePeriod> {
        self.0.period
    }

    /// The currency of every amount (BT-5).
    pub fn currency(&self) -> Currency {
        self.0.currency
    }

    /// The seller (BG-4).
    pub fn seller(&self) -> &Party {
        &self.0.seller
    }

    /// The buyer (BG-7).
    pub fn buyer(&self) -> &Party {
        &self.0.buyer
    }

    /// How to pay (BG-16).
    pub fn payment(&self) -> &PaymentMeans {
        &self.0.payment
    }

    /// The lines (BG-25).
    pub fn lines(&self) -> &[DocumentLine] {
        &self.0.lines
    }

    /// The document-level allowances, one per VAT group a coupon reduces (BG-20).
    pub fn allowances(&self) -> &[DocumentAllowance] {
        &self.0.allowances
    }

    /// The VAT breakdown, one entry per category and rate (BG-23).
    pub fn vat_breakdown(&self) -> &[VatSubtotal] {
        &self.0.vat_breakdown
    }

    /// The totals (BG-22).
    pub fn totals(&self) -> &DocumentTotals {
        &self.0.totals
    }

    /// For a document not in lei: the VAT total in lei and the rate used (BT-111).
    pub fn vat_in_lei(&self) -> Option<&VatInLei> {
        self.0.vat_in_lei.as_ref()
    }

    /// The notes, legal mentions first (BT-22).
    pub fn notes(&self) -> &[String] {
        &self.0.notes
    }

    /// For a credit note, the invoice it corrects (BG-3).
    pub fn corrects(&self) -> Option<&InvoiceReference> {
        self.0.corrects.as_ref()
    }
}
