//! The sites view: one row per site with its current settings, lifecycle state and node, and
//! the provisioning and operation steps with their timings. A site whose node is down is marked
//! impacted.

use berth_domain::allocation::Health;
use berth_domain::event::Event;
use berth_domain::node::NodeEvent;
use berth_domain::site::SiteEvent;
use berth_eventstore::recorded::Recorded;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The sites list and detail view.
pub struct SitesView;

impl Projection for SitesView {
    fn name(&self) -> &'static str {
        "sites"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["site", "node"])
    }

    fn schema_version(&self) -> i32 {
        // 2: row-level security and the reader role's grants. 3: node, steps, impact.
        // 4: the failure code of a failed provisioning step. 5: why a site is suspended.
        // 6: a move to another node under way, and what a lost site can be restored from.
        // 7: staging copies (production's copy and its state; the copy's production site).
        7
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE sites (
                id          uuid        PRIMARY KEY,
                tenant_id   uuid        NOT NULL,
                domain      text        NOT NULL,
                kind        text        NOT NULL,
                php_version text,
                label       text,
                status      text        NOT NULL,
                version     bigint      NOT NULL,
                created_at  timestamptz NOT NULL,
                updated_at  timestamptz NOT NULL,
                node_id     uuid,
                node_name   text,
                node_address text,
                pending     text,
                last_error  text,
                error_code  text,
                impacted    boolean     NOT NULL DEFAULT false,
                suspension_reason text,
                evacuation_id   uuid,
                evacuation_mode text,
                evacuation_step text,
                lost_node_id    uuid,
                lost_backup_id  uuid,
                lost_backup_at  timestamptz,
                staging_of      uuid,
                staging_site_id uuid,
                staging_domain  text,
                staging_status  text,
                staging_error   text
            )",
            "CREATE INDEX sites_tenant_idx ON sites (tenant_id, id)",
            "CREATE INDEX sites_node_idx ON sites (node_id) WHERE node_id IS NOT NULL",
            "CREATE TABLE site_steps (
                site_id     uuid        NOT NULL,
                sequence    bigint      NOT NULL,
                tenant_id   uuid        NOT NULL,
                step        text        NOT NULL,
                outcome     text        NOT NULL,
                took_ms     bigint,
                detail      text,
                at          timestamptz NOT NULL,
                PRIMARY KEY (site_id, sequence)
            )",
        ]
    }

    fn apply_all<'a>(&'a self, conn: &'a mut PgConnection, events: &'a [Recorded]) -> ApplyFuture<'a> {
        Box::pin(async move {
            // New sites are independent rows: runs of them go in one statement; anything else
            // is applied in order, one event at a time.
            let mut created = NewSites::default();
            for event in events {
                match &event.event {
                    Event::Site(SiteEvent::Created { tenant_id, domain, kind, php_version, .. }) => {
                        created.push(
                            event,
                            tenant_id.as_uuid(),
                            domain.to_string(),
                            kind.as_str().to_owned(),
                            php_version.map(|v| v.as_str().to_owned()),
                        );
                    }
                    _ => {
                        created.flush(&mut *conn).await?;
                        self.apply(&mut *conn, event).await?;
                    }
                }
            }
            created.flush(&mut *conn).await
        })
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            match &event.event {
                Event::Site(site) => apply_site(conn, event, site.clone()).await,
                Event::Node(NodeEvent::HealthChanged { to, .. }) => {
                    sqlx::query("UPDATE sites SET impacted = $2 WHERE node_id = $1")
                        .bind(event.aggregate_uuid())
                        .bind(*to == Health::Down)
                        .execute(conn)
                        .await?;
                    Ok(())
                }
                _ => Ok(()),
            }
        })
    }
}

