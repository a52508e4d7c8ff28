//! `/v1/members/{user_id}`: change a member's role or remove them. (Members join through
//! invitations.)

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::patch;
use axum::{Json, Router};
use berth_domain::ids::UserId;
use berth_domain::organization::OrganizationCommand;
use berth_domain::role::Permission;
use berth_eventstore::credentials::CredentialWrite;
use serde::Deserialize;

use crate::auth::Caller;
use crate::routes::{parse_id, parse_role};
use crate::{Accepted, AppState};
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
    /// The new role.
    pub role: String,
}

#[utoipa::path(patch, path = "/v1/members/{user_id}", tag = "members", request_body = ChangeRole, params(("user_id" = String, Path, description = "The member's user id")), responses((status = 202, description = "Accepted", body = Accepted), (status = 400, description = "Bad input, naming the field", body = berth_http::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn change_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ChangeRole>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    caller.require(Permission::ManageMembers)?;
    let user_id: UserId = parse_id(&id)?;
    let role = parse_role(&body.role)?;
    // Live sessions of the member take the new role at once.
    let sessions = CredentialWrite::Membership { tenant: caller.tenant_id, user: user_id, role }.into();
    let command = OrganizationCommand::ChangeRole { user_id, role, by_role: caller.role };
    let outcome = super::run_org(&state, &caller, command, &[sessions]).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: user_id.to_string(), version: outcome.version })))
}

#[utoipa::path(delete, path = "/v1/members/{user_id}", tag = "members", params(("user_id" = String, Path, description = "The member's user id")), responses((status = 202, description = "Accepted", body = Accepted), (status = 400, description = "Bad input, naming the field", body = berth_http::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    caller.require(Permission::ManageMembers)?;
    let user_id: UserId = parse_id(&id)?;
    let sessions = CredentialWrite::EndMembership { tenant: caller.tenant_id, user: user_id }.into();
    let command = OrganizationCommand::RemoveMember { user_id, by_role: caller.role };
    let outcome = super::run_org(&state, &caller, command, &[sessions]).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: user_id.to_string(), version: outcome.version })))
}
