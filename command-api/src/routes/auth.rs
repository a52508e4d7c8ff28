//! `/v1/auth`: registration and login, and accepting an invitation. These are the only
//! unauthenticated routes, so they carry their own rate limits: per client address and per
//! account.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use berth_domain::email::Email;
use berth_domain::ids::{TenantId, UserId};
use berth_domain::name::DisplayName;
use berth_domain::organization::{Organization, OrganizationCommand};
use berth_domain::role::Role;
use berth_domain::user::{User, UserCommand};
use berth_eventstore::append::{SideWrite, SqlArg};
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::unit_of_work::UnitOfWork;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::json::ApiJson;
use crate::secrets::{dummy_verify, hash_password, new_token, token_digest, verify_password};
use crate::AppState;

/// The authentication routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/auth/register", post(register)).route("/v1/auth/login", post(login))
}

/// `POST /v1/auth/register` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// The organization's name.
    pub organization: String,
    /// The owner's email.
    pub email: String,
    /// The owner's password (10 to 1024 characters).
    pub password: String,
}

/// The answer to registration and to accepting an invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    /// The tenant.
    pub tenant_id: String,
    /// The user.
    pub user_id: String,
    /// A session token for the user in that tenant.
    pub token: String,
}

/// The answer to accepting an invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Joined {
    /// The tenant joined.
    pub tenant_id: String,
    /// The user (new or existing).
    pub user_id: String,
    /// A session token for the user in that tenant.
    pub token: String,
    /// The organization's version: ask `/v1/tenant?min_version=` this to read your write.
    pub version: i64,
}

/// `POST /v1/auth/login` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The email.
    pub email: String,
    /// The password.
    pub password: String,
    /// Which of the user's tenants to act in (the first one joined if absent).
    pub tenant_id: Option<String>,
}

/// The answer to a login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoggedIn {
    /// A session token.
    pub token: String,
    /// The tenant it acts in.
    pub tenant_id: String,
}

/// `POST /v1/invitations/accept` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The invitation's one-time token.
    pub token: String,
    /// The invitee's email (must be the invited address).
    pub email: String,
    /// Their password: a new one for a new user, or their existing one.
    pub password: String,
}

fn limit(state: &AppState, client: SocketAddr, account: &str) -> Result<(), ApiError> {
    state.auth_limiter.check(&format!("client:{}", client.ip())).map_err(ApiError::TooManyRequests)?;
    state.auth_limiter.check(&format!("account:{account}")).map_err(ApiError::TooManyRequests)
}

fn check_password(password: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if !(10..=1024).contains(&length) {
        return Err(ApiError::field("password", "must be 10 to 1024 characters long"));
    }
    Ok(())
}

/// A session credential for `user` in `tenant` with `role`, and its secret.
fn session(state: &AppState, tenant: TenantId, user: UserId, role: Role) -> (SideWrite, String) {
    let secret = new_token("brs");
    let expires = OffsetDateTime::now_utc() + state.session_ttl;
    let write = SideWrite::Statement {
        sql: "INSERT INTO credentials (id, kind, secret_hash, tenant_id, user_id, role, expires_at) VALUES ($1, 'session', $2, $3, $4, $5, $6)",
        args: vec![
            SqlArg::Uuid(Some(Uuid::now_v7())),
            SqlArg::Text(Some(token_digest(&secret))),
            SqlArg::Uuid(Some(tenant.as_uuid())),
            SqlArg::Uuid(Some(user.as_uuid())),
            SqlArg::Text(Some(role.as_str().to_owned())),
            SqlArg::Time(Some(expires)),
        ],
    };
    (write, secret)
}

/// The writes that create a user: the email claim and the password.
fn new_user_writes(user: UserId, email: &Email, password: &str) -> Result<[SideWrite; 2], ApiError> {
    let phc = hash_password(password).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok([
        SideWrite::Claim { scope: "email".into(), value: email.canonical(), owner: format!("user:{user}") },
        SideWrite::Statement {
            sql: "INSERT INTO credentials (id, kind, secret_hash, user_id) VALUES ($1, 'password', $2, $1)",
            args: vec![SqlArg::Uuid(Some(user.as_uuid())), SqlArg::Text(Some(phc))],
        },
    ])
}

#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = Register, responses((status = 201, description = "Registered", body = Registered), (status = 400, description = "Bad input, naming the field", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = crate::error::Problem, content_type = "application/problem+json")))]
async fn register(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Register>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    limit(&state, client, &email.canonical())?;
    let name = DisplayName::parse(&body.organization).map_err(|e| ApiError::field("organization", e))?;
    check_password(&body.password)?;
    let (tenant, user) = (TenantId::from_uuid(Uuid::now_v7()), UserId::from_uuid(Uuid::now_v7()));
    let (session_write, token) = session(&state, tenant, user, Role::Owner);
    let mut unit = UnitOfWork::new(&state.store);
    unit.decide::<User>(
        &user.to_string(),
        UserCommand::Register { user_id: user, email: email.clone() },
        &(),
    )
    .await?;
    let register =
        OrganizationCommand::Register { tenant_id: tenant, name, owner: user, owner_email: email.clone() };
    unit.decide::<Organization>(&tenant.to_string(), register, &()).await?;
    for write in new_user_writes(user, &email, &body.password)? {
        unit.side_write(write);
    }
    unit.side_write(session_write);
    let mut meta = CommandMetadata::new(Some(tenant.as_uuid()), format!("user:{user}"));
    meta.request_id = crate::auth::request_id(&headers);
    unit.commit(&meta).await?;
    Ok((
        StatusCode::CREATED,
        Json(Registered { tenant_id: tenant.to_string(), user_id: user.to_string(), token }),
    ))
}

