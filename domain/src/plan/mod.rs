//! The plan aggregate (platform-level): a code, a name, prices per currency and period with the
//! dates they take effect, limits, trial days and overage prices.
//!
//! A price change is an event with an effective date. Subscriptions copy the plan's
//! [`PlanTerms`] when a period begins, so a running subscription takes a new price (or new
//! limits) at its next period and never in the middle of one.

mod command;
mod error;
mod event;
pub mod seed;
mod terms;
#[cfg(test)]
mod tests;

pub use command::{PlanCode, PlanCommand};
pub use error::PlanError;
pub use event::PlanEvent;
pub use terms::{
    is_offered, Aggregation, BackupFrequency, BackupPolicy, BillingPeriod, GfsKeep, Limit, Metric,
    OveragePrice, PlanLimits, PlanTerms, Price, SiteResources, SupportLevel, OFFERED_CURRENCIES,
};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::ids::PlanId;
use crate::money::{Currency, Money};
use crate::name::DisplayName;
use crate::unique::{Unique, UniqueChange, UniqueScope};

/// A price and the first date it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledPrice {
    /// The price.
    pub price: Price,
    /// The first day of a period that pays it.
    #[serde(with = "crate::billing::iso_date")]
    pub effective_from: Date,
}

/// The plan's state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    id: Option<PlanId>,
    code: Option<PlanCode>,
    name: Option<DisplayName>,
    prices: Vec<ScheduledPrice>,
    limits: Option<PlanLimits>,
    overage: Vec<OveragePrice>,
    trial_days: u32,
    retired: bool,
}

impl Plan {
    /// Whether the plan exists.
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// Whether the plan takes no new subscriptions.
    pub fn retired(&self) -> bool {
        self.retired
    }

    /// Its code, once created.
    pub fn code(&self) -> Option<&PlanCode> {
        self.code.as_ref()
    }

    /// The price of one `period` in `currency` for a period starting on `on`: the latest
    /// change in force by then.
    pub fn price_on(&self, currency: Currency, period: BillingPeriod, on: Date) -> Option<Money> {
        self.prices
            .iter()
            .filter(|p| p.price.period == period && p.price.amount.currency() == currency)
            .filter(|p| p.effective_from <= on)
            .max_by_key(|p| p.effective_from)
            .map(|p| p.price.amount)
    }

    /// The terms of a `period` in `currency` that starts on `on`.
    pub fn terms(&self, currency: Currency, period: BillingPeriod, on: Date) -> Result<PlanTerms, PlanError> {
        let (Some(plan_id), Some(code), Some(name), Some(limits)) =
            (self.id, self.code.clone(), self.name.clone(), self.limits)
        else {
            return Err(PlanError::NotFound);
        };
        let price = self.price_on(currency, period, on).ok_or_else(|| PlanError::NoPrice {
            currency: currency.as_str().to_owned(),
            period: period.as_str(),
        })?;
        let overage = self.overage.iter().filter(|o| o.price.currency() == currency).copied().collect();
        Ok(PlanTerms { plan_id, code, name, period, price, limits, overage, trial_days: self.trial_days })
    }
}

impl crate::aggregate::Consequences for Plan {
    fn uniques(&self, event: &PlanEvent) -> Vec<UniqueChange> {
        match (event, self.id) {
            (PlanEvent::Created { code, .. }, Some(id)) => {
                vec![UniqueChange::Claim(Unique::new(
                    UniqueScope::PlanCode,
                    code.as_str(),
                    format!("plan:{id}"),
                ))]
            }
            _ => Vec::new(),
        }
    }
}

impl Aggregate for Plan {
    const TYPE: &'static str = "plan";
    type Command = PlanCommand;
    type Event = PlanEvent;
    type Error = PlanError;
    type Services = ();

    async fn handle(
        &mut self,
        command: PlanCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), PlanError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PlanEvent) {
        match event {
            PlanEvent::Created {
                plan_id,
                code,
                name,
                prices,
                limits,
                trial_days,
                overage,
                effective_from,
            } => {
                self.id = Some(plan_id);
                self.code = Some(code);
                self.name = Some(name);
                self.prices =
                    prices.into_iter().map(|price| ScheduledPrice { price, effective_from }).collect();
                self.limits = Some(limits);
                self.trial_days = trial_days;
                self.overage = overage;
            }
            PlanEvent::PriceChanged { price, effective_from } => {
                self.prices.push(ScheduledPrice { price, effective_from });
            }
            PlanEvent::LimitsChanged { limits } => self.limits = Some(limits),
            PlanEvent::OverageChanged { overage } => self.overage = overage,
            PlanEvent::Retired => self.retired = true,
        }
    }
}
