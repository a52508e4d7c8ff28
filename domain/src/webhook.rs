//! A webhook delivery from a payment provider, processed once: its id derives from the
//! provider's event id, and it is recorded in the same commit as whatever the event caused, so
//! a second delivery of the same event finds it and changes nothing.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, RefusalKind};
use crate::ids::{InvoiceId, TenantId};

/// The id of the delivery of `provider`'s event `event_id`.
pub fn delivery_id(provider: &str, event_id: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("berth:webhook:{provider}:{event_id}").as_bytes())
}

/// What can be asked of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookCommand {
    /// Record the event as processed, with what came of it.
    Record {
        /// What it was.
        receipt: WebhookReceipt,
    },
}

/// A processed event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookReceipt {
    /// `stripe`.
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// `applied`, `already_recorded`, `ignored` ...
    pub outcome: String,
    /// In words.
    pub detail: String,
    /// The invoice it was about, if any.
    pub invoice_id: Option<InvoiceId>,
    /// That invoice's tenant.
    pub tenant_id: Option<TenantId>,
}

/// Something that happened to a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// The event was processed.
    Processed {
        /// What it was and what came of it.
        receipt: WebhookReceipt,
    },
}

impl DomainEvent for WebhookEvent {
    fn event_type(&self) -> String {
        "WebhookProcessed".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for WebhookEvent {}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Processed before.
    #[error("the event was processed already")]
    AlreadyProcessed,
}

impl Refusal for WebhookError {
    fn code(&self) -> &'static str {
        "webhook-already-processed"
    }

    fn kind(&self) -> RefusalKind {
        RefusalKind::Conflict
    }
}

/// A delivery's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    receipt: Option<WebhookReceipt>,
}

impl WebhookDelivery {
    /// What was recorded, once processed.
    pub fn receipt(&self) -> Option<&WebhookReceipt> {
        self.receipt.as_ref()
    }
}

impl crate::aggregate::Consequences for WebhookDelivery {}

impl Aggregate for WebhookDelivery {
    const TYPE: &'static str = "webhook";
    type Command = WebhookCommand;
    type Event = WebhookEvent;
    type Error = WebhookError;
    type Services = ();

    async fn handle(
        &mut self,
        command: WebhookCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), WebhookError> {
        let WebhookCommand::Record { receipt } = command;
        if self.receipt.is_some() {
            return Err(WebhookError::AlreadyProcessed);
        }
        sink.write(WebhookEvent::Processed { receipt }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: WebhookEvent) {
        let WebhookEvent::Processed { receipt } = event;
        self.receipt = Some(receipt);
    }
}
