//! The usage aggregate: what a subscription consumed beyond its flat price (storage, transfer),
//! per billing period and metric, rated at invoicing against the plan's overage prices. One
//! stream per subscription, keyed by the subscription id.
//!
//! Meters send readings with an idempotency key of their own; the command id is derived from
//! it ([`usage_command_id`]), so a reading sent twice is recorded once by the event store's
//! command record, without this aggregate remembering every key it has seen.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

pub use command::{UsageCommand, UsageKey};
pub use error::UsageError;
pub use event::UsageEvent;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::billing::ServicePeriod;
use crate::ids::{SubscriptionId, TenantId};
use crate::plan::{Aggregation, Metric};

/// The command id of the reading `key` for `subscription`: the same reading always gets the
/// same id, so a repeat appends nothing.
pub fn usage_command_id(subscription: SubscriptionId, key: &UsageKey) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("usage:{subscription}:{}", key.as_str()).as_bytes())
}

/// How much of one metric a period used so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterTotal {
    /// The billing period.
    pub period: ServicePeriod,
    /// The metric.
    pub metric: Metric,
    /// The total (a peak or a sum, by metric), in thousandths of the metric's unit.
    pub thousandths: i64,
}

/// A subscription's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    subscription_id: Option<SubscriptionId>,
    tenant_id: Option<TenantId>,
    totals: Vec<MeterTotal>,
}

impl Usage {
    /// The total of `metric` in the period that starts on `period`'s first day, in thousandths.
    pub fn total(&self, period: ServicePeriod, metric: Metric) -> i64 {
        self.find(period, metric).map_or(0, |t| t.thousandths)
    }

    /// Every total of `period`, one per metric that has readings.
    pub fn totals(&self, period: ServicePeriod) -> impl Iterator<Item = &MeterTotal> {
        self.totals.iter().filter(move |t| t.period.start() == period.start())
    }

    fn find(&self, period: ServicePeriod, metric: Metric) -> Option<&MeterTotal> {
        self.totals.iter().find(|t| t.period.start() == period.start() && t.metric == metric)
    }

    /// The total after one more reading of `thousandths`.
    fn with(&self, period: ServicePeriod, metric: Metric, thousandths: i64) -> i64 {
        let current = self.total(period, metric);
        match metric.aggregation() {
            Aggregation::Peak => current.max(thousandths),
            Aggregation::Sum => current.saturating_add(thousandths),
        }
    }
}

impl crate::aggregate::Consequences for Usage {}

impl Aggregate for Usage {
    const TYPE: &'static str = "usage";
    type Command = UsageCommand;
    type Event = UsageEvent;
    type Error = UsageError;
    type Services = ();

    async fn handle(
        &mut self,
        command: UsageCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), UsageError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: UsageEvent) {
        match event {
            UsageEvent::Recorded { tenant_id, subscription_id, metric, quantity, period, .. } => {
                self.tenant_id = Some(tenant_id);
                self.subscription_id = Some(subscription_id);
                let thousandths = self.with(period, metric, quantity.thousandths());
                match self
                    .totals
                    .iter_mut()
                    .find(|t| t.period.start() == period.start() && t.metric == metric)
                {
                    Some(total) => total.thousandths = thousandths,
                    None => self.totals.push(MeterTotal { period, metric, thousandths }),
                }
            }
        }
    }
}
