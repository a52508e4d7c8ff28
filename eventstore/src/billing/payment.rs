//! Recording a payment: the invoice's `PaymentReceived` (and `Settled` when nothing is left),
//! the collection's settlement, and — for a payment a webhook reports — the delivery's receipt,
//! all in one commit. So a payment is recorded once however it arrives (the saga's own charge,
//! the webhook, both, repeated, in any order): its id derives from the provider's payment, and
//! the delivery's id from the provider's event.

use berth_domain::dunning::{Dunning, DunningCommand, DunningStatus};
use berth_domain::ids::InvoiceId;
use berth_domain::invoice::{Invoice, InvoiceCommand, Payment};
use berth_domain::money::Money;
use berth_domain::webhook::{delivery_id, WebhookCommand, WebhookDelivery, WebhookError, WebhookReceipt};
use tracing::instrument;

use super::{Attempt, BillingError};
use crate::execute::{backoff, RetryPolicy};
use crate::metadata::CommandMetadata;
use crate::store::EventStore;
use crate::unit_of_work::UnitOfWork;

/// A payment to record against an invoice or proforma.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    /// The document.
    pub invoice_id: InvoiceId,
    /// The payment.
    pub payment: Payment,
    /// The webhook delivery that reported it, recorded with it.
    pub webhook: Option<WebhookReceipt>,
}

/// What recording a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecorded {
    /// The invoice's version afterwards.
    pub version: i64,
    /// False when the payment was recorded before (by another path or an earlier delivery).
    pub new: bool,
    /// Whether nothing is left to pay.
    pub settled: bool,
    /// What is left to pay.
    pub balance_due: Option<Money>,
    /// True when the webhook delivery was processed before: nothing was written.
    pub duplicate_delivery: bool,
}

/// The payment id of the provider's payment `reference` (`pi_...`).
pub fn provider_payment_id(provider: &str, reference: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("berth:payment:{provider}:{reference}").as_bytes())
}

/// Records `request`, deciding again when another writer changed the invoice or its
/// collection first.
#[instrument(skip_all, fields(invoice_id = %request.invoice_id, payment_id = %request.payment.payment_id))]
pub async fn record_payment(
    store: &EventStore,
    request: &PaymentRequest,
    metadata: &CommandMetadata,
    retry: RetryPolicy,
) -> Result<PaymentRecorded, BillingError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_record(store, request, metadata).await {
            Ok(recorded) => return Ok(recorded),
            Err(Attempt::Lost) if attempt < retry.max_attempts => {
                tokio::time::sleep(backoff(retry.base_delay, attempt)).await;
            }
            Err(Attempt::Lost) => return Err(BillingError::Conflict { attempts: attempt }),
            Err(Attempt::Failed(error)) => return Err(error),
        }
    }
}

async fn try_record(
    store: &EventStore,
    request: &PaymentRequest,
    metadata: &CommandMetadata,
) -> Result<PaymentRecorded, Attempt> {
    let id = request.invoice_id.to_string();
    let invoice = store.load::<Invoice>(&id).await?;
    let state = invoice.aggregate.clone();
    let known = state.has_payment(request.payment.payment_id);
    let mut unit = UnitOfWork::new(store);
    let mut writes = 0;
    if let Some(receipt) = &request.webhook {
        let delivery = delivery_id(&receipt.provider, &receipt.event_id).to_string();
        let loaded = store.load::<WebhookDelivery>(&delivery).await?;
        if loaded.aggregate.receipt().is_some() {
            return Ok(answer(&state, invoice.version, false, true));
        }
        let mut receipt = receipt.clone();
        if known {
            "already_recorded".clone_into(&mut receipt.outcome);
        }
        unit.decide_loaded::<WebhookDelivery>(&delivery, loaded, WebhookCommand::Record { receipt }).await?;
        writes += 1;
    }
    let settles = !known
        && state.settled_on().is_none()
        && state.balance_due().is_some_and(|due| due.amount_minor() <= request.payment.amount.amount_minor());
    let version = invoice.version;
    unit.decide_loaded::<Invoice>(
        &id,
        invoice,
        InvoiceCommand::ReceivePayment { payment: request.payment.clone() },
    )
    .await?;
    if !known {
        writes += 1;
    }
    if settles {
        let dunning = store.load::<Dunning>(&id).await?;
        if !matches!(dunning.aggregate.status(), DunningStatus::None | DunningStatus::Settled) {
            let settle = DunningCommand::Settle { on: request.payment.received_on };
            unit.decide_loaded::<Dunning>(&id, dunning, settle).await?;
        }
    }
    if writes == 0 {
        return Ok(answer(&state, version, false, false));
    }
    match unit.commit(metadata).await {
        Ok(outcome) => {
            let after = store.load::<Invoice>(&id).await?;
            Ok(PaymentRecorded {
                version: after.version,
                new: !known && !outcome.duplicate,
                settled: after.aggregate.settled_on().is_some(),
                balance_due: after.aggregate.balance_due(),
                duplicate_delivery: false,
            })
        }
        Err(error) => {
            let failure = Attempt::from(error);
            if let Attempt::Failed(BillingError::Rejected(refused)) = &failure {
                if refused.downcast_ref::<WebhookError>().is_some() {
                    return Ok(answer(&state, version, false, true));
                }
            }
            Err(failure)
        }
    }
}

fn answer(state: &Invoice, version: i64, new: bool, duplicate_delivery: bool) -> PaymentRecorded {
    PaymentRecorded {
        version,
        new,
        settled: state.settled_on().is_some(),
        balance_due: state.balance_due(),
        duplicate_delivery,
    }
}
