//! The deployments view: each site's repository (URL, branch, build, deploy key, the release
//! serving and those kept) and every deployment made from it (commit, author, message,
//! trigger, status, steps with their timings, and for a failure the step, exit code and log
//! tail; the full log's object key).
//!
//! A deployment's `status` is `queued`, `running`, `succeeded`, `failed` or `superseded` (a
//! newer one replaced it before it started).

use berth_domain::event::Event;
use berth_domain::repository::{RepositoryEvent, Trigger};
use berth_eventstore::recorded::Recorded;
use serde_json::json;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The deployments view.
pub struct DeploymentsView;

impl Projection for DeploymentsView {
    fn name(&self) -> &'static str {
        "deployments"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["repository"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE repositories (
                site_id          uuid        PRIMARY KEY,
                tenant_id        uuid        NOT NULL,
                url              text        NOT NULL,
                branch           text        NOT NULL,
                build            jsonb       NOT NULL,
                public_key       text        NOT NULL,
                current_release  uuid,
                kept             jsonb       NOT NULL DEFAULT '[]',
                configured_at    timestamptz NOT NULL,
                version          bigint      NOT NULL,
                updated_at       timestamptz NOT NULL
            )",
            "CREATE TABLE deployments (
                deployment_id  uuid        PRIMARY KEY,
                tenant_id      uuid        NOT NULL,
                site_id        uuid        NOT NULL,
                git_ref        text        NOT NULL,
                commit_id      text,
                author         text,
                message        text,
                trigger        text        NOT NULL,
                delivery       text,
                rollback_to    uuid,
                status         text        NOT NULL,
                superseded_by  uuid,
                release        uuid,
                failed_step    text,
                exit_code      integer,
                reason         text,
                log_tail       text,
                log_key        text,
                steps          jsonb       NOT NULL DEFAULT '[]',
                queued_at      timestamptz NOT NULL,
                started_at     timestamptz,
                finished_at    timestamptz,
                version        bigint      NOT NULL,
                updated_at     timestamptz NOT NULL
            )",
            "CREATE INDEX deployments_site_idx ON deployments (tenant_id, site_id, deployment_id)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Repository(repository) = &event.event else { return Ok(()) };
            apply_event(conn, event, repository).await
        })
    }
}

