//! `/v1/sites/{id}/backups`: take a backup of a site now; `/v1/backups/{id}/restore`: restore
//! one into its site or another site of the tenant; `/v1/sites/{id}/restore`: restore a site to
//! a point in time (its latest verified backup taken then or before).

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use berth_domain::backup::{Backup, BackupCommand, BackupKind, BackupTrigger, Status, MAX_NOTE};
use berth_domain::ids::{BackupId, RestoreId, SiteId};
use berth_domain::restore::{Restore, RestoreCommand, RestoreError};
use berth_domain::role::Permission;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::Deserialize;

use crate::accepted::Located;
use crate::auth::Caller;
use crate::routes::billing::input;
use crate::routes::owned_site;
use crate::{Accepted, AppState, View};

/// The backup routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites/{id}/backups", post(take))
        .route("/v1/backups/{id}/restore", post(restore))
        .route("/v1/sites/{id}/restore", post(restore_to))
}

/// `POST /v1/sites/{id}/backups` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "full", "note": "before the theme update"}))]
pub struct TakeBackup {
    /// What to back up.
    #[schema(value_type = berth_http::schema::BackupKindName)]
    pub kind: String,
    /// A note kept with the backup.
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Back up a site now.
///
/// The backup counts once it is verified: stored, read back whole with its size and SHA-256
/// checked, and its dump loaded into a scratch database. A failed attempt is tried again with
/// backoff; follow it at the answer's `Location`.
#[utoipa::path(post, path = "/v1/sites/{id}/backups", operation_id = "take_backup", tag = "backups",
    request_body = TakeBackup, params(("id" = uuid::Uuid, Path, description = "The site's id")),
    responses((status = 202, description = "Accepted: the backup is under way", body = Accepted)), security(("bearer" = [])))]
async fn take(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TakeBackup>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let kind = input::one_of("kind", &body.kind, &BackupKind::ALL, BackupKind::as_str)?;
    if body.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(ApiError::field("note", format!("must be at most {MAX_NOTE} characters")));
    }
    owned_site(&state, &caller, site_id).await?;
    let backup_id = BackupId::from_uuid(uuid::Uuid::now_v7());
    let command = BackupCommand::Request {
        site_id,
        tenant_id: caller.tenant_id,
        kind,
        trigger: BackupTrigger::OnDemand,
        note: body.note,
        now: state.clock.now(),
        keep_until: None,
        restore_id: None,
    };
    let outcome = state
        .store
        .execute_with::<Backup>(&backup_id.to_string(), command, &caller.metadata(), state.retry, &[])
        .await?;
    Ok(state.links.accepted(backup_id.as_uuid(), outcome.version, View::Backup(backup_id.as_uuid())))
}

/// `POST /v1/backups/{id}/restore` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"what": "full"}))]
pub struct RestoreBackup {
    /// What to put back: everything the backup holds, or only its files or its database.
    #[schema(value_type = berth_http::schema::BackupKindName)]
    pub what: String,
    /// The site to restore into: the backup's own site when absent, or another site of the
    /// tenant.
    pub target_site_id: Option<uuid::Uuid>,
}

/// Restore a backup.
///
/// The stored object is checked against its manifest before anything is touched, then the
/// target's current state is backed up, the target answers 503 while the backup is unpacked
/// into a fresh directory and database and swapped in, and it reopens once it answers. If any
/// step fails the target is left as it was and the failure is recorded; follow it at the
/// answer's `Location`.
#[utoipa::path(post, path = "/v1/backups/{id}/restore", operation_id = "restore_backup", tag = "backups",
    request_body = RestoreBackup, params(("id" = uuid::Uuid, Path, description = "The backup's id")),
    responses((status = 202, description = "Accepted: the restore is under way", body = Accepted)), security(("bearer" = [])))]
async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RestoreBackup>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let backup_id: BackupId = crate::routes::parse_id(&id)?;
    let what = input::one_of("what", &body.what, &BackupKind::ALL, BackupKind::as_str)?;
    let backup = state.store.load::<Backup>(&backup_id.to_string()).await?.aggregate;
    if backup.tenant_id() != Some(caller.tenant_id) {
        return Err(ApiError::NotFound);
    }
    request(&state, &caller, backup_id, &backup, what, body.target_site_id).await
}

