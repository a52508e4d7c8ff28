//! The backups view: every backup of every site (kind, trigger, status, size, checksum, when
//! it was verified, until when it is held, its last failure), from which a site's list and a
//! tenant's storage in use are read.
//!
//! `status` follows the backup: `taking`, `verifying`, `verified`, `failed` (another attempt
//! is due at `retry_at`), `abandoned` (every attempt failed) or `pruned` (its object is gone).

use berth_domain::backup::BackupEvent;
use berth_domain::event::Event;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The backups view.
pub struct BackupsView;

impl Projection for BackupsView {
    fn name(&self) -> &'static str {
        "backups"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["backup"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE backups (
                backup_id       uuid        PRIMARY KEY,
                tenant_id       uuid        NOT NULL,
                site_id         uuid        NOT NULL,
                kind            text        NOT NULL,
                trigger         text        NOT NULL,
                note            text,
                restore_id      uuid,
                status          text        NOT NULL,
                attempt         integer     NOT NULL,
                size_bytes      bigint,
                sha256          text,
                parts           integer,
                failure_reason  text,
                last_error      text,
                retry_at        timestamptz,
                requested_at    timestamptz NOT NULL,
                taken_at        timestamptz,
                verified_at     timestamptz,
                pruned_at       timestamptz,
                keep_until      timestamptz,
                version         bigint      NOT NULL,
                updated_at      timestamptz NOT NULL
            )",
            "CREATE INDEX backups_site_idx ON backups (tenant_id, site_id, backup_id)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Backup(backup) = &event.event else { return Ok(()) };
            apply_backup(conn, event, backup).await
        })
    }
}

async fn apply_backup(
    conn: &mut PgConnection,
    event: &Recorded,
    backup: &BackupEvent,
) -> Result<(), sqlx::Error> {
    let id = event.aggregate_uuid();
    let (seq, at) = (event.sequence, event.recorded_at);
    let query = match backup {
        BackupEvent::Requested { site_id, tenant_id, kind, trigger, note, requested_at, keep_until, restore_id } => {
            return sqlx::query(
                "INSERT INTO backups (backup_id, tenant_id, site_id, kind, trigger, note, restore_id, status, attempt,
                                      requested_at, keep_until, version, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'taking', 1, $8, $9, $10, $11)
                 ON CONFLICT (backup_id) DO NOTHING",
            )
            .bind(id)
            .bind(tenant_id.as_uuid())
            .bind(site_id.as_uuid())
            .bind(kind.as_str())
            .bind(serde_json::to_value(trigger).ok().and_then(|v| v.as_str().map(str::to_owned)))
            .bind(note)
            .bind(restore_id.map(|r| r.as_uuid()))
            .bind(requested_at)
            .bind(keep_until)
            .bind(seq)
            .bind(at)
            .execute(conn)
            .await
            .map(drop);
        }
        BackupEvent::Taken { manifest, taken_at, .. } => sqlx::query(
            "UPDATE backups SET status = 'verifying', size_bytes = $4, sha256 = $5, parts = $6, taken_at = $7,
                    retry_at = NULL, version = $2, updated_at = $3
              WHERE backup_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(i64::try_from(manifest.size).unwrap_or(i64::MAX))
        .bind(manifest.sha256.as_str())
        .bind(i64::from(manifest.parts))
        .bind(taken_at),
        BackupEvent::Verified { verified_at, .. } => sqlx::query(
            "UPDATE backups SET status = 'verified', verified_at = $4, failure_reason = NULL, last_error = NULL,
                    version = $2, updated_at = $3
              WHERE backup_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(verified_at),
        BackupEvent::Failed { reason, detail, retry_at, .. } => sqlx::query(
            "UPDATE backups SET status = CASE WHEN $6::timestamptz IS NULL THEN 'abandoned' ELSE 'failed' END,
                    failure_reason = $4, last_error = $5, retry_at = $6, version = $2, updated_at = $3
              WHERE backup_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(reason.as_str())
        .bind(detail)
        .bind(retry_at),
        BackupEvent::Retried { attempt } => sqlx::query(
            "UPDATE backups SET status = 'taking', attempt = $4, retry_at = NULL, version = $2, updated_at = $3
              WHERE backup_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(i64::from(*attempt)),
        BackupEvent::HoldEnded { .. } => sqlx::query(
            "UPDATE backups SET keep_until = NULL, version = $2, updated_at = $3 WHERE backup_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at),
        BackupEvent::Pruned { pruned_at, .. } => sqlx::query(
            "UPDATE backups SET status = 'pruned', pruned_at = $4, version = $2, updated_at = $3
              WHERE backup_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(pruned_at),
    };
    query.execute(conn).await.map(drop)
}

/// A site's latest verified backup that still has its object (id and when it was verified),
/// for the sagas that restore from it.
pub async fn latest_verified(
    pool: &sqlx::PgPool,
    site_id: uuid::Uuid,
) -> Result<Option<(uuid::Uuid, time::OffsetDateTime)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT backup_id, verified_at FROM proj_backups.backups
          WHERE site_id = $1 AND status = 'verified' AND verified_at IS NOT NULL
          ORDER BY verified_at DESC, backup_id DESC LIMIT 1",
    )
    .bind(site_id)
    .fetch_optional(pool)
    .await
}
