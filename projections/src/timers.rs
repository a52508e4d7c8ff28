//! The timers view (operators only): every durable timer with its target, when it is due, and
//! how it ended, from the `timer` aggregate's events. Its table has no `tenant_id` column on
//! purpose: it is a platform view, and the query API serves it to operators alone.

use berth_domain::event::Event;
use berth_domain::timer::{TimerEvent, TimerOutcome};
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The timers view.
pub struct TimersView;

impl Projection for TimersView {
    fn name(&self) -> &'static str {
        "timers"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["timer"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE timers (
                key          text        PRIMARY KEY,
                tenant       uuid,
                target_type  text        NOT NULL,
                target_id    text        NOT NULL,
                due_at       timestamptz NOT NULL,
                status       text        NOT NULL,
                outcome_code text,
                reason       text,
                version      bigint      NOT NULL,
                changed_at   timestamptz NOT NULL
            )",
            "CREATE INDEX timers_status_due_idx ON timers (status, due_at, key)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Timer(timer) = &event.event else { return Ok(()) };
            // Guarded by version: a timer's events can reach the feed out of order when two
            // commands move the same timer at once.
            match timer {
                TimerEvent::Scheduled { key, due_at, target_type, target_id, .. } => {
                    sqlx::query(
                        "INSERT INTO timers (key, tenant, target_type, target_id, due_at, status, version, changed_at)
                         VALUES ($1, $2, $3, $4, $5, 'scheduled', $6, $7)
                         ON CONFLICT (key) DO UPDATE SET tenant = EXCLUDED.tenant, target_type = EXCLUDED.target_type,
                             target_id = EXCLUDED.target_id, due_at = EXCLUDED.due_at, status = 'scheduled',
                             outcome_code = NULL, reason = NULL, version = EXCLUDED.version,
                             changed_at = EXCLUDED.changed_at
                          WHERE timers.version < EXCLUDED.version",
                    )
                    .bind(key.as_str())
                    .bind(event.tenant_id)
                    .bind(target_type)
                    .bind(target_id)
                    .bind(due_at)
                    .bind(event.sequence)
                    .bind(event.recorded_at)
                    .execute(conn)
                    .await?;
                }
                TimerEvent::Cancelled { key } => {
                    settle(conn, event, key.as_str(), "cancelled", None, None).await?
                }
                TimerEvent::Fired { key, outcome: TimerOutcome::Applied } => {
                    settle(conn, event, key.as_str(), "fired", None, None).await?;
                }
                TimerEvent::Fired { key, outcome: TimerOutcome::Refused { code, reason } } => {
                    settle(conn, event, key.as_str(), "refused", Some(code), Some(reason)).await?;
                }
            }
            Ok(())
        })
    }
}

async fn settle(
    conn: &mut PgConnection,
    event: &Recorded,
    key: &str,
    status: &str,
    code: Option<&str>,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE timers SET status = $2, outcome_code = $3, reason = $4, version = $5, changed_at = $6
          WHERE key = $1 AND version < $5",
    )
    .bind(key)
    .bind(status)
    .bind(code)
    .bind(reason)
    .bind(event.sequence)
    .bind(event.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}
