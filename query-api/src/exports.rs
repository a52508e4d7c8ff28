//! `/v1/exports/events`: a tenant's events as NDJSON, each line with its hash and the hash of
//! the event before it in its aggregate, for its owners and for operators; and
//! `/v1/audit/key`: the public keys the log's seals and signed exports are checked with.

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_domain::role::Role;
use berth_http::extract::ApiQuery;
use berth_http::ApiError;
use berth_projections::export::{self, Window};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::page::time_param;
use crate::scope::Scoped;
use crate::AppState;

/// The export and key routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/exports/events", get(events)).route("/v1/audit/key", get(keys))
}

/// Who may export a tenant's events: its owners, and platform operators (for any tenant).
enum Exporter {
    Owner { tenant_id: Uuid, credential_id: Uuid },
    Operator { credential_id: Uuid },
}

impl FromRequestParts<AppState> for Exporter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = crate::auth::bearer(parts, state).await?;
        match (principal.kind, principal.tenant_id, principal.role) {
            (berth_projections::identity::CredentialKind::Operator, _, _) => {
                Ok(Self::Operator { credential_id: principal.credential_id })
            }
            (_, Some(tenant_id), Some(Role::Owner)) => {
                Ok(Self::Owner { tenant_id, credential_id: principal.credential_id })
            }
            (_, Some(_), _) => {
                Err(ApiError::Forbidden("only the organization's owners export its events".to_owned()))
            }
            _ => Err(ApiError::NotFound),
        }
    }
}

impl Exporter {
    /// The tenant to export and a connection in its scope.
    async fn scope(&self, state: &AppState, asked: Option<Uuid>) -> Result<(Uuid, Scoped), ApiError> {
        let (tenant, credential) = match (self, asked) {
            (Self::Owner { tenant_id, credential_id }, None) => (*tenant_id, *credential_id),
            // Another tenant's id is simply not found; the caller's own is fine.
            (Self::Owner { tenant_id, credential_id }, Some(t)) if t == *tenant_id => (t, *credential_id),
            (Self::Owner { .. }, Some(_)) => return Err(ApiError::NotFound),
            (Self::Operator { credential_id }, Some(t)) => (t, *credential_id),
            (Self::Operator { .. }, None) => {
                return Err(ApiError::field("tenant", "operators name the tenant whose events they export"))
            }
        };
        let scoped =
            crate::auth::forget_if_refused(state, state.reads.enter(Some(tenant), credential).await)?;
        Ok((tenant, scoped))
    }
}

/// `GET /v1/exports/events` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// The tenant (operators only; owners export their own).
    pub tenant: Option<Uuid>,
    /// Events recorded at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Events recorded before this time (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Resume after this event: `<transaction_id>.<global_position>` of the last line received.
    #[param(pattern = "^[0-9]{1,20}\\.[0-9]{1,20}$")]
    pub after: Option<String>,
}

/// Lines read from the database per round while streaming.
const CHUNK: i64 = 1000;

/// A tenant's events as NDJSON.
///
/// One `ExportLine` per line, in feed order, each with its `hash` and `prev` (the hash of the
/// event before it in its aggregate) so the chain can be checked without Berth. Resume an
/// interrupted download with `after` set to the last line's `transaction_id.global_position`.
#[utoipa::path(get, path = "/v1/exports/events", operation_id = "export_events", tag = "audit", params(ExportParams),
    responses((status = 200, description = "NDJSON: one ExportLine per line", content_type = "application/x-ndjson", body = String)),
    security(("bearer" = [])))]
async fn events(
    State(state): State<AppState>,
    exporter: Exporter,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let from = time_param("from", params.from.as_deref())?;
    let to = time_param("to", params.to.as_deref())?;
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(ApiError::field("to", "the window ends before it starts: `to` must be after `from`"));
        }
    }
    let after = match params.after.as_deref() {
        None => (0, 0),
        Some(text) => {
            text.split_once('.').and_then(|(t, g)| Some((t.parse().ok()?, g.parse().ok()?))).ok_or_else(
                || ApiError::field("after", "must be `<transaction_id>.<global_position>` of a line"),
            )?
        }
    };
    // A replica behind the primary would leave the window's latest events out.
    state.reads.replayed().await?;
    let (tenant, scoped) = exporter.scope(&state, params.tenant).await?;
    let window = Window { after, from, to };
    // The body streams after this handler returns: the keys go along with it.
    let keys = berth_eventstore::personal::current();
    let lines = futures::stream::try_unfold((scoped, window, false), move |(mut conn, mut window, done)| {
        let keys = keys.clone();
        async move {
            if done {
                return Ok::<_, sqlx::Error>(None);
            }
            let mut batch = export::tenant_events(&mut *conn, tenant, window, CHUNK).await?;
            export::open_lines_with(keys.as_ref(), &mut batch)
                .await
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            let finished = i64::try_from(batch.len()).unwrap_or(0) < CHUNK;
            if let Some(last) = batch.last() {
                window.after = (last.transaction_id, last.global_position);
            }
            let mut chunk = Vec::new();
            for line in &batch {
                chunk.extend(serde_json::to_vec(line).unwrap_or_default());
                chunk.push(b'\n');
            }
            Ok(Some((chunk, (conn, window, finished))))
        }
    });
    let mut response = Body::from_stream(lines).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/x-ndjson"));
    Ok(response)
}

/// A key seals and signed exports are checked with.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditKey {
    /// Its id, as seals and manifests name it.
    pub key_id: String,
    /// The Ed25519 public key, hex.
    pub public_key: String,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The keys that sign the log's seals and exports (operators only).
#[utoipa::path(get, path = "/v1/audit/key", operation_id = "list_audit_keys", tag = "audit",
    responses((status = 200, description = "Every signing key, oldest first", body = Vec<AuditKey>)),
    security(("bearer" = [])))]
async fn keys(
    State(state): State<AppState>,
    operator: crate::auth::OperatorReader,
) -> Result<Json<Vec<AuditKey>>, ApiError> {
    let mut scoped = operator.scope(&state).await?;
    let keys: Vec<AuditKey> = sqlx::query_as(
        "SELECT key_id, encode(public_key, 'hex') AS public_key, created_at FROM audit_keys ORDER BY created_at",
    )
    .fetch_all(&mut *scoped)
    .await?;
    Ok(Json(keys))
}
