//! Who is reading: the bearer token becomes a [`Reader`] bound to one tenant.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use berth_projections::identity;
use uuid::Uuid;

use crate::scope::Scoped;
use crate::AppState;
use berth_http::ApiError;

/// An authenticated caller of the read side; every query is scoped to its tenant.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    /// The tenant whose data it may read.
    pub tenant_id: Uuid,
    /// The credential it reads with (checked again as the scope is entered).
    pub credential_id: Uuid,
    /// The credential's role in the tenant.
    pub role: Option<berth_domain::role::Role>,
}

impl Reader {
    /// A connection in this caller's scope.
    pub async fn scope(&self, state: &AppState) -> Result<Scoped, ApiError> {
        let scoped = state.reads.enter(Some(self.tenant_id), self.credential_id).await;
        forget_if_refused(state, scoped)
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = bearer(parts, state).await?;
        let tenant_id = principal.tenant_id.ok_or(ApiError::NotFound)?;
        Ok(Self { tenant_id, credential_id: principal.credential_id, role: principal.role })
    }
}

/// An authenticated platform operator: the only reader of the platform views.
#[derive(Debug, Clone, Copy)]
pub struct OperatorReader {
    /// The operator's credential (checked again as the scope is entered).
    pub credential_id: Uuid,
}

impl OperatorReader {
    /// A connection in the platform's scope: no tenant's rows, the platform views.
    pub async fn scope(&self, state: &AppState) -> Result<Scoped, ApiError> {
        let scoped = state.reads.enter(None, self.credential_id).await;
        forget_if_refused(state, scoped)
    }
}

impl FromRequestParts<AppState> for OperatorReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = bearer(parts, state).await?;
        if principal.kind != berth_projections::identity::CredentialKind::Operator {
            return Err(ApiError::Forbidden("only platform operators read this".to_owned()));
        }
        Ok(Self { credential_id: principal.credential_id })
    }
}

/// A tenant's reader or an operator: who may read a tenant's documents (another tenant's are
/// not found; an operator reads every tenant's).
#[derive(Debug, Clone, Copy)]
pub enum Viewer {
    /// A tenant's member or API token.
    Tenant(Reader),
    /// A platform operator.
    Operator(OperatorReader),
}

impl Viewer {
    /// A connection in this caller's scope.
    pub async fn scope(&self, state: &AppState) -> Result<Scoped, ApiError> {
        match self {
            Self::Tenant(reader) => reader.scope(state).await,
            Self::Operator(operator) => operator.scope(state).await,
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = bearer(parts, state).await?;
        if principal.kind == berth_projections::identity::CredentialKind::Operator {
            return Ok(Self::Operator(OperatorReader { credential_id: principal.credential_id }));
        }
        let tenant_id = principal.tenant_id.ok_or(ApiError::NotFound)?;
        Ok(Self::Tenant(Reader { tenant_id, credential_id: principal.credential_id, role: principal.role }))
    }
}

/// A credential found dead as a scope was entered is forgotten by this process at once (its
/// change may not have been announced here yet).
pub(crate) fn forget_if_refused(
    state: &AppState,
    scoped: Result<Scoped, ApiError>,
) -> Result<Scoped, ApiError> {
    if matches!(scoped, Err(ApiError::Unauthorized(_))) {
        state.credentials.clear();
    }
    scoped
}

/// The live credential behind the request's bearer token: 401 without one.
pub(crate) async fn bearer(parts: &Parts, state: &AppState) -> Result<identity::Principal, ApiError> {
    let header = parts.headers.get(axum::http::header::AUTHORIZATION).map(|h| h.as_bytes());
    identity::authenticate_bearer(&state.pool, &state.credentials, header).await.map_err(|e| match e {
        identity::BearerError::Database(e) => ApiError::from(e),
        other => ApiError::Unauthorized(other.to_string()),
    })
}
