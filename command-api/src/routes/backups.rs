//! `/v1/sites/{id}/backups`: take a backup of a site now; `/v1/backups/{id}/restore`: restore
//! one into its site or another site of the tenant.

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
    Router::new().route("/v1/sites/{id}/backups", post(take)).route("/v1/backups/{id}/restore", post(restore))
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
    let target = body.target_site_id.map_or(backup.site_id(), SiteId::from_uuid);
    owned_site(&state, &caller, target).await?;
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
