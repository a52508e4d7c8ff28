//! `/v1/sites/{id}/sftp-users`: a site's SFTP accounts and whether the node has them.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::extract::{ApiPath, ApiQuery};
use berth_http::ApiError;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Reader;
use crate::page::{paginate, Page, PageParams};
use crate::AppState;

/// The SFTP account routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sites/{id}/sftp-users", get(list))
}

/// An SFTP account as the read side shows it (never its password).
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SftpUserView {
    /// The account's name.
    pub name: String,
    /// What it logs in as, on the site's node.
    pub login: String,
    /// `key` or `password`.
    pub method: String,
    /// Its public key, for a key account.
    pub public_key: Option<String>,
    /// `pending` (the node is making it), `ready` or `failed`.
    pub status: String,
    /// Why the node refused it.
    pub reason: Option<String>,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    /// Whether it may only read: its tenant's storage reached the plan's limit.
    pub uploads_locked: bool,
    /// The tenant's storage in use, in bytes, when uploads were last locked or unlocked
    /// (`null` before either).
    pub storage_used_bytes: Option<i64>,
    /// The plan's storage limit, in bytes, then (`null`: unlimited, or never checked).
    pub storage_limit_bytes: Option<i64>,
}

/// List a site's SFTP accounts, by name, in pages.
///
/// Each says whether it may upload: while the tenant's storage is at or past its plan's limit
/// the accounts may only read, with the storage and the limit that decided it.
#[utoipa::path(get, path = "/v1/sites/{id}/sftp-users", operation_id = "list_sftp_users", tag = "sftp",
    params(("id" = uuid::Uuid, Path, description = "The site's id"), PageParams),
    responses((status = 200, description = "A page of the site's SFTP accounts", body = Page<SftpUserView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<SftpUserView>>, ApiError> {
    let site: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let limit = page.limit()?;
    let after = page.after::<String>()?;
    let mut tx = reader.scope(&state).await?;
    let rows: Vec<SftpUserView> = sqlx::query_as(
        "SELECT a.name, a.login, a.method, a.public_key, a.status, a.reason, a.added_at,
                COALESCE(s.locked, false) AS uploads_locked, s.used_bytes AS storage_used_bytes,
                s.limit_bytes AS storage_limit_bytes
           FROM proj_sftp_accounts.accounts a
           LEFT JOIN proj_sftp_accounts.storage s ON s.site_id = a.site_id AND s.tenant_id = a.tenant_id
          WHERE a.tenant_id = $1 AND a.site_id = $2 AND ($3::text IS NULL OR a.name > $3) ORDER BY a.name LIMIT $4",
    )
    .bind(reader.tenant_id)
    .bind(site)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Json(paginate(rows, limit, |a| a.name.clone())))
}
