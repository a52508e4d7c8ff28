//! What staging copies change in the sites view: on production, its copy and where making or
//! promoting it stands (each step a row of its steps); on the copy, the site it copies.

use berth_domain::site::SiteEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::sites::Change;

/// The sites view's change for one of the staging events.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    event: &Recorded,
    site: SiteEvent,
) -> Result<Change, sqlx::Error> {
    let id = event.aggregate_uuid();
    // The copy's new status and its error (when the status changes), and the step.
    let (status, error, change) = match site {
        SiteEvent::StagingCreated { staging_site_id, domain, .. } => {
            sqlx::query(
                "UPDATE sites SET staging_site_id = $2, staging_domain = $3
                  WHERE id = $1 AND version < $4",
            )
            .bind(id)
            .bind(staging_site_id.as_uuid())
            .bind(domain.as_str())
            .bind(event.sequence)
            .execute(&mut *conn)
            .await?;
            (
                Some("copying"),
                None,
                Change::new(None).step("staging_start", "ok", None, Some(domain.as_str().to_owned())),
            )
        }
        SiteEvent::CreatedAsStaging { production_site_id, .. } => {
            sqlx::query("UPDATE sites SET staging_of = $2 WHERE id = $1 AND version < $3")
                .bind(id)
                .bind(production_site_id.as_uuid())
                .bind(event.sequence)
                .execute(&mut *conn)
                .await?;
            return Ok(Change::new(None));
        }
        SiteEvent::StagingStepCompleted { step, took_ms, .. } => {
            (None, None, Change::new(None).step(step.site_step(), "ok", Some(took_ms), None))
        }
        SiteEvent::StagingReady { took_ms, .. } => {
            (Some("ready"), None, Change::new(None).step("staging_ready", "ok", Some(took_ms), None))
        }
        SiteEvent::StagingPromoted { took_ms, .. } => {
            (Some("ready"), None, Change::new(None).step("staging_promoted", "ok", Some(took_ms), None))
        }
        SiteEvent::StagingPromotionRequested { .. } => {
            (Some("promoting"), None, Change::new(None).step("staging_promote", "ok", None, None))
        }
        SiteEvent::StagingFailed { step, reason, .. } => {
            let status = if step.promotes() { "ready" } else { "failed" };
            let change = Change::new(None).step(step.site_step(), "failed", None, Some(reason.clone()));
            (Some(status), Some(reason), change)
        }
        SiteEvent::StagingRemoved { .. } => {
            sqlx::query(
                "UPDATE sites SET staging_site_id = NULL, staging_domain = NULL, staging_status = NULL,
                        staging_error = NULL
                  WHERE id = $1 AND version < $2",
            )
            .bind(id)
            .bind(event.sequence)
            .execute(&mut *conn)
            .await?;
            return Ok(Change::new(None).step("staging_removed", "ok", None, None));
        }
        _ => return Ok(Change::new(None)),
    };
    sqlx::query(
        "UPDATE sites SET staging_status = COALESCE($2, staging_status),
                staging_error = CASE WHEN $2 IS NULL THEN staging_error ELSE $3 END
          WHERE id = $1 AND version < $4",
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .bind(event.sequence)
    .execute(&mut *conn)
    .await?;
    Ok(change)
}
