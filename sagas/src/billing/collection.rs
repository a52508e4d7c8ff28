//! The collection saga: an issued invoice or proforma is charged to the tenant's saved card,
//! retried on the dunning schedule, and — unpaid when grace ends — the tenant's sites are
//! suspended until it is paid, when exactly those sites are resumed.
//!
//! - `InvoiceIssued`: the document's collection opens (once; its id is the document's), with
//!   a card when the tenant has one, otherwise only the grace period runs from the due date.
//! - `DunningOpened` with a card and `DunningRetryDue` (from the retry timer): one charge,
//!   whose idempotency key is the document and the attempt, so a redelivered event or a crash
//!   between the charge and its record replays Stripe's first answer instead of charging
//!   again. A success records the payment (with the settlement, in one commit); a decline
//!   records the failure, which schedules the next attempt and, the first time, grace.
//! - `DunningGraceEnded` (from its timer): the subscription is past due and each active site
//!   is suspended, each in one commit with its hold on the collection, so a payment that
//!   lands meanwhile stops the rest and resumes those already held.
//! - `DunningSettled`: the held sites are resumed and the subscription is in good standing.

use std::time::Duration;

use berth_domain::dunning::{AttemptResult, Dunning, DunningCommand, DunningEvent, DunningStatus};
use berth_domain::event::Event;
use berth_domain::ids::{InvoiceId, SiteId, TenantId};
use berth_domain::invoice::{Invoice, InvoiceEvent, Payment, PaymentMethod};
use berth_domain::payment_account::PaymentAccount;
use berth_domain::site::{Site, SiteCommand, SiteError, SiteStatus};
use berth_domain::subscription::{Subscription, SubscriptionCommand};
use berth_eventstore::billing::{provider_payment_id, record_payment, PaymentRequest};
use berth_eventstore::recorded::Recorded;
use berth_eventstore::unit_of_work::{UnitError, UnitOfWork};
use berth_payments::{ChargeOutcome, ChargeRequest, GatewayError};
use serde::{Deserialize, Serialize};

use crate::context::SagaContext;
use crate::node::saga_metadata;
use crate::outcome::record;
use crate::saga::{Outcome, Saga, Tuning};

/// The collection saga.
pub struct Collection {
    context: SagaContext,
}

/// `[sagas.collection]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectionSettings {
    /// Events worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds before an event whose process died is handed to another.
    pub takeover_secs: u64,
}

impl Default for CollectionSettings {
    fn default() -> Self {
        Self { concurrency: 32, takeover_secs: 30 }
    }
}

impl Saga for Collection {
    const NAME: &'static str = "collection";
    const AGGREGATES: &'static [&'static str] = &["invoice", "dunning"];
    type Settings = CollectionSettings;

    fn build(context: &SagaContext, _: &CollectionSettings) -> Self {
        Self { context: context.clone() }
    }

    fn tuning(settings: &CollectionSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        use DunningEvent as D;
        matches!(
            &event.event,
            Event::Invoice(InvoiceEvent::Issued { .. } | InvoiceEvent::Credited { .. })
                | Event::Dunning(
                    D::Opened { card: true, .. } | D::RetryDue { .. } | D::GraceEnded | D::Settled { .. }
                )
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(invoice) = event.aggregate_uuid().map(InvoiceId::from_uuid) else {
            return Outcome::Failed(format!("`{}` is not a document id", event.aggregate_id));
        };
        match &event.event {
            Event::Invoice(InvoiceEvent::Issued { .. }) => self.open(event, invoice).await,
            Event::Invoice(InvoiceEvent::Credited { credit_note, .. }) => {
                self.credited(event, invoice, *credit_note).await
            }
            Event::Dunning(DunningEvent::Opened { .. }) => self.charge(event, invoice, 1).await,
            Event::Dunning(DunningEvent::RetryDue { attempt }) => self.charge(event, invoice, *attempt).await,
            Event::Dunning(DunningEvent::GraceEnded) => self.suspend(event, invoice).await,
            Event::Dunning(DunningEvent::Settled { held, .. }) => self.resume(event, invoice, held).await,
            _ => Outcome::Done,
        }
    }
}

fn days(n: u16) -> time::Duration {
    time::Duration::days(i64::from(n))
}

