//! `/v1/tenant`, `/v1/members`, `/v1/tokens`, `/v1/invitations`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Reader;
use crate::error::ApiError;
use crate::page::{paginate, Page, PageParams};
use crate::scope::tenant_tx;
use crate::AppState;

/// The tenant routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenant", get(overview))
        .route("/v1/members", get(members))
        .route("/v1/tokens", get(tokens))
        .route("/v1/invitations", get(invitations))
}

async fn overview(State(state): State<AppState>, reader: Reader) -> Result<Json<Value>, ApiError> {
    let mut tx = tenant_tx(&state.pool, reader.tenant_id).await?;
    let tenant: Option<(String, i64, OffsetDateTime)> =
        sqlx::query_as("SELECT name, version, created_at FROM proj_identity.tenants WHERE tenant_id = $1")
            .bind(reader.tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (name, version, created_at) = tenant.ok_or(ApiError::NotFound)?;
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM proj_sites.sites WHERE tenant_id = $1 GROUP BY status ORDER BY status",
    )
    .bind(reader.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    let (members, tokens, invitations): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM proj_identity.members WHERE tenant_id = $1),
                (SELECT count(*) FROM proj_identity.tokens WHERE tenant_id = $1 AND revoked_at IS NULL
                    AND (expires_at IS NULL OR expires_at > now())),
                (SELECT count(*) FROM proj_identity.invitations WHERE tenant_id = $1 AND status = 'pending'
                    AND expires_at > now())",
    )
    .bind(reader.tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let sites: i64 = by_status.iter().map(|(_, n)| n).sum();
    let by_status: serde_json::Map<String, Value> =
        by_status.into_iter().map(|(s, n)| (s, json!(n))).collect();
    Ok(Json(json!({
        "id": reader.tenant_id,
        "name": name,
        "version": version,
        "created_at": created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "counts": { "sites": sites, "sites_by_status": by_status, "members": members, "active_tokens": tokens, "pending_invitations": invitations },
    })))
}

/// A member.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Member {
    /// The user.
    pub user_id: Uuid,
    /// Their email.
    pub email: String,
    /// Their role.
    pub role: String,
    /// When they joined.
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

async fn members(
    State(state): State<AppState>,
    reader: Reader,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Member>>, ApiError> {
    let limit = page.limit()?;
    let after = cursor(&page)?;
    let mut tx = tenant_tx(&state.pool, reader.tenant_id).await?;
    let rows = sqlx::query_as(
        "SELECT user_id, email, role, joined_at FROM proj_identity.members
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id > $2) ORDER BY user_id LIMIT $3",
    )
    .bind(reader.tenant_id)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(paginate(rows, limit, |m: &Member| m.user_id.to_string())))
}

/// An API token (never its secret).
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Token {
    /// The token's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

async fn tokens(
    State(state): State<AppState>,
    reader: Reader,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Token>>, ApiError> {
    let limit = page.limit()?;
    let after = cursor(&page)?;
    let mut tx = tenant_tx(&state.pool, reader.tenant_id).await?;
    let rows = sqlx::query_as(
        "SELECT token_id AS id, name, role, expires_at, revoked_at, created_at FROM proj_identity.tokens
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR token_id > $2) ORDER BY token_id LIMIT $3",
    )
    .bind(reader.tenant_id)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(paginate(rows, limit, |t: &Token| t.id.to_string())))
}

/// An invitation (never its token).
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Invitation {
    /// The invitation's id.
    pub id: Uuid,
    /// Whom.
    pub email: String,
    /// With which role.
    pub role: String,
    /// `pending`, `accepted` or `revoked`.
    pub status: String,
    /// Until when.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

async fn invitations(
    State(state): State<AppState>,
    reader: Reader,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Invitation>>, ApiError> {
    let limit = page.limit()?;
    let after = cursor(&page)?;
    let mut tx = tenant_tx(&state.pool, reader.tenant_id).await?;
    let rows = sqlx::query_as(
        "SELECT invitation_id AS id, email, role, status, expires_at FROM proj_identity.invitations
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR invitation_id > $2) ORDER BY invitation_id LIMIT $3",
    )
    .bind(reader.tenant_id)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(paginate(rows, limit, |i: &Invitation| i.id.to_string())))
}

fn cursor(page: &PageParams) -> Result<Option<Uuid>, ApiError> {
    page.cursor
        .as_deref()
        .map(|c| c.parse().map_err(|_| ApiError::field("cursor", "not a cursor from this list")))
        .transpose()
}
