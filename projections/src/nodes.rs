//! The nodes view (operators only): each node with its capacity, what is reserved on it, its
//! lifecycle state and health, and the sites it holds. Its tables carry no `tenant_id`: nodes
//! belong to the platform, and the query API serves them to operators alone.
//!
//! The provisioning saga reads it (read-only) to rank nodes for a new site; the node aggregate
//! has the last word on whether a reservation fits.

use berth_domain::allocation::{Health, NodeLoad, NodeState, Resources};
use berth_domain::event::Event;
use berth_domain::ids::NodeId;
use berth_domain::node::NodeEvent;
use berth_domain::site::SiteEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::projection::{ApplyFuture, Projection};

/// The nodes view.
pub struct NodesView;

impl Projection for NodesView {
    fn name(&self) -> &'static str {
        "nodes"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["node", "site"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE nodes (
                id              uuid        PRIMARY KEY,
                name            text        NOT NULL,
                address         text        NOT NULL,
                ssh_port        integer     NOT NULL,
                ssh_user        text        NOT NULL,
                host_key        text        NOT NULL,
                key_id          uuid        NOT NULL,
                provider        text        NOT NULL,
                region          text        NOT NULL,
                cost_minor      bigint      NOT NULL,
                currency        text        NOT NULL,
                millicores      bigint      NOT NULL,
                memory_mb       bigint      NOT NULL,
                disk_gb         bigint      NOT NULL,
                state           text        NOT NULL,
                health          text        NOT NULL DEFAULT 'unknown',
                health_reason   text,
                blocked         boolean     NOT NULL DEFAULT false,
                presented_key   text,
                scripts_version text,
                last_error      text,
                version         bigint      NOT NULL,
                created_at      timestamptz NOT NULL,
                updated_at      timestamptz NOT NULL
            )",
            "CREATE TABLE node_allocations (
                node_id    uuid   NOT NULL,
                site_id    uuid   NOT NULL,
                millicores bigint NOT NULL,
                memory_mb  bigint NOT NULL,
                disk_gb    bigint NOT NULL,
                PRIMARY KEY (node_id, site_id)
            )",
            "CREATE TABLE node_site_names (
                site_id uuid PRIMARY KEY,
                domain  text NOT NULL,
                kind    text NOT NULL
            )",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let id = event.aggregate_uuid();
            match &event.event {
                Event::Node(node) => apply_node(conn, event, id, node.clone()).await,
                Event::Site(SiteEvent::Created { domain, kind, .. }) => {
                    sqlx::query(
                        "INSERT INTO node_site_names (site_id, domain, kind) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(domain.as_str())
                    .bind(kind.as_str())
                    .execute(conn)
                    .await?;
                    Ok(())
                }
                _ => Ok(()),
            }
        })
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn apply_node(
    conn: &mut PgConnection,
    event: &Recorded,
    id: Option<Uuid>,
    node: NodeEvent,
) -> Result<(), sqlx::Error> {
    // Each arm names the columns it changes; `touch` moves the version along for all.
    let touch = "UPDATE nodes SET version = $2, updated_at = $3 WHERE id = $1 AND version < $2";
    let (sql, text): (&str, Option<String>) = match node {
        NodeEvent::Registered { spec, .. } => {
            sqlx::query(
                "INSERT INTO nodes (id, name, address, ssh_port, ssh_user, host_key, key_id, provider, region,
                                    cost_minor, currency, millicores, memory_mb, disk_gb, state, version,
                                    created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'registered', $15, $16, $16)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(spec.name.as_str())
            .bind(&spec.address)
            .bind(i32::from(spec.ssh_port))
            .bind(&spec.ssh_user)
            .bind(spec.host_key.line())
            .bind(spec.key_id)
            .bind(&spec.provider)
            .bind(&spec.region)
            .bind(spec.monthly_cost.amount_minor())
            .bind(spec.monthly_cost.currency().as_str())
            .bind(to_i64(spec.capacity.millicores))
            .bind(to_i64(spec.capacity.memory_mb))
            .bind(to_i64(spec.capacity.disk_gb))
            .bind(event.sequence)
            .bind(event.recorded_at)
            .execute(conn)
            .await?;
            return Ok(());
        }
        NodeEvent::Ready { scripts_version } => (
            "UPDATE nodes SET state = 'ready', scripts_version = $4, last_error = NULL, version = $2, updated_at = $3
              WHERE id = $1 AND version < $2",
            Some(scripts_version),
        ),
        NodeEvent::DrainStarted => (
            "UPDATE nodes SET state = 'draining', version = $2, updated_at = $3 WHERE id = $1 AND version < $2",
            None,
        ),
        NodeEvent::Decommissioned => (
            "UPDATE nodes SET state = 'decommissioned', version = $2, updated_at = $3 WHERE id = $1 AND version < $2",
            None,
        ),
        NodeEvent::HealthChanged { to, reason, .. } => {
            sqlx::query(
                "UPDATE nodes SET health = $4, health_reason = $5, version = $2, updated_at = $3
                  WHERE id = $1 AND version < $2",
            )
            .bind(id)
            .bind(event.sequence)
            .bind(event.recorded_at)
            .bind(to.as_str())
            .bind(reason)
            .execute(conn)
            .await?;
            return Ok(());
        }
        NodeEvent::HostKeyMismatched { presented } => (
            "UPDATE nodes SET blocked = true, presented_key = $4, version = $2, updated_at = $3
              WHERE id = $1 AND version < $2",
            Some(presented),
        ),
        NodeEvent::BootstrapRequested => (touch, None),
        NodeEvent::BootstrapFailed { reason } => (
            "UPDATE nodes SET last_error = $4, version = $2, updated_at = $3 WHERE id = $1 AND version < $2",
            Some(reason),
        ),
        NodeEvent::CapacityAllocated { site_id, demand } => {
            sqlx::query(
                "INSERT INTO node_allocations (node_id, site_id, millicores, memory_mb, disk_gb)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(site_id.as_uuid())
            .bind(to_i64(demand.millicores))
            .bind(to_i64(demand.memory_mb))
            .bind(to_i64(demand.disk_gb))
            .execute(&mut *conn)
            .await?;
            (touch, None)
        }
        NodeEvent::EvacuationStarted { .. } => (touch, None),
        NodeEvent::Retired { reason, .. } => {
            sqlx::query("DELETE FROM node_allocations WHERE node_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            (
                "UPDATE nodes SET state = 'decommissioned', last_error = $4, version = $2, updated_at = $3
                  WHERE id = $1 AND version < $2",
                Some(format!("retired: {reason}")),
            )
        }
        NodeEvent::CapacityReleased { site_id, .. } => {
            sqlx::query("DELETE FROM node_allocations WHERE node_id = $1 AND site_id = $2")
                .bind(id)
                .bind(site_id.as_uuid())
                .execute(&mut *conn)
                .await?;
            (touch, None)
        }
    };
    let query = sqlx::query(sql).bind(id).bind(event.sequence).bind(event.recorded_at);
    let query = if text.is_some() { query.bind(text) } else { query };
    query.execute(conn).await?;
    Ok(())
}

/// The state or health stored as `text`, read back; anything else is `fallback`.
fn parse<T: serde::de::DeserializeOwned>(text: &str, fallback: T) -> T {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(fallback)
}

type LoadRow = (Uuid, String, String, bool, i64, i64, i64, i64, i64, i64, i64);

/// Every node that is not decommissioned, as placement sees it (from the view, which may lag
/// the log by a moment; the node aggregate re-checks each reservation).
pub async fn loads(pool: &PgPool) -> Result<Vec<NodeLoad>, sqlx::Error> {
    let rows: Vec<LoadRow> = sqlx::query_as(
        "SELECT n.id, n.state, n.health, n.blocked, n.millicores, n.memory_mb, n.disk_gb,
                COALESCE(SUM(a.millicores), 0)::bigint, COALESCE(SUM(a.memory_mb), 0)::bigint,
                COALESCE(SUM(a.disk_gb), 0)::bigint, COUNT(a.site_id)
           FROM proj_nodes.nodes n LEFT JOIN proj_nodes.node_allocations a ON a.node_id = n.id
          WHERE n.state <> 'decommissioned'
          GROUP BY n.id",
    )
    .fetch_all(pool)
    .await?;
    let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(rows
        .into_iter()
        .map(|(id, state, health, blocked, mc, mem, disk, amc, amem, adisk, sites)| NodeLoad {
            id: NodeId::from_uuid(id),
            state: parse(&state, NodeState::Registered),
            health: parse(&health, Health::Unknown),
            blocked,
            capacity: Resources {
                millicores: unsigned(mc),
                memory_mb: unsigned(mem),
                disk_gb: unsigned(disk),
            },
            allocated: Resources {
                millicores: unsigned(amc),
                memory_mb: unsigned(amem),
                disk_gb: unsigned(adisk),
            },
            sites: u32::try_from(sites).unwrap_or(u32::MAX),
        })
        .collect())
}

/// The ids of nodes the health prober watches: registered, not decommissioned, not blocked.
pub async fn watched(pool: &PgPool) -> Result<Vec<NodeId>, sqlx::Error> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM proj_nodes.nodes WHERE state IN ('ready', 'draining') AND NOT blocked ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| NodeId::from_uuid(id)).collect())
}