impl Collection {
    async fn open(&self, event: &Recorded, id: InvoiceId) -> Outcome {
        let invoice = match self.context.store.load::<Invoice>(&id.to_string()).await {
            Ok(loaded) => loaded.aggregate,
            Err(error) => return Outcome::later(error),
        };
        // An invoice issued from a paid proforma was paid as the proforma.
        let (Some(tenant), Some(due), None) =
            (invoice.tenant_id(), invoice.balance_due(), invoice.from_proforma())
        else {
            return Outcome::Done;
        };
        if due.amount_minor() == 0 {
            return Outcome::Done;
        }
        let account = match self.context.store.load::<PaymentAccount>(&tenant.to_string()).await {
            Ok(loaded) => loaded.aggregate,
            Err(error) => return Outcome::later(error),
        };
        let card = self.context.payments.is_some() && account.default_card().is_some();
        let due_date =
            invoice.document().and_then(|d| d.due_date()).unwrap_or(self.context.clock.now().date());
        let due_end = due_date.next_day().unwrap_or(due_date).midnight().assume_utc();
        let open = DunningCommand::Open {
            invoice_id: id,
            tenant_id: tenant,
            subscription_id: invoice.billing().map(|b| b.subscription_id),
            amount: due,
            card,
            grace_ends_at: due_end + days(self.context.billing.grace_days),
        };
        let meta = saga_metadata(event, Self::NAME, "open");
        record::<Dunning>(&self.context.store, self.context.retry, &id.to_string(), open, &meta, &[]).await
    }

    /// A credit note: card payments beyond what is left owed are refunded (each refund keyed
    /// by the credit note and the PaymentIntent), and one that leaves nothing to pay ends the
    /// collection.
    async fn credited(&self, event: &Recorded, id: InvoiceId, credit_note: InvoiceId) -> Outcome {
        let invoice = match self.context.store.load::<Invoice>(&id.to_string()).await {
            Ok(loaded) => loaded.aggregate,
            Err(error) => return Outcome::later(error),
        };
        let refundable = invoice.refundable();
        if let (false, false, Some(gateway), Some(currency)) = (
            refundable.is_empty(),
            invoice.refunded_for(credit_note),
            self.context.payments.as_deref(),
            invoice.currency(),
        ) {
            let mut refunds = Vec::new();
            let mut total = 0;
            for (intent, amount) in refundable {
                let key = format!("berth-refund-{credit_note}-{intent}");
                match gateway.refund(&intent, amount, &key).await {
                    Ok(refund) => {
                        total += refund.amount_minor;
                        refunds.push((refund.id, intent));
                    }
                    Err(GatewayError::Unavailable(why)) => return Outcome::later(why),
                    Err(GatewayError::Invalid { message, .. }) => {
                        tracing::warn!(invoice = %id, %intent, %message, "Stripe refused a refund");
                    }
                }
            }
            let Ok(amount) = berth_domain::money::Money::new(total, currency) else {
                return Outcome::Failed(format!("refunds of {total} do not make an amount"));
            };
            let command =
                berth_domain::invoice::InvoiceCommand::RecordRefund { credit_note, refunds, amount };
            let meta = saga_metadata(event, Self::NAME, "refund");
            if let outcome @ (Outcome::RetryLater(_) | Outcome::Failed(_)) = record::<Invoice>(
                &self.context.store,
                self.context.retry,
                &id.to_string(),
                command,
                &meta,
                &[],
            )
            .await
            {
                return outcome;
            }
        }
        if invoice.balance_due().is_none_or(|due| due.amount_minor() > 0) {
            return Outcome::Done;
        }
        let settle = DunningCommand::Settle { on: self.context.clock.now().date() };
        let meta = saga_metadata(event, Self::NAME, "credited");
        record::<Dunning>(&self.context.store, self.context.retry, &id.to_string(), settle, &meta, &[]).await
    }

