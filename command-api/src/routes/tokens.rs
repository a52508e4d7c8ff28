//! `/v1/tokens`: API tokens. The secret is shown once, in the answer that creates it, and
//! stored only as a digest.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::Router;
use berth_domain::ids::TokenId;
use berth_domain::name::DisplayName;
use berth_domain::organization::OrganizationCommand;
use berth_domain::role::Permission;
use berth_eventstore::credentials::CredentialWrite;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::routes::{parse_id, parse_role, parse_time};
use crate::secrets::{new_token, token_digest};
use berth_http::conditional::Precondition;

use crate::accepted::Located;
use crate::{Accepted, AppState, View};
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

/// The token routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/tokens", post(issue)).route("/v1/tokens/{id}", delete(revoke))
}

/// `POST /v1/tokens` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "CI deploys", "role": "member"}))]
pub struct IssueToken {
    /// What the token is for.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Its role: at most the caller's own.
    #[schema(value_type = berth_http::schema::RoleName)]
    pub role: String,
    /// When it stops working; never if absent.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// The answer to `POST /v1/tokens`: the only time the secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    /// The token's id.
    pub id: uuid::Uuid,
    /// The organization's version after the command.
    pub version: i64,
    /// The bearer token. Store it now: it is not shown again.
    pub token: String,
}

/// Issue an API token; its secret is in this answer only.
#[utoipa::path(post, path = "/v1/tokens", operation_id = "issue_token", tag = "tokens", request_body = IssueToken,
    responses((status = 202, description = "Issued; the secret is shown once", body = IssuedToken)), security(("bearer" = [])))]
async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<IssueToken>,
) -> Result<Located<IssuedToken>, ApiError> {
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
    let outcome = super::run_org(&state, &caller, command, &[credential.into()], None).await?;
    let location = state.links.to(View::Tenant, outcome.version);
    let issued = IssuedToken { id: token_id.as_uuid(), version: outcome.version, token: secret };
    Ok(Located::new(StatusCode::ACCEPTED, location, issued))
}

/// Revoke an API token: it is refused from the next request on.
///
/// `If-Match` is the tenant's ETag (`GET /v1/tenant`).
#[utoipa::path(delete, path = "/v1/tokens/{id}", operation_id = "revoke_token", tag = "tokens",
    params(("id" = uuid::Uuid, Path, description = "The token's id")),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageTokens)?;
    let token_id: TokenId = parse_id(&id)?;
    let revoke = CredentialWrite::RevokeApiToken { token: token_id, tenant: caller.tenant_id }.into();
    let expected = precondition.expected(state.require_if_match)?;
    let command = OrganizationCommand::RevokeToken { token_id };
    let outcome = super::run_org(&state, &caller, command, &[revoke], expected).await?;
    Ok(state.links.accepted(token_id.as_uuid(), outcome.version, View::Tenant))
}
