//! The audit trail: one row per event, with who did it, to what, and from which request.

use berth_eventstore::feed::FeedEvent;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The tenant audit trail view.
pub struct AuditTrail;

impl Projection for AuditTrail {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn schema_version(&self) -> i32 {
        1
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

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a FeedEvent) -> ApplyFuture<'a> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO audit_entries (global_position, event_id, tenant_id, recorded_at, actor, action,
                     target_type, target_id, target_version, request_id, command_id, correlation_id, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::uuid, $12::uuid, $13)
                 ON CONFLICT (global_position) DO NOTHING",
            )
            .bind(event.global_position)
            .bind(event.event_id)
            .bind(event.tenant_id)
            .bind(event.recorded_at)
            .bind(event.meta("actor").unwrap_or("unknown"))
            .bind(&event.event_type)
            .bind(&event.aggregate_type)
            .bind(&event.aggregate_id)
            .bind(event.sequence)
            .bind(event.meta("request_id"))
            .bind(event.meta("command_id"))
            .bind(event.meta("correlation_id"))
            .bind(&event.payload)
            .execute(conn)
            .await?;
            Ok(())
        })
    }
}
