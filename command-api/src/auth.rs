//! Who is calling: the bearer token becomes a [`Caller`] with a tenant and a role, or an
//! [`Operator`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use berth_domain::ids::TenantId;
use berth_domain::role::{Permission, Role};
use berth_eventstore::credentials::{CredentialKind, Principal};
use berth_eventstore::metadata::{CommandMetadata, CredentialGuard};
use berth_http::ApiError;
use berth_projections::identity;
use uuid::Uuid;

use crate::idempotency::IdempotencyContext;
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
    idempotency: Option<IdempotencyContext>,
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
            Some(user) if self.principal.kind == CredentialKind::Session => format!("user:{user}"),
            _ => format!("token:{}", self.principal.credential_id),
        }
    }

    /// Metadata for a command made by this caller. With an `Idempotency-Key`, the command id is
    /// derived from it, so even two racing retries append once.
    pub fn metadata(&self) -> CommandMetadata {
        let mut metadata =
            metadata(Some(self.tenant_id.as_uuid()), self.actor(), self.idempotency, &self.request_id);
        metadata.credential = Some(CredentialGuard {
            id: self.principal.credential_id,
            role: Some(self.role.as_str().to_owned()),
        });
        metadata
    }

    /// The id for a resource this request creates: with an `Idempotency-Key`, the one minted
    /// with its claim (so a retry creates nothing new), else a fresh one.
    pub fn new_id(&self) -> Uuid {
        new_id(self.idempotency)
    }
}

fn metadata(
    tenant: Option<Uuid>,
    actor: String,
    idempotency: Option<IdempotencyContext>,
    request_id: &Option<String>,
) -> CommandMetadata {
    let mut metadata = CommandMetadata::new(tenant, actor);
    if let Some(context) = idempotency {
        metadata.command_id = context.command_id;
        metadata.correlation_id = context.command_id;
    }
    metadata.request_id.clone_from(request_id);
    metadata
}

fn new_id(idempotency: Option<IdempotencyContext>) -> Uuid {
    idempotency.map_or_else(Uuid::now_v7, |c| c.resource_id)
}

/// What an unauthenticated request (registration, login, accepting an invitation) carries.
#[derive(Debug, Clone)]
pub struct Anonymous {
    /// The request id set at the edge.
    pub request_id: Option<String>,
    idempotency: Option<IdempotencyContext>,
}

impl Anonymous {
    /// Metadata for a command this request makes as `actor`.
    pub fn metadata(&self, tenant: Option<Uuid>, actor: String) -> CommandMetadata {
        metadata(tenant, actor, self.idempotency, &self.request_id)
    }

    /// The id for a resource this request creates (see [`Caller::new_id`]).
    pub fn new_id(&self) -> Uuid {
        new_id(self.idempotency)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Anonymous {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            request_id: request_id(&parts.headers),
            idempotency: parts.extensions.get::<IdempotencyContext>().copied(),
        })
    }
}

/// The request id header's value.
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = bearer(parts, state).await?;
        let (Some(tenant), Some(role)) = (principal.tenant_id, principal.role) else {
            return Err(ApiError::Forbidden("platform operators use the operator routes".to_owned()));
        };
        Ok(Self {
            principal,
            tenant_id: TenantId::from_uuid(tenant),
            role,
            request_id: request_id(&parts.headers),
            idempotency: parts.extensions.get::<IdempotencyContext>().copied(),
        })
    }
}

/// An authenticated platform operator (the provider's own staff): the only caller of the
/// platform routes (nodes).
#[derive(Debug, Clone)]
pub struct Operator {
    /// The operator's credential.
    pub principal: Principal,
    request_id: Option<String>,
    idempotency: Option<IdempotencyContext>,
}

impl Operator {
    /// Metadata for a command made by this operator (platform-level: no tenant).
    pub fn metadata(&self) -> CommandMetadata {
        let operator = self.principal.user_id.unwrap_or(self.principal.credential_id);
        let mut metadata = metadata(None, format!("operator:{operator}"), self.idempotency, &self.request_id);
        metadata.credential = Some(CredentialGuard { id: self.principal.credential_id, role: None });
        metadata
    }

    /// The id for a resource this request creates (see [`Caller::new_id`]).
    pub fn new_id(&self) -> Uuid {
        new_id(self.idempotency)
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = bearer(parts, state).await?;
        if principal.kind != CredentialKind::Operator {
            return Err(ApiError::Forbidden("only platform operators manage nodes".to_owned()));
        }
        Ok(Self {
            principal,
            request_id: request_id(&parts.headers),
            idempotency: parts.extensions.get::<IdempotencyContext>().copied(),
        })
    }
}

/// The live credential behind the request's bearer token: 401 without one.
async fn bearer(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let header = parts.headers.get(axum::http::header::AUTHORIZATION).map(|h| h.as_bytes());
    identity::authenticate_bearer(&state.pool, &state.credentials, header).await.map_err(|e| match e {
        identity::BearerError::Database(e) => ApiError::from(e),
        other => ApiError::Unauthorized(other.to_string()),
    })
}