async fn apply_event(
    conn: &mut PgConnection,
    event: &Recorded,
    change: &RepositoryEvent,
) -> Result<(), sqlx::Error> {
    let site = event.aggregate_uuid();
    let (seq, at) = (event.sequence, event.recorded_at);
    let tenant = event.tenant_id;
    let query = match change {
        RepositoryEvent::Configured { tenant_id, url, branch, build, public_key, configured_at, .. } => sqlx::query(
            "INSERT INTO repositories (site_id, tenant_id, url, branch, build, public_key, configured_at, version, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (site_id) DO UPDATE SET url = $3, branch = $4, build = $5, public_key = $6,
                    configured_at = $7, version = $8, updated_at = $9
              WHERE repositories.version < $8",
        )
        .bind(site)
        .bind(tenant_id.as_uuid())
        .bind(url.as_str())
        .bind(branch.as_str())
        .bind(serde_json::to_value(build).unwrap_or_default())
        .bind(public_key)
        .bind(configured_at)
        .bind(seq)
        .bind(at),
        RepositoryEvent::DeploymentQueued { deployment_id, git_ref, commit, trigger, queued_at } => {
            let (delivery, rollback_to) = match trigger {
                Trigger::Push { delivery, .. } => (Some(delivery.clone()), None),
                Trigger::Rollback { to } => (None, Some(to.as_uuid())),
                Trigger::Manual => (None, None),
            };
            sqlx::query(
                "INSERT INTO deployments (deployment_id, tenant_id, site_id, git_ref, commit_id, trigger, delivery,
                                          rollback_to, status, queued_at, version, updated_at)
                 SELECT $1, COALESCE($2, r.tenant_id), $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11
                   FROM repositories r WHERE r.site_id = $3
                 ON CONFLICT (deployment_id) DO NOTHING",
            )
            .bind(deployment_id.as_uuid())
            .bind(tenant)
            .bind(site)
            .bind(git_ref.as_str())
            .bind(commit)
            .bind(trigger.as_str())
            .bind(delivery)
            .bind(rollback_to)
            .bind(queued_at)
            .bind(seq)
            .bind(at)
        }
        RepositoryEvent::DeploymentSuperseded { deployment_id, by } => sqlx::query(
            "UPDATE deployments SET status = 'superseded', superseded_by = $4, version = $2, updated_at = $3
              WHERE deployment_id = $1 AND version < $2",
        )
        .bind(deployment_id.as_uuid())
        .bind(seq)
        .bind(at)
        .bind(by.as_uuid()),
        RepositoryEvent::DeploymentStarted { deployment_id, started_at } => sqlx::query(
            "UPDATE deployments SET status = 'running', started_at = $4, version = $2, updated_at = $3
              WHERE deployment_id = $1 AND version < $2",
        )
        .bind(deployment_id.as_uuid())
        .bind(seq)
        .bind(at)
        .bind(started_at),
        RepositoryEvent::DeploymentCommitResolved { deployment_id, commit, author, message } => sqlx::query(
            "UPDATE deployments SET commit_id = $4, author = $5, message = $6, version = $2, updated_at = $3
              WHERE deployment_id = $1 AND version < $2",
        )
        .bind(deployment_id.as_uuid())
        .bind(seq)
        .bind(at)
        .bind(commit)
        .bind(author)
        .bind(message),
        RepositoryEvent::DeploymentStepCompleted { deployment_id, step, started_at, finished_at } => {
            let entry = json!([{
                "step": step.as_str(),
                "status": "succeeded",
                "started_at": rfc3339(*started_at),
                "finished_at": rfc3339(*finished_at),
                "duration_ms": (*finished_at - *started_at).whole_milliseconds(),
            }]);
            sqlx::query(
                "UPDATE deployments SET steps = steps || $4, version = $2, updated_at = $3
                  WHERE deployment_id = $1 AND version < $2",
            )
            .bind(deployment_id.as_uuid())
            .bind(seq)
            .bind(at)
            .bind(entry)
        }
        // While it runs, the tail is the last step's output; a failure puts the failing one's.
        RepositoryEvent::DeploymentOutput { deployment_id, output, .. } => sqlx::query(
            "UPDATE deployments SET log_tail = $4, version = $2, updated_at = $3
              WHERE deployment_id = $1 AND version < $2",
        )
        .bind(deployment_id.as_uuid())
        .bind(seq)
        .bind(at)
        .bind(output),
        RepositoryEvent::DeploymentSucceeded { deployment_id, release, kept, log_key, finished_at } => {
            let kept: Vec<uuid::Uuid> = kept.iter().map(|k| k.as_uuid()).collect();
            sqlx::query(
                "UPDATE repositories SET current_release = $4, kept = $5, version = $2, updated_at = $3
                  WHERE site_id = $1 AND version < $2",
            )
            .bind(site)
            .bind(seq)
            .bind(at)
            .bind(release.as_uuid())
            .bind(serde_json::to_value(&kept).unwrap_or_default())
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "UPDATE deployments SET status = 'succeeded', release = $4, log_key = $5, finished_at = $6,
                        version = $2, updated_at = $3
                  WHERE deployment_id = $1 AND version < $2",
            )
            .bind(deployment_id.as_uuid())
            .bind(seq)
            .bind(at)
            .bind(release.as_uuid())
            .bind(log_key)
            .bind(finished_at)
        }
        RepositoryEvent::DeploymentFailed {
            deployment_id,
            step,
            exit_code,
            reason,
            log_tail,
            log_key,
            started_at,
            finished_at,
            ..
        } => {
            let entry = json!([{
                "step": step.as_str(),
                "status": "failed",
                "started_at": rfc3339(*started_at),
                "finished_at": rfc3339(*finished_at),
                "exit_code": exit_code,
            }]);
            sqlx::query(
                "UPDATE deployments SET status = 'failed', failed_step = $4, exit_code = $5, reason = $6, log_tail = $7,
                        log_key = $8, finished_at = $9, steps = steps || $10, version = $2, updated_at = $3
                  WHERE deployment_id = $1 AND version < $2",
            )
            .bind(deployment_id.as_uuid())
            .bind(seq)
            .bind(at)
            .bind(step.as_str())
            .bind(exit_code)
            .bind(reason)
            .bind(log_tail)
            .bind(log_key)
            .bind(finished_at)
            .bind(entry)
        }
    };
    query.execute(conn).await.map(drop)
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
