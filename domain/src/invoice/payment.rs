//! Payments against an issued invoice or proforma: partial payments add up, a payment beyond
//! the balance becomes the tenant's credit, and the payment that leaves nothing to pay settles
//! the document (a proforma is then paid, and its fiscal invoice can be issued).

use serde::{Deserialize, Serialize};
use time::Date;

use super::command::same_currency;
use super::{Invoice, InvoiceError, InvoiceEvent as E, InvoiceStatus};
use crate::billing::text::checked;
use crate::billing::DocumentKind;
use crate::ids::InvoiceId;
use crate::money::Money;

/// How a payment was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaymentMethod {
    /// A card, charged through the payment provider.
    Card {
        /// The provider's payment (`pi_...`).
        payment_intent: String,
    },
    /// A bank transfer an operator recorded.
    BankTransfer,
    /// Cash an operator recorded.
    Cash,
}

impl PaymentMethod {
    /// `card`, `bank_transfer` or `cash`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Card { .. } => "card",
            Self::BankTransfer => "bank_transfer",
            Self::Cash => "cash",
        }
    }
}

/// A payment to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Its id: derived from the provider's payment, so it is recorded once however often it is
    /// reported; or minted for an operator's entry.
    pub payment_id: uuid::Uuid,
    /// How it was made.
    pub method: PaymentMethod,
    /// What was received.
    pub amount: Money,
    /// When.
    #[serde(with = "crate::billing::iso_date")]
    pub received_on: Date,
    /// The bank's or provider's reference.
    pub reference: Option<String>,
}

impl Invoice {
    /// What is left to pay on an issued invoice or proforma: its total, less its credit notes
    /// and the payments received.
    pub fn balance_due(&self) -> Option<Money> {
        let document = self.document.as_ref().filter(|_| self.status == InvoiceStatus::Issued)?;
        if self.kind == Some(DocumentKind::CreditNote) {
            return None;
        }
        let payable = document.totals().payable;
        let due = (payable.amount_minor() - self.credited_minor - self.paid_minor).max(0);
        Money::new(due, payable.currency()).ok()
    }

    /// What was paid so far, in minor units.
    pub fn paid_minor(&self) -> i64 {
        self.paid_minor
    }

    /// What was refunded to cards, in minor units.
    pub fn refunded_minor(&self) -> i64 {
        self.refunded_minor
    }

    /// When nothing was left to pay.
    pub fn settled_on(&self) -> Option<Date> {
        self.settled_on
    }

    /// What card payments may give back now: what was paid beyond what the credit notes left
    /// of the total, and never more than the cards paid and were not refunded already. Each
    /// PaymentIntent with what is left of it, oldest first.
    pub fn refundable(&self) -> Vec<(String, i64)> {
        let Some(document) = self.document.as_ref() else { return Vec::new() };
        let owed = (document.totals().payable.amount_minor() - self.credited_minor).max(0);
        let mut excess = (self.paid_minor - self.refunded_minor - owed).max(0);
        let mut already = self.refunded_minor;
        let mut out = Vec::new();
        for (intent, paid) in &self.card_payments {
            let left = (paid - already).max(0);
            already = (already - paid).max(0);
            let take = left.min(excess);
            if take > 0 {
                out.push((intent.clone(), take));
                excess -= take;
            }
        }
        out
    }

    /// Whether refunds for `credit_note` were recorded.
    pub fn refunded_for(&self, credit_note: InvoiceId) -> bool {
        self.refunded_for.contains(&credit_note)
    }

    /// Whether the payment `payment_id` was recorded.
    pub fn has_payment(&self, payment_id: uuid::Uuid) -> bool {
        self.payments.contains(&payment_id)
    }
}

pub(super) fn receive(invoice: &Invoice, payment: Payment) -> Result<Vec<E>, InvoiceError> {
    if invoice.status == InvoiceStatus::None {
        return Err(InvoiceError::NotFound);
    }
    let Some(balance) = invoice.balance_due() else {
        return Err(InvoiceError::NotPayable);
    };
    if invoice.has_payment(payment.payment_id) {
        return Ok(Vec::new());
    }
    same_currency(balance.currency(), payment.amount.currency())?;
    if payment.amount.amount_minor() <= 0 {
        return Err(InvoiceError::PaymentNotPositive);
    }
    let reference = payment
        .reference
        .as_deref()
        .map(|r| {
            checked("a payment reference", r, 140).map_err(|e| InvoiceError::PaymentReference(e.to_string()))
        })
        .transpose()?;
    let currency = balance.currency();
    let applied_minor = payment.amount.amount_minor().min(balance.amount_minor());
    let money = |minor: i64| Money::new(minor, currency).map_err(|_| InvoiceError::PaymentNotPositive);
    let applied = money(applied_minor)?;
    let credit = money(payment.amount.amount_minor() - applied_minor)?;
    let balance_due = money(balance.amount_minor() - applied_minor)?;
    let mut events = vec![E::PaymentReceived {
        payment_id: payment.payment_id,
        method: payment.method,
        amount: payment.amount,
        received_on: payment.received_on,
        reference,
        applied,
        credit,
        balance_due,
    }];
    if balance_due.amount_minor() == 0 && invoice.settled_on.is_none() {
        events.push(E::Settled { on: payment.received_on });
        if invoice.kind == Some(DocumentKind::Proforma) && invoice.paid_on.is_none() {
            events.push(E::ProformaPaid { paid_on: payment.received_on });
        }
    }
    Ok(events)
}
