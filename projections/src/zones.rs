//! The zones view: each tenant's DNS zones with their record sets, how far the DNS server has
//! caught up (`revision` against `published_revision`) and the drift found on it.
//!
//! The zones saga reads it (read-only) to find the zone a new site's domain lies in.

use berth_domain::event::Event;
use berth_domain::ids::{TenantId, ZoneId};
use berth_domain::zone::ZoneEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::projection::{ApplyFuture, Projection};

/// The zones view.
pub struct ZonesView;

impl Projection for ZonesView {
    fn name(&self) -> &'static str {
        "zones"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["zone"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE zones (
                id                 uuid        PRIMARY KEY,
                tenant_id          uuid        NOT NULL,
                name               text        NOT NULL,
                status             text        NOT NULL,
                revision           bigint      NOT NULL,
                published_revision bigint      NOT NULL DEFAULT 0,
                last_error         text,
                drift_found        bigint      NOT NULL DEFAULT 0,
                last_drift_at      timestamptz,
                version            bigint      NOT NULL,
                created_at         timestamptz NOT NULL,
                updated_at         timestamptz NOT NULL
            )",
            "CREATE INDEX zones_tenant_idx ON zones (tenant_id, id)",
            "CREATE INDEX zones_name_idx ON zones (name)",
            "CREATE TABLE zone_records (
                zone_id   uuid    NOT NULL,
                tenant_id uuid    NOT NULL,
                name      text    NOT NULL,
                type      text    NOT NULL,
                ttl       integer NOT NULL,
                records   jsonb   NOT NULL,
                PRIMARY KEY (zone_id, name, type)
            )",
            "CREATE TABLE zone_drift (
                zone_id   uuid        NOT NULL,
                sequence  bigint      NOT NULL,
                tenant_id uuid        NOT NULL,
                found     jsonb       NOT NULL,
                at        timestamptz NOT NULL,
                PRIMARY KEY (zone_id, sequence)
            )",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Zone(zone) = &event.event else { return Ok(()) };
            apply_zone(conn, event, zone).await
        })
    }
}

async fn apply_zone(conn: &mut PgConnection, event: &Recorded, zone: &ZoneEvent) -> Result<(), sqlx::Error> {
    let id = event.aggregate_uuid();
    if let ZoneEvent::Created { tenant_id, name, .. } = zone {
        sqlx::query(
            "INSERT INTO zones (id, tenant_id, name, status, revision, version, created_at, updated_at)
             VALUES ($1, $2, $3, 'active', 1, $4, $5, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(tenant_id.as_uuid())
        .bind(name.as_str())
        .bind(event.sequence)
        .bind(event.recorded_at)
        .execute(conn)
        .await?;
        return Ok(());
    }
    // Only an event new to the row changes it; a replayed one changes nothing.
    let fresh: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM zones WHERE id = $1 AND version < $2)")
            .bind(id)
            .bind(event.sequence)
            .fetch_one(&mut *conn)
            .await?;
    if !fresh {
        return Ok(());
    }
    let (status, revision_step, error): (Option<&str>, i64, Option<Option<String>>) = match zone {
        ZoneEvent::Created { .. } => return Ok(()),
        ZoneEvent::RecordSetChanged { set } => {
            let records: Vec<&str> = set.values().iter().map(|v| v.as_str()).collect();
            sqlx::query(
                "INSERT INTO zone_records (zone_id, tenant_id, name, type, ttl, records)
                 SELECT id, tenant_id, $2, $3, $4, $5 FROM zones WHERE id = $1
                 ON CONFLICT (zone_id, name, type) DO UPDATE SET ttl = EXCLUDED.ttl, records = EXCLUDED.records",
            )
            .bind(id)
            .bind(set.name().as_str())
            .bind(set.rtype().as_str())
            .bind(i64::from(set.ttl().seconds()))
            .bind(serde_json::json!(records))
            .execute(&mut *conn)
            .await?;
            (None, 1, None)
        }
        ZoneEvent::RecordSetRemoved { name, rtype } => {
            sqlx::query("DELETE FROM zone_records WHERE zone_id = $1 AND name = $2 AND type = $3")
                .bind(id)
                .bind(name.as_str())
                .bind(rtype.as_str())
                .execute(&mut *conn)
                .await?;
            (None, 1, None)
        }
        ZoneEvent::Published { revision } => {
            sqlx::query(
                "UPDATE zones SET published_revision = GREATEST(published_revision, $2) WHERE id = $1",
            )
            .bind(id)
            .bind(i64::try_from(*revision).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await?;
            (None, 0, Some(None))
        }
        ZoneEvent::PublishFailed { reason, .. } => (None, 0, Some(Some(reason.clone()))),
        ZoneEvent::DriftFound { differences } => {
            sqlx::query(
                "INSERT INTO zone_drift (zone_id, sequence, tenant_id, found, at)
                 SELECT id, $2, tenant_id, $3, $4 FROM zones WHERE id = $1 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(event.sequence)
            .bind(serde_json::to_value(differences).unwrap_or_default())
            .bind(event.recorded_at)
            .execute(&mut *conn)
            .await?;
            sqlx::query("UPDATE zones SET drift_found = drift_found + 1, last_drift_at = $2 WHERE id = $1")
                .bind(id)
                .bind(event.recorded_at)
                .execute(&mut *conn)
                .await?;
            (None, 1, None)
        }
        ZoneEvent::DeletionRequested => (Some("deleting"), 0, None),
        ZoneEvent::Deleted => {
            sqlx::query("DELETE FROM zone_records WHERE zone_id = $1").bind(id).execute(&mut *conn).await?;
            (Some("deleted"), 0, None)
        }
    };
    sqlx::query(
        "UPDATE zones SET status = COALESCE($2, status), revision = revision + $3,
                last_error = CASE WHEN $4 THEN $5 ELSE last_error END, version = $6, updated_at = $7
          WHERE id = $1 AND version < $6",
    )
    .bind(id)
    .bind(status)
    .bind(revision_step)
    .bind(error.is_some())
    .bind(error.flatten())
    .bind(event.sequence)
    .bind(event.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The active zone `domain` lies in (the longest match), with its owner: where a new site's
/// address record goes.
pub async fn containing(pool: &PgPool, domain: &str) -> Result<Option<(ZoneId, TenantId)>, sqlx::Error> {
    let row: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT id, tenant_id FROM proj_zones.zones
          WHERE status = 'active' AND ($1 = name OR right($1, length(name) + 1) = '.' || name)
          ORDER BY length(name) DESC LIMIT 1",
    )
    .bind(domain)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(zone, tenant)| (ZoneId::from_uuid(zone), TenantId::from_uuid(tenant))))
}

/// Every active zone: what the drift check compares with the DNS server.
pub async fn active(pool: &PgPool) -> Result<Vec<ZoneId>, sqlx::Error> {
    let rows: Vec<(Uuid,)> =
        sqlx::query_as("SELECT id FROM proj_zones.zones WHERE status = 'active' ORDER BY id")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(id,)| ZoneId::from_uuid(id)).collect())
}
