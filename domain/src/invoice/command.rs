//! Invoice commands and the rules that decide them.

use serde::{Deserialize, Serialize};
use time::Date;

use super::{
    DraftLine, Invoice, InvoiceError, InvoiceEvent as E, InvoiceStatus, IssueTerms, SubscriptionPeriod,
};
use crate::billing::text::checked;
use crate::billing::{Coupon, CouponValue, DocumentKind, DocumentNumber};
use crate::ids::{InvoiceId, TenantId};
use crate::money::{Currency, Money};
use crate::plan::is_offered;

/// The most lines a draft may have (as many as a document may).
const MAX_LINES: usize = 1000;
/// The most notes a draft may have; issuing adds the legal mention, and a document has 20.
const MAX_NOTES: usize = 19;

/// What can be asked of an invoice, credit note or proforma.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum InvoiceCommand {
    /// Create a draft. A credit note names the invoice it corrects; an invoice may name the
    /// paid proforma it comes from and the subscription period it bills.
    CreateDraft {
        invoice_id: InvoiceId,
        tenant_id: TenantId,
        kind: DocumentKind,
        currency: Currency,
        lines: Vec<DraftLine>,
        coupon: Option<Coupon>,
        billing: Option<SubscriptionPeriod>,
        corrects: Option<InvoiceId>,
        from_proforma: Option<InvoiceId>,
    },
    /// Add a line to the draft.
    AddLine { line: DraftLine },
    /// Remove the draft's line at `position` (from 1).
    RemoveLine { position: u32 },
    /// Set (or remove) the draft's coupon.
    SetCoupon { coupon: Option<Coupon> },
    /// Replace the draft's notes.
    SetNotes { notes: Vec<String> },
    /// Throw the draft away.
    Discard,
    /// Issue the draft: freeze it with `terms` (its number taken in the same commit).
    Issue { terms: Box<IssueTerms> },
    /// Record a credit note issued for this invoice (in the same commit as the credit note).
    RecordCredit { credit_note: InvoiceId, number: DocumentNumber, amount: Money },
    /// Record that a proforma was paid.
    RecordPayment { paid_on: Date },
    /// Record that the fiscal invoice was issued from this paid proforma (same commit).
    MarkInvoiced { invoice: InvoiceId },
    /// Record a payment received: a card charge, a bank transfer or cash. The same
    /// `payment_id` twice records it once.
    ReceivePayment { payment: super::payment::Payment },
    /// Record the refunds made for a credit note (once per credit note).
    RecordRefund { credit_note: InvoiceId, refunds: Vec<(String, String)>, amount: Money },
}

