//! `/v1/audit`: every event of the tenant, newest first, with who, what, to what and from
//! which request.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::extract::ApiQuery;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Reader;
use crate::page::{paginate, Page, PageParams};
use crate::AppState;
use berth_http::ApiError;

/// The audit route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit", get(list))
}

/// `GET /v1/audit` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only changes by this actor (`user:<id>`, `token:<id>`).
    pub actor: Option<String>,
    /// Only changes to this target id.
    pub target: Option<String>,
    /// Only changes at or after this time.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Only changes before this time.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Where to continue: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// What an audit entry changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Target {
    /// The aggregate type (`site`, `organization`, `user`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its version after the change.
    pub version: i64,
}

/// One change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The event's id.
    pub event_id: Uuid,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// What (the event type).
    pub action: String,
    /// To what.
    pub target: Target,
    /// The HTTP request that caused it.
    pub request_id: Option<String>,
    /// The command that caused it.
    pub command_id: Option<Uuid>,
    /// The event's own fields, as written at its version (a flat object: `{"domain": ..,
    /// "kind": ..}` for `SiteCreated`; empty for events that carry none).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    #[serde(skip)]
    position: i64,
}

type Row = (
    i64,
    Uuid,
    OffsetDateTime,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<Uuid>,
    serde_json::Value,
);

fn time_param(field: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| ApiError::field(field, "must be an RFC 3339 time"))
        })
        .transpose()
}

/// The tenant's audit trail, newest first.
#[utoipa::path(get, path = "/v1/audit", operation_id = "list_audit_entries", tag = "audit", params(AuditParams),
    responses((status = 200, description = "A page of audit entries, newest first", body = Page<AuditEntry>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let page = PageParams { limit: params.limit, cursor: params.cursor.clone() };
    let limit = page.limit()?;
    let before = page.after::<i64>()?;
    let (from, to) = (time_param("from", params.from.as_deref())?, time_param("to", params.to.as_deref())?);
    let mut tx = reader.scope(&state).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT global_position, event_id, recorded_at, actor, action, target_type, target_id, target_version,
                request_id, command_id,
                -- The payload without its type tag (a unit variant is a bare string: no fields).
                CASE jsonb_typeof(payload)
                     WHEN 'object' THEN COALESCE((SELECT value FROM jsonb_each(payload) LIMIT 1), '{}'::jsonb)
                     ELSE '{}'::jsonb END
           FROM proj_audit.audit_entries
          WHERE tenant_id = $1 AND ($2::bigint IS NULL OR global_position < $2)
            AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR target_id = $4)
            AND ($5::timestamptz IS NULL OR recorded_at >= $5) AND ($6::timestamptz IS NULL OR recorded_at < $6)
          ORDER BY global_position DESC LIMIT $7",
    )
    .bind(reader.tenant_id)
    .bind(before)
    .bind(params.actor)
    .bind(params.target)
    .bind(from)
    .bind(to)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let entries = rows
        .into_iter()
        .map(|(position, event_id, at, actor, action, kind, id, version, request_id, command_id, details)| {
            AuditEntry {
                event_id,
                at,
                actor,
                action,
                target: Target { kind, id, version },
                request_id,
                command_id,
                details,
                position,
            }
        })
        .collect();
    Ok(Json(paginate(entries, limit, |e| e.position.to_string())))
}
