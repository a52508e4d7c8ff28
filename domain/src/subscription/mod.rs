//! The subscription aggregate: a tenant on a plan, period after period.
//!
//! A subscription starts with its plan's trial, if the plan has one, and keeps a copy of the
//! plan's terms for the period it is in. Upgrading takes effect at once and is prorated by
//! days (a credit for the unused days of the old plan, a charge for the same days on the new
//! one); downgrading waits for the period's end and is refused when the tenant's usage would
//! not fit the smaller plan; cancelling waits for the period's end, or ends it now with a
//! prorated credit.
//!
//! The end of each period is a durable timer declared by the events that start a period; it
//! runs `EndPeriod`, which records `PeriodEnded` (and `Ended` after a scheduled cancellation).
//! Starting the next period (`Renew`, with the plan's terms as they are then) is the renewal
//! saga's work. A tenant has at most one running subscription, held as a unique claim.

mod charges;
mod command;
mod error;
mod event;
mod limits;
#[cfg(test)]
mod tests;

pub use charges::{period_charges, PeriodCharges};
pub use command::{CurrentUsage, SubscriptionCommand};
pub use error::SubscriptionError;
pub use event::SubscriptionEvent;
pub use limits::{limits_allow_site, LimitError, SiteAllowance};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::billing::ServicePeriod;
use crate::coupon::AppliedCoupon;
use crate::ids::{PlanId, SubscriptionId, TenantId};
use crate::plan::PlanTerms;
use crate::timer::{TimerChange, TimerKey};
use crate::unique::{Unique, UniqueChange, UniqueScope};

/// Where a subscription is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    /// No such subscription.
    #[default]
    None,
    /// In its trial: nothing is billed yet.
    Trialing,
    /// In a paid period.
    Active,
    /// Over.
    Ended,
}

impl SubscriptionStatus {
    /// Every status a subscription can be seen in (not `None`, which no subscription has).
    pub const ALL: [Self; 3] = [Self::Trialing, Self::Active, Self::Ended];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::Ended => "ended",
        }
    }
}

/// A subscription's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    id: Option<SubscriptionId>,
    tenant_id: Option<TenantId>,
    status: SubscriptionStatus,
    plan: Option<PlanTerms>,
    anchor_day: u8,
    current: Option<ServicePeriod>,
    paid_periods: u32,
    coupon: Option<AppliedCoupon>,
    cancel_at_period_end: bool,
    pending: Option<PlanTerms>,
    period_ended: bool,
    #[serde(default, with = "crate::billing::iso_date::option")]
    ended_on: Option<Date>,
    #[serde(default)]
    past_due: Vec<crate::ids::InvoiceId>,
}

impl Subscription {
    /// Where it is in its life.
    pub fn status(&self) -> SubscriptionStatus {
        self.status
    }

    /// The invoices unpaid past their grace period (none: in good standing).
    pub fn past_due(&self) -> &[crate::ids::InvoiceId] {
        &self.past_due
    }

    /// Whether it is in a trial or a paid period.
    pub fn is_running(&self) -> bool {
        matches!(self.status, SubscriptionStatus::Trialing | SubscriptionStatus::Active)
    }

    /// The tenant.
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant_id
    }

    /// The plan's terms for the current period.
    pub fn plan(&self) -> Option<&PlanTerms> {
        self.plan.as_ref()
    }

    /// The current period (the trial, during the trial).
    pub fn current_period(&self) -> Option<ServicePeriod> {
        self.current
    }

    /// The plan the next period is on: a scheduled downgrade's, or the current one.
    pub fn next_plan(&self) -> Option<PlanId> {
        self.pending.as_ref().or(self.plan.as_ref()).map(|p| p.plan_id)
    }

    /// The plan a scheduled downgrade moves to at the end of this period.
    pub fn pending_plan(&self) -> Option<&PlanTerms> {
        self.pending.as_ref()
    }

    /// The subscription's id, once it exists.
    pub fn id(&self) -> Option<SubscriptionId> {
        self.id
    }

    /// Whether a cancellation takes effect at the end of this period.
    pub fn cancels_at_period_end(&self) -> bool {
        self.cancel_at_period_end
    }

    /// Whether the current period has ended and the next has not begun yet.
    pub fn period_ended(&self) -> bool {
        self.period_ended
    }

    /// Paid periods so far.
    pub fn paid_periods(&self) -> u32 {
        self.paid_periods
    }

    /// The coupon redeemed with it, whether or not it still discounts.
    pub fn coupon(&self) -> Option<&AppliedCoupon> {
        self.coupon.as_ref()
    }

    /// The first day without it, once over.
    pub fn ended_on(&self) -> Option<Date> {
        self.ended_on
    }

    /// The coupon, if it discounts the current paid period.
    pub fn coupon_in_force(&self) -> Option<&AppliedCoupon> {
        let paid = self.status == SubscriptionStatus::Active;
        self.coupon.as_ref().filter(|c| paid && c.duration.covers(self.paid_periods))
    }
}

