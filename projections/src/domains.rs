//! The custom domains view: every domain a site claimed, with its verification state, the
//! token its TXT record must hold and the last check. Rows of one domain share its aggregate's
//! version (each event of the domain moves all of them), so a claim's answer can be read back
//! at its version whichever site's event came last.

use berth_domain::custom_domain::CustomDomainEvent;
use berth_domain::event::Event;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The custom domains view.
pub struct DomainsView;

impl Projection for DomainsView {
    fn name(&self) -> &'static str {
        "domains"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["custom_domain"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE site_domains (
                domain        text        NOT NULL,
                site_id       uuid        NOT NULL,
                tenant_id     uuid        NOT NULL,
                status        text        NOT NULL,
                token         text        NOT NULL,
                expires_at    timestamptz NOT NULL,
                checks        integer     NOT NULL DEFAULT 0,
                last_check_at timestamptz,
                last_error    text,
                next_check_at timestamptz,
                verified_at   timestamptz,
                version       bigint      NOT NULL,
                created_at    timestamptz NOT NULL,
                PRIMARY KEY (domain, site_id)
            )",
            "CREATE INDEX site_domains_site_idx ON site_domains (tenant_id, site_id, domain)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::CustomDomain(domain_event) = &event.event else { return Ok(()) };
            let (domain, seq, at) = (event.aggregate_id.as_str(), event.sequence, event.recorded_at);
            let fresh: bool = sqlx::query_scalar(
                "SELECT NOT EXISTS (SELECT 1 FROM site_domains WHERE domain = $1 AND version >= $2)",
            )
            .bind(domain)
            .bind(seq)
            .fetch_one(&mut *conn)
            .await?;
            if !fresh {
                return Ok(());
            }
            let change = |sql: &'static str| sqlx::query(sql).bind(domain).bind(at);
            match domain_event {
                CustomDomainEvent::Claimed { site_id, tenant_id, token, expires_at, .. } => {
                    sqlx::query(
                        "INSERT INTO site_domains (domain, site_id, tenant_id, status, token, expires_at, version, created_at)
                         VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7)
                         ON CONFLICT (domain, site_id) DO UPDATE SET status = 'pending', token = EXCLUDED.token,
                             expires_at = EXCLUDED.expires_at, checks = 0, last_error = NULL, next_check_at = NULL,
                             verified_at = NULL, tenant_id = EXCLUDED.tenant_id",
                    )
                    .bind(domain)
                    .bind(site_id.as_uuid())
                    .bind(tenant_id.as_uuid())
                    .bind(token.as_str())
                    .bind(expires_at)
                    .bind(seq)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                }
                CustomDomainEvent::CheckDue { .. } => {}
                CustomDomainEvent::CheckFailed { site_id, attempt, reason, next_check_at } => {
                    change(
                        "UPDATE site_domains SET checks = $4, last_check_at = $2, last_error = $5, next_check_at = $6
                          WHERE domain = $1 AND site_id = $3",
                    )
                    .bind(site_id.as_uuid())
                    .bind(i64::from(*attempt))
                    .bind(reason)
                    .bind(next_check_at)
                    .execute(&mut *conn)
                    .await?;
                }
                CustomDomainEvent::Verified { site_id, dropped, .. } => {
                    change(
                        "UPDATE site_domains SET status = 'verified', verified_at = $2, last_check_at = $2,
                                last_error = NULL, next_check_at = NULL
                          WHERE domain = $1 AND site_id = $3",
                    )
                    .bind(site_id.as_uuid())
                    .execute(&mut *conn)
                    .await?;
                    let dropped: Vec<uuid::Uuid> = dropped.iter().map(|s| s.as_uuid()).collect();
                    change(
                        "UPDATE site_domains SET status = 'dropped', next_check_at = NULL, last_check_at = $2,
                                last_error = 'verified for another site'
                          WHERE domain = $1 AND site_id = ANY($3)",
                    )
                    .bind(dropped)
                    .execute(&mut *conn)
                    .await?;
                }
                CustomDomainEvent::ClaimExpired { site_id } => {
                    change(
                        "UPDATE site_domains SET status = 'expired', next_check_at = NULL, last_check_at = $2
                          WHERE domain = $1 AND site_id = $3",
                    )
                    .bind(site_id.as_uuid())
                    .execute(&mut *conn)
                    .await?;
                }
                CustomDomainEvent::Removed { site_id, .. } => {
                    sqlx::query("DELETE FROM site_domains WHERE domain = $1 AND site_id = $2")
                        .bind(domain)
                        .bind(site_id.as_uuid())
                        .execute(&mut *conn)
                        .await?;
                }
            }
            sqlx::query("UPDATE site_domains SET version = $2 WHERE domain = $1 AND version < $2")
                .bind(domain)
                .bind(seq)
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
