//! `/v1/members/{user_id}`: change a member's role or remove them. (Members join through
//! invitations.)

use axum::extract::State;
use axum::routing::patch;
use axum::Router;
use berth_domain::ids::UserId;
use berth_domain::organization::OrganizationCommand;
use berth_domain::role::Permission;
use berth_eventstore::credentials::CredentialWrite;
use serde::Deserialize;

use crate::auth::Caller;
use crate::routes::{parse_id, parse_role};
use berth_http::conditional::Precondition;

use crate::accepted::Located;
use crate::{Accepted, AppState, View};
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

/// The member routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/members/{user_id}", patch(change_role).delete(remove))
}

/// `PATCH /v1/members/{user_id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    /// The new role (never above the caller's own).
    #[schema(value_type = berth_http::schema::RoleName)]
    pub role: String,
}

/// Change a member's role (their live sessions take it at once).
///
/// `If-Match` is the tenant's ETag (`GET /v1/tenant`).
#[utoipa::path(patch, path = "/v1/members/{user_id}", operation_id = "change_member_role", tag = "members", request_body = ChangeRole,
    params(("user_id" = uuid::Uuid, Path, description = "The member's user id")),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn change_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<ChangeRole>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageMembers)?;
    let user_id: UserId = parse_id(&id)?;
    let role = parse_role(&body.role)?;
    // Live sessions of the member take the new role at once.
    let sessions = CredentialWrite::Membership { tenant: caller.tenant_id, user: user_id, role }.into();
    let command = OrganizationCommand::ChangeRole { user_id, role, by_role: caller.role };
    let expected = precondition.expected(state.require_if_match)?;
    let outcome = super::run_org(&state, &caller, command, &[sessions], expected).await?;
    Ok(state.links.accepted(user_id.as_uuid(), outcome.version, View::Tenant))
}

/// Remove a member (their sessions end with it).
///
/// `If-Match` is the tenant's ETag (`GET /v1/tenant`).
#[utoipa::path(delete, path = "/v1/members/{user_id}", operation_id = "remove_member", tag = "members",
    params(("user_id" = uuid::Uuid, Path, description = "The member's user id")),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageMembers)?;
    let user_id: UserId = parse_id(&id)?;
    let sessions = CredentialWrite::EndMembership { tenant: caller.tenant_id, user: user_id }.into();
    let command = OrganizationCommand::RemoveMember { user_id, by_role: caller.role };
    let expected = precondition.expected(state.require_if_match)?;
    let outcome = super::run_org(&state, &caller, command, &[sessions], expected).await?;
    Ok(state.links.accepted(user_id.as_uuid(), outcome.version, View::Tenant))
}
