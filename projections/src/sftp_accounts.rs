//! The SFTP accounts view: each site's accounts (name, login, how they log in, whether the
//! node has them). A removed account's row is deleted.

use berth_domain::event::Event;
use berth_domain::sftp::SftpEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The SFTP accounts view.
pub struct SftpAccountsView;

impl Projection for SftpAccountsView {
    fn name(&self) -> &'static str {
        "sftp_accounts"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["sftp_accounts"])
    }

    fn schema_version(&self) -> i32 {
        // 2: whether uploads are locked by the storage limit, and the storage then.
        2
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE accounts (
            site_id     uuid        NOT NULL,
            name        text        NOT NULL,
            tenant_id   uuid        NOT NULL,
            login       text        NOT NULL,
            method      text        NOT NULL,
            public_key  text,
            status      text        NOT NULL,
            reason      text,
            added_at    timestamptz NOT NULL,
            version     bigint      NOT NULL,
            PRIMARY KEY (site_id, name)
        )",
            "CREATE TABLE storage (
            site_id     uuid        PRIMARY KEY,
            tenant_id   uuid        NOT NULL,
            locked      boolean     NOT NULL,
            used_bytes  bigint      NOT NULL,
            limit_bytes bigint,
            changed_at  timestamptz NOT NULL,
            version     bigint      NOT NULL
        )",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Sftp(change) = &event.event else { return Ok(()) };
            let site = event.aggregate_uuid();
            let seq = event.sequence;
            let query = match change {
                SftpEvent::AccountAdded { tenant_id, name, login, auth, added_at, .. } => {
                    let key = match auth {
                        berth_domain::sftp::SftpAuth::Key { public_key } => Some(public_key.clone()),
                        berth_domain::sftp::SftpAuth::Password { .. } => None,
                    };
                    sqlx::query(
                        "INSERT INTO accounts (site_id, name, tenant_id, login, method, public_key, status, added_at, version)
                         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)
                         ON CONFLICT (site_id, name) DO UPDATE SET login = $4, method = $5, public_key = $6,
                                status = 'pending', reason = NULL, added_at = $7, version = $8
                          WHERE accounts.version < $8",
                    )
                    .bind(site)
                    .bind(name.as_str())
                    .bind(tenant_id.as_uuid())
                    .bind(login)
                    .bind(auth.method())
                    .bind(key)
                    .bind(added_at)
                    .bind(seq)
                }
                SftpEvent::AccountReady { name } => sqlx::query(
                    "UPDATE accounts SET status = 'ready', reason = NULL, version = $3
                      WHERE site_id = $1 AND name = $2 AND version < $3",
                )
                .bind(site)
                .bind(name.as_str())
                .bind(seq),
                SftpEvent::AccountFailed { name, reason } => sqlx::query(
                    "UPDATE accounts SET status = 'failed', reason = $4, version = $3
                      WHERE site_id = $1 AND name = $2 AND version < $3",
                )
                .bind(site)
                .bind(name.as_str())
                .bind(seq)
                .bind(reason),
                SftpEvent::WritesLocked { used_bytes, limit_bytes } => {
                    return storage(conn, event, true, *used_bytes, Some(*limit_bytes)).await;
                }
                SftpEvent::WritesUnlocked { used_bytes, limit_bytes } => {
                    return storage(conn, event, false, *used_bytes, *limit_bytes).await;
                }
                SftpEvent::AccountRemoved { name, .. } => {
                    sqlx::query("DELETE FROM accounts WHERE site_id = $1 AND name = $2 AND version < $3")
                        .bind(site)
                        .bind(name.as_str())
                        .bind(seq)
                }
            };
            query.execute(conn).await.map(drop)
        })
    }
}

/// The site's upload lock, and the storage and limit it was decided on.
async fn storage(
    conn: &mut PgConnection,
    event: &Recorded,
    locked: bool,
    used: u64,
    limit: Option<u64>,
) -> Result<(), sqlx::Error> {
    let Some(tenant) = event.tenant_id else { return Ok(()) };
    let bytes = |b: u64| i64::try_from(b).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO storage (site_id, tenant_id, locked, used_bytes, limit_bytes, changed_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (site_id) DO UPDATE SET locked = $3, used_bytes = $4, limit_bytes = $5, changed_at = $6,
                version = $7
          WHERE storage.version < $7",
    )
    .bind(event.aggregate_uuid())
    .bind(tenant)
    .bind(locked)
    .bind(bytes(used))
    .bind(limit.map(bytes))
    .bind(event.recorded_at)
    .bind(event.sequence)
    .execute(conn)
    .await
    .map(drop)
}
