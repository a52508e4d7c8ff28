//! The backup failures watch (operators only): every failed backup attempt and every failed
//! restore, across tenants, newest last. Its table has no `tenant_id` column on purpose: it is
//! a platform view, and the query API serves it to operators alone.

use berth_domain::backup::BackupEvent;
use berth_domain::event::Event;
use berth_domain::restore::RestoreEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The backup failures watch.
pub struct BackupFailures;

impl Projection for BackupFailures {
    fn name(&self) -> &'static str {
        "backup_failures"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["backup", "restore"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &["CREATE TABLE failures (
            event_id     uuid        PRIMARY KEY,
            tenant       uuid,
            kind         text        NOT NULL,
            target_id    uuid        NOT NULL,
            site_id      uuid        NOT NULL,
            attempt      integer,
            step         text,
            reason       text        NOT NULL,
            detail       text        NOT NULL,
            final        boolean     NOT NULL,
            failed_at    timestamptz NOT NULL
        )"]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let row = match &event.event {
                Event::Backup(BackupEvent::Failed {
                    site_id,
                    attempt,
                    reason,
                    detail,
                    failed_at,
                    retry_at,
                }) => (
                    "backup",
                    site_id.as_uuid(),
                    Some(i64::from(*attempt)),
                    None,
                    reason.as_str(),
                    detail,
                    retry_at.is_none(),
                    *failed_at,
                ),
                Event::Restore(RestoreEvent::Failed { target_site_id, step, reason, detail, failed_at }) => (
                    "restore",
                    target_site_id.as_uuid(),
                    None,
                    Some(step.as_str()),
                    reason.as_str(),
                    detail,
                    true,
                    *failed_at,
                ),
                _ => return Ok(()),
            };
            let (kind, site, attempt, step, reason, detail, last, at) = row;
            sqlx::query(
                "INSERT INTO failures (event_id, tenant, kind, target_id, site_id, attempt, step, reason, detail, final,
                                       failed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(event.event_id)
            .bind(event.tenant_id)
            .bind(kind)
            .bind(event.aggregate_uuid())
            .bind(site)
            .bind(attempt)
            .bind(step)
            .bind(reason)
            .bind(detail)
            .bind(last)
            .bind(at)
            .execute(conn)
            .await
            .map(drop)
        })
    }
}
