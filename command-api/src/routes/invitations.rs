//! `/v1/invitations`: invite people by email, withdraw invitations; and the public
//! `/v1/invitations/accept`, where an invitee joins with the one-time token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use berth_domain::email::Email;
use berth_domain::ids::{InvitationId, TenantId};
use berth_domain::organization::OrganizationCommand;
use berth_domain::role::Permission;
use berth_eventstore::append::{SideWrite, SqlArg};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::{parse_id, parse_role};
use crate::secrets::{new_token, token_digest};
use crate::AppState;

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

#[utoipa::path(post, path = "/v1/invitations", tag = "invitations", request_body = Invite, responses((status = 202, description = "Invited; the token is shown once", body = Invited), (status = 400, description = "Bad input, naming the field", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = crate::error::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
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
    let expires_at = OffsetDateTime::now_utc() + Duration::hours(hours);
    let invitation_id = InvitationId::from_uuid(Uuid::now_v7());
    let secret = new_token("bri");
    let credential = SideWrite::Statement {
        sql: "INSERT INTO credentials (id, kind, secret_hash, tenant_id, role, expires_at) VALUES ($1, 'invitation', $2, $3, $4, $5)",
        args: vec![
            SqlArg::Uuid(Some(invitation_id.as_uuid())),
            SqlArg::Text(Some(token_digest(&secret))),
            SqlArg::Uuid(Some(caller.tenant_id.as_uuid())),
            SqlArg::Text(Some(role.as_str().to_owned())),
            SqlArg::Time(Some(expires_at)),
        ],
    };
    let command =
        OrganizationCommand::Invite { invitation_id, email, role, expires_at, by_role: caller.role };
    let outcome = super::run_org(&state, &caller, command, &[credential]).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Invited { id: invitation_id.to_string(), version: outcome.version, token: secret, expires_at }),
    ))
}

#[utoipa::path(delete, path = "/v1/invitations/{id}", tag = "invitations", params(("id" = String, Path, description = "The id")), responses((status = 202, description = "Accepted", body = crate::Accepted), (status = 400, description = "Bad input, naming the field", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = crate::error::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<crate::Accepted>), ApiError> {
    caller.require(Permission::ManageInvitations)?;
    let invitation_id: InvitationId = parse_id(&id)?;
    let revoke = SideWrite::Statement {
        sql: "UPDATE credentials SET revoked_at = now() WHERE id = $1 AND kind = 'invitation' AND tenant_id = $2",
        args: vec![SqlArg::Uuid(Some(invitation_id.as_uuid())), SqlArg::Uuid(Some(caller.tenant_id.as_uuid()))],
    };
    let command = OrganizationCommand::RevokeInvitation { invitation_id };
    let outcome = super::run_org(&state, &caller, command, &[revoke]).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(crate::Accepted { id: invitation_id.to_string(), version: outcome.version }),
    ))
}

/// A pending invitation found by its token.
pub(crate) struct PendingInvitation {
    pub id: InvitationId,
    pub tenant_id: TenantId,
    /// The role granted on acceptance, as stored with the token.
    pub role: Option<String>,
}

/// Looks up a live invitation token.
pub(crate) async fn find(state: &AppState, token: &str) -> Result<Option<PendingInvitation>, ApiError> {
    let row: Option<(Uuid, Option<Uuid>, Option<String>)> = sqlx::query_as(
        "SELECT id, tenant_id, role FROM credentials WHERE secret_hash = $1 AND kind = 'invitation'
           AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(token_digest(token))
    .fetch_optional(&state.pool)
    .await?;
    Ok(row.and_then(|(id, tenant, role)| {
        Some(PendingInvitation {
            id: InvitationId::from_uuid(id),
            tenant_id: TenantId::from_uuid(tenant?),
            role,
        })
    }))
}
