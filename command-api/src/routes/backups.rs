//! `/v1/sites/{id}/backups`: take a backup of a site now.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use berth_domain::backup::{Backup, BackupCommand, BackupKind, BackupTrigger, MAX_NOTE};
use berth_domain::ids::{BackupId, SiteId};
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
    Router::new().route("/v1/sites/{id}/backups", post(take))
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
    };
    let outcome = state
        .store
        .execute_with::<Backup>(&backup_id.to_string(), command, &caller.metadata(), state.retry, &[])
        .await?;
    Ok(state.links.accepted(backup_id.as_uuid(), outcome.version, View::Backup(backup_id.as_uuid())))
}
