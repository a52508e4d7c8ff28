//! `/v1/tokens`: API tokens. The secret is shown once, in the answer that creates it, and
//! stored only as a digest.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use berth_domain::ids::TokenId;
use berth_domain::name::DisplayName;
use berth_domain::organization::OrganizationCommand;
use berth_domain::role::Permission;
use berth_eventstore::credentials::CredentialWrite;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::routes::{parse_id, parse_role, parse_time};
use crate::secrets::{new_token, token_digest};
use crate::AppState;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

/// The token routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/tokens", post(issue)).route("/v1/tokens/{id}", delete(revoke))
}

/// `POST /v1/tokens` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueToken {
    /// What the token is for ("CI deploys").
    pub name: String,
    /// Its role: at most the caller's own.
    pub role: String,
    /// When it stops working (RFC 3339); never if absent.
    pub expires_at: Option<String>,
}

/// The answer to `POST /v1/tokens`: the only time the secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    /// The token's id.
    pub id: String,
    /// The organization's version after the command.
    pub version: i64,
    /// The bearer token. Store it now: it is not shown again.
    pub token: String,
}

#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = IssueToken, responses((status = 202, description = "Issued; the secret is shown once", body = IssuedToken), (status = 400, description = "Bad input, naming the field", body = berth_http::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<IssueToken>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    caller.require(Permission::ManageTokens)?;
    let name = DisplayName::parse(&body.name).map_err(|e| ApiError::field("name", e))?;
    let role = parse_role(&body.role)?;
    let expires_at = parse_time("expires_at", body.expires_at.as_deref())?;
    if expires_at.is_some_and(|at| at <= state.clock.now()) {
        return Err(ApiError::field("expires_at", "must lie in the future"));
    }
    let token_id = TokenId::from_uuid(caller.new_id());
    let secret = new_token("brt");
    let credential = CredentialWrite::ApiToken {
        token: token_id,
        digest: token_digest(&secret),
        tenant: caller.tenant_id,
        role,
        expires_at,
    };
    let command = OrganizationCommand::IssueToken { token_id, name, role, expires_at, by_role: caller.role };
    let outcome = super::run_org(&state, &caller, command, &[credential.into()]).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(IssuedToken { id: token_id.to_string(), version: outcome.version, token: secret }),
    ))
}

#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path, description = "The id")), responses((status = 202, description = "Accepted", body = crate::Accepted), (status = 400, description = "Bad input, naming the field", body = berth_http::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<crate::Accepted>), ApiError> {
    caller.require(Permission::ManageTokens)?;
    let token_id: TokenId = parse_id(&id)?;
    let revoke = CredentialWrite::RevokeApiToken { token: token_id, tenant: caller.tenant_id }.into();
    let outcome =
        super::run_org(&state, &caller, OrganizationCommand::RevokeToken { token_id }, &[revoke]).await?;
    Ok((StatusCode::ACCEPTED, Json(crate::Accepted { id: token_id.to_string(), version: outcome.version })))
}
