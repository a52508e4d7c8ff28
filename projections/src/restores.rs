//! The restores view: each restore (what, from which backup into which site, where it is) and
//! its steps with their timings.
//!
//! `status` is `running`, `completed` or `failed`; a failed restore names the step, the reason
//! and what happened, and left its target as it was.

use berth_domain::event::Event;
use berth_domain::restore::RestoreEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The restores view.
pub struct RestoresView;

impl Projection for RestoresView {
    fn name(&self) -> &'static str {
        "restores"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["restore"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE restores (
                restore_id        uuid        PRIMARY KEY,
                tenant_id         uuid        NOT NULL,
                backup_id         uuid        NOT NULL,
                source_site_id    uuid        NOT NULL,
                target_site_id    uuid        NOT NULL,
                what              text        NOT NULL,
                safety_backup_id  uuid        NOT NULL,
                status            text        NOT NULL,
                failed_step       text,
                failure_reason    text,
                last_error        text,
                requested_at      timestamptz NOT NULL,
                finished_at       timestamptz,
                version           bigint      NOT NULL,
                updated_at        timestamptz NOT NULL
            )",
            "CREATE INDEX restores_tenant_idx ON restores (tenant_id, restore_id)",
            "CREATE TABLE restore_steps (
                restore_id    uuid        NOT NULL,
                tenant_id     uuid        NOT NULL,
                step          text        NOT NULL,
                completed_at  timestamptz NOT NULL,
                took_ms       bigint      NOT NULL,
                PRIMARY KEY (restore_id, step)
            )",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Restore(restore) = &event.event else { return Ok(()) };
            apply_restore(conn, event, restore).await
        })
    }
}

async fn apply_restore(
    conn: &mut PgConnection,
    event: &Recorded,
    restore: &RestoreEvent,
) -> Result<(), sqlx::Error> {
    let id = event.aggregate_uuid();
    let (seq, at) = (event.sequence, event.recorded_at);
    let query = match restore {
        RestoreEvent::Requested {
            backup_id,
            source_site_id,
            target_site_id,
            tenant_id,
            what,
            safety_backup_id,
            requested_at,
        } => sqlx::query(
            "INSERT INTO restores (restore_id, tenant_id, backup_id, source_site_id, target_site_id, what,
                                   safety_backup_id, status, requested_at, version, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9, $10)
             ON CONFLICT (restore_id) DO NOTHING",
        )
        .bind(id)
        .bind(tenant_id.as_uuid())
        .bind(backup_id.as_uuid())
        .bind(source_site_id.as_uuid())
        .bind(target_site_id.as_uuid())
        .bind(what.as_str())
        .bind(safety_backup_id.as_uuid())
        .bind(requested_at)
        .bind(seq)
        .bind(at),
        RestoreEvent::StepCompleted { step, completed_at, took_ms } => {
            sqlx::query(
                "INSERT INTO restore_steps (restore_id, tenant_id, step, completed_at, took_ms)
                 SELECT restore_id, tenant_id, $2, $3, $4 FROM restores WHERE restore_id = $1
                 ON CONFLICT (restore_id, step) DO NOTHING",
            )
            .bind(id)
            .bind(step.as_str())
            .bind(completed_at)
            .bind(i64::try_from(*took_ms).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "UPDATE restores SET version = $2, updated_at = $3 WHERE restore_id = $1 AND version < $2",
            )
            .bind(id)
            .bind(seq)
            .bind(at)
        }
        RestoreEvent::Completed { completed_at } => sqlx::query(
            "UPDATE restores SET status = 'completed', finished_at = $4, version = $2, updated_at = $3
              WHERE restore_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(completed_at),
        RestoreEvent::Failed { step, reason, detail, failed_at, .. } => sqlx::query(
            "UPDATE restores SET status = 'failed', failed_step = $4, failure_reason = $5, last_error = $6,
                    finished_at = $7, version = $2, updated_at = $3
              WHERE restore_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(step.as_str())
        .bind(reason.as_str())
        .bind(detail)
        .bind(failed_at),
    };
    query.execute(conn).await.map(drop)
}
