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

    fn apply_all<'a>(&'a self, conn: &'a mut PgConnection, events: &'a [Recorded]) -> ApplyFuture<'a> {
        Box::pin(async move {
            // One statement per batch: the trail is append-only, one row per event.
            sqlx::query(
                "INSERT INTO audit_entries (global_position, event_id, tenant_id, recorded_at, actor, action,
                     target_type, target_id, target_version, request_id, command_id, correlation_id, payload)
                 SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::bigint[], $10::text[], $11::uuid[], $12::uuid[], $13::jsonb[])
                 ON CONFLICT (global_position) DO NOTHING",
            )
            .bind(events.iter().map(|e| e.position.global_position).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.event_id).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.tenant_id).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.recorded_at).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.meta.actor.clone()).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.event_type.clone()).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.aggregate_type.clone()).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.aggregate_id.clone()).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.sequence).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.meta.request_id.clone()).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.meta.command_id).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.meta.correlation_id).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.stored_payload.clone()).collect::<Vec<_>>())
            .execute(conn)
            .await?;
            Ok(())
        })
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        self.apply_all(conn, std::slice::from_ref(event))
    }
}
