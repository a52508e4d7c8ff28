//! The documents of a change in the middle of a paid period, amounts by days as the
//! subscription recorded them (`billing::proration`):
//!
//! - an upgrade: a credit note for the old plan's days left, correcting the invoice that billed
//!   the old plan for them, and an invoice for the same days on the new plan;
//! - an immediate cancellation: a credit note for the days left, correcting the invoice that
//!   billed the current plan for them.
//!
//! The invoice corrected is the period's own, or the invoice of the period's last upgrade.
//! What it billed after its discounts is what is credited back: a period invoiced at 10% off
//! is credited at 10% off.

use berth_domain::billing::{Coupon, CouponValue, DocumentKind, PlanChange, ServicePeriod};
use berth_domain::ids::{InvoiceId, SubscriptionId};
use berth_domain::invoice::{Invoice, InvoiceCommand};
use berth_domain::money::Money;
use berth_domain::subscription::{Subscription, SubscriptionEvent};
use berth_eventstore::recorded::Recorded;
use time::Date;

use super::documents::{after_discount, create, document_id, one_line};
use super::renewal::{state_at, Renewal, SAGA};
use crate::node::saga_metadata;
use crate::saga::Outcome;

/// The invoice that billed the current plan for the rest of the period, as of just before the
/// event at `sequence`: the last upgrade's since the period began, or the period's own.
fn carrier(history: &[(i64, SubscriptionEvent)], id: SubscriptionId, sequence: i64) -> Option<InvoiceId> {
    let before: Vec<&(i64, SubscriptionEvent)> = history.iter().filter(|(s, _)| *s < sequence).collect();
    for (seq, event) in before.iter().rev() {
        match event {
            SubscriptionEvent::Upgraded { proration: Some(_), .. } => {
                return Some(document_id("upgrade", id, seq))
            }
            SubscriptionEvent::Subscribed { .. } | SubscriptionEvent::PeriodStarted { .. } => break,
            _ => {}
        }
    }
    let period = state_at(history, sequence - 1).current_period()?;
    Some(document_id("period", id, period.start()))
}

/// A plan's name, short enough for a line description with its dates.
fn short(name: &str) -> String {
    name.chars().take(40).collect()
}

fn days(period: ServicePeriod, from: Date, remaining: i64, total: i64) -> String {
    format!("{from} – {}, {remaining} din {total} zile", period.end())
}

/// A credit note to issue: its id, the invoice it corrects, a list price's share, its line's
/// description and service period.
struct Credit {
    id: InvoiceId,
    corrected: InvoiceId,
    amount: Money,
    description: String,
    period: ServicePeriod,
}

/// Issues a credit note of `amount` on `corrected`, scaled by what that invoice billed after
/// its discounts; nothing when that leaves nothing to credit.
async fn credit(saga: &Renewal, event: &Recorded, state: &Subscription, credit: Credit) -> Outcome {
    let Credit { id, corrected, amount, description, period } = credit;
    let Some(tenant) = state.tenant_id() else { return Outcome::Done };
    let invoice = match saga.context.store.load::<Invoice>(&corrected.to_string()).await {
        Ok(loaded) => loaded.aggregate,
        Err(error) => return Outcome::later(error),
    };
    let Some(document) = invoice.document() else {
        return Outcome::later(format!("the invoice {corrected} it corrects is not issued yet"));
    };
    let Some(net) = after_discount(amount, document) else { return Outcome::Done };
    let line = match one_line(&description, net, period) {
        Ok(line) => line,
        Err(error) => return Outcome::Failed(error.to_string()),
    };
    let Some(draft) = create(id, tenant, DocumentKind::CreditNote, vec![line], Some(corrected)) else {
        return Outcome::Done;
    };
    let issuer = saga.issuer();
    if let Err(outcome) = issuer.draft(id, draft, &saga_metadata(event, SAGA, "credit-draft")).await {
        return outcome;
    }
    issuer.issue(id, &saga_metadata(event, SAGA, "credit-issue")).await
}

/// An upgrade: the old plan's days left credited, the new plan's charged.
pub(crate) async fn upgraded(
    saga: &Renewal,
    event: &Recorded,
    id: SubscriptionId,
    history: &[(i64, SubscriptionEvent)],
    change: &PlanChange,
) -> Outcome {
    let before = state_at(history, event.sequence - 1);
    let after = state_at(history, event.sequence);
    let (Some(old), Some(new), Some(period), Some(tenant)) =
        (before.plan(), after.plan(), after.current_period(), after.tenant_id())
    else {
        return Outcome::Done;
    };
    let from = period.end() - time::Duration::days(change.remaining_days - 1);
    let Ok(rest) = ServicePeriod::new(from, period.end()) else { return Outcome::Done };
    let Some(corrected) = carrier(history, id, event.sequence) else { return Outcome::Done };
    let when = days(period, from, change.remaining_days, change.period_days);
    let description = format!("Credit plan {}: {when}", short(old.name.as_str()));
    let credit_id = document_id("upgrade-credit", id, event.sequence);
    let note = Credit { id: credit_id, corrected, amount: change.credit, description, period: rest };
    match credit(saga, event, &before, note).await {
        Outcome::Done => {}
        other => return other,
    }
    let charge = document_id("upgrade", id, event.sequence);
    let line = match one_line(&format!("Plan {}: {when}", short(new.name.as_str())), change.charge, rest) {
        Ok(line) => line,
        Err(error) => return Outcome::Failed(error.to_string()),
    };
    let Some(mut draft) = create(charge, tenant, DocumentKind::Invoice, vec![line], None) else {
        return Outcome::Done;
    };
    // A percentage coupon in force discounts the days charged as it discounted the period; a
    // fixed amount was taken off the period's invoice already.
    if let (InvoiceCommand::CreateDraft { coupon, .. }, Some(applied)) = (&mut draft, after.coupon_in_force())
    {
        if let CouponValue::Percent(percent) = applied.value {
            *coupon =
                Coupon::new(&format!("Cupon {}", applied.code.as_str()), CouponValue::Percent(percent)).ok();
        }
    }
    let issuer = saga.issuer();
    if let Err(outcome) = issuer.draft(charge, draft, &saga_metadata(event, SAGA, "upgrade-draft")).await {
        return outcome;
    }
    issuer.issue(charge, &saga_metadata(event, SAGA, "upgrade-issue")).await
}

/// An immediate cancellation: the days left credited.
pub(crate) async fn cancelled(
    saga: &Renewal,
    event: &Recorded,
    id: SubscriptionId,
    history: &[(i64, SubscriptionEvent)],
    amount: Money,
    on: Date,
) -> Outcome {
    let before = state_at(history, event.sequence - 1);
    let (Some(plan), Some(period)) = (before.plan(), before.current_period()) else { return Outcome::Done };
    let Ok(rest) = ServicePeriod::new(on, period.end()) else { return Outcome::Done };
    let Some(corrected) = carrier(history, id, event.sequence) else { return Outcome::Done };
    let remaining = rest.days();
    let description = format!(
        "Credit plan {} (anulat): {}",
        short(plan.name.as_str()),
        days(period, on, remaining, period.days())
    );
    let credit_id = document_id("cancel-credit", id, event.sequence);
    credit(saga, event, &before, Credit { id: credit_id, corrected, amount, description, period: rest }).await
}
