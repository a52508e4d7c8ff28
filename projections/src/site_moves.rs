//! What a move to another node, or the loss of its node, changes in the sites view: the move
//! under way and its steps, the new node once it switched, and for a lost site what it can be
//! restored from.

use berth_domain::site::SiteEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::sites::Change;

/// The sites view's change for one of the move and loss events.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    event: &Recorded,
    site: SiteEvent,
) -> Result<Change, sqlx::Error> {
    let id = event.aggregate_uuid();
    Ok(match site {
        SiteEvent::EvacuationStarted { evacuation_id, mode, .. } => {
            sqlx::query(
                "UPDATE sites SET evacuation_id = $2, evacuation_mode = $3, evacuation_step = 'start'
                  WHERE id = $1 AND version < $4",
            )
            .bind(id)
            .bind(evacuation_id.as_uuid())
            .bind(mode.as_str())
            .bind(event.sequence)
            .execute(&mut *conn)
            .await?;
            Change::new(None).step("evacuation_start", "ok", None, Some(mode.as_str().to_owned()))
        }
        SiteEvent::EvacuationStepCompleted { step, took_ms, detail, target, .. } => {
            sqlx::query("UPDATE sites SET evacuation_step = $2 WHERE id = $1 AND version < $3")
                .bind(id)
                .bind(step.as_str())
                .bind(event.sequence)
                .execute(&mut *conn)
                .await?;
            let detail = detail.or(target.map(|t| t.node_name));
            Change::new(None).step(step.site_step(), "ok", Some(took_ms), detail)
        }
        SiteEvent::Evacuated { node_id, node_name, address, was_lost, took_ms, .. } => {
            sqlx::query(
                "UPDATE sites SET node_id = $2, node_name = $3, node_address = $4, impacted = false,
                        evacuation_id = NULL, evacuation_mode = NULL, evacuation_step = NULL,
                        lost_node_id = NULL, lost_backup_id = NULL, lost_backup_at = NULL
                  WHERE id = $1 AND version < $5",
            )
            .bind(id)
            .bind(node_id.as_uuid())
            .bind(&node_name)
            .bind(&address)
            .bind(event.sequence)
            .execute(&mut *conn)
            .await?;
            Change::new(was_lost.then_some("active")).error(None).step(
                "evacuation_switch",
                "ok",
                Some(took_ms),
                Some(node_name),
            )
        }
        SiteEvent::EvacuationFailed { step, reason, .. } => {
            sqlx::query(
                "UPDATE sites SET evacuation_id = NULL, evacuation_mode = NULL, evacuation_step = NULL
                  WHERE id = $1 AND version < $2",
            )
            .bind(id)
            .bind(event.sequence)
            .execute(&mut *conn)
            .await?;
            Change::new(None).error(Some(reason.clone())).step(step.site_step(), "failed", None, Some(reason))
        }
        SiteEvent::Lost { node_id, latest_backup_id, latest_backup_at } => {
            sqlx::query(
                "UPDATE sites SET lost_node_id = $2, lost_backup_id = $3, lost_backup_at = $4, impacted = true,
                        evacuation_id = NULL, evacuation_mode = NULL, evacuation_step = NULL, pending = NULL
                  WHERE id = $1 AND version < $5",
            )
            .bind(id)
            .bind(node_id.as_uuid())
            .bind(latest_backup_id.map(|b| b.as_uuid()))
            .bind(latest_backup_at)
            .bind(event.sequence)
            .execute(&mut *conn)
            .await?;
            let detail = match latest_backup_at {
                Some(at) => format!("the node is gone; latest verified backup {at}"),
                None => "the node is gone; the site has no verified backup".to_owned(),
            };
            Change::new(Some("lost")).error(Some(detail.clone())).step("lost", "ok", None, Some(detail))
        }
        _ => Change::new(None),
    })
}
