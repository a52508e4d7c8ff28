//! Who is reading: the bearer token becomes a [`Reader`] bound to one tenant.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use berth_projections::identity;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::AppState;

/// An authenticated caller of the read side; every query is scoped to its tenant.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    /// The tenant whose data it may read.
    pub tenant_id: Uuid,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer token".to_owned()))?;
        let digest: String = Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let principal = identity::authenticate(&state.pool, &digest)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the token is unknown, revoked or expired".to_owned()))?;
        let tenant_id = principal.tenant_id.ok_or(ApiError::NotFound)?;
        Ok(Self { tenant_id })
    }
}
