//! The renewal saga: a subscription's invoices and periods, on its events.
//!
//! - A paid period begins (`Subscribed` without a trial, `PeriodStarted`): its invoice is issued,
//!   billed in advance from the subscription as it was at that event (`period_charges`), and
//!   claiming the period, so it is invoiced once.
//! - A period ends (`PeriodEnded`, from its durable timer): usage beyond the plan in that
//!   period is invoiced, and the next period begins on the next plan's terms as they are then
//!   (`Renew`), unless the subscription ends with the period.
//! - An upgrade or an immediate cancellation: see [`super::proration`].
//!
//! Every document's id derives from the subscription and what it bills, and every command's
//! id from the event and the step, so a redelivered event repeats nothing.

use std::time::Duration;

use berth_domain::billing::DocumentKind;
use berth_domain::event::Event;
use berth_domain::ids::SubscriptionId;
use berth_domain::invoice::InvoiceCommand;
use berth_domain::plan::Plan;
use berth_domain::subscription::{
    period_charges, Subscription, SubscriptionCommand, SubscriptionEvent, SubscriptionStatus,
};
use berth_domain::usage::Usage;
use berth_eventstore::execute::ExecuteError;
use berth_eventstore::recorded::Recorded;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::documents::{document_id, Issuer};
use crate::context::SagaContext;
use crate::node::saga_metadata;
use crate::saga::{Outcome, Saga, Tuning};

/// The name its commands carry.
pub(crate) const SAGA: &str = "billing";

/// The renewal saga (consumes subscription events).
pub struct Renewal {
    pub(crate) context: SagaContext,
}

/// `[sagas.billing]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenewalSettings {
    /// Subscription events worked on at once per sagas process.
    pub concurrency: usize,
}

impl Default for RenewalSettings {
    fn default() -> Self {
        // Issuers in one process take turns on the series only to number and commit, so more
        // at once overlap what each loads, and each turn numbers more of them in one commit
        // (10,000 renewals due at once: 16 at a time left a fifth of the two cores idle).
        Self { concurrency: 48 }
    }
}

impl Saga for Renewal {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["subscription"];
    type Settings = RenewalSettings;

    fn build(context: &SagaContext, _: &RenewalSettings) -> Self {
        Self { context: context.clone() }
    }

    fn tuning(settings: &RenewalSettings) -> Tuning {
        Tuning { concurrency: settings.concurrency.max(1), takeover: Duration::from_secs(30) }
    }

    fn wants(&self, event: &Recorded) -> bool {
        use SubscriptionEvent as E;
        matches!(
            &event.event,
            Event::Subscription(
                E::Subscribed { trial: false, .. }
                    | E::PeriodStarted { .. }
                    | E::PeriodEnded { .. }
                    | E::Upgraded { proration: Some(_), .. }
                    | E::Cancelled { credit: Some(_), .. }
            )
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(id) = event.aggregate_uuid().map(SubscriptionId::from_uuid) else {
            return Outcome::Failed(format!("`{}` is not a subscription id", event.aggregate_id));
        };
        let history = match self.context.store.history::<Subscription>(&id.to_string()).await {
            Ok(history) => history,
            Err(error) => return Outcome::later(error),
        };
        let Event::Subscription(happened) = &event.event else { return Outcome::Done };
        match happened {
            SubscriptionEvent::Subscribed { .. } | SubscriptionEvent::PeriodStarted { .. } => {
                self.invoice_period(event, id, &state_at(&history, event.sequence)).await
            }
            SubscriptionEvent::PeriodEnded { .. } => {
                self.end_period(event, id, &state_at(&history, event.sequence)).await
            }
            SubscriptionEvent::Upgraded { proration: Some(change), .. } => {
                super::proration::upgraded(self, event, id, &history, change).await
            }
            SubscriptionEvent::Cancelled { credit: Some(credit), on, .. } => {
                super::proration::cancelled(self, event, id, &history, *credit, *on).await
            }
            _ => Outcome::Done,
        }
    }
}

/// The subscription as it was right after its event at `sequence`.
pub(crate) fn state_at(history: &[(i64, SubscriptionEvent)], sequence: i64) -> Subscription {
    let mut state = Subscription::default();
    for (_, event) in history.iter().filter(|(s, _)| *s <= sequence) {
        state.apply(event.clone());
    }
    state
}

impl Renewal {
    pub(crate) fn issuer(&self) -> Issuer<'_> {
        Issuer {
            store: &self.context.store,
            policy: &self.context.billing,
            retry: self.context.retry,
            today: self.context.clock.now().date(),
        }
    }

