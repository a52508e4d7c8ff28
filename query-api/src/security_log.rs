//! `/v1/security-log`: logins that worked or failed (with address and user agent),
//! second-factor changes, recovery codes used, API tokens issued and revoked, and requests
//! refused. Owners and admins read their organization's and its members' entries; operators
//! read every entry, also failed logins to addresses no account has.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use berth_domain::role::Role;
use berth_http::extract::ApiQuery;
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::page::{paginate, time_param, Page, PageParams};
use crate::AppState;

/// The security log route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/security-log", get(list))
}

/// Who reads the log: an organization's owners and admins, or operators.
enum LogReader {
    Tenant { tenant_id: Uuid, credential_id: Uuid },
    Operator { credential_id: Uuid },
}

impl FromRequestParts<AppState> for LogReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = crate::auth::bearer(parts, state).await?;
        match (principal.kind, principal.tenant_id, principal.role) {
            (berth_projections::identity::CredentialKind::Operator, _, _) => {
                Ok(Self::Operator { credential_id: principal.credential_id })
            }
            (_, Some(tenant_id), Some(Role::Owner | Role::Admin)) => {
                Ok(Self::Tenant { tenant_id, credential_id: principal.credential_id })
            }
            (_, Some(_), _) => {
                Err(ApiError::Forbidden("only owners and admins read the security log".to_owned()))
            }
            _ => Err(ApiError::NotFound),
        }
    }
}

/// `GET /v1/security-log` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SecurityLogParams {
    /// Only entries of this kind (`LoginFailed`, `LoginSucceeded`, `AccessDenied`,
    /// `TwoFactorEnabled`, `TwoFactorDisabled`, `RecoveryCodeUsed`, `TokenIssued`,
    /// `TokenRevoked`, `TwoFactorRequirementChanged`).
    pub kind: Option<String>,
    /// Only entries about this user.
    pub user: Option<Uuid>,
    /// Only this tenant's entries (operators).
    pub tenant: Option<Uuid>,
    /// Only entries at or after this time.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Only entries before this time.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Where to continue: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One entry of the security log.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SecurityEntry {
    /// The event's id.
    pub event_id: Uuid,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What happened (the event type).
    pub kind: String,
    /// Who acted (`user:<id>`, `token:<id>`, `anonymous`).
    pub actor: String,
    /// The user it is about, if any.
    pub user_id: Option<Uuid>,
    /// The organization it happened in, if any.
    pub tenant_id: Option<Uuid>,
    /// The client's address.
    pub address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// The HTTP request.
    pub request_id: Option<String>,
    /// The event's other fields (a failure's reason, a refused request's method and path).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    #[serde(skip)]
    position: i64,
}

/// The security log, newest first.
#[utoipa::path(get, path = "/v1/security-log", operation_id = "list_security_log", tag = "audit", params(SecurityLogParams),
    responses((status = 200, description = "A page of security log entries, newest first", body = Page<SecurityEntry>)),
    security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: LogReader,
    ApiQuery(params): ApiQuery<SecurityLogParams>,
) -> Result<Json<Page<SecurityEntry>>, ApiError> {
    let page = PageParams { limit: params.limit, cursor: params.cursor.clone() };
    let limit = page.limit()?;
    let before = page.after::<i64>()?;
    let (from, to) = (time_param("from", params.from.as_deref())?, time_param("to", params.to.as_deref())?);
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(ApiError::field("to", "must not lie before from"));
        }
    }
    let (scope, tenant, credential) = match reader {
        LogReader::Tenant { tenant_id, credential_id } => {
            if params.tenant.is_some_and(|t| t != tenant_id) {
                return Err(ApiError::NotFound);
            }
            (Some(tenant_id), Some(tenant_id), credential_id)
        }
        LogReader::Operator { credential_id } => (None, params.tenant, credential_id),
    };
    let mut conn = crate::auth::forget_if_refused(&state, state.reads.enter(scope, credential).await)?;
    // In a tenant's scope, `proj_identity.members` shows that tenant's members only (row-level
    // security): entries of no tenant are theirs when they are about one of them.
    let entries: Vec<SecurityEntry> = sqlx::query_as(
        "SELECT global_position AS position, event_id, recorded_at AS at, kind, actor, user_id,
                tenant AS tenant_id, address, user_agent, request_id, details
           FROM proj_security.security_log
          WHERE ($1::bool OR tenant = $2
                 OR (tenant IS NULL AND user_id IN (SELECT m.user_id FROM proj_identity.members m)))
            AND ($2::uuid IS NULL OR NOT $1::bool OR tenant = $2)
            AND ($3::bigint IS NULL OR global_position < $3)
            AND ($4::text IS NULL OR kind = $4) AND ($5::uuid IS NULL OR user_id = $5)
            AND ($6::timestamptz IS NULL OR recorded_at >= $6) AND ($7::timestamptz IS NULL OR recorded_at < $7)
          ORDER BY global_position DESC LIMIT $8",
    )
    .bind(scope.is_none())
    .bind(tenant)
    .bind(before)
    .bind(params.kind)
    .bind(params.user)
    .bind(from)
    .bind(to)
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    // The view copies addresses and user agents as the log holds them: sealed. Opened here.
    let mut entries = entries;
    if let Some(keys) = berth_eventstore::personal::current() {
        for entry in &mut entries {
            for text in [&mut entry.address, &mut entry.user_agent] {
                berth_eventstore::personal::open_text(&keys, text)
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
            }
        }
    }
    Ok(Json(paginate(entries, limit, |e| e.position.to_string())))
}
