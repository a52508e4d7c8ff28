//! `/v1/sites/{id}/backups` (a site's backups), `/v1/backups/{id}`, `/v1/backup-storage` (the
//! tenant's backup storage in use), `/v1/restores` and `/v1/restores/{id}` (with their steps),
//! and for operators `/v1/ops/backups/failures`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::conditional::{versioned, IfNoneMatch};
use berth_http::extract::{ApiPath, ApiQuery};
use berth_http::ApiError;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{OperatorReader, Reader};
use crate::page::{paginate, Page, PageParams, VersionParams};
use crate::scope::at_version;
use crate::AppState;

/// The backup and restore routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites/{id}/backups", get(list))
        .route("/v1/backups/{id}", get(detail))
        .route("/v1/backup-storage", get(storage))
        .route("/v1/restores", get(restores))
        .route("/v1/restores/{id}", get(restore))
        .route("/v1/ops/backups/failures", get(failures))
}

/// A backup as the read side shows it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BackupView {
    /// The backup's id.
    pub backup_id: Uuid,
    /// The site it is of.
    pub site_id: Uuid,
    /// What it holds.
    #[schema(value_type = berth_http::schema::BackupKindName)]
    pub kind: String,
    /// Why it was taken: `on_demand`, `scheduled`, `before_restore` or `before_delete`.
    pub trigger: String,
    /// The asker's note.
    pub note: Option<String>,
    /// `taking`, `verifying`, `verified` (it counts), `failed` (another attempt is due),
    /// `abandoned` (every attempt failed) or `pruned` (its object is deleted).
    pub status: String,
    /// The attempt under way or last made.
    #[schema(minimum = 1)]
    pub attempt: i32,
    /// The stored object's size in bytes.
    pub size_bytes: Option<i64>,
    /// The stored object's SHA-256, hexadecimal.
    pub sha256: Option<String>,
    /// The last failure's reason: disk_full, dump_failed, upload_failed, checksum_mismatch or
    /// node_unreachable.
    pub failure_reason: Option<String>,
    /// The last failure, for people.
    pub last_error: Option<String>,
    /// When the next attempt starts.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retry_at: Option<OffsetDateTime>,
    /// When it was asked for.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// When it was verified.
    #[serde(with = "time::serde::rfc3339::option")]
    pub verified_at: Option<OffsetDateTime>,
    /// Kept at least until then (a backup taken before its site was deleted).
    #[serde(with = "time::serde::rfc3339::option")]
    pub keep_until: Option<OffsetDateTime>,
    /// The backup aggregate's version (its ETag).
    #[schema(minimum = 1)]
    pub version: i64,
}

const COLUMNS: &str =
    "backup_id, site_id, kind, trigger, note, status, attempt, size_bytes, sha256, failure_reason,
    last_error, retry_at, requested_at, verified_at, keep_until, version";

/// List a site's backups, oldest first, in pages.
#[utoipa::path(get, path = "/v1/sites/{id}/backups", operation_id = "list_site_backups", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The site's id"), PageParams),
    responses((status = 200, description = "A page of the site's backups", body = Page<BackupView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<BackupView>>, ApiError> {
    let site: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut tx = reader.scope(&state).await?;
    let rows: Vec<BackupView> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM proj_backups.backups
          WHERE tenant_id = $1 AND site_id = $2 AND ($3::uuid IS NULL OR backup_id > $3) ORDER BY backup_id LIMIT $4"
    ))
    .bind(reader.tenant_id)
    .bind(site)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Json(paginate(rows, limit, |b| b.backup_id.to_string())))
}

/// A backup: kind, status, size, checksum, and its last failure.
#[utoipa::path(get, path = "/v1/backups/{id}", operation_id = "get_backup", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The backup's id"), VersionParams),
    responses((status = 200, description = "The backup", body = BackupView)), security(("bearer" = [])))]
async fn detail(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let read = || async {
        let mut tx = reader.scope(&state).await?;
        let row: Option<BackupView> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM proj_backups.backups WHERE tenant_id = $1 AND backup_id = $2"
        ))
        .bind(reader.tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row)
    };
    let row =
        at_version(&state.reads, "backups", params.min_version, |b: &BackupView| b.version, read).await?;
    Ok(versioned(row.version, row, &if_none_match))
}

/// The tenant's backup storage in use.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BackupStorage {
    /// Bytes stored, over every backup not pruned.
    #[schema(minimum = 0)]
    pub bytes: i64,
    /// Objects stored.
    #[schema(minimum = 0)]
    pub objects: i64,
}

/// The backup storage the tenant uses now (what storage overage is billed on).
#[utoipa::path(get, path = "/v1/backup-storage", operation_id = "get_backup_storage", tag = "backups",
    responses((status = 200, description = "The tenant's backup storage in use", body = BackupStorage)), security(("bearer" = [])))]
async fn storage(State(state): State<AppState>, reader: Reader) -> Result<Json<BackupStorage>, ApiError> {
    let mut tx = reader.scope(&state).await?;
    let row: BackupStorage = sqlx::query_as(
        "SELECT COALESCE(SUM(size_bytes), 0)::bigint AS bytes, COUNT(size_bytes) AS objects
           FROM proj_backups.backups WHERE tenant_id = $1 AND status <> 'pruned'",
    )
    .bind(reader.tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Json(row))
}

