//! Issuing: from a `DocumentDraft` to an `IssuedDocument`, checking every rule on the way.

use time::Date;

use super::{
    Body, DocumentError, DocumentKind, DocumentNumber, InvoiceReference, IssuedDocument, PaymentMeans,
};
use crate::billing::category::VatCategory;
use crate::billing::country::CountryCode;
use crate::billing::discount::Coupon;
use crate::billing::exchange::{ron, ExchangeRate, VatInLei};
use crate::billing::line::{DocumentLine, LineDraft};
use crate::billing::party::{Party, PartyKind};
use crate::billing::period::ServicePeriod;
use crate::billing::text::checked;
use crate::billing::totals::{self, TotalsError};
use crate::money::Currency;

/// The most lines a document may have.
const MAX_LINES: usize = 1000;
/// The most notes a document may have, legal mentions included (CIUS-RO BR-RO-A020).
const MAX_NOTES: usize = 20;
/// ISO 4217 currencies whose minor unit is not a hundredth; `Money` would mean something
/// else for them than the two decimals every document prints.
const NOT_TWO_DECIMALS: [&str; 26] = [
    "BHD", "BIF", "CLF", "CLP", "DJF", "GNF", "IQD", "ISK", "JOD", "JPY", "KMF", "KRW", "KWD", "LYD", "OMR",
    "PYG", "RWF", "TND", "UGX", "UYI", "UYW", "VND", "VUV", "XAF", "XOF", "XPF",
];

/// Everything a document is issued from. The caller decides each line's category and rate
/// (with `TaxTreatment::line_tax`); `issue` computes the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentDraft {
    /// Invoice, credit note or proforma.
    pub kind: DocumentKind,
    /// The number allocated to it.
    pub number: DocumentNumber,
    /// The issue date.
    pub issue_date: Date,
    /// When payment is due; required for invoices and proformas.
    pub due_date: Option<Date>,
    /// The date of supply, which decides the VAT rates.
    pub supply_date: Date,
    /// The service period billed, if any.
    pub period: Option<ServicePeriod>,
    /// The currency of every amount.
    pub currency: Currency,
    /// The seller.
    pub seller: Party,
    /// The buyer.
    pub buyer: Party,
    /// How to pay.
    pub payment: PaymentMeans,
    /// The lines, in order.
    pub lines: Vec<LineDraft>,
    /// A discount on the whole document.
    pub coupon: Option<Coupon>,
    /// Lei per unit of `currency`, required when a Romanian seller issues in another currency.
    pub exchange_rate: Option<ExchangeRate>,
    /// Free notes (up to 300 characters each); legal mentions are added by `issue`.
    pub notes: Vec<String>,
    /// For a credit note, the invoice it corrects.
    pub corrects: Option<InvoiceReference>,
}

impl IssuedDocument {
    /// Issues a document: checks the draft, works out every line, the document-level
    /// allowances, the VAT breakdown and the totals, and adds the legal mention that a
    /// reverse-charge or outside-EU supply needs.
    pub fn issue(draft: DocumentDraft) -> Result<Self, DocumentError> {
        let currency = draft.currency;
        if NOT_TWO_DECIMALS.contains(&currency.as_str()) {
            return Err(DocumentError::Currency(currency.as_str().to_owned()));
        }
        check_dates_and_kind(&draft)?;
        if draft.lines.is_empty() {
            return Err(DocumentError::NoLines);
        }
        if draft.lines.len() > MAX_LINES {
            return Err(DocumentError::TooManyLines { max: MAX_LINES });
        }
        let category = check_category(&draft)?;
        // The variant's fields are public, so a bank name may not have come through
        // `PaymentMeans::bank_transfer`; it is printed, so it is checked here too.
        if let PaymentMeans::BankTransfer { bank_name: Some(name), .. } = &draft.payment {
            checked("the bank name", name, 100)?;
        }
        let foreign = currency != ron() && draft.seller.address().country() == CountryCode::ROMANIA;
        if foreign != draft.exchange_rate.is_some() {
            return Err(DocumentError::ExchangeRate);
        }
        let lines = draft
            .lines
            .into_iter()
            .zip(1u32..)
            .map(|(line, position)| {
                DocumentLine::from_draft(position, line, currency)
                    .map_err(|error| DocumentError::Line { position, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let computed = totals::compute(currency, &lines, draft.coupon.as_ref())?;
        let vat_in_lei = match draft.exchange_rate {
            Some(rate) => Some(VatInLei {
                rate,
                vat_total: rate.to_lei(computed.totals.vat_total).ok_or(TotalsError::TooLarge)?,
            }),
            None => None,
        };
        let notes = notes(category, draft.notes)?;
        Ok(Self(Body {
            kind: draft.kind,
            number: draft.number,
            issue_date: draft.issue_date,
            due_date: draft.due_date,
            supply_date: draft.supply_date,
            period: draft.period,
            currency,
            seller: draft.seller,
            buyer: draft.buyer,
            payment: draft.payment,
            lines,
            allowances: computed.allowances,
            vat_breakdown: computed.breakdown,
            totals: computed.totals,
            vat_in_lei,
            notes,
            corrects: draft.corrects,
        }))
    }
}

fn check_dates_and_kind(draft: &DocumentDraft) -> Result<(), DocumentError> {
    match (draft.kind, &draft.corrects) {
        (DocumentKind::CreditNote, Some(reference)) if reference.issue_date > draft.issue_date => {
            return Err(DocumentError::CorrectionDate)
        }
        (DocumentKind::CreditNote, Some(_)) => {}
        (DocumentKind::CreditNote, None) | (_, Some(_)) => return Err(DocumentError::Correction),
        (_, None) => {}
    }
    let due_needed = draft.kind != DocumentKind::CreditNote;
    match draft.due_date {
        Some(due) if due < draft.issue_date => Err(DocumentError::DueDate),
        None if due_needed => Err(DocumentError::DueDate),
        _ => Ok(()),
    }
}

/// The one VAT category of the document, with the parties it needs.
fn check_category(draft: &DocumentDraft) -> Result<VatCategory, DocumentError> {
    let category = draft.lines[0].tax.category();
    if draft.lines.iter().any(|line| line.tax.category() != category) {
        return Err(DocumentError::MixedCategories);
    }
    // Every category Berth issues in needs the seller's VAT id (BR-S-02, BR-AE-02, BR-G-02).
    if draft.seller.kind() != PartyKind::Company || draft.seller.vat_id().is_none() {
        return Err(DocumentError::SellerVatId);
    }
    if category == VatCategory::ReverseCharge {
        let buyer_id = draft.buyer.vat_id().ok_or(DocumentError::BuyerVatId)?;
        if buyer_id.country() == draft.seller.address().country() {
            return Err(DocumentError::ReverseChargeAtHome(buyer_id.country().to_string()));
        }
    }
    Ok(category)
}

/// The legal mention of a zero-VAT category first, then the caller's notes.
fn notes(category: VatCategory, given: Vec<String>) -> Result<Vec<String>, DocumentError> {
    let mention = category.exemption().map(|e| e.text.to_owned());
    let given = given.iter().map(|n| checked("a note", n, 300)).collect::<Result<Vec<_>, _>>()?;
    let notes: Vec<String> = mention.into_iter().chain(given).collect();
    if notes.len() > MAX_NOTES {
        return Err(DocumentError::TooManyNotes { max: MAX_NOTES });
    }
    Ok(notes)
}
