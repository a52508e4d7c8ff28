//! The sites view: one row per site with its current settings and lifecycle state.

use berth_domain::site::SiteEvent;
use berth_eventstore::feed::FeedEvent;
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The sites list and detail view.
pub struct SitesView;

impl Projection for SitesView {
    fn name(&self) -> &'static str {
        "sites"
    }

    fn schema_version(&self) -> i32 {
        // 2: row-level security and the reader role's grants.
        2
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
                updated_at  timestamptz NOT NULL
            )",
            "CREATE INDEX sites_tenant_idx ON sites (tenant_id, id)",
        ]
    }

    fn apply_all<'a>(&'a self, conn: &'a mut PgConnection, events: &'a [FeedEvent]) -> ApplyFuture<'a> {
        Box::pin(async move {
            // New sites are independent rows: runs of them go in one statement; anything else
            // is applied in order, one event at a time.
            let mut created = NewSites::default();
            for event in events {
                match parse(event) {
                    Some(SiteEvent::Created { tenant_id, domain, kind, php_version, .. }) => {
                        created.push(
                            event,
                            tenant_id.as_uuid(),
                            domain.to_string(),
                            json_text(&kind),
                            php_version.map(|v| json_text(&v)),
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

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a FeedEvent) -> ApplyFuture<'a> {
        Box::pin(async move {
            if event.aggregate_type != "site" {
                return Ok(());
            }
            let site: SiteEvent = match serde_json::from_value(event.payload.clone()) {
                Ok(site) => site,
                Err(error) => {
                    tracing::error!(%error, event_id = %event.event_id, "unreadable site event skipped");
                    return Ok(());
                }
            };
            let id = uuid::Uuid::parse_str(&event.aggregate_id).ok();
            match site {
                SiteEvent::Created { tenant_id, domain, kind, php_version, .. } => {
                    sqlx::query(
                        "INSERT INTO sites (id, tenant_id, domain, kind, php_version, status, version, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7, $7)
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(tenant_id.as_uuid())
                    .bind(domain.as_str())
                    .bind(json_text(&kind))
                    .bind(php_version.map(|v| json_text(&v)))
                    .bind(event.sequence)
                    .bind(event.recorded_at)
                    .execute(conn)
                    .await?;
                }
                SiteEvent::Updated { php_version, label } => {
                    sqlx::query(
                        "UPDATE sites SET php_version = COALESCE($2, php_version), label = COALESCE($3, label),
                                version = $4, updated_at = $5
                          WHERE id = $1 AND version < $4",
                    )
                    .bind(id)
                    .bind(php_version.map(|v| json_text(&v)))
                    .bind(label.map(String::from))
                    .bind(event.sequence)
                    .bind(event.recorded_at)
                    .execute(conn)
                    .await?;
                }
                SiteEvent::DeletionRequested => {
                    sqlx::query(
                        "UPDATE sites SET status = 'deleting', version = $2, updated_at = $3 WHERE id = $1 AND version < $2",
                    )
                    .bind(id)
                    .bind(event.sequence)
                    .bind(event.recorded_at)
                    .execute(conn)
                    .await?;
                }
            }
            Ok(())
        })
    }
}

/// The site event in `event`, if it is one that reads.
fn parse(event: &FeedEvent) -> Option<SiteEvent> {
    (event.aggregate_type == "site").then(|| serde_json::from_value(event.payload.clone()).ok()).flatten()
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
        event: &FeedEvent,
        tenant: uuid::Uuid,
        domain: String,
        kind: String,
        php: Option<String>,
    ) {
        self.id.push(uuid::Uuid::parse_str(&event.aggregate_id).ok());
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

/// The JSON string form of a serde enum (`"wordpress"`, `"8.3"`).
fn json_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