/// One finished step of a restore.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RestoreStepView {
    /// The step: verify_checksum, safety_backup, maintenance_on, restore_files,
    /// restore_database, swap, check_site or maintenance_off.
    pub step: String,
    /// When it finished.
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
    /// How long it took, in milliseconds.
    #[schema(minimum = 0)]
    pub took_ms: i64,
}

/// A restore as the read side shows it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RestoreView {
    /// The restore's id.
    pub restore_id: Uuid,
    /// The backup restored.
    pub backup_id: Uuid,
    /// The site the backup was taken of.
    pub source_site_id: Uuid,
    /// The site restored into.
    pub target_site_id: Uuid,
    /// What is restored.
    #[schema(value_type = berth_http::schema::BackupKindName)]
    pub what: String,
    /// The backup of the target taken first.
    pub safety_backup_id: Uuid,
    /// `running`, `completed` or `failed` (the target was left as it was).
    pub status: String,
    /// The step that failed.
    pub failed_step: Option<String>,
    /// Why, for programs.
    pub failure_reason: Option<String>,
    /// Why, for people.
    pub last_error: Option<String>,
    /// When it was asked for.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// When it completed or failed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// The steps finished, in order.
    #[sqlx(skip)]
    pub steps: Vec<RestoreStepView>,
    /// The restore aggregate's version (its ETag).
    #[schema(minimum = 1)]
    pub version: i64,
}

const RESTORE_COLUMNS: &str =
    "restore_id, backup_id, source_site_id, target_site_id, what, safety_backup_id, status,
    failed_step, failure_reason, last_error, requested_at, finished_at, version";

async fn with_steps(
    tx: &mut sqlx::PgConnection,
    tenant: Uuid,
    mut rows: Vec<RestoreView>,
) -> Result<Vec<RestoreView>, ApiError> {
    for row in &mut rows {
        row.steps = sqlx::query_as(
            "SELECT step, completed_at, took_ms FROM proj_restores.restore_steps
              WHERE tenant_id = $1 AND restore_id = $2 ORDER BY completed_at, step",
        )
        .bind(tenant)
        .bind(row.restore_id)
        .fetch_all(&mut *tx)
        .await?;
    }
    Ok(rows)
}

/// List the tenant's restores, oldest first, in pages.
#[utoipa::path(get, path = "/v1/restores", operation_id = "list_restores", tag = "backups", params(PageParams),
    responses((status = 200, description = "A page of restores", body = Page<RestoreView>)), security(("bearer" = [])))]
async fn restores(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<RestoreView>>, ApiError> {
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut tx = reader.scope(&state).await?;
    let rows: Vec<RestoreView> = sqlx::query_as(&format!(
        "SELECT {RESTORE_COLUMNS} FROM proj_restores.restores
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR restore_id > $2) ORDER BY restore_id LIMIT $3"
    ))
    .bind(reader.tenant_id)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let rows = with_steps(&mut tx, reader.tenant_id, rows).await?;
    Ok(Json(paginate(rows, limit, |r| r.restore_id.to_string())))
}

/// A restore with its steps and their timings.
#[utoipa::path(get, path = "/v1/restores/{id}", operation_id = "get_restore", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The restore's id"), VersionParams),
    responses((status = 200, description = "The restore", body = RestoreView)), security(("bearer" = [])))]
async fn restore(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let read = || async {
        let mut tx = reader.scope(&state).await?;
        let row: Option<RestoreView> = sqlx::query_as(&format!(
            "SELECT {RESTORE_COLUMNS} FROM proj_restores.restores WHERE tenant_id = $1 AND restore_id = $2"
        ))
        .bind(reader.tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(with_steps(&mut tx, reader.tenant_id, row.into_iter().collect()).await?.pop())
    };
    let row =
        at_version(&state.reads, "restores", params.min_version, |r: &RestoreView| r.version, read).await?;
    Ok(versioned(row.version, row, &if_none_match))
}

/// A failed backup attempt or restore, as operators watch them.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BackupFailure {
    /// The event that recorded it (the cursor).
    pub event_id: Uuid,
    /// The tenant.
    pub tenant: Option<Uuid>,
    /// `backup` or `restore`.
    pub kind: String,
    /// The backup's or the restore's id.
    pub target_id: Uuid,
    /// The site.
    pub site_id: Uuid,
    /// The backup attempt that failed.
    pub attempt: Option<i32>,
    /// The restore step that failed.
    pub step: Option<String>,
    /// Why, for programs.
    pub reason: String,
    /// Why, for people.
    pub detail: String,
    /// Whether no attempt follows (a restore failure always is).
    #[serde(rename = "final")]
    pub last: bool,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub failed_at: OffsetDateTime,
}

/// Every backup and restore failure across tenants, oldest first, in pages (operators only).
#[utoipa::path(get, path = "/v1/ops/backups/failures", operation_id = "list_backup_failures", tag = "backups",
    params(PageParams),
    responses((status = 200, description = "A page of failures", body = Page<BackupFailure>)), security(("bearer" = [])))]
async fn failures(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<BackupFailure>>, ApiError> {
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut tx = operator.scope(&state).await?;
    let rows: Vec<BackupFailure> = sqlx::query_as(
        "SELECT event_id, tenant, kind, target_id, site_id, attempt, step, reason, detail, final AS last, failed_at
           FROM proj_backup_failures.failures
          WHERE ($1::uuid IS NULL OR event_id > $1) ORDER BY event_id LIMIT $2",
    )
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Json(paginate(rows, limit, |f| f.event_id.to_string())))
}
