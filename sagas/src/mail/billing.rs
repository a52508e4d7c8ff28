//! The billing mails: a receipt for every payment, a notice for every failed charge (with the
//! next attempt's date, or that there is none), the suspension notice when grace ends unpaid,
//! and the reinstatement once a suspended tenant's invoice is paid. Each is keyed by what it
//! is about (the payment; the document and the attempt; the document), so however often an
//! event is delivered, and whichever way a payment arrived, one mail goes out.

use std::time::Duration;

use berth_domain::dunning::{Dunning, DunningEvent};
use berth_domain::event::Event;
use berth_domain::ids::TenantId;
use berth_domain::invoice::{Invoice, InvoiceEvent};
use berth_domain::organization::Organization;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::context::SagaContext;
use crate::mail::catalog::{PAYMENT_FAILED, PAYMENT_RECEIPT, REINSTATEMENT, SUSPENSION_NOTICE};
use crate::mail::{amount, queue, recent, recipients, OutgoingMail};
use crate::saga::{Outcome, Saga, Tuning};

/// The billing mail saga (consumes invoice and dunning events).
pub struct BillingMail {
    context: SagaContext,
    max_age_hours: u64,
}

/// `[sagas.billing_mail]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BillingMailSettings {
    /// Mails queued at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
    /// Events recorded longer ago than this many hours are not mailed about (0: any age).
    pub max_age_hours: u64,
}

impl Default for BillingMailSettings {
    fn default() -> Self {
        Self { concurrency: 4, takeover_secs: 60, max_age_hours: 168 }
    }
}

impl Saga for BillingMail {
    const NAME: &'static str = "billing_mail";
    const AGGREGATES: &'static [&'static str] = &["invoice", "dunning"];
    type Settings = BillingMailSettings;

    fn build(context: &SagaContext, settings: &BillingMailSettings) -> Self {
        Self { context: context.clone(), max_age_hours: settings.max_age_hours }
    }

    fn tuning(settings: &BillingMailSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Invoice(InvoiceEvent::PaymentReceived { .. })
                | Event::Dunning(
                    DunningEvent::AttemptFailed { .. }
                        | DunningEvent::GraceEnded
                        | DunningEvent::Settled { .. }
                )
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        if !recent(event.recorded_at, self.max_age_hours) {
            return Outcome::Done;
        }
        match self.mail(event).await {
            Ok(()) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }
}

impl BillingMail {
    async fn mail(&self, event: &Recorded) -> Result<(), Outcome> {
        let store = &self.context.store;
        let invoice = store.load::<Invoice>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
        let Some(tenant) = invoice.tenant_id() else { return Ok(()) };
        let number = invoice.document().map(|d| d.number().to_string()).unwrap_or_default();
        let today = self.context.clock.now().date().to_string();
        let (key, template, context) = match &event.event {
            Event::Invoice(InvoiceEvent::PaymentReceived {
                payment_id, amount: paid, received_on, ..
            }) => (
                format!("payment-receipt:{payment_id}"),
                PAYMENT_RECEIPT,
                json!({"invoice_number": number, "amount": amount(*paid), "paid_on": received_on.to_string()}),
            ),
            Event::Dunning(DunningEvent::AttemptFailed { attempt, message, next_retry_at, .. }) => {
                let due = invoice.balance_due().map(amount).unwrap_or_default();
                (
                    format!("payment-failed:{}:{attempt}", event.aggregate_id),
                    PAYMENT_FAILED,
                    json!({"invoice_number": number, "amount": due, "reason": message,
                           "next_retry": next_retry_at.map(|at| at.date().to_string())}),
                )
            }
            Event::Dunning(DunningEvent::GraceEnded) => {
                let due = invoice.balance_due().map(amount);
                (
                    format!("suspension:{}", event.aggregate_id),
                    SUSPENSION_NOTICE,
                    json!({"tenant_name": self.tenant_name(tenant).await?, "suspended_on": today,
                           "reason": format!("invoice {number} is unpaid"), "amount_due": due}),
                )
            }
            Event::Dunning(DunningEvent::Settled { .. }) => {
                let dunning =
                    store.load::<Dunning>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
                if !dunning.grace_ended() {
                    return Ok(());
                }
                (
                    format!("reinstatement:{}", event.aggregate_id),
                    REINSTATEMENT,
                    json!({"tenant_name": self.tenant_name(tenant).await?, "reinstated_on": today}),
                )
            }
            _ => return Ok(()),
        };
        let to = recipients::billing_emails(&self.context.pool, tenant).await.map_err(Outcome::later)?;
        if to.is_empty() {
            return Err(Outcome::RetryLater(format!(
                "no billing address or owner known for tenant {tenant}"
            )));
        }
        self.queue(key, tenant, to, template, context).await
    }

    async fn tenant_name(&self, tenant: TenantId) -> Result<String, Outcome> {
        let organization = self
            .context
            .store
            .load::<Organization>(&tenant.to_string())
            .await
            .map_err(Outcome::later)?
            .aggregate;
        Ok(organization.name().map_or_else(|| tenant.to_string(), |n| n.as_str().to_owned()))
    }

    async fn queue(
        &self,
        key: String,
        tenant: TenantId,
        to: Vec<String>,
        template: &'static str,
        context: Value,
    ) -> Result<(), Outcome> {
        let mail =
            OutgoingMail { key, tenant_id: Some(tenant), to, template, context, attachments: Vec::new() };
        queue(&self.context.mail.outbox, &self.context.pool, mail).await
    }
}
