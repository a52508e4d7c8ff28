//! Who is reading: the bearer token becomes a [`Reader`] bound to one tenant.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use berth_projections::identity;
use uuid::Uuid;

use crate::AppState;
use berth_http::ApiError;

/// An authenticated caller of the read side; every query is scoped to its tenant.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    /// The tenant whose data it may read.
    pub tenant_id: Uuid,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = bearer(parts, state).await?;
        let tenant_id = principal.tenant_id.ok_or(ApiError::NotFound)?;
        Ok(Self { tenant_id })
    }
}

/// An authenticated platform operator: the only reader of the nodes view.
#[derive(Debug, Clone, Copy)]
pub struct OperatorReader;

impl FromRequestParts<AppState> for OperatorReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = bearer(parts, state).await?;
        if principal.kind != berth_projections::identity::CredentialKind::Operator {
            return Err(ApiError::Forbidden("only platform operators read nodes".to_owned()));
        }
        Ok(Self)
    }
}

/// The live credential behind the request's bearer token: 401 without one.
///
/// Looked up where the views are read. On a replica, a token issued a moment ago may not have
/// been replayed yet, so one the replica does not know is looked up on the primary before it
/// is refused; a revocation reaches the replica's readers within its replay lag
/// (`berth_replica_lag_seconds`).
async fn bearer(parts: &Parts, state: &AppState) -> Result<identity::Principal, ApiError> {
    let header = parts.headers.get(axum::http::header::AUTHORIZATION).map(|h| h.as_bytes());
    let mut found = identity::authenticate_bearer(&state.pool, header).await;
    if let (Err(identity::BearerError::Unknown), Some(primary)) = (&found, &state.primary) {
        found = identity::authenticate_bearer(primary, header).await;
    }
    found.map_err(|e| match e {
        identity::BearerError::Database(e) => ApiError::from(e),
        other => ApiError::Unauthorized(other.to_string()),
    })
}
