//! Invoice events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::Date;

use super::payment::PaymentMethod;
use super::{DraftLine, SubscriptionPeriod};
use crate::billing::{Coupon, DocumentKind, DocumentNumber, IssuedDocument};
use crate::ids::{InvoiceId, TenantId};
use crate::money::{Currency, Money};

/// Something that happened to an invoice, credit note or proforma.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvoiceEvent {
    /// A draft was created.
    DraftCreated {
        /// The document.
        invoice_id: InvoiceId,
        /// The tenant billed.
        tenant_id: TenantId,
        /// Invoice, credit note or proforma.
        kind: DocumentKind,
        /// The one currency of every amount on it.
        currency: Currency,
        /// Its first lines.
        lines: Vec<DraftLine>,
        /// A discount on the whole document.
        coupon: Option<Coupon>,
        /// The subscription period it is the invoice of.
        billing: Option<SubscriptionPeriod>,
        /// For a credit note, the invoice it corrects.
        corrects: Option<InvoiceId>,
        /// For an invoice, the paid proforma it is issued from.
        from_proforma: Option<InvoiceId>,
    },
    /// A line was added to the draft.
    LineAdded {
        /// The line.
        line: DraftLine,
    },
    /// A line was removed from the draft.
    LineRemoved {
        /// Its position, from 1.
        position: u32,
    },
    /// The draft's coupon was set or removed.
    CouponSet {
        /// The coupon, or none.
        coupon: Option<Coupon>,
    },
    /// The draft's notes were replaced.
    NotesSet {
        /// The notes.
        notes: Vec<String>,
    },
    /// The draft was thrown away; it never had a number.
    DraftDiscarded,
    /// The document was issued: numbered (in the same commit as its series' `NumberTaken`)
    /// and frozen.
    Issued {
        /// The document as issued, whole.
        document: Box<IssuedDocument>,
    },
    /// A credit note for this invoice was issued (in the same commit).
    Credited {
        /// The credit note.
        credit_note: InvoiceId,
        /// Its number.
        number: DocumentNumber,
        /// Its total, VAT included.
        amount: Money,
        /// What is left to credit afterwards.
        remaining: Money,
    },
    /// A proforma was paid.
    ProformaPaid {
        /// When.
        #[serde(with = "crate::billing::iso_date")]
        paid_on: Date,
    },
    /// The fiscal invoice was issued from this proforma (in the same commit).
    ProformaInvoiced {
        /// The invoice.
        invoice: InvoiceId,
    },
    /// A payment was received against the invoice or proforma.
    PaymentReceived {
        /// The payment (derived from the provider's payment, or the operator's entry).
        payment_id: uuid::Uuid,
        /// Card, bank transfer or cash.
        method: PaymentMethod,
        /// What was received.
        amount: Money,
        /// When.
        #[serde(with = "crate::billing::iso_date")]
        received_on: Date,
        /// The bank's or provider's reference.
        reference: Option<String>,
        /// The part of it that went to the balance.
        applied: Money,
        /// The part beyond the balance: the tenant's credit.
        credit: Money,
        /// What is left to pay afterwards.
        balance_due: Money,
    },
    /// Card payments were refunded for a credit note of this invoice.
    Refunded {
        /// The credit note.
        credit_note: InvoiceId,
        /// The provider's refunds (`re_...`), each with the PaymentIntent it refunds.
        refunds: Vec<(String, String)>,
        /// What was refunded in all.
        amount: Money,
    },
    /// Nothing is left to pay (in the same commit as the payment that settled it).
    Settled {
        /// When.
        #[serde(with = "crate::billing::iso_date")]
        on: Date,
    },
}

impl DomainEvent for InvoiceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DraftCreated { .. } => "InvoiceDraftCreated",
            Self::LineAdded { .. } => "InvoiceLineAdded",
            Self::LineRemoved { .. } => "InvoiceLineRemoved",
            Self::CouponSet { .. } => "InvoiceCouponSet",
            Self::NotesSet { .. } => "InvoiceNotesSet",
            Self::DraftDiscarded => "InvoiceDraftDiscarded",
            Self::Issued { .. } => "InvoiceIssued",
            Self::Credited { .. } => "InvoiceCredited",
            Self::ProformaPaid { .. } => "ProformaPaid",
            Self::ProformaInvoiced { .. } => "ProformaInvoiced",
            Self::PaymentReceived { .. } => "InvoicePaymentReceived",
            Self::Settled { .. } => "InvoiceSettled",
            Self::Refunded { .. } => "InvoiceRefunded",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::DraftCreated { .. }
            | Self::LineAdded { .. }
            | Self::LineRemoved { .. }
            | Self::CouponSet { .. }
            | Self::NotesSet { .. }
            | Self::DraftDiscarded
            | Self::Issued { .. }
            | Self::Credited { .. }
            | Self::ProformaPaid { .. }
            | Self::ProformaInvoiced { .. }
            | Self::PaymentReceived { .. }
            | Self::Settled { .. }
            | Self::Refunded { .. } => "1",
        }
        .to_owned()
    }
}
