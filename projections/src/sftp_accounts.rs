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
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &["CREATE TABLE accounts (
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
        )"]
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
