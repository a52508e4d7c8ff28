//! The certificates view: each site's certificate (issuer, names, validity), its last attempt
//! and how it ended, and whether a renewal is under way or failing.
//!
//! `status` is `pending` (a first certificate is under way), `failed` (no certificate yet, the
//! last attempt failed, another is scheduled), `issued` (not on the node yet), `active` (the
//! node serves it) or `retired` (the site is gone). `renewal` is set while a certificate
//! exists and another attempt is `under_way` or `failing`.

use berth_domain::certificate::CertificateEvent;
use berth_domain::event::Event;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The certificates view.
pub struct CertificatesView;

impl Projection for CertificatesView {
    fn name(&self) -> &'static str {
        "certificates"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["certificate"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE certificates (
                site_id         uuid        PRIMARY KEY,
                tenant_id       uuid        NOT NULL,
                domain          text        NOT NULL,
                status          text        NOT NULL,
                renewal         text,
                names           jsonb       NOT NULL,
                wildcard        boolean     NOT NULL,
                hsts            boolean     NOT NULL,
                serial          text,
                issuer          text,
                covers          jsonb,
                not_before      timestamptz,
                not_after       timestamptz,
                method          text,
                renew_at        timestamptz,
                installed_at    timestamptz,
                attempt         integer     NOT NULL,
                attempt_reason  text        NOT NULL,
                attempt_at      timestamptz NOT NULL,
                outcome         text        NOT NULL,
                error_code      text,
                last_error      text,
                retry_at        timestamptz,
                failures        integer     NOT NULL DEFAULT 0,
                warned_days     integer,
                version         bigint      NOT NULL,
                updated_at      timestamptz NOT NULL
            )",
            "CREATE INDEX certificates_tenant_idx ON certificates (tenant_id, site_id)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Certificate(certificate) = &event.event else { return Ok(()) };
            apply_certificate(conn, event, certificate).await
        })
    }
}

async fn apply_certificate(
    conn: &mut PgConnection,
    event: &Recorded,
    certificate: &CertificateEvent,
) -> Result<(), sqlx::Error> {
    let id = event.aggregate_uuid();
    let (seq, at) = (event.sequence, event.recorded_at);
    let query = match certificate {
        CertificateEvent::IssuanceRequested { tenant_id, attempt, names, hsts, reason, .. } => {
            return sqlx::query(
                "INSERT INTO certificates (site_id, tenant_id, domain, status, names, wildcard, hsts, attempt,
                                           attempt_reason, attempt_at, outcome, version, updated_at)
                 VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, 'pending', $10, $9)
                 ON CONFLICT (site_id) DO UPDATE SET
                     names = EXCLUDED.names, wildcard = EXCLUDED.wildcard, hsts = EXCLUDED.hsts,
                     attempt = EXCLUDED.attempt, attempt_reason = EXCLUDED.attempt_reason,
                     attempt_at = EXCLUDED.attempt_at, outcome = 'pending', retry_at = NULL,
                     status = CASE WHEN certificates.serial IS NULL THEN 'pending' ELSE certificates.status END,
                     renewal = CASE WHEN certificates.serial IS NULL THEN NULL ELSE 'under_way' END,
                     version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
                   WHERE certificates.version < EXCLUDED.version",
            )
            .bind(id)
            .bind(tenant_id.as_uuid())
            .bind(names.primary.as_str())
            .bind(serde_json::json!(names.all()))
            .bind(names.wildcard)
            .bind(hsts)
            .bind(i64::from(*attempt))
            .bind(reason.as_str())
            .bind(at)
            .bind(seq)
            .execute(conn)
            .await
            .map(drop);
        }
        CertificateEvent::Issued { certificate: c, renew_at, .. } => sqlx::query(
            "UPDATE certificates SET status = 'issued', renewal = NULL, serial = $4, issuer = $5, covers = $6,
                    not_before = $7, not_after = $8, method = $9, renew_at = $10, outcome = 'issued',
                    error_code = NULL, last_error = NULL, retry_at = NULL, failures = 0, warned_days = NULL,
                    version = $2, updated_at = $3
              WHERE site_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(&c.serial)
        .bind(&c.issuer)
        .bind(serde_json::json!(c.names))
        .bind(c.not_before)
        .bind(c.not_after)
        .bind(c.method.as_str())
        .bind(renew_at),
        CertificateEvent::IssuanceFailed { code, reason, retry_at, .. } => sqlx::query(
            "UPDATE certificates SET outcome = 'failed', error_code = $4, last_error = $5, retry_at = $6,
                    failures = failures + 1,
                    status = CASE WHEN serial IS NULL THEN 'failed' ELSE status END,
                    renewal = CASE WHEN serial IS NULL THEN NULL ELSE 'failing' END,
                    version = $2, updated_at = $3
              WHERE site_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(code.as_str())
        .bind(reason)
        .bind(retry_at),
        CertificateEvent::Installed { .. } => sqlx::query(
            "UPDATE certificates SET status = 'active', installed_at = $3, last_error = NULL, version = $2,
                    updated_at = $3
              WHERE site_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at),
        CertificateEvent::InstallFailed { reason, retry_at, .. } => sqlx::query(
            "UPDATE certificates SET last_error = $4, retry_at = $5, version = $2, updated_at = $3
              WHERE site_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(reason)
        .bind(retry_at),
        CertificateEvent::RenewalWarningDue { days_left, .. }
        | CertificateEvent::ExpiryNoticeDue { days_left, .. } => sqlx::query(
            "UPDATE certificates SET warned_days = $4, version = $2, updated_at = $3 WHERE site_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(i64::from(*days_left)),
        CertificateEvent::InstallRetried { .. } => sqlx::query(
            "UPDATE certificates SET version = $2, updated_at = $3 WHERE site_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at),
        CertificateEvent::NamesChanged { names } => sqlx::query(
            "UPDATE certificates SET names = $4, wildcard = $5, version = $2, updated_at = $3
              WHERE site_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at)
        .bind(serde_json::json!(names.all()))
        .bind(names.wildcard),
        CertificateEvent::Retired => sqlx::query(
            "UPDATE certificates SET status = 'retired', renewal = NULL, retry_at = NULL, version = $2, updated_at = $3
              WHERE site_id = $1 AND version < $2",
        )
        .bind(id)
        .bind(seq)
        .bind(at),
    };
    query.execute(conn).await.map(drop)
}