    /// Attempt `attempt` at charging the document's balance to the tenant's card.
    async fn charge(&self, event: &Recorded, id: InvoiceId, attempt: u32) -> Outcome {
        let key = id.to_string();
        let (dunning, invoice) = match (
            self.context.store.load::<Dunning>(&key).await,
            self.context.store.load::<Invoice>(&key).await,
        ) {
            (Ok(d), Ok(i)) => (d.aggregate, i.aggregate),
            (Err(error), _) | (_, Err(error)) => return Outcome::later(error),
        };
        if dunning.status() == DunningStatus::Settled || dunning.attempts() >= attempt {
            return Outcome::Done;
        }
        let (Some(tenant), Some(due)) = (dunning.tenant_id(), invoice.balance_due()) else {
            return Outcome::Done;
        };
        let account = match self.context.store.load::<PaymentAccount>(&tenant.to_string()).await {
            Ok(loaded) => loaded.aggregate,
            Err(error) => return Outcome::later(error),
        };
        let now = self.context.clock.now();
        let result = match (self.context.payments.as_deref(), account.customer(), account.default_card()) {
            (Some(gateway), Some(customer), Some(card)) => {
                let request = ChargeRequest {
                    customer: customer.to_owned(),
                    payment_method: card.payment_method.clone(),
                    amount_minor: due.amount_minor(),
                    currency: due.currency().as_str().to_owned(),
                    idempotency_key: format!("berth-invoice-{id}-attempt-{attempt}"),
                    metadata: vec![
                        ("invoice".to_owned(), id.to_string()),
                        ("tenant".to_owned(), tenant.to_string()),
                        ("attempt".to_owned(), attempt.to_string()),
                    ],
                    description: invoice
                        .document()
                        .map_or_else(|| format!("Berth {id}"), |d| format!("Berth {}", d.number())),
                };
                match gateway.charge(&request).await {
                    Ok(outcome) => outcome,
                    Err(GatewayError::Unavailable(why)) => return Outcome::later(why),
                    Err(GatewayError::Invalid { code, message, .. }) => {
                        ChargeOutcome::Declined { payment_intent: None, code, decline_code: None, message }
                    }
                }
            }
            _ => ChargeOutcome::Declined {
                payment_intent: None,
                code: "no_payment_method".to_owned(),
                decline_code: None,
                message: "the tenant has no card on file".to_owned(),
            },
        };
        match result {
            ChargeOutcome::Succeeded { payment_intent, amount_minor } => {
                self.paid(event, id, tenant, attempt, &payment_intent, amount_minor, due.currency()).await
            }
            ChargeOutcome::Pending { .. } => Outcome::Done,
            ChargeOutcome::Declined { payment_intent, code, decline_code, message } => {
                let policy = &self.context.billing;
                let first = dunning.grace_ends_at().map_or(now, |g| g - days(policy.grace_days));
                let failures = dunning.failures() as usize;
                let next_retry_at = policy.dunning_days.get(failures).map(|d| first + days(*d));
                let code = decline_code.map_or(code.clone(), |d| format!("{code}:{d}"));
                let failed = DunningCommand::RecordAttempt {
                    attempt,
                    result: AttemptResult::Declined { payment_intent, code, message },
                    next_retry_at,
                    grace_ends_at: now + days(policy.grace_days),
                };
                let meta = saga_metadata(event, Self::NAME, "declined");
                record::<Dunning>(&self.context.store, self.context.retry, &key, failed, &meta, &[]).await
            }
        }
    }

    #[expect(clippy::too_many_arguments, reason = "one payment's facts, each its own")]
    async fn paid(
        &self,
        event: &Recorded,
        id: InvoiceId,
        _tenant: TenantId,
        attempt: u32,
        payment_intent: &str,
        amount_minor: i64,
        currency: berth_domain::money::Currency,
    ) -> Outcome {
        let key = id.to_string();
        let succeeded = DunningCommand::RecordAttempt {
            attempt,
            result: AttemptResult::Succeeded { payment_intent: payment_intent.to_owned() },
            next_retry_at: None,
            grace_ends_at: self.context.clock.now(),
        };
        let meta = saga_metadata(event, Self::NAME, "succeeded");
        if let outcome @ (Outcome::RetryLater(_) | Outcome::Failed(_)) =
            record::<Dunning>(&self.context.store, self.context.retry, &key, succeeded, &meta, &[]).await
        {
            return outcome;
        }
        let Ok(amount) = berth_domain::money::Money::new(amount_minor, currency) else {
            return Outcome::Failed(format!("Stripe reported {amount_minor} received"));
        };
        let request = PaymentRequest {
            invoice_id: id,
            payment: Payment {
                payment_id: provider_payment_id("stripe", payment_intent),
                method: PaymentMethod::Card { payment_intent: payment_intent.to_owned() },
                amount,
                received_on: self.context.clock.now().date(),
                reference: Some(payment_intent.to_owned()),
            },
            webhook: None,
        };
        let meta = saga_metadata(event, Self::NAME, "payment");
        match record_payment(&self.context.store, &request, &meta, self.context.retry).await {
            Ok(_) => Outcome::Done,
            Err(berth_eventstore::billing::BillingError::Rejected(refusal)) => {
                tracing::info!(%refusal, invoice = %id, "payment not recorded: the document moved on");
                Outcome::Done
            }
            Err(error) => Outcome::later(error),
        }
    }

