//! The tenant's subscription: plan, period, status, what changes at the period's end.

use berth_domain::event::Event;
use berth_domain::plan::PlanTerms;
use berth_domain::subscription::SubscriptionEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;
use time::Date;

use crate::projection::{ApplyFuture, Projection};

/// The subscription view.
pub struct SubscriptionsView;

impl Projection for SubscriptionsView {
    fn name(&self) -> &'static str {
        "subscriptions"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["subscription"])
    }

    fn schema_version(&self) -> i32 {
        // 2: past due.
        2
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE subscriptions (
                id                   uuid        PRIMARY KEY,
                tenant_id            uuid        NOT NULL,
                status               text        NOT NULL,
                plan_id              uuid        NOT NULL,
                plan_code            text        NOT NULL,
                plan_name            text        NOT NULL,
                period               text        NOT NULL,
                currency             text        NOT NULL,
                price_minor          bigint      NOT NULL,
                period_start         date        NOT NULL,
                period_end           date        NOT NULL,
                trial                boolean     NOT NULL,
                period_ended         boolean     NOT NULL DEFAULT false,
                cancel_at_period_end boolean     NOT NULL DEFAULT false,
                pending_plan_code    text,
                coupon_code          text,
                paid_periods         integer     NOT NULL,
                ended_on             date,
                past_due             boolean     NOT NULL DEFAULT false,
                version              bigint      NOT NULL,
                created_at           timestamptz NOT NULL,
                updated_at           timestamptz NOT NULL
            )",
            "CREATE INDEX subscriptions_tenant_idx ON subscriptions (tenant_id, id)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Subscription(subscription) = &event.event else { return Ok(()) };
            use SubscriptionEvent as E;
            let change = match subscription {
                E::Subscribed { tenant_id, plan, coupon, current, trial, .. } => {
                    sqlx::query(
                        "INSERT INTO subscriptions (id, tenant_id, status, plan_id, plan_code, plan_name, period, currency,
                                                    price_minor, period_start, period_end, trial, coupon_code,
                                                    paid_periods, version, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(event.aggregate_uuid())
                    .bind(tenant_id.as_uuid())
                    .bind(if *trial { "trialing" } else { "active" })
                    .bind(plan.plan_id.as_uuid())
                    .bind(plan.code.as_str())
                    .bind(plan.name.as_str())
                    .bind(plan.period.as_str())
                    .bind(plan.currency().as_str())
                    .bind(plan.price.amount_minor())
                    .bind(current.start())
                    .bind(current.end())
                    .bind(*trial)
                    .bind(coupon.as_ref().map(|c| c.code.as_str()))
                    .bind(i32::from(!*trial))
                    .bind(event.sequence)
                    .bind(event.recorded_at)
                    .execute(conn)
                    .await?;
                    return Ok(());
                }
                E::TrialPlanChosen { plan, coupon } => Change {
                    plan: Some(plan),
                    pending: Some(None),
                    coupon: Some(coupon.as_ref().map(|c| c.code.as_str())),
                    ..Change::default()
                },
                E::Upgraded { plan, .. } => {
                    Change { plan: Some(plan), pending: Some(None), ..Change::default() }
                }
                E::DowngradeScheduled { plan, .. } => {
                    Change { pending: Some(Some(plan.code.as_str())), ..Change::default() }
                }
                E::CancellationScheduled { .. } => Change { cancel: Some(true), ..Change::default() },
                E::CancellationWithdrawn => Change { cancel: Some(false), ..Change::default() },
                E::Cancelled { on, .. } | E::Ended { on } => {
                    Change { status: Some("ended"), ended_on: Some(*on), ..Change::default() }
                }
                E::PeriodEnded { .. } => Change { period_ended: Some(true), ..Change::default() },
                E::PastDue { .. } => Change { past_due: Some(true), ..Change::default() },
                E::PastDueCleared { .. } => Change { past_due: Some(false), ..Change::default() },
                E::PeriodStarted { period, plan, paid_period } => Change {
                    status: Some("active"),
                    plan: Some(plan),
                    period: Some((period.start(), period.end())),
                    trial: Some(false),
                    pending: Some(None),
                    period_ended: Some(false),
                    paid_periods: Some(i32::try_from(*paid_period).unwrap_or(i32::MAX)),
                    ..Change::default()
                },
            };
            change.apply(conn, event).await
        })
    }
}

/// What an event changes in the row; `None` leaves a column as it is.
#[derive(Default)]
struct Change<'e> {
    status: Option<&'static str>,
    plan: Option<&'e PlanTerms>,
    period: Option<(Date, Date)>,
    trial: Option<bool>,
    cancel: Option<bool>,
    pending: Option<Option<&'e str>>,
    period_ended: Option<bool>,
    paid_periods: Option<i32>,
    ended_on: Option<Date>,
    coupon: Option<Option<&'e str>>,
    past_due: Option<bool>,
}

impl Change<'_> {
    async fn apply(self, conn: &mut PgConnection, event: &Recorded) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE subscriptions SET status = COALESCE($3, status), plan_id = COALESCE($4, plan_id),
                    plan_code = COALESCE($5, plan_code), plan_name = COALESCE($6, plan_name),
                    price_minor = COALESCE($7, price_minor), period_start = COALESCE($8, period_start),
                    period_end = COALESCE($9, period_end), trial = COALESCE($10, trial),
                    cancel_at_period_end = COALESCE($11, cancel_at_period_end),
                    pending_plan_code = CASE WHEN $12 THEN $13 ELSE pending_plan_code END,
                    period_ended = COALESCE($14, period_ended), paid_periods = COALESCE($15, paid_periods),
                    ended_on = COALESCE($16, ended_on), version = $2, updated_at = $17,
                    period = COALESCE($18, period), currency = COALESCE($19, currency),
                    coupon_code = CASE WHEN $20 THEN $21 ELSE coupon_code END,
                    past_due = COALESCE($22, past_due)
              WHERE id = $1 AND version < $2",
        )
        .bind(event.aggregate_uuid())
        .bind(event.sequence)
        .bind(self.status)
        .bind(self.plan.map(|p| p.plan_id.as_uuid()))
        .bind(self.plan.map(|p| p.code.as_str()))
        .bind(self.plan.map(|p| p.name.as_str()))
        .bind(self.plan.map(|p| p.price.amount_minor()))
        .bind(self.period.map(|p| p.0))
        .bind(self.period.map(|p| p.1))
        .bind(self.trial)
        .bind(self.cancel)
        .bind(self.pending.is_some())
        .bind(self.pending.flatten())
        .bind(self.period_ended)
        .bind(self.paid_periods)
        .bind(self.ended_on)
        .bind(event.recorded_at)
        .bind(self.plan.map(|p| p.period.as_str()))
        .bind(self.plan.map(|p| p.currency().as_str().to_owned()))
        .bind(self.coupon.is_some())
        .bind(self.coupon.flatten())
        .bind(self.past_due)
        .execute(conn)
        .await?;
        Ok(())
    }
}