/// Decides the events for `command`.
pub(super) fn decide(invoice: &Invoice, command: InvoiceCommand) -> Result<Vec<E>, InvoiceError> {
    match command {
        InvoiceCommand::CreateDraft {
            invoice_id,
            tenant_id,
            kind,
            currency,
            lines,
            coupon,
            billing,
            corrects,
            from_proforma,
        } => {
            if invoice.status != InvoiceStatus::None {
                return Err(InvoiceError::AlreadyExists);
            }
            check_links(kind, billing.is_some(), corrects.is_some(), from_proforma.is_some())?;
            if !is_offered(currency) {
                return Err(InvoiceError::CurrencyNotOffered(currency.as_str().to_owned()));
            }
            if lines.len() > MAX_LINES {
                return Err(InvoiceError::TooManyLines { max: MAX_LINES });
            }
            for line in &lines {
                same_currency(currency, line.unit_price().currency())?;
            }
            check_coupon(currency, coupon.as_ref())?;
            Ok(vec![E::DraftCreated {
                invoice_id,
                tenant_id,
                kind,
                currency,
                lines,
                coupon,
                billing,
                corrects,
                from_proforma,
            }])
        }
        InvoiceCommand::AddLine { line } => {
            invoice.require_draft()?;
            same_currency(draft_currency(invoice)?, line.unit_price().currency())?;
            if invoice.lines.len() >= MAX_LINES {
                return Err(InvoiceError::TooManyLines { max: MAX_LINES });
            }
            Ok(vec![E::LineAdded { line }])
        }
        InvoiceCommand::RemoveLine { position } => {
            invoice.require_draft()?;
            let index = usize::try_from(position).unwrap_or(usize::MAX);
            if index == 0 || index > invoice.lines.len() {
                return Err(InvoiceError::NoSuchLine(position));
            }
            Ok(vec![E::LineRemoved { position }])
        }
        InvoiceCommand::SetCoupon { coupon } => {
            invoice.require_draft()?;
            check_coupon(draft_currency(invoice)?, coupon.as_ref())?;
            if invoice.coupon == coupon {
                return Ok(Vec::new());
            }
            Ok(vec![E::CouponSet { coupon }])
        }
        InvoiceCommand::SetNotes { notes } => {
            invoice.require_draft()?;
            if notes.len() > MAX_NOTES {
                return Err(InvoiceError::Note(format!("a draft has at most {MAX_NOTES} notes")));
            }
            let notes = notes
                .iter()
                .map(|note| checked("a note", note, 300).map_err(|e| InvoiceError::Note(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            if invoice.notes == notes {
                return Ok(Vec::new());
            }
            Ok(vec![E::NotesSet { notes }])
        }
        InvoiceCommand::Discard => {
            invoice.require_draft()?;
            Ok(vec![E::DraftDiscarded])
        }
        InvoiceCommand::Issue { terms } => {
            invoice.require_draft()?;
            if (invoice.kind == Some(DocumentKind::CreditNote)) != terms.corrects.is_some() {
                return Err(InvoiceError::Links(
                    "a credit note is issued with the invoice it corrects, and only it",
                ));
            }
            let document = invoice.freeze(&terms)?;
            Ok(vec![E::Issued { document: Box::new(document) }])
        }
        InvoiceCommand::RecordCredit { credit_note, number, amount } => {
            let document = invoice.creditable()?;
            if invoice.credit_notes.contains(&credit_note) {
                return Ok(Vec::new());
            }
            same_currency(document.currency(), amount.currency())?;
            let remaining = invoice.remaining().ok_or(InvoiceError::NotCreditable)?;
            if amount.amount_minor() > remaining.amount_minor() {
                return Err(InvoiceError::CreditExceedsRemaining {
                    remaining: remaining.to_string(),
                    asked: amount.to_string(),
                });
            }
            let left = Money::new(remaining.amount_minor() - amount.amount_minor(), remaining.currency())
                .map_err(|_| InvoiceError::NotCreditable)?;
            Ok(vec![E::Credited { credit_note, number, amount, remaining: left }])
        }
        InvoiceCommand::RecordPayment { paid_on } => {
            issued_proforma(invoice)?;
            if invoice.paid_on.is_some() {
                return Ok(Vec::new());
            }
            Ok(vec![E::ProformaPaid { paid_on }])
        }
        InvoiceCommand::ReceivePayment { payment } => super::payment::receive(invoice, payment),
        InvoiceCommand::RecordRefund { credit_note, refunds, amount } => {
            if invoice.refunded_for.contains(&credit_note) || refunds.is_empty() {
                return Ok(Vec::new());
            }
            same_currency(draft_currency(invoice)?, amount.currency())?;
            Ok(vec![E::Refunded { credit_note, refunds, amount }])
        }
        InvoiceCommand::MarkInvoiced { invoice: fiscal } => {
            issued_proforma(invoice)?;
            if invoice.paid_on.is_none() {
                return Err(InvoiceError::ProformaNotPaid);
            }
            match invoice.invoiced_as {
                Some(existing) if existing == fiscal => Ok(Vec::new()),
                Some(existing) => Err(InvoiceError::AlreadyInvoiced(existing.to_string())),
                None => Ok(vec![E::ProformaInvoiced { invoice: fiscal }]),
            }
        }
    }
}

/// Which references each kind of document may carry.
fn check_links(
    kind: DocumentKind,
    billing: bool,
    corrects: bool,
    from_proforma: bool,
) -> Result<(), InvoiceError> {
    match kind {
        DocumentKind::CreditNote if !corrects => {
            Err(InvoiceError::Links("a credit note names the invoice it corrects"))
        }
        DocumentKind::CreditNote if billing || from_proforma => {
            Err(InvoiceError::Links("a credit note bills no period and comes from no proforma"))
        }
        DocumentKind::Invoice | DocumentKind::Proforma if corrects => {
            Err(InvoiceError::Links("only a credit note corrects an invoice"))
        }
        DocumentKind::Proforma if from_proforma => {
            Err(InvoiceError::Links("a proforma comes from no proforma"))
        }
        _ => Ok(()),
    }
}

fn draft_currency(invoice: &Invoice) -> Result<Currency, InvoiceError> {
    invoice.currency.ok_or(InvoiceError::NotFound)
}

pub(super) fn same_currency(expected: Currency, found: Currency) -> Result<(), InvoiceError> {
    if expected == found {
        Ok(())
    } else {
        Err(InvoiceError::CurrencyMismatch {
            expected: expected.as_str().to_owned(),
            found: found.as_str().to_owned(),
        })
    }
}

fn check_coupon(currency: Currency, coupon: Option<&Coupon>) -> Result<(), InvoiceError> {
    match coupon.map(Coupon::value) {
        Some(CouponValue::Amount(amount)) => same_currency(currency, amount.currency()),
        _ => Ok(()),
    }
}

fn issued_proforma(invoice: &Invoice) -> Result<(), InvoiceError> {
    match (invoice.status, invoice.kind) {
        (InvoiceStatus::None, _) => Err(InvoiceError::NotFound),
        (_, Some(kind)) if kind != DocumentKind::Proforma => Err(InvoiceError::NotAProforma),
        (InvoiceStatus::Issued, _) => Ok(()),
        _ => Err(InvoiceError::NotIssued),
    }
}