/// Records the restore of verified `backup` into `target` (its own site when `None`).
async fn request(
    state: &AppState,
    caller: &Caller,
    backup_id: BackupId,
    backup: &Backup,
    what: BackupKind,
    target: Option<uuid::Uuid>,
) -> Result<Located<Accepted>, ApiError> {
    let target = target.map_or(backup.site_id(), SiteId::from_uuid);
    owned_site(state, caller, target).await?;
    if backup.status() != Some(Status::Verified) {
        return Err(ApiError::refused(&RestoreError::BackupNotVerified));
    }
    let restore_id = RestoreId::from_uuid(uuid::Uuid::now_v7());
    let command = RestoreCommand::Request {
        backup_id,
        backup_kind: backup.kind(),
        source_site_id: backup.site_id(),
        target_site_id: target,
        tenant_id: caller.tenant_id,
        what,
        safety_backup_id: BackupId::from_uuid(uuid::Uuid::now_v7()),
        now: state.clock.now(),
    };
    let outcome = state
        .store
        .execute_with::<Restore>(&restore_id.to_string(), command, &caller.metadata(), state.retry, &[])
        .await?;
    Ok(state.links.accepted(restore_id.as_uuid(), outcome.version, View::Restore(restore_id.as_uuid())))
}

/// `POST /v1/sites/{id}/restore` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"at": "2026-12-01T09:30:00Z", "what": "database"}))]
pub struct RestoreToPointInTime {
    /// The point in time (RFC 3339): the site's latest verified backup taken then or before,
    /// holding what is asked for, is restored.
    pub at: String,
    /// What to put back: everything, or only the files or the database.
    #[schema(value_type = berth_http::schema::BackupKindName)]
    pub what: String,
    /// The site to restore into: this site when absent, or another site of the tenant.
    pub target_site_id: Option<uuid::Uuid>,
}

/// Restore a site to a point in time.
///
/// Picks the site's latest verified backup taken at or before `at` that holds what is asked
/// for (a full backup holds both files and database), then restores it as
/// `POST /v1/backups/{id}/restore` does; the restore's view names the backup chosen. No such
/// backup is 422 naming `at`.
#[utoipa::path(post, path = "/v1/sites/{id}/restore", operation_id = "restore_site_to_point_in_time", tag = "backups",
    request_body = RestoreToPointInTime, params(("id" = uuid::Uuid, Path, description = "The site's id")),
    responses((status = 202, description = "Accepted: the restore is under way", body = Accepted)), security(("bearer" = [])))]
async fn restore_to(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RestoreToPointInTime>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let at = crate::routes::parse_time("at", Some(&body.at))?.unwrap_or_else(|| state.clock.now());
    let what = input::one_of("what", &body.what, &BackupKind::ALL, BackupKind::as_str)?;
    owned_site(&state, &caller, site_id).await?;
    // The backups view picks the candidate; the backup's own log confirms it (a backup pruned
    // or failed since the view was written is refused below as not verified).
    let chosen: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT backup_id FROM proj_backups.backups
          WHERE site_id = $1 AND tenant_id = $2 AND status = 'verified'
            AND COALESCE(taken_at, requested_at) <= $3 AND (kind = 'full' OR kind = $4)
          ORDER BY COALESCE(taken_at, requested_at) DESC, backup_id DESC LIMIT 1",
    )
    .bind(site_id.as_uuid())
    .bind(caller.tenant_id.as_uuid())
    .bind(at)
    .bind(what.as_str())
    .fetch_optional(&state.pool)
    .await
    .map_err(berth_eventstore::error::StoreError::from)?;
    let Some(chosen) = chosen else {
        let refusal = RestoreError::NoBackupAt { what: what.as_str(), at: body.at };
        return Err(ApiError::refused(&refusal).about("at"));
    };
    let backup_id = BackupId::from_uuid(chosen);
    let backup = state.store.load::<Backup>(&backup_id.to_string()).await?.aggregate;
    request(&state, &caller, backup_id, &backup, what, body.target_site_id).await
}
