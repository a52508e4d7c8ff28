//! `/v1/invitations`: invite people by email, withdraw invitations; and the public
//! `/v1/invitations/accept`, where an invitee joins with the one-time token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::Router;
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
use berth_http::conditional::Precondition;

use crate::accepted::Located;
use crate::{Accepted, AppState, View};
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
#[schema(example = json!({"email": "ann@acme.test", "role": "member"}))]
pub struct Invite {
    /// Whom to invite.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// Their role once they accept: at most the caller's own.
    #[schema(value_type = berth_http::schema::RoleName)]
    pub role: String,
    /// Hours the invitation stays valid.
    #[schema(minimum = 1, maximum = 720, default = 168)]
    pub expires_in_hours: Option<i64>,
}

/// The answer to `POST /v1/invitations`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invited {
    /// The invitation's id.
    pub id: uuid::Uuid,
    /// The organization's version after the command.
    pub version: i64,
    /// The one-time token the invitee accepts with (send it to them; it is not shown again).
    pub token: String,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Invite someone by email; the answer holds the one-time token to send them.
#[utoipa::path(post, path = "/v1/invitations", operation_id = "invite_member", tag = "invitations", request_body = Invite,
    responses((status = 202, description = "Invited", body = Invited)), security(("bearer" = [])))]
async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Invite>,
) -> Result<Located<Invited>, ApiError> {
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
    let outcome = super::run_org(&state, &caller, command, &[credential.into()], None).await?;
    let location = state.links.to(View::Tenant, outcome.version);
    let invited =
        Invited { id: invitation_id.as_uuid(), version: outcome.version, token: secret, expires_at };
    Ok(Located::new(StatusCode::ACCEPTED, location, invited))
}

/// Withdraw a pending invitation.
///
/// `If-Match` is the tenant's ETag (`GET /v1/tenant`).
#[utoipa::path(delete, path = "/v1/invitations/{id}", operation_id = "revoke_invitation", tag = "invitations",
    params(("id" = uuid::Uuid, Path, description = "The invitation's id")),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageInvitations)?;
    let invitation_id: InvitationId = parse_id(&id)?;
    // Refused for an invitation of another tenant (the organization does not know it), so the
    // credential's tenant need not be checked here.
    let revoke = CredentialWrite::RevokeInvitation { invitation: invitation_id }.into();
    let command = OrganizationCommand::RevokeInvitation { invitation_id };
    let expected = precondition.expected(state.require_if_match)?;
    let outcome = super::run_org(&state, &caller, command, &[revoke], expected).await?;
    Ok(state.links.accepted(invitation_id.as_uuid(), outcome.version, View::Tenant))
}
