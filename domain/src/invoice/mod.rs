//! The invoice aggregate: an invoice, credit note or proforma, from an editable, unnumbered
//! draft to the frozen document it is issued as.
//!
//! Issuing takes the next number of the document's series in the same commit (see
//! `series`), so numbers are gapless. An issued document never changes: every command that
//! would change it is refused, naming its number. Corrections are credit notes (their own
//! aggregates, in their own series), each recorded on the invoice it corrects in the same
//! commit, so the credits on an invoice can never exceed it. A proforma is not a fiscal
//! document; once paid, the invoice is issued from it.
//!
//! One invoice per subscription and period: a draft may say it is the invoice of a
//! subscription's period, and its issue claims that period platform-wide (released only if
//! credit notes cancel it entirely), so a second invoice for the same period cannot be issued.

mod command;
mod error;
mod event;
mod freeze;
mod line;
mod payment;
#[cfg(test)]
mod tests;

pub use command::InvoiceCommand;
pub use error::InvoiceError;
pub use event::InvoiceEvent;
pub use freeze::{CorrectionBasis, IssueTerms};
pub use line::DraftLine;
pub use payment::{Payment, PaymentMethod};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::billing::{Coupon, DocumentKind, IssuedDocument, ServicePeriod};
use crate::ids::{InvoiceId, SubscriptionId, TenantId};
use crate::money::{Currency, Money};
use crate::unique::{Unique, UniqueChange, UniqueScope};

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceStatus {
    /// No such document yet.
    #[default]
    None,
    /// Editable, unnumbered.
    Draft,
    /// Frozen and numbered.
    Issued,
    /// A draft thrown away (it never had a number).
    Discarded,
}

impl InvoiceStatus {
    /// Every status a document can be seen in (not `None`, which no document has).
    pub const ALL: [Self; 3] = [Self::Draft, Self::Issued, Self::Discarded];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Draft => "draft",
            Self::Issued => "issued",
            Self::Discarded => "discarded",
        }
    }
}

/// The subscription period a document is *the* invoice of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubscriptionPeriod {
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// The billing period.
    pub period: ServicePeriod,
}

impl SubscriptionPeriod {
    /// The value claimed platform-wide by the period's invoice: `<subscription>@<first day>`
    /// (a subscription's periods never share a first day).
    pub fn claim_value(&self) -> String {
        format!("{}@{}", self.subscription_id, self.period.start())
    }
}

/// A document's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    id: Option<InvoiceId>,
    tenant_id: Option<TenantId>,
    kind: Option<DocumentKind>,
    currency: Option<Currency>,
    status: InvoiceStatus,
    lines: Vec<DraftLine>,
    coupon: Option<Coupon>,
    notes: Vec<String>,
    billing: Option<SubscriptionPeriod>,
    corrects: Option<InvoiceId>,
    from_proforma: Option<InvoiceId>,
    document: Option<IssuedDocument>,
    credited_minor: i64,
    credit_notes: Vec<InvoiceId>,
    #[serde(with = "crate::billing::iso_date::option")]
    paid_on: Option<Date>,
    invoiced_as: Option<InvoiceId>,
    #[serde(default)]
    paid_minor: i64,
    #[serde(default)]
    payments: Vec<uuid::Uuid>,
    #[serde(default, with = "crate::billing::iso_date::option")]
    settled_on: Option<Date>,
    /// Card payments: the PaymentIntent and what of it went to the balance.
    #[serde(default)]
    card_payments: Vec<(String, i64)>,
    #[serde(default)]
    refunded_minor: i64,
    #[serde(default)]
    refunded_for: Vec<InvoiceId>,
}

impl Invoice {
    /// Where it is in its life.
    pub fn status(&self) -> InvoiceStatus {
        self.status
    }

    /// Invoice, credit note or proforma, once created.
    pub fn kind(&self) -> Option<DocumentKind> {
        self.kind
    }

