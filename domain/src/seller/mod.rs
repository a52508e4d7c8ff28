//! The seller aggregate (platform-level, one of it): the hosting provider as its documents
//! name it — legal name, address, VAT id, registration number, bank account — and which series
//! numbers each kind of document.
//!
//! Every change is an event and reaches the documents issued after it: a document copies the
//! seller as it is when it is issued and never changes afterwards.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

pub use command::SellerCommand;
pub use error::SellerError;
pub use event::SellerEvent;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::billing::{DocumentKind, Party, PaymentMeans};
use crate::series::SeriesPrefix;

/// The id of the one seller aggregate.
pub const SELLER_ID: &str = "platform";

/// The seller's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    party: Option<Party>,
    payment: Option<PaymentMeans>,
    invoice_series: Option<SeriesPrefix>,
    credit_note_series: Option<SeriesPrefix>,
    proforma_series: Option<SeriesPrefix>,
}

impl Seller {
    /// The seller as documents name it, and how buyers pay it.
    pub fn details(&self) -> Result<(&Party, &PaymentMeans), SellerError> {
        match (&self.party, &self.payment) {
            (Some(party), Some(payment)) => Ok((party, payment)),
            _ => Err(SellerError::NotConfigured),
        }
    }

    /// The series that numbers documents of `kind`.
    pub fn series_for(&self, kind: DocumentKind) -> Result<&SeriesPrefix, SellerError> {
        let series = match kind {
            DocumentKind::Invoice => &self.invoice_series,
            DocumentKind::CreditNote => &self.credit_note_series,
            DocumentKind::Proforma => &self.proforma_series,
        };
        series.as_ref().ok_or(SellerError::NoSeries(kind))
    }

    fn series_slot(&mut self, kind: DocumentKind) -> &mut Option<SeriesPrefix> {
        match kind {
            DocumentKind::Invoice => &mut self.invoice_series,
            DocumentKind::CreditNote => &mut self.credit_note_series,
            DocumentKind::Proforma => &mut self.proforma_series,
        }
    }
}

impl crate::aggregate::Consequences for Seller {}

impl Aggregate for Seller {
    const TYPE: &'static str = "seller";
    type Command = SellerCommand;
    type Event = SellerEvent;
    type Error = SellerError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SellerCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SellerError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SellerEvent) {
        match event {
            SellerEvent::DetailsChanged { party, payment } => {
                self.party = Some(*party);
                self.payment = Some(payment);
            }
            SellerEvent::SeriesChosen { kind, prefix } => *self.series_slot(kind) = Some(prefix),
        }
    }
}
