//! Recurring revenue, for operators: each subscription's monthly recurring revenue (MRR) from
//! its events, and `revenue_by_plan`, MRR and ARR (12 × MRR) summed by plan and currency.
//!
//! A subscription counts at the list price of the period it is in, a yearly price divided by
//! 12 (rounded half-up); a trial or an ended subscription counts nothing. Coupons are not
//! subtracted: they are one-off or time-limited, and MRR tracks what the plans earn. Amounts
//! stay in their currency; converting them is the reader's choice of rate. The table has no
//! `tenant_id` column on purpose (a platform view, see `timers`).

use berth_domain::event::Event;
use berth_domain::plan::PlanTerms;
use berth_domain::subscription::SubscriptionEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The revenue view.
pub struct RevenueView;

impl Projection for RevenueView {
    fn name(&self) -> &'static str {
        "revenue"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["subscription"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE subscription_revenue (
                subscription_id uuid        PRIMARY KEY,
                tenant          uuid,
                plan_code       text        NOT NULL,
                currency        text        NOT NULL,
                period          text        NOT NULL,
                status          text        NOT NULL,
                mrr_minor       bigint      NOT NULL,
                version         bigint      NOT NULL,
                updated_at      timestamptz NOT NULL
            )",
            "CREATE VIEW revenue_by_plan AS
                SELECT plan_code, currency, count(*) AS subscriptions,
                       sum(mrr_minor)::bigint AS mrr_minor, (sum(mrr_minor) * 12)::bigint AS arr_minor
                  FROM subscription_revenue WHERE status = 'active'
                 GROUP BY plan_code, currency",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Subscription(subscription) = &event.event else { return Ok(()) };
            use SubscriptionEvent as E;
            let (status, plan) = match subscription {
                E::Subscribed { plan, trial, .. } => (if *trial { "trialing" } else { "active" }, Some(plan)),
                // An upgrade keeps the status: in a trial it still earns nothing.
                E::Upgraded { plan, .. } => ("", Some(plan)),
                E::PeriodStarted { plan, .. } => ("active", Some(plan)),
                E::Cancelled { .. } | E::Ended { .. } => ("ended", None),
                _ => return Ok(()),
            };
            sqlx::query(
                "INSERT INTO subscription_revenue (subscription_id, tenant, plan_code, currency, period, status,
                                                   mrr_minor, version, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 = 'active' THEN $7 ELSE 0 END, $8, $9)
                 ON CONFLICT (subscription_id) DO UPDATE SET
                     plan_code = COALESCE($3, subscription_revenue.plan_code),
                     currency = COALESCE($4, subscription_revenue.currency),
                     period = COALESCE($5, subscription_revenue.period),
                     status = COALESCE(NULLIF($6, ''), subscription_revenue.status),
                     mrr_minor = CASE WHEN COALESCE(NULLIF($6, ''), subscription_revenue.status) = 'active'
                                      THEN COALESCE($7, subscription_revenue.mrr_minor) ELSE 0 END,
                     version = $8, updated_at = $9
                  WHERE subscription_revenue.version < $8",
            )
            .bind(event.aggregate_uuid())
            .bind(event.tenant_id)
            .bind(plan.map(|p| p.code.as_str()))
            .bind(plan.map(|p| p.currency().as_str().to_owned()))
            .bind(plan.map(|p| p.period.as_str()))
            .bind(status)
            .bind(plan.map(monthly))
            .bind(event.sequence)
            .bind(event.recorded_at)
            .execute(conn)
            .await?;
            Ok(())
        })
    }
}

/// A plan's price per month, half-up.
fn monthly(plan: &PlanTerms) -> i64 {
    let months = plan.period.months();
    (plan.price.amount_minor() + months / 2) / months
}
