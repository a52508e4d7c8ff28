//! Dunning: collecting one invoice or proforma, from its issue until nothing is left to pay.
//!
//! The collection saga charges the tenant's saved card and records each attempt here. A failed
//! attempt schedules the next one (`billing.dunning_days` after the first failure) and, on the
//! first failure, the end of the grace period (`billing.grace_days`); without a card only the
//! grace period runs. When grace ends unpaid, the saga suspends the tenant's active sites, each
//! recorded as held here in the same commit as its suspension, so that once the invoice is
//! settled exactly those sites are resumed. Settling cancels every pending timer and takes no
//! more holds: a payment that arrives while sites are being suspended wins.

mod error;
#[cfg(test)]
mod tests;

pub use error::DunningError;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::ids::{InvoiceId, SiteId, SubscriptionId, TenantId};
use crate::money::Money;
use crate::timer::{TimerChange, TimerKey};

/// Where a collection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DunningStatus {
    /// Not opened.
    #[default]
    None,
    /// Charging the saved card, or waiting for its next attempt.
    Collecting,
    /// No card: waiting for a payment by transfer (or a card added).
    AwaitingPayment,
    /// Grace ended unpaid: the tenant's sites are suspended.
    Suspended,
    /// Nothing is left to pay.
    Settled,
}

impl DunningStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Collecting => "collecting",
            Self::AwaitingPayment => "awaiting_payment",
            Self::Suspended => "suspended",
            Self::Settled => "settled",
        }
    }
}

/// How a charge attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AttemptResult {
    /// Paid (the payment is recorded on the invoice in the same commit).
    Succeeded {
        /// The provider's payment.
        payment_intent: String,
    },
    /// Declined or refused.
    Declined {
        /// The provider's payment, if one was made.
        payment_intent: Option<String>,
        /// The provider's code.
        code: String,
        /// Its words.
        message: String,
    },
}

/// What can be asked of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum DunningCommand {
    /// Start collecting an issued document. With a card, the first attempt follows at once;
    /// without, grace runs from `grace_ends_at`.
    Open {
        invoice_id: InvoiceId,
        tenant_id: TenantId,
        subscription_id: Option<SubscriptionId>,
        amount: Money,
        card: bool,
        grace_ends_at: OffsetDateTime,
    },
    /// Record how attempt `attempt` ended. On a decline, `next_retry_at` is when the next one
    /// runs (none: it was the last), and `grace_ends_at` when grace ends if this is the first
    /// failure.
    RecordAttempt {
        attempt: u32,
        result: AttemptResult,
        next_retry_at: Option<OffsetDateTime>,
        grace_ends_at: OffsetDateTime,
    },
    /// Run attempt `attempt` (from its timer).
    Retry { attempt: u32 },
    /// Grace ended (from its timer).
    EndGrace,
    /// Record that `site_id` is suspended for this invoice (same commit as its suspension).
    HoldSite { site_id: SiteId },
    /// Nothing is left to pay (same commit as the payment that settled it).
    Settle {
        #[serde(with = "crate::billing::iso_date")]
        on: Date,
    },
}

/// Something that happened to a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DunningEvent {
    /// Collection started.
    Opened {
        /// The document.
        invoice_id: InvoiceId,
        /// Its tenant.
        tenant_id: TenantId,
        /// The subscription it bills, if any.
        subscription_id: Option<SubscriptionId>,
        /// What is due.
        amount: Money,
        /// Whether a saved card is charged.
        card: bool,
        /// Without a card: when grace ends.
        grace_ends_at: Option<OffsetDateTime>,
    },
    /// An attempt was paid.
    AttemptSucceeded {
        /// Which, from 1.
        attempt: u32,
        /// The provider's payment.
        payment_intent: String,
    },
    /// An attempt failed.
    AttemptFailed {
        /// Which, from 1.
        attempt: u32,
        /// The provider's payment, if one was made.
        payment_intent: Option<String>,
        /// The provider's code.
        code: String,
        /// Its words.
        message: String,
        /// When the next attempt runs (none: no more attempts).
        next_retry_at: Option<OffsetDateTime>,
        /// When grace ends.
        grace_ends_at: OffsetDateTime,
    },
    /// The next attempt is due.
    RetryDue {
        /// Which.
        attempt: u32,
    },
    /// Grace ended unpaid.
    GraceEnded,
    /// A site was suspended for non-payment.
    SiteHeld {
        /// The site.
        site_id: SiteId,
    },
    /// Nothing is left to pay.
    Settled {
        /// When.
        #[serde(with = "crate::billing::iso_date")]
        on: Date,
        /// The sites suspended for it, to resume.
        held: Vec<SiteId>,
    },
}