    /// The tenant billed.
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant_id
    }

    /// The currency of every amount.
    pub fn currency(&self) -> Option<Currency> {
        self.currency
    }

    /// The draft's lines (the issued document keeps its own, worked out).
    pub fn lines(&self) -> &[DraftLine] {
        &self.lines
    }

    /// The draft's coupon.
    pub fn coupon(&self) -> Option<&Coupon> {
        self.coupon.as_ref()
    }

    /// The subscription period this is the invoice of, if any.
    pub fn billing(&self) -> Option<SubscriptionPeriod> {
        self.billing
    }

    /// For a credit note, the invoice it corrects.
    pub fn corrects(&self) -> Option<InvoiceId> {
        self.corrects
    }

    /// For an invoice issued from a proforma, the proforma.
    pub fn from_proforma(&self) -> Option<InvoiceId> {
        self.from_proforma
    }

    /// The issued document.
    pub fn document(&self) -> Option<&IssuedDocument> {
        self.document.as_ref()
    }

    /// What is left to credit on an issued invoice: its total minus its credit notes.
    pub fn remaining(&self) -> Option<Money> {
        let document = self.document.as_ref().filter(|_| self.kind == Some(DocumentKind::Invoice))?;
        let payable = document.totals().payable;
        Money::new(payable.amount_minor() - self.credited_minor, payable.currency()).ok()
    }

    /// When a proforma was paid.
    pub fn paid_on(&self) -> Option<Date> {
        self.paid_on
    }

    /// What credit notes took off an invoice so far, in minor units.
    pub fn credited_minor(&self) -> i64 {
        self.credited_minor
    }

    /// For a paid proforma, the invoice issued from it.
    pub fn invoiced_as(&self) -> Option<InvoiceId> {
        self.invoiced_as
    }

    /// The issued invoice, when this is a proforma that can be credited (an issued invoice).
    pub(super) fn creditable(&self) -> Result<&IssuedDocument, InvoiceError> {
        match (self.status, self.kind, &self.document) {
            (InvoiceStatus::Issued, Some(DocumentKind::Invoice), Some(document)) => Ok(document),
            (InvoiceStatus::None, ..) => Err(InvoiceError::NotFound),
            (_, Some(DocumentKind::Invoice), _) => Err(InvoiceError::NotIssued),
            _ => Err(InvoiceError::NotCreditable),
        }
    }
}

impl crate::aggregate::Consequences for Invoice {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }

    fn uniques(&self, event: &InvoiceEvent) -> Vec<UniqueChange> {
        let (Some(id), Some(billing), Some(DocumentKind::Invoice)) = (self.id, self.billing, self.kind)
        else {
            return Vec::new();
        };
        let claim =
            || Unique::new(UniqueScope::InvoicePeriod, billing.claim_value(), format!("invoice:{id}"));
        match event {
            InvoiceEvent::Issued { .. } => vec![UniqueChange::Claim(claim())],
            // Cancelled in full by credit notes: the period may be invoiced again.
            InvoiceEvent::Credited { remaining, .. } if remaining.amount_minor() == 0 => {
                vec![UniqueChange::Release(claim())]
            }
            _ => Vec::new(),
        }
    }
}

impl Aggregate for Invoice {
    const TYPE: &'static str = "invoice";
    type Command = InvoiceCommand;
    type Event = InvoiceEvent;
    type Error = InvoiceError;
    type Services = ();

    async fn handle(
        &mut self,
        command: InvoiceCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), InvoiceError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: InvoiceEvent) {
        use InvoiceEvent as E;
        match event {
            E::DraftCreated {
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
                self.id = Some(invoice_id);
                self.tenant_id = Some(tenant_id);
                self.kind = Some(kind);
                self.currency = Some(currency);
                self.status = InvoiceStatus::Draft;
                self.lines = lines;
                self.coupon = coupon;
                self.billing = billing;
                self.corrects = corrects;
                self.from_proforma = from_proforma;
            }
            E::LineAdded { line } => self.lines.push(line),
            E::LineRemoved { position } => {
                let index = usize::try_from(position).unwrap_or(usize::MAX).saturating_sub(1);
                if index < self.lines.len() {
                    self.lines.remove(index);
                }
            }
            E::CouponSet { coupon } => self.coupon = coupon,
            E::NotesSet { notes } => self.notes = notes,
            E::DraftDiscarded => self.status = InvoiceStatus::Discarded,
            E::Issued { document } => {
                self.status = InvoiceStatus::Issued;
                self.document = Some(*document);
            }
            E::Credited { credit_note, amount, .. } => {
                self.credited_minor += amount.amount_minor();
                self.credit_notes.push(credit_note);
            }
            E::ProformaPaid { paid_on } => self.paid_on = Some(paid_on),
            E::ProformaInvoiced { invoice } => self.invoiced_as = Some(invoice),
            E::PaymentReceived { payment_id, applied, method, .. } => {
                self.paid_minor += applied.amount_minor();
                self.payments.push(payment_id);
                if let payment::PaymentMethod::Card { payment_intent } = method {
                    self.card_payments.push((payment_intent, applied.amount_minor()));
                }
            }
            E::Refunded { credit_note, amount, .. } => {
                self.refunded_minor += amount.amount_minor();
                self.refunded_for.push(credit_note);
            }
            E::Settled { on } => self.settled_on = Some(on),
        }
    }
}
