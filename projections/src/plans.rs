//! The plan catalogue: every plan with its prices (each with the day it takes effect), limits,
//! trial and overage prices. A platform view without a `tenant_id` column: every tenant reads
//! it to choose a plan.

use berth_domain::event::Event;
use berth_domain::plan::{PlanEvent, Price};
use berth_eventstore::recorded::Recorded;
use serde_json::{json, Value};
use sqlx::PgConnection;
use time::Date;

use crate::projection::{ApplyFuture, Projection};

/// The plan catalogue view.
pub struct PlansView;

fn price(price: &Price, effective_from: Date) -> Value {
    json!({
        "period": price.period.as_str(),
        "amount_minor": price.amount.amount_minor(),
        "currency": price.amount.currency().as_str(),
        "effective_from": effective_from.to_string(),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, sqlx::Error> {
    serde_json::to_value(value).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

impl Projection for PlansView {
    fn name(&self) -> &'static str {
        "plans"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["plan"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE plans (
                id          uuid        PRIMARY KEY,
                code        text        NOT NULL,
                name        text        NOT NULL,
                prices      jsonb       NOT NULL,
                limits      jsonb       NOT NULL,
                overage     jsonb       NOT NULL,
                trial_days  integer     NOT NULL,
                retired     boolean     NOT NULL DEFAULT false,
                version     bigint      NOT NULL,
                created_at  timestamptz NOT NULL,
                updated_at  timestamptz NOT NULL
            )",
            "CREATE UNIQUE INDEX plans_code_idx ON plans (code)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Plan(plan) = &event.event else { return Ok(()) };
            let id = event.aggregate_uuid();
            let (sequence, at) = (event.sequence, event.recorded_at);
            let query = match plan {
                PlanEvent::Created { code, name, prices, limits, trial_days, overage, effective_from, .. } => {
                    let prices: Vec<Value> = prices.iter().map(|p| price(p, *effective_from)).collect();
                    sqlx::query(
                        "INSERT INTO plans (id, code, name, prices, limits, overage, trial_days, version, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(code.as_str())
                    .bind(name.as_str())
                    .bind(Value::Array(prices))
                    .bind(to_json(limits)?)
                    .bind(to_json(overage)?)
                    .bind(i32::try_from(*trial_days).unwrap_or(i32::MAX))
                    .bind(sequence)
                    .bind(at)
                }
                PlanEvent::PriceChanged { price: p, effective_from } => sqlx::query(
                    "UPDATE plans SET prices = prices || $3, version = $2, updated_at = $4 WHERE id = $1 AND version < $2",
                )
                .bind(id)
                .bind(sequence)
                .bind(Value::Array(vec![price(p, *effective_from)]))
                .bind(at),
                PlanEvent::LimitsChanged { limits } => sqlx::query(
                    "UPDATE plans SET limits = $3, version = $2, updated_at = $4 WHERE id = $1 AND version < $2",
                )
                .bind(id)
                .bind(sequence)
                .bind(to_json(limits)?)
                .bind(at),
                PlanEvent::OverageChanged { overage } => sqlx::query(
                    "UPDATE plans SET overage = $3, version = $2, updated_at = $4 WHERE id = $1 AND version < $2",
                )
                .bind(id)
                .bind(sequence)
                .bind(to_json(overage)?)
                .bind(at),
                PlanEvent::Retired => sqlx::query(
                    "UPDATE plans SET retired = true, version = $2, updated_at = $3 WHERE id = $1 AND version < $2",
                )
                .bind(id)
                .bind(sequence)
                .bind(at),
            };
            query.execute(conn).await?;
            Ok(())
        })
    }
}
