//! Why a document could not be issued.

use crate::billing::line::LineError;
use crate::billing::text::TextError;
use crate::billing::totals::TotalsError;

/// A document draft that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// No lines.
    #[error("a document has at least one line")]
    NoLines,
    /// Too many lines.
    #[error("a document has at most {max} lines")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// A line that could not be worked out.
    #[error("line {position}: {error}")]
    Line {
        /// The line number, from 1.
        position: u32,
        /// What is wrong with it.
        error: LineError,
    },
    /// The coupon or the totals.
    #[error(transparent)]
    Totals(#[from] TotalsError),
    /// A currency whose minor unit is not a hundredth.
    #[error("documents are issued in currencies with two decimals (like RON or EUR), not {0}")]
    Currency(String),
    /// The seller has no VAT id.
    #[error("the seller needs a VAT id to issue documents")]
    SellerVatId,
    /// Reverse charge without the buyer's VAT id.
    #[error("reverse charge needs the buyer's VAT id on the document")]
    BuyerVatId,
    /// Reverse charge to a buyer in the seller's own country.
    #[error("reverse charge is for a buyer in another member state, not {0}")]
    ReverseChargeAtHome(String),
    /// Lines of different VAT categories on one document.
    #[error("all lines of a document share one VAT category (one treatment per buyer)")]
    MixedCategories,
    /// A credit note without the invoice it corrects, or another kind with one.
    #[error("a credit note names the invoice it corrects, and only a credit note does")]
    Correction,
    /// The corrected invoice is dated after the credit note.
    #[error("the corrected invoice is dated after the credit note")]
    CorrectionDate,
    /// An invoice or proforma without a due date, or a due date before the issue date.
    #[error("an invoice or proforma has a due date on or after its issue date")]
    DueDate,
    /// A foreign-currency document from a Romanian seller without a rate to lei, or a lei
    /// document with one.
    #[error("a document in a currency other than RON gives the exchange rate to RON, and only then")]
    ExchangeRate,
    /// A note or the bank name is empty, too long or holds control characters.
    #[error(transparent)]
    Text(#[from] TextError),
    /// More than 20 notes, counting the legal mentions added automatically.
    #[error("a document has at most {max} notes")]
    TooManyNotes {
        /// The limit.
        max: usize,
    },
}
