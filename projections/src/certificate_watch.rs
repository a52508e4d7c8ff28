//! The certificate watch (operators only): every live certificate with its expiry and the
//! state of its renewal, across tenants, for the lists of certificates expiring soon and of
//! failing renewals, and for the expiry gauges. Its table has no `tenant_id` column on
//! purpose: it is a platform view, and the query API serves it to operators alone.

use berth_domain::certificate::{CertificateEvent, Reason};
use berth_domain::event::Event;
use berth_eventstore::recorded::Recorded;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::projection::{ApplyFuture, Projection};

/// The certificate watch.
pub struct CertificateWatch;

impl Projection for CertificateWatch {
    fn name(&self) -> &'static str {
        "certificate_watch"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["certificate"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE watched (
                site_id      uuid        PRIMARY KEY,
                tenant       uuid        NOT NULL,
                domain       text        NOT NULL,
                not_after    timestamptz,
                renewal_due  boolean     NOT NULL DEFAULT false,
                failing      boolean     NOT NULL DEFAULT false,
                failures     integer     NOT NULL DEFAULT 0,
                last_error   text,
                retry_at     timestamptz,
                version      bigint      NOT NULL,
                updated_at   timestamptz NOT NULL
            )",
            "CREATE INDEX watched_expiry_idx ON watched (not_after)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Certificate(certificate) = &event.event else { return Ok(()) };
            let (id, seq, at) = (event.aggregate_uuid(), event.sequence, event.recorded_at);
            let query = match certificate {
                CertificateEvent::IssuanceRequested { tenant_id, names, reason, .. } => sqlx::query(
                    "INSERT INTO watched (site_id, tenant, domain, renewal_due, version, updated_at)
                     VALUES ($1, $4, $5, $6, $2, $3)
                     ON CONFLICT (site_id) DO UPDATE SET
                         renewal_due = watched.renewal_due OR EXCLUDED.renewal_due,
                         version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
                       WHERE watched.version < EXCLUDED.version",
                )
                .bind(id)
                .bind(seq)
                .bind(at)
                .bind(tenant_id.as_uuid())
                .bind(names.primary.as_str())
                .bind(*reason == Reason::Renewal),
                CertificateEvent::Issued { certificate: c, .. } => sqlx::query(
                    "UPDATE watched SET not_after = $4, renewal_due = false, failing = false, failures = 0,
                            last_error = NULL, retry_at = NULL, version = $2, updated_at = $3
                      WHERE site_id = $1 AND version < $2",
                )
                .bind(id)
                .bind(seq)
                .bind(at)
                .bind(c.not_after),
                CertificateEvent::IssuanceFailed { reason, retry_at, .. } => sqlx::query(
                    "UPDATE watched SET failing = not_after IS NOT NULL, failures = failures + 1, last_error = $4,
                            retry_at = $5, version = $2, updated_at = $3
                      WHERE site_id = $1 AND version < $2",
                )
                .bind(id)
                .bind(seq)
                .bind(at)
                .bind(reason)
                .bind(retry_at),
                CertificateEvent::Retired => {
                    sqlx::query("DELETE FROM watched WHERE site_id = $1").bind(id).execute(conn).await?;
                    return Ok(());
                }
                _ => sqlx::query("UPDATE watched SET version = $2, updated_at = $3 WHERE site_id = $1 AND version < $2")
                    .bind(id)
                    .bind(seq)
                    .bind(at),
            };
            query.execute(conn).await.map(drop)
        })
    }
}

/// One live certificate's expiry, for the gauges.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Expiry {
    /// The site.
    pub site_id: Uuid,
    /// Its domain.
    pub domain: String,
    /// When its certificate expires.
    pub not_after: OffsetDateTime,
    /// Whether its renewal keeps failing.
    pub failing: bool,
}

/// Every live certificate's expiry.
pub async fn expiries(pool: &PgPool) -> Result<Vec<Expiry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT site_id, domain, not_after, failing FROM proj_certificate_watch.watched
          WHERE not_after IS NOT NULL ORDER BY site_id",
    )
    .fetch_all(pool)
    .await
}
