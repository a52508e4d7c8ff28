//! Subscription commands and the rules that decide them.

use serde::{Deserialize, Serialize};
use time::Date;

use super::{
    day_after, Subscription, SubscriptionError as Error, SubscriptionEvent as E, SubscriptionStatus,
};
use crate::billing::{plan_change, prorate, ServicePeriod};
use crate::coupon::AppliedCoupon;
use crate::ids::{SubscriptionId, TenantId};
use crate::plan::PlanTerms;

/// What a tenant uses now, as the caller counted it (the sites view, the storage meter):
/// a downgrade is refused when it would not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUsage {
    /// Sites that exist (not deleted).
    pub sites: u32,
    /// Storage in use, in whole GB, rounded up.
    pub storage_gb: u32,
}

/// What can be asked of a subscription. `today` is the date the command was received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum SubscriptionCommand {
    /// Subscribe to a plan (its terms in the chosen currency and period), with a coupon
    /// redeemed in the same commit, starting with the plan's trial if it has one.
    Subscribe {
        subscription_id: SubscriptionId,
        tenant_id: TenantId,
        plan: PlanTerms,
        coupon: Option<AppliedCoupon>,
        #[serde(with = "crate::billing::iso_date")]
        today: Date,
    },
    /// During the trial: take another plan (any currency and period, nothing was billed yet),
    /// with a coupon redeemed in the same commit; the trial keeps its end.
    ChooseTrialPlan {
        plan: PlanTerms,
        coupon: Option<AppliedCoupon>,
        #[serde(with = "crate::billing::iso_date")]
        today: Date,
    },
    /// Move to a dearer plan now, prorated by days.
    Upgrade {
        plan: PlanTerms,
        #[serde(with = "crate::billing::iso_date")]
        today: Date,
    },
    /// Move to a cheaper plan when the period ends, if `usage` fits it.
    Downgrade {
        plan: PlanTerms,
        usage: CurrentUsage,
        #[serde(with = "crate::billing::iso_date")]
        today: Date,
    },
    /// Cancel at the end of the period, or now with a prorated credit.
    Cancel {
        at_period_end: bool,
        #[serde(with = "crate::billing::iso_date")]
        today: Date,
    },
    /// Keep a subscription whose cancellation was scheduled.
    WithdrawCancellation,
    /// An invoice of the subscription went unpaid past its grace period.
    MarkPastDue { invoice: crate::ids::InvoiceId },
    /// That invoice was paid.
    ClearPastDue { invoice: crate::ids::InvoiceId },
    /// Record that the period ending on `period_end` is over (its timer fires this).
    EndPeriod {
        #[serde(with = "crate::billing::iso_date")]
        period_end: Date,
    },
    /// Begin the next paid period on `plan`'s terms as they are now (the renewal saga).
    Renew { plan: PlanTerms },
}