    /// Grace ended unpaid: past due, and every active site held and suspended.
    async fn suspend(&self, event: &Recorded, id: InvoiceId) -> Outcome {
        let key = id.to_string();
        let dunning = match self.context.store.load::<Dunning>(&key).await {
            Ok(loaded) => loaded.aggregate,
            Err(error) => return Outcome::later(error),
        };
        let Some(tenant) = dunning.tenant_id() else { return Outcome::Done };
        if dunning.status() == DunningStatus::Settled {
            return Outcome::Done;
        }
        if let Some(subscription) = dunning.subscription_id() {
            let meta = saga_metadata(event, Self::NAME, "past-due");
            let command = SubscriptionCommand::MarkPastDue { invoice: id };
            let id = subscription.to_string();
            if let outcome @ (Outcome::RetryLater(_) | Outcome::Failed(_)) =
                record::<Subscription>(&self.context.store, self.context.retry, &id, command, &meta, &[])
                    .await
            {
                return outcome;
            }
        }
        let sites = match tenant_sites(&self.context, tenant).await {
            Ok(sites) => sites,
            Err(error) => return Outcome::later(error),
        };
        for site in sites {
            let meta = saga_metadata(event, Self::NAME, &format!("hold:{site}"));
            let mut unit = UnitOfWork::new(&self.context.store);
            let decided = async {
                unit.decide::<Dunning>(&key, DunningCommand::HoldSite { site_id: site }).await?;
                unit.decide::<Site>(&site.to_string(), SiteCommand::SuspendUnpaid).await?;
                unit.commit(&meta).await
            };
            match decided.await {
                Ok(_) => {}
                Err(UnitError::Rejected(refused)) if refused.aggregate() == "dunning" => {
                    tracing::info!(invoice = %id, "paid while suspending: the other sites stay up");
                    return Outcome::Done;
                }
                // A site deleted meanwhile; a busy one is tried again with the event.
                Err(UnitError::Rejected(refused)) if refused.code() != "site-busy" => {}
                Err(error) => return Outcome::later(error),
            }
        }
        Outcome::Done
    }

    /// Paid: the held sites resume, and the subscription is in good standing.
    async fn resume(&self, event: &Recorded, id: InvoiceId, held: &[SiteId]) -> Outcome {
        for site in held {
            let meta = saga_metadata(event, Self::NAME, &format!("resume:{site}"));
            let command = SiteCommand::ResumePaid;
            match self
                .context
                .store
                .execute::<Site>(&site.to_string(), command, &meta, self.context.retry)
                .await
            {
                Ok(_) => {}
                Err(berth_eventstore::execute::ExecuteError::Rejected(refusal @ SiteError::Busy(_))) => {
                    return Outcome::later(refusal);
                }
                Err(berth_eventstore::execute::ExecuteError::Rejected(_)) => {}
                Err(error) => return Outcome::later(error),
            }
        }
        let dunning = match self.context.store.load::<Dunning>(&id.to_string()).await {
            Ok(loaded) => loaded.aggregate,
            Err(error) => return Outcome::later(error),
        };
        // Only grace ending unpaid marks the subscription past due: a collection settled before
        // that has nothing to clear (and skips a load and an empty commit per renewal).
        if let (Some(subscription), true) = (dunning.subscription_id(), dunning.grace_ended()) {
            let meta = saga_metadata(event, Self::NAME, "good-standing");
            let command = SubscriptionCommand::ClearPastDue { invoice: id };
            return record::<Subscription>(
                &self.context.store,
                self.context.retry,
                &subscription.to_string(),
                command,
                &meta,
                &[],
            )
            .await;
        }
        Outcome::Done
    }
}

/// The tenant's active sites, from the log (a view could lag behind a site just created).
async fn tenant_sites(context: &SagaContext, tenant: TenantId) -> Result<Vec<SiteId>, String> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'site' AND tenant_id = $1",
    )
    .bind(tenant.as_uuid())
    .fetch_all(&context.pool)
    .await
    .map_err(|e| e.to_string())?;
    let mut active = Vec::new();
    for id in ids {
        let site = context.store.load::<Site>(&id).await.map_err(|e| e.to_string())?.aggregate;
        if site.status() == SiteStatus::Active {
            if let Ok(uuid) = id.parse() {
                active.push(SiteId::from_uuid(uuid));
            }
        }
    }
    active.sort();
    Ok(active)
}
