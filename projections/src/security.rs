//! The security log: logins that worked or failed, second-factor changes, recovery codes used
//! and requests refused (the `security` streams), with the API tokens issued and revoked and
//! the organization's second-factor requirement (from the `organization` streams).
//!
//! A row's tenant is `tenant`, not `tenant_id`, so the table is not confined by row-level
//! security: operators read every row, and a tenant's read names its tenant in the query (its
//! own rows, and rows of no tenant about its members, such as a member's second factor).

use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The security log view.
pub struct SecurityLog;

impl Projection for SecurityLog {
    fn name(&self) -> &'static str {
        "security"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["security", "organization"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE security_log (
                global_position bigint      PRIMARY KEY,
                event_id        uuid        NOT NULL UNIQUE,
                tenant          uuid,
                user_id         uuid,
                recorded_at     timestamptz NOT NULL,
                kind            text        NOT NULL,
                actor           text        NOT NULL,
                address         text,
                user_agent      text,
                request_id      text,
                details         jsonb       NOT NULL
            )",
            "CREATE INDEX security_log_tenant_idx ON security_log (tenant, global_position)",
            "CREATE INDEX security_log_user_idx ON security_log (user_id, global_position)",
            "CREATE INDEX security_log_kind_idx ON security_log (kind, global_position)",
        ]
    }

    fn in_database(&self) -> Option<&'static str> {
        Some(
            "INSERT INTO security_log (global_position, event_id, tenant, user_id, recorded_at, kind, actor,
                 address, user_agent, request_id, details)
             SELECT b.global_position, b.event_id, b.tenant_id,
                    CASE WHEN e.body ->> 'user_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                         THEN (e.body ->> 'user_id')::uuid END,
                    b.recorded_at, b.event_type, COALESCE(b.metadata ->> 'actor', 'unknown'),
                    e.body #>> '{origin,address}', e.body #>> '{origin,user_agent}',
                    b.metadata ->> 'request_id', e.body - 'origin'
               FROM batch b
              CROSS JOIN LATERAL (SELECT CASE jsonb_typeof(b.payload)
                     WHEN 'object' THEN COALESCE((SELECT value FROM jsonb_each(b.payload) LIMIT 1), '{}'::jsonb)
                     ELSE '{}'::jsonb END AS body) e
              WHERE b.aggregate_type = 'security'
                 OR (b.aggregate_type = 'organization'
                     AND b.event_type IN ('TokenIssued', 'TokenRevoked', 'TwoFactorRequirementChanged'))
             ON CONFLICT (global_position) DO NOTHING",
        )
    }

    fn apply<'a>(&'a self, _conn: &'a mut PgConnection, _event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async {
            Err(sqlx::Error::Protocol("the security log is written inside the database".to_owned()))
        })
    }
}