/// What one site event changes in the row: the new status (if any), the pending operation, the
/// last error and its code, and the step it records.
pub(crate) struct Change {
    status: Option<&'static str>,
    pending: Option<Option<&'static str>>,
    error: Option<(Option<String>, Option<&'static str>)>,
    step: Option<(&'static str, &'static str, Option<u64>, Option<String>)>,
}

impl Change {
    pub(crate) fn new(status: Option<&'static str>) -> Self {
        Self { status, pending: None, error: None, step: None }
    }
    fn pending(mut self, pending: Option<&'static str>) -> Self {
        self.pending = Some(pending);
        self
    }
    pub(crate) fn error(mut self, error: Option<String>) -> Self {
        self.error = Some((error, None));
        self
    }
    fn coded_error(mut self, error: String, code: &'static str) -> Self {
        self.error = Some((Some(error), Some(code)));
        self
    }
    pub(crate) fn step(
        mut self,
        step: &'static str,
        outcome: &'static str,
        took: Option<u64>,
        detail: Option<String>,
    ) -> Self {
        self.step = Some((step, outcome, took, detail));
        self
    }
}

async fn apply_site(conn: &mut PgConnection, event: &Recorded, site: SiteEvent) -> Result<(), sqlx::Error> {
    let id = event.aggregate_uuid();
    let change = match site {
        SiteEvent::Created { tenant_id, domain, kind, php_version, .. } => {
            sqlx::query(
                "INSERT INTO sites (id, tenant_id, domain, kind, php_version, status, version, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7, $7)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(tenant_id.as_uuid())
            .bind(domain.as_str())
            .bind(kind.as_str())
            .bind(php_version.map(|v| v.as_str()))
            .bind(event.sequence)
            .bind(event.recorded_at)
            .execute(conn)
            .await?;
            return Ok(());
        }
        SiteEvent::Updated { php_version, label } => {
            sqlx::query(
                "UPDATE sites SET php_version = COALESCE($2, php_version), label = COALESCE($3, label),
                        version = $4, updated_at = $5
                  WHERE id = $1 AND version < $4",
            )
            .bind(id)
            .bind(php_version.map(|v| v.as_str()))
            .bind(label.map(String::from))
            .bind(event.sequence)
            .bind(event.recorded_at)
            .execute(conn)
            .await?;
            return Ok(());
        }
        SiteEvent::NodeAssigned { node_id, node_name, address, took_ms } => {
            sqlx::query(
                "UPDATE sites SET node_id = $2, node_name = $3, node_address = $4, impacted = false
                  WHERE id = $1 AND version < $5",
            )
            .bind(id)
            .bind(node_id.as_uuid())
            .bind(&node_name)
            .bind(&address)
            .bind(event.sequence)
            .execute(&mut *conn)
            .await?;
            Change::new(Some("provisioning")).error(None).step(
                "allocate",
                "ok",
                Some(took_ms),
                Some(node_name),
            )
        }
        SiteEvent::Provisioned { took_ms } => Change::new(None).step("provision", "ok", Some(took_ms), None),
        SiteEvent::Activated { took_ms } => {
            Change::new(Some("active")).step("verify", "ok", Some(took_ms), None)
        }
        SiteEvent::ProvisioningFailed { step, code, reason } => Change::new(Some("failed"))
            .coded_error(reason.clone(), code.as_str())
            .step(step.as_str(), "failed", None, Some(reason)),
        SiteEvent::ProvisioningRetried => Change::new(Some("requested")).step("retry", "ok", None, None),
        SiteEvent::DeletionRequested => Change::new(Some("deleting")).pending(Some("delete")),
        SiteEvent::SuspensionRequested => Change::new(None).pending(Some("suspend")),
        SiteEvent::ResumptionRequested => Change::new(None).pending(Some("resume")),
        SiteEvent::Suspended { took_ms } => Change::new(Some("suspended")).pending(None).error(None).step(
            "suspend",
            "ok",
            Some(took_ms),
            None,
        ),
        SiteEvent::Resumed { took_ms } => {
            Change::new(Some("active")).pending(None).error(None).step("resume", "ok", Some(took_ms), None)
        }
        SiteEvent::Deleted { took_ms } => {
            Change::new(Some("deleted")).pending(None).step("delete", "ok", Some(took_ms), None)
        }
        // Custom domains are shown by the domains view; here they only move the version on.
        SiteEvent::AliasAdded { .. } | SiteEvent::AliasRemoved { .. } => Change::new(None),
        SiteEvent::BillingHoldPlaced { reason } => {
            sqlx::query("UPDATE sites SET suspension_reason = $2 WHERE id = $1 AND version < $3")
                .bind(id)
                .bind(&reason)
                .bind(event.sequence)
                .execute(&mut *conn)
                .await?;
            Change::new(None)
        }
        SiteEvent::BillingHoldLifted => {
            sqlx::query("UPDATE sites SET suspension_reason = NULL WHERE id = $1 AND version < $2")
                .bind(id)
                .bind(event.sequence)
                .execute(&mut *conn)
                .await?;
            Change::new(None)
        }
        SiteEvent::EvacuationStarted { .. }
        | SiteEvent::EvacuationStepCompleted { .. }
        | SiteEvent::Evacuated { .. }
        | SiteEvent::EvacuationFailed { .. }
        | SiteEvent::Lost { .. } => crate::site_moves::apply(conn, event, site).await?,
        SiteEvent::StagingCreated { .. }
        | SiteEvent::CreatedAsStaging { .. }
        | SiteEvent::StagingStepCompleted { .. }
        | SiteEvent::StagingReady { .. }
        | SiteEvent::StagingFailed { .. }
        | SiteEvent::StagingPromotionRequested { .. }
        | SiteEvent::StagingPromoted { .. }
        | SiteEvent::StagingRemoved { .. } => crate::site_staging::apply(conn, event, site).await?,
        SiteEvent::OperationFailed { operation, reason, status } => Change::new(Some(status.as_str()))
            .pending(None)
            .error(Some(reason.clone()))
            .step(operation.as_str(), "failed", None, Some(reason)),
    };
    sqlx::query(
        "UPDATE sites SET status = COALESCE($2, status),
                pending = CASE WHEN $3 THEN $4 ELSE pending END,
                last_error = CASE WHEN $5 THEN $6 ELSE last_error END,
                error_code = CASE WHEN $5 THEN $9 ELSE error_code END,
                version = $7, updated_at = $8
          WHERE id = $1 AND version < $7",
    )
    .bind(id)
    .bind(change.status)
    .bind(change.pending.is_some())
    .bind(change.pending.flatten())
    .bind(change.error.is_some())
    .bind(change.error.as_ref().and_then(|(e, _)| e.clone()))
    .bind(event.sequence)
    .bind(event.recorded_at)
    .bind(change.error.and_then(|(_, code)| code))
    .execute(&mut *conn)
    .await?;
    if let Some((step, outcome, took, detail)) = change.step {
        sqlx::query(
            "INSERT INTO site_steps (site_id, sequence, tenant_id, step, outcome, took_ms, detail, at)
             SELECT id, $2, tenant_id, $3, $4, $5, $6, $7 FROM sites WHERE id = $1
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(event.sequence)
        .bind(step)
        .bind(outcome)
        .bind(took.map(|t| i64::try_from(t).unwrap_or(i64::MAX)))
        .bind(detail)
        .bind(event.recorded_at)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Site creations waiting to be inserted together.
#[derive(Default)]
struct NewSites {
    id: Vec<Option<uuid::Uuid>>,
    tenant: Vec<uuid::Uuid>,
    domain: Vec<String>,
    kind: Vec<String>,
    php: Vec<Option<String>>,
    version: Vec<i64>,
    at: Vec<time::OffsetDateTime>,
}

impl NewSites {
    fn push(
        &mut self,
        event: &Recorded,
        tenant: uuid::Uuid,
        domain: String,
        kind: String,
        php: Option<String>,
    ) {
        self.id.push(event.aggregate_uuid());
        self.tenant.push(tenant);
        self.domain.push(domain);
        self.kind.push(kind);
        self.php.push(php);
        self.version.push(event.sequence);
        self.at.push(event.recorded_at);
    }

    async fn flush(&mut self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.id.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO sites (id, tenant_id, domain, kind, php_version, status, version, created_at, updated_at)
             SELECT i, t, d, k, p, 'requested', v, a, a
               FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::timestamptz[])
                    AS n(i, t, d, k, p, v, a)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&self.id)
        .bind(&self.tenant)
        .bind(&self.domain)
        .bind(&self.kind)
        .bind(&self.php)
        .bind(&self.version)
        .bind(&self.at)
        .execute(conn)
        .await?;
        *self = Self::default();
        Ok(())
    }
}
