//! A subscription's metered usage: per billing period and metric, the total so far (the peak
//! for storage, the sum for transfer), as the usage aggregate counts it. The tenant's rows
//! (`usage`, `meters`) are row-level secured; operators, who record readings, read the same
//! rows in `all_usage` and `all_meters` (without a `tenant_id` column, like `all_invoices`).

use berth_domain::event::Event;
use berth_domain::plan::Aggregation;
use berth_domain::usage::UsageEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The usage view.
pub struct UsageView;

impl Projection for UsageView {
    fn name(&self) -> &'static str {
        "usage"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["usage"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE usage (
                subscription_id uuid        PRIMARY KEY,
                tenant_id       uuid        NOT NULL,
                version         bigint      NOT NULL,
                updated_at      timestamptz NOT NULL
            )",
            "CREATE TABLE meters (
                subscription_id uuid   NOT NULL,
                tenant_id       uuid   NOT NULL,
                period_start    date   NOT NULL,
                period_end      date   NOT NULL,
                metric          text   NOT NULL,
                thousandths     bigint NOT NULL,
                PRIMARY KEY (subscription_id, period_start, metric)
            )",
            "CREATE TABLE all_usage (subscription_id uuid PRIMARY KEY, tenant uuid NOT NULL, version bigint NOT NULL)",
            "CREATE TABLE all_meters (
                subscription_id uuid   NOT NULL,
                tenant          uuid   NOT NULL,
                period_start    date   NOT NULL,
                period_end      date   NOT NULL,
                metric          text   NOT NULL,
                thousandths     bigint NOT NULL,
                PRIMARY KEY (subscription_id, period_start, metric)
            )",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Usage(UsageEvent::Recorded {
                tenant_id,
                subscription_id,
                metric,
                quantity,
                period,
                ..
            }) = &event.event
            else {
                return Ok(());
            };
            // Guarded by the stream's version, so a replayed reading adds nothing.
            let moved = sqlx::query(
                "INSERT INTO usage (subscription_id, tenant_id, version, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (subscription_id) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
                  WHERE usage.version < EXCLUDED.version",
            )
            .bind(subscription_id.as_uuid())
            .bind(tenant_id.as_uuid())
            .bind(event.sequence)
            .bind(event.recorded_at)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if moved == 0 {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO all_usage (subscription_id, tenant, version) VALUES ($1, $2, $3)
                 ON CONFLICT (subscription_id) DO UPDATE SET version = EXCLUDED.version",
            )
            .bind(subscription_id.as_uuid())
            .bind(tenant_id.as_uuid())
            .bind(event.sequence)
            .execute(&mut *conn)
            .await?;
            for (table, tenant) in [("meters", "tenant_id"), ("all_meters", "tenant")] {
                let total = match metric.aggregation() {
                    Aggregation::Peak => format!("GREATEST({table}.thousandths, EXCLUDED.thousandths)"),
                    Aggregation::Sum => format!("{table}.thousandths + EXCLUDED.thousandths"),
                };
                sqlx::query(&format!(
                    "INSERT INTO {table} (subscription_id, {tenant}, period_start, period_end, metric, thousandths)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (subscription_id, period_start, metric) DO UPDATE SET thousandths = {total}"
                ))
                .bind(subscription_id.as_uuid())
                .bind(tenant_id.as_uuid())
                .bind(period.start())
                .bind(period.end())
                .bind(metric.as_str())
                .bind(quantity.thousandths())
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        })
    }
}