impl DomainEvent for DunningEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Opened { .. } => "DunningOpened",
            Self::AttemptSucceeded { .. } => "DunningAttemptSucceeded",
            Self::AttemptFailed { .. } => "DunningAttemptFailed",
            Self::RetryDue { .. } => "DunningRetryDue",
            Self::GraceEnded => "DunningGraceEnded",
            Self::SiteHeld { .. } => "DunningSiteHeld",
            Self::Settled { .. } => "DunningSettled",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for DunningEvent {}

/// A collection's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dunning {
    invoice_id: Option<InvoiceId>,
    tenant_id: Option<TenantId>,
    subscription_id: Option<SubscriptionId>,
    amount: Option<Money>,
    status: DunningStatus,
    card: bool,
    attempts: u32,
    failures: u32,
    grace_ends_at: Option<OffsetDateTime>,
    next_retry_at: Option<OffsetDateTime>,
    grace_ended: bool,
    due_attempt: u32,
    held: Vec<SiteId>,
}

#[expect(missing_docs, reason = "accessors named for what they return")]
impl Dunning {
    pub fn status(&self) -> DunningStatus {
        self.status
    }
    pub fn invoice_id(&self) -> Option<InvoiceId> {
        self.invoice_id
    }
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant_id
    }
    pub fn subscription_id(&self) -> Option<SubscriptionId> {
        self.subscription_id
    }
    pub fn amount(&self) -> Option<Money> {
        self.amount
    }
    pub fn card(&self) -> bool {
        self.card
    }
    /// Attempts recorded so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    pub fn failures(&self) -> u32 {
        self.failures
    }
    pub fn grace_ends_at(&self) -> Option<OffsetDateTime> {
        self.grace_ends_at
    }
    pub fn next_retry_at(&self) -> Option<OffsetDateTime> {
        self.next_retry_at
    }
    pub fn held(&self) -> &[SiteId] {
        &self.held
    }
    /// Whether grace ended unpaid (the tenant was suspended), even if it was paid since.
    pub fn grace_ended(&self) -> bool {
        self.grace_ended
    }
}

/// The key of a collection's next-attempt timer.
pub fn retry_timer(invoice: InvoiceId) -> TimerKey {
    TimerKey::for_id("dunning-retry", invoice.as_uuid())
}

/// The key of a collection's grace timer.
pub fn grace_timer(invoice: InvoiceId) -> TimerKey {
    TimerKey::for_id("dunning-grace", invoice.as_uuid())
}

