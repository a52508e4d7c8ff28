//! `/v1/invitations`: invite people by email, withdraw invitations; and the public
//! `/v1/invitations/accept`, where an invitee joins with the one-time token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use berth_domain::email::Email;
use berth_domain::ids::InvitationId;
use berth_domain::organization::OrganizationCommand;
use berth_domain::role::Permission;
use berth_eventstore::credentials::CredentialWrite;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::auth::Caller;
use crate::routes::{parse_id, parse_role};
use crate::secrets::{new_token, token_digest};
use crate::AppState;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

/// The invitation routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/invitations", post(invite))
        .route("/v1/invitations/{id}", delete(revoke))
        .route("/v1/invitations/accept", post(crate::routes::auth::accept_invitation))
}

/// `POST /v1/invitations` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    /// Whom to invite.
    pub email: String,
    /// Their role once they accept: at most the caller's own.
    pub role: String,
    /// Hours the invitation stays valid (1 to 720; 168 if absent).
    pub expires_in_hours: Option<i64>,
}

/// The answer to `POST /v1/invitations`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invited {
    /// The invitation's id.
    pub id: String,
    /// The organization's version after the command.
    pub version: i64,
    /// The one-time token the invitee accepts with (send it to them; it is not shown again).
    pub token: String,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[utoipa::path(post, path = "/v1/invitations", tag = "invitations", request_body = Invite, responses((status = 202, description = "Invited; the token is shown once", body = Invited), (status = 400, description = "Bad input, naming the field", body = berth_http::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Invite>,
) -> Result<(StatusCode, Json<Invited>), ApiError> {
    caller.require(Permission::ManageInvitations)?;
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    let role = parse_role(&body.role)?;
    let hours = body.expires_in_hours.unwrap_or(168);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::field("expires_in_hours", "must be between 1 and 720"));
    }
    let expires_at = state.clock.now() + Duration::hours(hours);
    let invitation_id = InvitationId::from_uuid(caller.new_id());
    let secret = new_token("bri");
    let credential = CredentialWrite::Invitation {
        invitation: invitation_id,
        digest: token_digest(&secret),
        tenant: caller.tenant_id,
        role,
        expires_at,
    };
    let command =
        OrganizationCommand::Invite { invitation_id, email, role, expires_at, by_role: caller.role };
    let outcome = super::run_org(&state, &caller, command, &[credential.into()]).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Invited { id: invitation_id.to_string(), version: outcome.version, token: secret, expires_at }),
    ))
}

#[utoipa::path(delete, path = "/v1/invitations/{id}", tag = "invitations", params(("id" = String, Path, description = "The id")), responses((status = 202, description = "Accepted", body = crate::Accepted), (status = 400, description = "Bad input, naming the field", body = berth_http::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<crate::Accepted>), ApiError> {
    caller.require(Permission::ManageInvitations)?;
    let invitation_id: InvitationId = parse_id(&id)?;
    // Refused for an invitation of another tenant (the organization does not know it), so the
    // credential's tenant need not be checked here.
    let revoke = CredentialWrite::RevokeInvitation { invitation: invitation_id }.into();
    let command = OrganizationCommand::RevokeInvitation { invitation_id };
    let outcome = super::run_org(&state, &caller, command, &[revoke]).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(crate::Accepted { id: invitation_id.to_string(), version: outcome.version }),
    ))
}
