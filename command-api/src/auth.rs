//! Who is calling: the bearer token becomes a [`Caller`] with a tenant and a role.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use berth_domain::ids::TenantId;
use berth_domain::role::{Permission, Role};
use berth_eventstore::metadata::CommandMetadata;
use berth_projections::identity::{self, Principal};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::AppState;

/// An authenticated tenant user or API token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The credential behind the request.
    pub principal: Principal,
    /// The tenant it acts in.
    pub tenant_id: TenantId,
    /// Its role there.
    pub role: Role,
    /// The request id set at the edge.
    pub request_id: Option<String>,
    idempotency_key: Option<String>,
}

impl Caller {
    /// Refuses with 403 unless the caller's role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("the {} role may not do this", self.role.as_str())))
        }
    }

    /// `user:<id>` for a session, `token:<id>` for an API token.
    pub fn actor(&self) -> String {
        match self.principal.user_id {
            Some(user) if self.principal.kind == "session" => format!("user:{user}"),
            _ => format!("token:{}", self.principal.credential_id),
        }
    }

    /// Metadata for a command made by this caller. With an `Idempotency-Key`, the command id is
    /// derived from it, so even two racing retries append once.
    pub fn metadata(&self) -> CommandMetadata {
        let mut metadata = CommandMetadata::new(Some(self.tenant_id.as_uuid()), self.actor());
        if let Some(key) = &self.idempotency_key {
            metadata.command_id = command_id_for(&self.principal.credential_id.to_string(), key);
            metadata.correlation_id = metadata.command_id;
        }
        metadata.request_id.clone_from(&self.request_id);
        metadata
    }
}

/// A stable command id for an idempotency key within a scope.
pub fn command_id_for(scope: &str, key: &str) -> Uuid {
    let digest = Sha256::digest(format!("{scope}\n{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The request id header's value.
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = bearer(parts, state).await?;
        let (Some(tenant), Some(role)) =
            (principal.tenant_id, principal.role.as_deref().and_then(Role::parse))
        else {
            return Err(ApiError::Forbidden("platform operators use the operator routes".to_owned()));
        };
        let idempotency_key =
            parts.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Self {
            principal,
            tenant_id: TenantId::from_uuid(tenant),
            role,
            request_id: request_id(&parts.headers),
            idempotency_key,
        })
    }
}

/// An authenticated platform operator (the provider's own staff): the only caller of the
/// node routes.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The operator's credential.
    pub principal: Principal,
    request_id: Option<String>,
    idempotency_key: Option<String>,
}

impl Operator {
    /// Metadata for a command made by this operator (platform-level: no tenant).
    pub fn metadata(&self) -> CommandMetadata {
        let operator = self.principal.user_id.unwrap_or(self.principal.credential_id);
        let mut metadata = CommandMetadata::new(None, format!("operator:{operator}"));
        if let Some(key) = &self.idempotency_key {
            metadata.command_id = command_id_for(&self.principal.credential_id.to_string(), key);
            metadata.correlation_id = metadata.command_id;
        }
        metadata.request_id.clone_from(&self.request_id);
        metadata
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = bearer(parts, state).await?;
        if principal.kind != "operator" {
            return Err(ApiError::Forbidden("only platform operators manage nodes".to_owned()));
        }
        let idempotency_key =
            parts.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Self { principal, request_id: request_id(&parts.headers), idempotency_key })
    }
}

/// The live credential behind the request's bearer token: 401 without one.
async fn bearer(parts: &Parts, state: &AppState) -> Result<identity::Principal, ApiError> {
    let header = parts.headers.get(axum::http::header::AUTHORIZATION).map(|h| h.as_bytes());
    identity::authenticate_bearer(&state.pool, header).await.map_err(|e| match e {
        identity::BearerError::Database(e) => ApiError::from(e),
        other => ApiError::Unauthorized(other.to_string()),
    })
}
