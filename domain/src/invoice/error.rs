//! Why an invoice command was refused.

use crate::billing::DocumentError;
use crate::error::{Refusal, RefusalKind};

/// An invoice command that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// `CreateDraft` on a document that exists.
    #[error("the document already exists")]
    AlreadyExists,
    /// Any other command on a document that does not exist.
    #[error("the document does not exist")]
    NotFound,
    /// A change to an issued document.
    #[error("{number} is issued and never changes; correct it with a credit note")]
    Issued {
        /// Its number.
        number: String,
    },
    /// A change to a discarded draft.
    #[error("the draft was discarded")]
    Discarded,
    /// A draft in a currency Berth does not bill in.
    #[error("Berth bills in RON, EUR and USD, not {0}")]
    CurrencyNotOffered(String),
    /// An amount in another currency than the document's: currencies never mix on a document.
    #[error("the document is in {expected}; an amount in {found} cannot go on it")]
    CurrencyMismatch {
        /// The document's currency.
        expected: String,
        /// The amount's.
        found: String,
    },
    /// Too many lines.
    #[error("a document has at most {max} lines")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// No line at that position.
    #[error("the draft has no line {0}")]
    NoSuchLine(u32),
    /// A line that is not valid.
    #[error("{0}")]
    Line(String),
    /// A note that is not valid, or too many.
    #[error("{0}")]
    Note(String),
    /// References that do not fit the kind of document.
    #[error("{0}")]
    Links(&'static str),
    /// No VAT treatment or rate could be decided.
    #[error("the VAT cannot be decided: {0}")]
    Tax(String),
    /// The draft does not make a valid document.
    #[error("the document cannot be issued: {0}")]
    Document(DocumentError),
    /// A credit, payment or conversion for a document not issued yet.
    #[error("the document is not issued yet")]
    NotIssued,
    /// A credit for something other than an issued invoice.
    #[error("only an issued invoice can be credited")]
    NotCreditable,
    /// A credit note for more than what remains of its invoice.
    #[error("the credit note is for {asked}, but only {remaining} of the invoice remains to credit")]
    CreditExceedsRemaining {
        /// What remains.
        remaining: String,
        /// The credit note's total.
        asked: String,
    },
    /// A payment or conversion of something that is not a proforma.
    #[error("the document is not a proforma")]
    NotAProforma,
    /// An invoice from a proforma that is not paid.
    #[error("the proforma is not paid yet")]
    ProformaNotPaid,
    /// A second invoice from one proforma.
    #[error("the proforma was already invoiced as {0}")]
    AlreadyInvoiced(String),
    /// A payment against a draft, a discarded document or a credit note.
    #[error("only an issued invoice or proforma can be paid")]
    NotPayable,
    /// A payment of nothing, or less.
    #[error("a payment is for more than zero")]
    PaymentNotPositive,
    /// A payment reference that is too long or has control characters.
    #[error("{0}")]
    PaymentReference(String),
}

impl Refusal for InvoiceError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists => "invoice-exists",
            Self::NotFound => "invoice-not-found",
            Self::Issued { .. } => "invoice-issued",
            Self::Discarded => "invoice-discarded",
            Self::CurrencyNotOffered(_) => "invoice-currency-not-offered",
            Self::CurrencyMismatch { .. } => "currency-mismatch",
            Self::TooManyLines { .. } => "invoice-too-many-lines",
            Self::NoSuchLine(_) => "invoice-line-not-found",
            Self::Line(_) => "invoice-line-invalid",
            Self::Note(_) => "invoice-note-invalid",
            Self::Links(_) => "invoice-references-invalid",
            Self::Tax(_) => "vat-undecided",
            Self::Document(_) => "document-invalid",
            Self::NotIssued => "invoice-not-issued",
            Self::NotCreditable => "invoice-not-creditable",
            Self::CreditExceedsRemaining { .. } => "credit-exceeds-remaining",
            Self::NotAProforma => "not-a-proforma",
            Self::ProformaNotPaid => "proforma-not-paid",
            Self::AlreadyInvoiced(_) => "proforma-already-invoiced",
            Self::NotPayable => "invoice-not-payable",
            Self::PaymentNotPositive => "payment-not-positive",
            Self::PaymentReference(_) => "payment-reference-invalid",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists
            | Self::Issued { .. }
            | Self::Discarded
            | Self::NotIssued
            | Self::ProformaNotPaid
            | Self::AlreadyInvoiced(_)
            | Self::NotPayable => RefusalKind::Conflict,
            Self::CurrencyNotOffered(_)
            | Self::CurrencyMismatch { .. }
            | Self::TooManyLines { .. }
            | Self::NoSuchLine(_)
            | Self::Line(_)
            | Self::Note(_)
            | Self::Links(_)
            | Self::Tax(_)
            | Self::Document(_)
            | Self::NotCreditable
            | Self::CreditExceedsRemaining { .. }
            | Self::NotAProforma
            | Self::PaymentNotPositive
            | Self::PaymentReference(_) => RefusalKind::Rule,
        }
    }
}
