//! `POST /v1/auth/logout`: a user ends their own login session. The session's credential is
//! revoked in the same transaction as the `LoggedOut` entry of their security log, and every
//! process forgets it at once (as for a revoked token).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use berth_domain::ids::UserId;
use berth_domain::security::{AccountSecurity, SecurityCommand};
use berth_eventstore::credentials::{CredentialKind, CredentialWrite};
use berth_http::ApiError;

use crate::auth::Caller;
use crate::security;
use crate::AppState;

/// The sign-out route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/auth/logout", post(logout))
}

/// End this login session: its token is refused from the next request on.
///
/// Only a login session signs out; an API token is revoked with `DELETE /v1/tokens/{id}`.
#[utoipa::path(post, path = "/v1/auth/logout", operation_id = "logout", tag = "auth",
    responses((status = 204, description = "Signed out: the session's token no longer works"),
        (status = 400, description = "The credential is not a login session (an API token)", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session, or one that ended already", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A platform operator's token (they have no session to end)", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn logout(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let (CredentialKind::Session, Some(user)) = (caller.principal.kind, caller.principal.user_id) else {
        return Err(ApiError::field(
            "Authorization",
            "only a login session signs out; revoke an API token with DELETE /v1/tokens/{id}",
        ));
    };
    let session_id = caller.principal.credential_id;
    let command = SecurityCommand::RecordLogout {
        user_id: UserId::from_uuid(user),
        tenant_id: caller.tenant_id.as_uuid(),
        session_id,
        origin: security::origin(client, &headers),
    };
    let end = CredentialWrite::EndSession { id: session_id }.into();
    let mut meta = caller.metadata();
    meta.credential = None;
    state
        .store
        .execute_at::<AccountSecurity>(&user.to_string(), command, &meta, state.retry, &[end], None)
        .await?;
    state.credentials.clear();
    Ok(StatusCode::NO_CONTENT)
}
