//! The audit trail: one row per event, with who did it, to what, and from which request.

use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The tenant audit trail view.
pub struct AuditTrail;

impl Projection for AuditTrail {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn schema_version(&self) -> i32 {
        // 2: row-level security and the reader role's grants.
        2
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE audit_entries (
                global_position bigint      PRIMARY KEY,
                event_id        uuid        NOT NULL UNIQUE,
                tenant_id       uuid,
                recorded_at     timestamptz NOT NULL,
                actor           text        NOT NULL,
                action          text        NOT NULL,
                target_type     text        NOT NULL,
                target_id       text        NOT NULL,
                target_version  bigint      NOT NULL,
                request_id      text,
                command_id      uuid,
                correlation_id  uuid,
                payload         jsonb       NOT NULL
            )",
            "CREATE INDEX audit_entries_tenant_idx ON audit_entries (tenant_id, recorded_at, global_position)",
            "CREATE INDEX audit_entries_actor_idx ON audit_entries (tenant_id, actor, global_position)",
            "CREATE INDEX audit_entries_target_idx ON audit_entries (tenant_id, target_id, global_position)",
        ]
    }

    fn in_database(&self) -> Option<&'static str> {
        // One row per event, straight from the log. Metadata ids that are not UUIDs (only a
        // hand-edited row has them) are left empty rather than stopping the trail.
        Some(
            "INSERT INTO audit_entries (global_position, event_id, tenant_id, recorded_at, actor, action,
                 target_type, target_id, target_version, request_id, command_id, correlation_id, payload)
             SELECT b.global_position, b.event_id, b.tenant_id, b.recorded_at,
                    COALESCE(b.metadata ->> 'actor', 'unknown'), b.event_type, b.aggregate_type,
                    b.aggregate_id, b.sequence, b.metadata ->> 'request_id',
                    CASE WHEN b.metadata ->> 'command_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                         THEN (b.metadata ->> 'command_id')::uuid END,
                    CASE WHEN b.metadata ->> 'correlation_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                         THEN (b.metadata ->> 'correlation_id')::uuid END,
                    b.payload
               FROM batch b
             ON CONFLICT (global_position) DO NOTHING",
        )
    }

    fn apply<'a>(&'a self, _conn: &'a mut PgConnection, _event: &'a Recorded) -> ApplyFuture<'a> {
        // The runtime writes the trail through `in_database`; an event applied any other way
        // would be a trail that differs from the log.
        Box::pin(async {
            Err(sqlx::Error::Protocol("the audit trail is written inside the database".to_owned()))
        })
    }
}