/// The timer that ends a subscription's current period.
pub fn period_timer(id: SubscriptionId) -> TimerKey {
    TimerKey::for_id("subscription-period", id.as_uuid())
}

/// When a period's timer fires: the first moment after its last day, UTC.
pub fn period_end_time(period: ServicePeriod) -> OffsetDateTime {
    let after = period.end().next_day().unwrap_or(period.end());
    after.midnight().assume_utc()
}

fn schedule_end(id: &str, period: ServicePeriod) -> Vec<TimerChange<SubscriptionCommand>> {
    let Ok(uuid) = id.parse::<uuid::Uuid>() else { return Vec::new() };
    vec![TimerChange::Schedule {
        key: period_timer(SubscriptionId::from_uuid(uuid)),
        due_at: period_end_time(period),
        command: SubscriptionCommand::EndPeriod { period_end: period.end() },
    }]
}

impl crate::aggregate::Consequences for Subscription {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }

    fn uniques(&self, event: &SubscriptionEvent) -> Vec<UniqueChange> {
        let (Some(id), Some(tenant)) = (self.id, self.tenant_id) else { return Vec::new() };
        let claim =
            || Unique::new(UniqueScope::TenantSubscription, tenant.to_string(), format!("subscription:{id}"));
        match event {
            SubscriptionEvent::Subscribed { .. } => vec![UniqueChange::Claim(claim())],
            SubscriptionEvent::Cancelled { .. } | SubscriptionEvent::Ended { .. } => {
                vec![UniqueChange::Release(claim())]
            }
            _ => Vec::new(),
        }
    }

    fn timers(id: &str, event: &SubscriptionEvent) -> Vec<TimerChange<SubscriptionCommand>> {
        match event {
            SubscriptionEvent::Subscribed { current, .. } => schedule_end(id, *current),
            SubscriptionEvent::PeriodStarted { period, .. } => schedule_end(id, *period),
            SubscriptionEvent::Cancelled { .. } | SubscriptionEvent::Ended { .. } => {
                match id.parse::<uuid::Uuid>() {
                    Ok(uuid) => {
                        vec![TimerChange::Cancel { key: period_timer(SubscriptionId::from_uuid(uuid)) }]
                    }
                    Err(_) => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }
}

impl Aggregate for Subscription {
    const TYPE: &'static str = "subscription";
    type Command = SubscriptionCommand;
    type Event = SubscriptionEvent;
    type Error = SubscriptionError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SubscriptionCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SubscriptionError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SubscriptionEvent) {
        use SubscriptionEvent as E;
        match event {
            E::PastDue { invoice } => self.past_due.push(invoice),
            E::PastDueCleared { invoice } => self.past_due.retain(|i| *i != invoice),
            E::Subscribed { subscription_id, tenant_id, plan, coupon, current, trial, anchor_day } => {
                self.id = Some(subscription_id);
                self.tenant_id = Some(tenant_id);
                self.plan = Some(plan);
                self.coupon = coupon;
                self.current = Some(current);
                self.anchor_day = anchor_day;
                self.status = if trial { SubscriptionStatus::Trialing } else { SubscriptionStatus::Active };
                self.paid_periods = u32::from(!trial);
            }
            E::TrialPlanChosen { plan, coupon } => {
                self.plan = Some(plan);
                self.coupon = coupon;
                self.pending = None;
            }
            E::Upgraded { plan, .. } => {
                self.plan = Some(plan);
                self.pending = None;
            }
            E::DowngradeScheduled { plan, .. } => self.pending = Some(plan),
            E::CancellationScheduled { .. } => self.cancel_at_period_end = true,
            E::CancellationWithdrawn => self.cancel_at_period_end = false,
            E::Cancelled { on, .. } | E::Ended { on } => {
                self.status = SubscriptionStatus::Ended;
                self.ended_on = Some(on);
            }
            E::PeriodEnded { .. } => self.period_ended = true,
            E::PeriodStarted { period, plan, paid_period } => {
                self.current = Some(period);
                self.plan = Some(plan);
                self.pending = None;
                self.period_ended = false;
                self.paid_periods = paid_period;
                self.status = SubscriptionStatus::Active;
            }
        }
    }
}

/// The day after `date` (the next period's first day).
pub(crate) fn day_after(date: Date) -> Date {
    date.next_day().unwrap_or(date)
}