    /// The invoice of the paid period `state` is in, billed in advance.
    async fn invoice_period(&self, event: &Recorded, id: SubscriptionId, state: &Subscription) -> Outcome {
        let (Some(tenant), Some(period)) = (state.tenant_id(), state.current_period()) else {
            return Outcome::Done;
        };
        let charges = match period_charges(state, &Usage::default()) {
            Ok(charges) => charges,
            Err(error) => return Outcome::Failed(format!("the period's charges: {error}")),
        };
        let invoice = document_id("period", id, period.start());
        let create = InvoiceCommand::CreateDraft {
            invoice_id: invoice,
            tenant_id: tenant,
            kind: DocumentKind::Invoice,
            currency: charges.currency,
            lines: charges.lines,
            coupon: charges.coupon,
            billing: Some(charges.billing),
            corrects: None,
            from_proforma: None,
        };
        let issuer = self.issuer();
        if let Err(outcome) = issuer.draft(invoice, create, &saga_metadata(event, SAGA, "period-draft")).await
        {
            return outcome;
        }
        issuer.issue(invoice, &saga_metadata(event, SAGA, "period-issue")).await
    }

    /// A period ended: its usage beyond the plan is invoiced, then the next period begins.
    async fn end_period(&self, event: &Recorded, id: SubscriptionId, state: &Subscription) -> Outcome {
        let (Some(tenant), Some(period)) = (state.tenant_id(), state.current_period()) else {
            return Outcome::Done;
        };
        if state.status() == SubscriptionStatus::Active {
            let usage = match self.context.store.load::<Usage>(&id.to_string()).await {
                Ok(loaded) => loaded.aggregate,
                Err(error) => return Outcome::later(error),
            };
            let lines = match period_charges(state, &usage) {
                Ok(charges) => charges.lines.into_iter().skip(1).collect::<Vec<_>>(),
                Err(error) => return Outcome::Failed(format!("the period's usage: {error}")),
            };
            if let Some(create) = super::documents::create(
                document_id("usage", id, period.start()),
                tenant,
                DocumentKind::Invoice,
                lines,
                None,
            ) {
                let invoice = document_id("usage", id, period.start());
                let issuer = self.issuer();
                if let Err(outcome) =
                    issuer.draft(invoice, create, &saga_metadata(event, SAGA, "usage-draft")).await
                {
                    return outcome;
                }
                if let outcome @ (Outcome::RetryLater(_) | Outcome::Failed(_)) =
                    issuer.issue(invoice, &saga_metadata(event, SAGA, "usage-issue")).await
                {
                    return outcome;
                }
            }
        }
        if state.cancels_at_period_end() {
            return Outcome::Done;
        }
        self.renew(event, id, state).await
    }

    /// Begins the next period on the next plan's terms as they are on its first day.
    async fn renew(&self, event: &Recorded, id: SubscriptionId, state: &Subscription) -> Outcome {
        let (Some(next), Some(current), Some(period)) =
            (state.next_plan(), state.plan(), state.current_period())
        else {
            return Outcome::Done;
        };
        let plan = match self.context.store.load::<Plan>(&next.to_string()).await {
            Ok(loaded) => loaded.aggregate,
            Err(error) => return Outcome::later(error),
        };
        let first_day = period.end().next_day().unwrap_or(period.end());
        let terms = match plan.terms(current.currency(), current.period, first_day) {
            Ok(terms) => terms,
            Err(error) => return Outcome::Failed(format!("the next period's terms: {error}")),
        };
        let meta = saga_metadata(event, SAGA, "renew");
        let renew = SubscriptionCommand::Renew { plan: terms };
        match self
            .context
            .store
            .execute::<Subscription>(&id.to_string(), renew, &meta, self.context.retry)
            .await
        {
            Ok(_) => Outcome::Done,
            Err(ExecuteError::Rejected(refusal)) => {
                tracing::info!(%refusal, subscription = %id, "not renewed: the subscription moved on");
                Outcome::Done
            }
            Err(error) => Outcome::later(error),
        }
    }
}
