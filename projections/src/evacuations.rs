//! The evacuations view (operators): each evacuation of a node and where each of its sites
//! stands — waiting, moving (at which step), moved (to which node) or failed (at which step,
//! why; it stayed where it was) — with every step's timing. A lost site's restore is an
//! evacuation of one site from its gone node.

use berth_domain::event::Event;
use berth_domain::node::NodeEvent;
use berth_domain::site::SiteEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::projection::{ApplyFuture, Projection};

/// The evacuations view.
pub struct EvacuationsView;

impl Projection for EvacuationsView {
    fn name(&self) -> &'static str {
        "evacuations"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["node", "site"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE evacuations (
                evacuation_id uuid        PRIMARY KEY,
                node_id       uuid        NOT NULL,
                mode          text        NOT NULL,
                started_at    timestamptz NOT NULL
            )",
            "CREATE TABLE evacuation_sites (
                evacuation_id  uuid        NOT NULL,
                site_id        uuid        NOT NULL,
                status         text        NOT NULL,
                step           text,
                reason         text,
                target_node_id uuid,
                target_node    text,
                started_at     timestamptz,
                finished_at    timestamptz,
                version        bigint      NOT NULL DEFAULT 0,
                PRIMARY KEY (evacuation_id, site_id)
            )",
            "CREATE TABLE evacuation_steps (
                evacuation_id uuid        NOT NULL,
                site_id       uuid        NOT NULL,
                sequence      bigint      NOT NULL,
                step          text        NOT NULL,
                outcome       text        NOT NULL,
                took_ms       bigint,
                at            timestamptz NOT NULL,
                PRIMARY KEY (site_id, sequence)
            )",
            "CREATE INDEX evacuation_steps_idx ON evacuation_steps (evacuation_id, site_id, sequence)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            match &event.event {
                Event::Node(NodeEvent::EvacuationStarted { evacuation_id, mode, sites }) => {
                    sqlx::query(
                        "INSERT INTO evacuations (evacuation_id, node_id, mode, started_at)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(evacuation_id.as_uuid())
                    .bind(event.aggregate_uuid())
                    .bind(mode.as_str())
                    .bind(event.recorded_at)
                    .execute(&mut *conn)
                    .await?;
                    let ids: Vec<Uuid> = sites.iter().map(|s| s.as_uuid()).collect();
                    sqlx::query(
                        "INSERT INTO evacuation_sites (evacuation_id, site_id, status)
                         SELECT $1, s, 'waiting' FROM unnest($2::uuid[]) AS s ON CONFLICT DO NOTHING",
                    )
                    .bind(evacuation_id.as_uuid())
                    .bind(&ids)
                    .execute(conn)
                    .await?;
                    Ok(())
                }
                Event::Site(site) => apply_site(conn, event, site).await,
                _ => Ok(()),
            }
        })
    }
}

