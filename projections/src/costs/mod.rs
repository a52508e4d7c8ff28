//! The operators' cost and capacity view: the cost model in force, each site's tenant and kind,
//! every reservation and release of node capacity with its time (the history the capacity
//! forecast reads), and each backup's stored size. Tenants are in `tenant` columns, not
//! `tenant_id`: this is a platform view, read by operators across tenants.
//!
//! The tables hold facts only; [`report`] and [`capacity`] compute the cost, revenue and
//! margin tables and the forecast from them and from the nodes, revenue and usage views.

pub mod capacity;
pub mod report;

use berth_domain::backup::BackupEvent;
use berth_domain::cost_model::CostModelEvent;
use berth_domain::event::Event;
use berth_domain::node::NodeEvent;
use berth_domain::site::SiteEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The cost and capacity view.
pub struct CostsView;

impl Projection for CostsView {
    fn name(&self) -> &'static str {
        "costs"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["cost_model", "site", "node", "backup"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE model (id text PRIMARY KEY, terms jsonb NOT NULL, version bigint NOT NULL, updated_at timestamptz NOT NULL)",
            "CREATE TABLE sites (
                site_id    uuid        PRIMARY KEY,
                tenant     uuid        NOT NULL,
                kind       text        NOT NULL,
                created_at timestamptz NOT NULL,
                deleted_at timestamptz
            )",
            "CREATE TABLE reservations (
                node_id    uuid        NOT NULL,
                sequence   bigint      NOT NULL,
                site_id    uuid        NOT NULL,
                at         timestamptz NOT NULL,
                millicores bigint      NOT NULL,
                memory_mb  bigint      NOT NULL,
                disk_gb    bigint      NOT NULL,
                PRIMARY KEY (node_id, sequence)
            )",
            "CREATE TABLE backups (
                backup_id  uuid    PRIMARY KEY,
                tenant     uuid    NOT NULL,
                size_bytes bigint  NOT NULL DEFAULT 0,
                stored     boolean NOT NULL DEFAULT false
            )",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let id = event.aggregate_uuid();
            match &event.event {
                Event::CostModel(CostModelEvent::Set { terms }) => {
                    let terms = serde_json::to_value(terms).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                    sqlx::query(
                        "INSERT INTO model (id, terms, version, updated_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (id) DO UPDATE SET terms = $2, version = $3, updated_at = $4
                         WHERE model.version < $3",
                    )
                    .bind(&event.aggregate_id)
                    .bind(terms)
                    .bind(event.sequence)
                    .bind(event.recorded_at)
                    .execute(conn)
                    .await?;
                }
                Event::Site(SiteEvent::Created { tenant_id, kind, .. }) => {
                    sqlx::query(
                        "INSERT INTO sites (site_id, tenant, kind, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(tenant_id.as_uuid())
                    .bind(kind.as_str())
                    .bind(event.recorded_at)
                    .execute(conn)
                    .await?;
                }
                Event::Site(SiteEvent::Deleted { .. }) => {
                    sqlx::query("UPDATE sites SET deleted_at = $2 WHERE site_id = $1 AND deleted_at IS NULL")
                        .bind(id)
                        .bind(event.recorded_at)
                        .execute(conn)
                        .await?;
                }
                Event::Node(NodeEvent::CapacityAllocated { site_id, demand }) => {
                    reservation(conn, event, site_id.as_uuid(), demand, 1).await?;
                }
                Event::Node(NodeEvent::CapacityReleased { site_id, demand }) => {
                    reservation(conn, event, site_id.as_uuid(), demand, -1).await?;
                }
                Event::Backup(BackupEvent::Requested { tenant_id, .. }) => {
                    sqlx::query(
                        "INSERT INTO backups (backup_id, tenant) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(tenant_id.as_uuid())
                    .execute(conn)
                    .await?;
                }
                Event::Backup(BackupEvent::Taken { manifest, .. }) => {
                    sqlx::query("UPDATE backups SET size_bytes = $2, stored = true WHERE backup_id = $1")
                        .bind(id)
                        .bind(i64::try_from(manifest.size).unwrap_or(i64::MAX))
                        .execute(conn)
                        .await?;
                }
                Event::Backup(BackupEvent::Pruned { .. }) => {
                    sqlx::query("UPDATE backups SET stored = false WHERE backup_id = $1")
                        .bind(id)
                        .execute(conn)
                        .await?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}

async fn reservation(
    conn: &mut PgConnection,
    event: &Recorded,
    site: uuid::Uuid,
    demand: &berth_domain::allocation::Resources,
    sign: i64,
) -> Result<(), sqlx::Error> {
    let amount = |v: u64| sign * i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO reservations (node_id, sequence, site_id, at, millicores, memory_mb, disk_gb)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(event.aggregate_uuid())
    .bind(event.sequence)
    .bind(site)
    .bind(event.recorded_at)
    .bind(amount(demand.millicores))
    .bind(amount(demand.memory_mb))
    .bind(amount(demand.disk_gb))
    .execute(conn)
    .await?;
    Ok(())
}