/// The user id and password hash behind an email, if the account exists.
async fn account(state: &AppState, email: &Email) -> Result<Option<(UserId, String)>, ApiError> {
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT c.user_id, c.secret_hash FROM unique_claims u
           JOIN credentials c ON c.kind = 'password' AND u.owner = 'user:' || c.user_id::text
          WHERE u.scope = 'email' AND u.value = $1",
    )
    .bind(email.canonical())
    .fetch_optional(&state.pool)
    .await?;
    Ok(row.map(|(user, phc)| (UserId::from_uuid(user), phc)))
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login, responses((status = 200, description = "Logged in", body = LoggedIn), (status = 400, description = "Bad input, naming the field", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = crate::error::Problem, content_type = "application/problem+json")))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Login>,
) -> Result<Json<LoggedIn>, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    limit(&state, client, &email.canonical())?;
    let wanted = body
        .tenant_id
        .as_deref()
        .map(|t| t.parse::<Uuid>().map_err(|_| ApiError::field("tenant_id", "not a valid id")))
        .transpose()?;
    let invalid = || ApiError::Unauthorized("wrong email or password".to_owned());
    let Some((user, phc)) = account(&state, &email).await? else {
        dummy_verify(&body.password);
        return Err(invalid());
    };
    if !verify_password(&body.password, &phc) {
        return Err(invalid());
    }
    let (tenant, role) = membership(&state, user, wanted)
        .await?
        .ok_or_else(|| ApiError::Forbidden("the account is not a member of that organization".to_owned()))?;
    let (write, token) = session(&state, tenant, user, role);
    berth_eventstore::append::run_statement(&state.pool, &write).await?;
    Ok(Json(LoggedIn { token, tenant_id: tenant.to_string() }))
}

/// The user's tenant and role there (waiting briefly for the identity view to catch up with a
/// membership that was just created).
async fn membership(
    state: &AppState,
    user: UserId,
    wanted: Option<Uuid>,
) -> Result<Option<(TenantId, Role)>, ApiError> {
    for _ in 0..30 {
        let row: Result<Option<(Uuid, String)>, sqlx::Error> = sqlx::query_as(
            "SELECT tenant_id, role FROM proj_identity.members WHERE user_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)
              ORDER BY joined_at LIMIT 1",
        )
        .bind(user.as_uuid())
        .bind(wanted)
        .fetch_optional(&state.pool)
        .await;
        let row = match row {
            // Right after a first start the identity view may not be installed yet.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P01") => None,
            other => other?,
        };
        if let Some((tenant, role)) = row {
            return Ok(Role::parse(&role).map(|role| (TenantId::from_uuid(tenant), role)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(None)
}

/// `POST /v1/invitations/accept`: join a tenant with an invitation token, as a new user or an
/// existing one.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "invitations", request_body = AcceptInvitation, responses((status = 200, description = "Joined", body = Joined), (status = 400, description = "Bad input, naming the field", body = crate::error::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = crate::error::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = crate::error::Problem, content_type = "application/problem+json")))]
pub(crate) async fn accept_invitation(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AcceptInvitation>,
) -> Result<Json<Joined>, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    limit(&state, client, &email.canonical())?;
    let invitation = crate::routes::invitations::find(&state, &body.token).await?.ok_or_else(|| {
        ApiError::Unauthorized("the invitation token is unknown, used, revoked or expired".to_owned())
    })?;
    let existing = account(&state, &email).await?;
    let user = match &existing {
        Some((user, phc)) => {
            if !verify_password(&body.password, phc) {
                return Err(ApiError::Unauthorized("wrong password for this existing account".to_owned()));
            }
            *user
        }
        None => {
            check_password(&body.password)?;
            UserId::from_uuid(Uuid::now_v7())
        }
    };
    // The organization first: the answer's version is the organization's.
    let mut unit = UnitOfWork::new(&state.store);
    let accept = OrganizationCommand::AcceptInvitation {
        invitation_id: invitation.id,
        user_id: user,
        email: email.clone(),
        now: OffsetDateTime::now_utc(),
    };
    unit.decide::<Organization>(&invitation.tenant_id.to_string(), accept, &()).await?;
    if existing.is_none() {
        unit.decide::<User>(
            &user.to_string(),
            UserCommand::Register { user_id: user, email: email.clone() },
            &(),
        )
        .await?;
        for write in new_user_writes(user, &email, &body.password)? {
            unit.side_write(write);
        }
    }
    let role = invitation.role.as_deref().and_then(Role::parse).unwrap_or(Role::Viewer);
    let (session_write, token) = session(&state, invitation.tenant_id, user, role);
    unit.side_write(session_write);
    unit.side_write(SideWrite::Statement {
        sql: "UPDATE credentials SET revoked_at = now() WHERE id = $1 AND kind = 'invitation'",
        args: vec![SqlArg::Uuid(Some(invitation.id.as_uuid()))],
    });
    let mut meta = CommandMetadata::new(Some(invitation.tenant_id.as_uuid()), format!("user:{user}"));
    meta.request_id = crate::auth::request_id(&headers);
    let outcome = unit.commit(&meta).await?;
    Ok(Json(Joined {
        tenant_id: invitation.tenant_id.to_string(),
        user_id: user.to_string(),
        token,
        version: outcome.version,
    }))
}