/// Decides the events for `command`.
pub(super) fn decide(sub: &Subscription, command: SubscriptionCommand) -> Result<Vec<E>, Error> {
    match command {
        SubscriptionCommand::Subscribe { subscription_id, tenant_id, plan, coupon, today } => {
            if sub.status != SubscriptionStatus::None {
                return Err(Error::AlreadyExists);
            }
            let trial = plan.trial_days > 0;
            let (current, anchor) = if trial {
                let end = today + time::Duration::days(i64::from(plan.trial_days) - 1);
                let period = ServicePeriod::new(today, end).map_err(|_| Error::PeriodOver)?;
                (period, day_after(end).day())
            } else {
                (plan.period.span(today.day(), today), today.day())
            };
            Ok(vec![E::Subscribed {
                subscription_id,
                tenant_id,
                plan,
                coupon,
                current,
                trial,
                anchor_day: anchor,
            }])
        }
        SubscriptionCommand::ChooseTrialPlan { plan, coupon, today } => {
            running(sub, today)?;
            if sub.status != SubscriptionStatus::Trialing {
                return Err(Error::NotInTrial);
            }
            if sub.plan.as_ref() == Some(&plan) && sub.coupon == coupon {
                return Ok(Vec::new());
            }
            Ok(vec![E::TrialPlanChosen { plan, coupon }])
        }
        SubscriptionCommand::Upgrade { plan, today } => {
            let (current, period) = running(sub, today)?;
            comparable(current, &plan)?;
            if plan.price.amount_minor() <= current.price.amount_minor() {
                return Err(Error::NotAnUpgrade {
                    current: current.price.to_string(),
                    asked: plan.price.to_string(),
                });
            }
            let proration = if sub.status == SubscriptionStatus::Trialing {
                None
            } else {
                Some(plan_change(current.price, plan.price, period, today).map_err(|_| Error::PeriodOver)?)
            };
            Ok(vec![E::Upgraded { plan, on: today, proration }])
        }
        SubscriptionCommand::Downgrade { plan, usage, today } => {
            let (current, period) = running(sub, today)?;
            comparable(current, &plan)?;
            if plan.price.amount_minor() >= current.price.amount_minor() {
                return Err(Error::NotADowngrade {
                    current: current.price.to_string(),
                    asked: plan.price.to_string(),
                });
            }
            let checks = [
                ("sites", plan.limits.sites, usage.sites),
                ("storage_gb", plan.limits.storage_gb, usage.storage_gb),
            ];
            for (limit, bound, used) in checks {
                if let (false, Some(allowed)) = (bound.fits(used), bound.bound()) {
                    return Err(Error::DowngradeDoesNotFit { limit, used, allowed });
                }
            }
            if sub.pending.as_ref() == Some(&plan) {
                return Ok(Vec::new());
            }
            Ok(vec![E::DowngradeScheduled { plan, effective: day_after(period.end()) }])
        }
        SubscriptionCommand::Cancel { at_period_end: true, today } => {
            let (_, period) = running(sub, today)?;
            if sub.cancel_at_period_end {
                return Ok(Vec::new());
            }
            Ok(vec![E::CancellationScheduled { effective: day_after(period.end()) }])
        }
        SubscriptionCommand::Cancel { at_period_end: false, today } => {
            let (current, period) = running(sub, today)?;
            let remaining_days = (period.end() - today).whole_days() + 1;
            let credit = if sub.status == SubscriptionStatus::Trialing {
                None
            } else {
                Some(prorate(current.price, period, today).map_err(|_| Error::PeriodOver)?)
            };
            Ok(vec![E::Cancelled { on: today, credit, remaining_days, period_days: period.days() }])
        }
        SubscriptionCommand::WithdrawCancellation => {
            live(sub)?;
            if !sub.cancel_at_period_end {
                return Ok(Vec::new());
            }
            Ok(vec![E::CancellationWithdrawn])
        }
        SubscriptionCommand::MarkPastDue { invoice } => {
            if sub.status == super::SubscriptionStatus::None {
                return Err(Error::NotFound);
            }
            if sub.past_due.contains(&invoice) {
                return Ok(Vec::new());
            }
            Ok(vec![E::PastDue { invoice }])
        }
        SubscriptionCommand::ClearPastDue { invoice } => {
            Ok(if sub.past_due.contains(&invoice) { vec![E::PastDueCleared { invoice }] } else { Vec::new() })
        }
        SubscriptionCommand::EndPeriod { period_end } => {
            let Some(period) = sub.current.filter(|p| p.end() == period_end) else { return Ok(Vec::new()) };
            if !sub.is_running() || sub.period_ended {
                return Ok(Vec::new());
            }
            let mut events = vec![E::PeriodEnded { period }];
            if sub.cancel_at_period_end {
                events.push(E::Ended { on: day_after(period_end) });
            }
            Ok(events)
        }
        SubscriptionCommand::Renew { plan } => {
            let current = live(sub)?;
            let period = sub.current.ok_or(Error::NotFound)?;
            if !sub.period_ended {
                return Err(Error::NotDue { period_end: period.end() });
            }
            comparable(current, &plan)?;
            let expected = sub.next_plan().ok_or(Error::NotFound)?;
            if plan.plan_id != expected {
                return Err(Error::WrongPlan { expected: expected.to_string() });
            }
            // A renewal decided late still begins the day after the last period, not `today`:
            // periods follow each other without a gap.
            let next = plan.period.span(sub.anchor_day, day_after(period.end()));
            Ok(vec![E::PeriodStarted { period: next, plan, paid_period: sub.paid_periods + 1 }])
        }
    }
}

/// The current terms of a subscription that has not ended.
fn live(sub: &Subscription) -> Result<&PlanTerms, Error> {
    match sub.status {
        SubscriptionStatus::None => Err(Error::NotFound),
        SubscriptionStatus::Ended => Err(Error::Ended),
        SubscriptionStatus::Trialing | SubscriptionStatus::Active => sub.plan.as_ref().ok_or(Error::NotFound),
    }
}

/// The current terms and period of a running subscription whose period holds `today`.
fn running(sub: &Subscription, today: Date) -> Result<(&PlanTerms, ServicePeriod), Error> {
    let terms = live(sub)?;
    let period = sub.current.ok_or(Error::NotFound)?;
    if !period.contains(today) {
        return Err(Error::PeriodOver);
    }
    Ok((terms, period))
}

/// A plan the subscription can move to: another plan, in the same currency and period.
fn comparable(current: &PlanTerms, plan: &PlanTerms) -> Result<(), Error> {
    if plan.currency() != current.currency() {
        return Err(Error::CurrencyMismatch {
            expected: current.currency().as_str().to_owned(),
            found: plan.currency().as_str().to_owned(),
        });
    }
    if plan.period != current.period {
        return Err(Error::PeriodMismatch);
    }
    Ok(())
}