fn decide(state: &Dunning, command: DunningCommand) -> Result<Vec<DunningEvent>, DunningError> {
    use DunningCommand as C;
    use DunningEvent as E;
    if state.status == DunningStatus::None && !matches!(command, C::Open { .. }) {
        return Err(DunningError::NotFound);
    }
    let settled = state.status == DunningStatus::Settled;
    match command {
        C::Open { invoice_id, tenant_id, subscription_id, amount, card, grace_ends_at } => {
            if state.status != DunningStatus::None {
                return Ok(Vec::new());
            }
            if amount.amount_minor() <= 0 {
                return Err(DunningError::NothingDue);
            }
            let grace_ends_at = (!card).then_some(grace_ends_at);
            Ok(vec![E::Opened { invoice_id, tenant_id, subscription_id, amount, card, grace_ends_at }])
        }
        C::RecordAttempt { attempt, result, next_retry_at, grace_ends_at } => {
            if settled || attempt <= state.attempts {
                return Ok(Vec::new());
            }
            if attempt != state.attempts + 1 {
                return Err(DunningError::AttemptOutOfOrder { expected: state.attempts + 1, got: attempt });
            }
            Ok(vec![match result {
                AttemptResult::Succeeded { payment_intent } => {
                    E::AttemptSucceeded { attempt, payment_intent }
                }
                AttemptResult::Declined { payment_intent, code, message } => E::AttemptFailed {
                    attempt,
                    payment_intent,
                    code,
                    message,
                    next_retry_at,
                    grace_ends_at: state.grace_ends_at.unwrap_or(grace_ends_at),
                },
            }])
        }
        C::Retry { attempt } => {
            if settled {
                return Err(DunningError::Settled);
            }
            if attempt <= state.attempts.max(state.due_attempt) {
                return Ok(Vec::new());
            }
            Ok(vec![E::RetryDue { attempt }])
        }
        C::EndGrace => {
            if settled {
                return Err(DunningError::Settled);
            }
            if state.grace_ended {
                return Ok(Vec::new());
            }
            Ok(vec![E::GraceEnded])
        }
        C::HoldSite { site_id } => {
            if settled {
                return Err(DunningError::Settled);
            }
            if !state.grace_ended {
                return Err(DunningError::InGrace);
            }
            if state.held.contains(&site_id) {
                return Ok(Vec::new());
            }
            Ok(vec![E::SiteHeld { site_id }])
        }
        C::Settle { on } => {
            if settled {
                return Ok(Vec::new());
            }
            Ok(vec![E::Settled { on, held: state.held.clone() }])
        }
    }
}

impl crate::aggregate::Consequences for Dunning {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }

    fn timers(id: &str, event: &DunningEvent) -> Vec<TimerChange<DunningCommand>> {
        let Ok(uuid) = id.parse::<uuid::Uuid>() else { return Vec::new() };
        let invoice = InvoiceId::from_uuid(uuid);
        let grace = |due_at| TimerChange::Schedule {
            key: grace_timer(invoice),
            due_at,
            command: DunningCommand::EndGrace,
        };
        match event {
            DunningEvent::Opened { grace_ends_at: Some(at), .. } => vec![grace(*at)],
            DunningEvent::AttemptFailed { attempt, next_retry_at, grace_ends_at, .. } => {
                let mut changes = vec![grace(*grace_ends_at)];
                if let Some(at) = next_retry_at {
                    changes.push(TimerChange::Schedule {
                        key: retry_timer(invoice),
                        due_at: *at,
                        command: DunningCommand::Retry { attempt: attempt + 1 },
                    });
                }
                changes
            }
            DunningEvent::Settled { .. } => vec![
                TimerChange::Cancel { key: retry_timer(invoice) },
                TimerChange::Cancel { key: grace_timer(invoice) },
            ],
            _ => Vec::new(),
        }
    }
}

impl Aggregate for Dunning {
    const TYPE: &'static str = "dunning";
    type Command = DunningCommand;
    type Event = DunningEvent;
    type Error = DunningError;
    type Services = ();

    async fn handle(
        &mut self,
        command: DunningCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DunningError> {
        for event in decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: DunningEvent) {
        match event {
            DunningEvent::Opened { invoice_id, tenant_id, subscription_id, amount, card, grace_ends_at } => {
                self.invoice_id = Some(invoice_id);
                self.tenant_id = Some(tenant_id);
                self.subscription_id = subscription_id;
                self.amount = Some(amount);
                self.card = card;
                self.grace_ends_at = grace_ends_at;
                self.status = if card { DunningStatus::Collecting } else { DunningStatus::AwaitingPayment };
            }
            DunningEvent::AttemptSucceeded { attempt, .. } => {
                self.attempts = attempt;
                self.next_retry_at = None;
            }
            DunningEvent::AttemptFailed { attempt, next_retry_at, grace_ends_at, .. } => {
                self.attempts = attempt;
                self.failures += 1;
                self.next_retry_at = next_retry_at;
                self.grace_ends_at = Some(grace_ends_at);
            }
            DunningEvent::RetryDue { attempt } => {
                self.next_retry_at = None;
                self.due_attempt = attempt;
            }
            DunningEvent::GraceEnded => {
                self.grace_ended = true;
                self.status = DunningStatus::Suspended;
            }
            DunningEvent::SiteHeld { site_id } => self.held.push(site_id),
            DunningEvent::Settled { .. } => {
                self.status = DunningStatus::Settled;
                self.next_retry_at = None;
            }
        }
    }
}