async fn apply_site(conn: &mut PgConnection, event: &Recorded, site: &SiteEvent) -> Result<(), sqlx::Error> {
    let (id, seq, at) = (event.aggregate_uuid(), event.sequence, event.recorded_at);
    let (evacuation_id, step, outcome, took_ms) = match site {
        SiteEvent::EvacuationStarted { evacuation_id, mode, from_node } => {
            // A lost site's restore has no node event before it.
            sqlx::query(
                "INSERT INTO evacuations (evacuation_id, node_id, mode, started_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(evacuation_id.as_uuid())
            .bind(from_node.as_uuid())
            .bind(mode.as_str())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO evacuation_sites (evacuation_id, site_id, status, step, started_at, version)
                 VALUES ($1, $2, 'moving', 'start', $3, $4)
                 ON CONFLICT (evacuation_id, site_id) DO UPDATE
                    SET status = 'moving', step = 'start', started_at = $3, version = $4
                  WHERE evacuation_sites.version < $4",
            )
            .bind(evacuation_id.as_uuid())
            .bind(id)
            .bind(at)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
            (*evacuation_id, "start", "ok", None)
        }
        SiteEvent::EvacuationStepCompleted { evacuation_id, step, took_ms, target, .. } => {
            sqlx::query(
                "UPDATE evacuation_sites SET step = $3, version = $4,
                        target_node_id = COALESCE($5, target_node_id), target_node = COALESCE($6, target_node)
                  WHERE evacuation_id = $1 AND site_id = $2 AND version < $4",
            )
            .bind(evacuation_id.as_uuid())
            .bind(id)
            .bind(step.as_str())
            .bind(seq)
            .bind(target.as_ref().map(|t| t.node_id.as_uuid()))
            .bind(target.as_ref().map(|t| t.node_name.clone()))
            .execute(&mut *conn)
            .await?;
            (*evacuation_id, step.as_str(), "ok", Some(*took_ms))
        }
        SiteEvent::Evacuated { evacuation_id, node_id, node_name, took_ms, .. } => {
            sqlx::query(
                "UPDATE evacuation_sites SET status = 'moved', step = 'switch', reason = NULL, version = $3,
                        target_node_id = $4, target_node = $5, finished_at = $6
                  WHERE evacuation_id = $1 AND site_id = $2 AND version < $3",
            )
            .bind(evacuation_id.as_uuid())
            .bind(id)
            .bind(seq)
            .bind(node_id.as_uuid())
            .bind(node_name)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            (*evacuation_id, "switch", "ok", Some(*took_ms))
        }
        SiteEvent::EvacuationFailed { evacuation_id, step, reason } => {
            sqlx::query(
                "UPDATE evacuation_sites SET status = 'failed', step = $3, reason = $4, version = $5,
                        finished_at = $6, started_at = COALESCE(started_at, $6)
                  WHERE evacuation_id = $1 AND site_id = $2 AND version < $5",
            )
            .bind(evacuation_id.as_uuid())
            .bind(id)
            .bind(step.as_str())
            .bind(reason)
            .bind(seq)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            (*evacuation_id, step.as_str(), "failed", None)
        }
        // A site deleted or lost before its move ended is not left waiting or moving.
        SiteEvent::Deleted { .. } | SiteEvent::Lost { .. } => {
            let reason = if matches!(site, SiteEvent::Lost { .. }) {
                "its node was retired before it moved"
            } else {
                "the site was deleted"
            };
            sqlx::query(
                "UPDATE evacuation_sites SET status = 'failed', reason = $2, version = $3, finished_at = $4
                  WHERE site_id = $1 AND status IN ('waiting', 'moving') AND version < $3",
            )
            .bind(id)
            .bind(reason)
            .bind(seq)
            .bind(at)
            .execute(conn)
            .await?;
            return Ok(());
        }
        _ => return Ok(()),
    };
    sqlx::query(
        "INSERT INTO evacuation_steps (evacuation_id, site_id, sequence, step, outcome, took_ms, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(evacuation_id.as_uuid())
    .bind(id)
    .bind(seq)
    .bind(step)
    .bind(outcome)
    .bind(took_ms.map(|t| i64::try_from(t).unwrap_or(i64::MAX)))
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// An evacuation with sites still to move: how many, and when one last moved on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pending {
    /// The evacuation.
    pub evacuation_id: Uuid,
    /// The node it empties.
    pub node_id: Uuid,
    /// Sites waiting or moving.
    pub sites: i64,
    /// When the last step of any of its sites was recorded (or it was asked for).
    pub last_progress: time::OffsetDateTime,
}

/// The evacuations with sites still to move (for the stall alert).
pub async fn pending(pool: &sqlx::PgPool) -> Result<Vec<Pending>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.evacuation_id, e.node_id, COUNT(*) FILTER (WHERE s.status IN ('waiting', 'moving')) AS sites,
                GREATEST(e.started_at, (SELECT MAX(t.at) FROM proj_evacuations.evacuation_steps t
                                         WHERE t.evacuation_id = e.evacuation_id)) AS last_progress
           FROM proj_evacuations.evacuations e
           JOIN proj_evacuations.evacuation_sites s ON s.evacuation_id = e.evacuation_id
          GROUP BY e.evacuation_id, e.node_id
         HAVING COUNT(*) FILTER (WHERE s.status IN ('waiting', 'moving')) > 0",
    )
    .fetch_all(pool)
    .await
}

/// How many sites are lost (their node is gone and they are neither restored nor deleted).
pub async fn lost_sites(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM proj_sites.sites WHERE status = 'lost'").fetch_one(pool).await
}
