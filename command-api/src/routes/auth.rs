//! `/v1/auth`: registration and login, and accepting an invitation. These are the only
//! unauthenticated routes, so they carry their own rate limits: per client address and per
//! account.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use berth_domain::email::Email;
use berth_domain::ids::{SubscriptionId, TenantId, UserId};
use berth_domain::name::DisplayName;
use berth_domain::organization::{Organization, OrganizationCommand};
use berth_domain::plan::{BillingPeriod, Plan};
use berth_domain::role::Role;
use berth_domain::security::{Origin, SecondFactor, SecurityCommand};
use berth_domain::subscription::{Subscription, SubscriptionCommand};
use berth_domain::user::{User, UserCommand};
use berth_eventstore::billing::plan_by_code;
use berth_eventstore::credentials::{self, CredentialWrite};
use berth_eventstore::two_factor;
use berth_eventstore::unit_of_work::UnitOfWork;
use berth_http::extract::ApiJson;
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accepted::Located;
use crate::auth::Anonymous;
use crate::secrets::{derived_id, dummy_verify, hash_password, new_token, token_digest, verify_password};
use crate::{security, totp, AppState, View};

/// The authentication routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/auth/register", post(register)).route("/v1/auth/login", post(login))
}

/// `POST /v1/auth/register` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Acme", "email": "me@acme.test", "password": "a long password"}))]
pub struct Register {
    /// The tenant's name.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The owner's email.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// The owner's password.
    #[schema(min_length = 10, max_length = 1024, format = Password)]
    pub password: String,
}

/// The answer to registration and to accepting an invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// A session token for the user in that tenant.
    pub token: String,
}

/// The answer to accepting an invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Joined {
    /// The tenant joined.
    pub tenant_id: Uuid,
    /// The user (new or existing).
    pub user_id: Uuid,
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
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// The password.
    #[schema(format = Password)]
    pub password: String,
    /// Which of the user's tenants to act in (the first one joined if absent).
    #[schema(format = Uuid)]
    pub tenant_id: Option<String>,
    /// With two-factor login on: the authenticator's current six-digit code, or one of the
    /// recovery codes.
    #[schema(max_length = 64)]
    pub code: Option<String>,
}

/// The answer to a login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoggedIn {
    /// A session token.
    pub token: String,
    /// The tenant it acts in.
    pub tenant_id: Uuid,
    /// How the login proved itself beyond the password.
    #[schema(value_type = String, example = "totp")]
    pub second_factor: SecondFactor,
}

/// `POST /v1/invitations/accept` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The invitation's one-time token.
    pub token: String,
    /// The invitee's email (must be the invited address).
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// Their password: a new one for a new user (10 to 1024 characters), or their existing one.
    #[schema(format = Password)]
    pub password: String,
}

pub(crate) fn limit(state: &AppState, client: SocketAddr, account: &str) -> Result<(), ApiError> {
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
fn session(state: &AppState, tenant: TenantId, user: UserId, role: Role) -> (CredentialWrite, String) {
    let secret = new_token("brs");
    let expires_at = state.clock.now() + state.session_ttl;
    let digest = token_digest(&secret);
    (CredentialWrite::Session { id: Uuid::now_v7(), digest, tenant, user, role, expires_at }, secret)
}

/// The password of a new user (their email is claimed by their `UserRegistered` event).
fn password(user: UserId, password: &str) -> Result<CredentialWrite, ApiError> {
    let phc = hash_password(password).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(CredentialWrite::Password { user, phc })
}

/// The trial a new tenant starts with (`billing.trial_plan`), committed with the registration
/// so that no tenant is registered without it. A trial plan that does not exist is the
/// provider's mistake, and refuses every registration until it is fixed.
async fn trial(
    state: &AppState,
    tenant: TenantId,
    minted: Uuid,
) -> Result<Option<(SubscriptionId, SubscriptionCommand)>, ApiError> {
    let policy = &state.billing;
    let Some(code) = &policy.trial_plan else { return Ok(None) };
    let internal =
        |what: String| ApiError::Internal(format!("billing.trial_plan `{}`: {what}", code.as_str()));
    let plan_id = plan_by_code(&state.store, code).await?.ok_or_else(|| internal("no such plan".into()))?;
    let plan = state.store.load::<Plan>(&plan_id.to_string()).await?.aggregate;
    let today = state.clock.now().date();
    let terms = plan
        .terms(policy.trial_currency, BillingPeriod::Month, today)
        .map_err(|e| internal(e.to_string()))?;
    let subscription_id = SubscriptionId::from_uuid(derived_id(minted, "trial"));
    let command = SubscriptionCommand::Subscribe {
        subscription_id,
        tenant_id: tenant,
        plan: terms,
        coupon: None,
        today,
    };
    Ok(Some((subscription_id, command)))
}

/// Register a tenant and its first owner; the answer holds the owner's session token.
#[utoipa::path(post, path = "/v1/auth/register", operation_id = "register_tenant", tag = "auth", request_body = Register,
    responses((status = 201, description = "Registered", body = Registered)))]
async fn register(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    anonymous: Anonymous,
    ApiJson(body): ApiJson<Register>,
) -> Result<Located<Registered>, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    limit(&state, client, &email.canonical())?;
    let name = DisplayName::parse(&body.name).map_err(|e| ApiError::field("name", e))?;
    check_password(&body.password)?;
    let tenant_uuid = anonymous.new_id();
    let (tenant, user) =
        (TenantId::from_uuid(tenant_uuid), UserId::from_uuid(derived_id(tenant_uuid, "owner")));
    let (session_write, token) = session(&state, tenant, user, Role::Owner);
    let mut unit = UnitOfWork::new(&state.store);
    unit.decide::<User>(&user.to_string(), UserCommand::Register { user_id: user, email: email.clone() })
        .await?;
    let register =
        OrganizationCommand::Register { tenant_id: tenant, name, owner: user, owner_email: email.clone() };
    unit.decide::<Organization>(&tenant.to_string(), register).await?;
    if let Some(trial) = trial(&state, tenant, tenant_uuid).await? {
        unit.decide::<Subscription>(&trial.0.to_string(), trial.1).await?;
    }
    unit.side_write(password(user, &body.password)?);
    unit.side_write(CredentialWrite::Membership { tenant, user, role: Role::Owner });
    unit.side_write(session_write);
    let outcome = unit.commit(&anonymous.metadata(Some(tenant.as_uuid()), format!("user:{user}"))).await?;
    let location = state.links.to(View::Tenant, outcome.version);
    let registered = Registered { tenant_id: tenant.as_uuid(), user_id: user.as_uuid(), token };
    Ok(Located::new(StatusCode::CREATED, location, registered))
}

/// Log in with an email and password; the answer holds a session token for one tenant.
#[utoipa::path(post, path = "/v1/auth/login", operation_id = "login", tag = "auth", request_body = Login,
    responses((status = 200, description = "Logged in", body = LoggedIn),
        (status = 401, description = "Wrong email or password, or a missing, wrong or reused two-factor code", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of that tenant, or it requires two-factor login and the account has none", body = berth_http::Problem, content_type = "application/problem+json")))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    anonymous: Anonymous,
    ApiJson(body): ApiJson<Login>,
) -> Result<Json<LoggedIn>, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    limit(&state, client, &email.canonical())?;
    let wanted = body
        .tenant_id
        .as_deref()
        .map(|t| t.parse::<TenantId>().map_err(|_| ApiError::field("tenant_id", "not a valid id")))
        .transpose()?;
    let attempt =
        Attempt { origin: security::origin(client, &headers), request_id: anonymous.request_id.clone() };
    let user = check_account(&state, &email, &body.password, &attempt).await?;
    let factor = second_factor(&state, user, body.code.as_deref(), &attempt).await?;
    let Some((tenant, role)) = credentials::membership(&state.pool, user, wanted).await? else {
        return Err(attempt.refuse(&state, user, Refusal::NotMember).await);
    };
    if factor == SecondFactor::None && two_factor::required(&state.pool, tenant).await? {
        return Err(attempt.refuse(&state, user, Refusal::SecondFactorRequired).await);
    }
    let (write, token) = session(&state, tenant, user, role);
    write.apply_alone(&state.pool).await?;
    let command = SecurityCommand::RecordLogin {
        user_id: user,
        tenant_id: tenant.as_uuid(),
        factor,
        origin: attempt.origin.clone(),
    };
    security::record(
        &state,
        user.as_uuid(),
        Some(tenant.as_uuid()),
        format!("user:{user}"),
        attempt.request_id,
        command,
    )
    .await?;
    Ok(Json(LoggedIn { token, tenant_id: tenant.as_uuid(), second_factor: factor }))
}

/// Where a password or code check came from, for the security log.
pub(crate) struct Attempt {
    pub(crate) origin: Origin,
    pub(crate) request_id: Option<String>,
}

/// Why a login (or a second-factor change) was refused.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal {
    WrongPassword,
    CodeMissing,
    CodeWrong,
    CodeReused,
    RecoveryCodeWrong,
    NotMember,
    SecondFactorRequired,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Self::WrongPassword => "wrong email or password",
            Self::CodeMissing => {
                "code: two-factor login is on for this account; send the authenticator's current code or a recovery code"
            }
            Self::CodeWrong => "code: the code is wrong or has expired",
            Self::CodeReused => "code: this code was used already; wait for the next one",
            Self::RecoveryCodeWrong => "code: the recovery code is wrong or was used already",
            Self::NotMember => "the account is not a member of that organization",
            Self::SecondFactorRequired => {
                "the organization requires two-factor login: enrol with POST /v1/auth/two-factor/enrol and confirm it first"
            }
        }
    }

    fn error(self) -> ApiError {
        match self {
            Self::NotMember | Self::SecondFactorRequired => ApiError::Forbidden(self.reason().to_owned()),
            _ => ApiError::Unauthorized(self.reason().to_owned()),
        }
    }
}

impl Attempt {
    /// Records the refusal in the account's security log and gives the answer for it.
    pub(crate) async fn refuse(&self, state: &AppState, user: UserId, refusal: Refusal) -> ApiError {
        let origin = self.origin.clone();
        security::record_failure(
            state,
            user.as_uuid(),
            Some(user),
            refusal.reason(),
            origin,
            self.request_id.clone(),
        )
        .await;
        refusal.error()
    }
}

/// The account behind `email` if `password` is its password; a failure is recorded.
pub(crate) async fn check_account(
    state: &AppState,
    email: &Email,
    password: &str,
    attempt: &Attempt,
) -> Result<UserId, ApiError> {
    let Some((user, phc)) = credentials::account(&state.pool, &email.canonical()).await? else {
        dummy_verify(password);
        let stream = security::unknown_account(&email.canonical());
        let reason = Refusal::WrongPassword;
        security::record_failure(
            state,
            stream,
            None,
            "no such account",
            attempt.origin.clone(),
            attempt.request_id.clone(),
        )
        .await;
        return Err(reason.error());
    };
    if !verify_password(password, &phc) {
        return Err(attempt.refuse(state, user, Refusal::WrongPassword).await);
    }
    Ok(user)
}

/// Checks the second factor of `user`, if they have one on: a TOTP code is taken once (its
/// time step is remembered), a recovery code is used up. A failure is recorded.
pub(crate) async fn second_factor(
    state: &AppState,
    user: UserId,
    code: Option<&str>,
    attempt: &Attempt,
) -> Result<SecondFactor, ApiError> {
    let Some(stored) = two_factor::state(&state.pool, user).await?.filter(|t| t.enabled) else {
        return Ok(SecondFactor::None);
    };
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Err(attempt.refuse(state, user, Refusal::CodeMissing).await);
    };
    if totp::looks_like_totp(code) {
        let step = code_step(state, stored.secret_id, code).await?;
        let Some(step) = step else {
            return Err(attempt.refuse(state, user, Refusal::CodeWrong).await);
        };
        if !two_factor::take_step(&state.pool, user, step).await? {
            return Err(attempt.refuse(state, user, Refusal::CodeReused).await);
        }
        return Ok(SecondFactor::Totp);
    }
    let digest = totp::recovery_digest(user, code);
    let Some(remaining) = two_factor::use_recovery_code(&state.pool, user, &digest).await? else {
        return Err(attempt.refuse(state, user, Refusal::RecoveryCodeWrong).await);
    };
    let command = SecurityCommand::UseRecoveryCode { user_id: user, remaining };
    security::record(
        state,
        user.as_uuid(),
        None,
        format!("user:{user}"),
        attempt.request_id.clone(),
        command,
    )
    .await?;
    Ok(SecondFactor::RecoveryCode)
}

/// The time step `code` is valid for with the secret sealed under `secret_id`, now.
pub(crate) async fn code_step(
    state: &AppState,
    secret_id: Uuid,
    code: &str,
) -> Result<Option<i64>, ApiError> {
    let secret =
        state.vault.open(&state.pool, secret_id).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let generator =
        totp::generator(secret.to_vec(), &state.totp_issuer, "account").map_err(ApiError::Internal)?;
    let unix = u64::try_from(state.clock.now().unix_timestamp()).unwrap_or(0);
    Ok(totp::matching_step(&generator, code, unix))
}

/// Join a tenant with an invitation's one-time token, as a new user or an existing one.
#[utoipa::path(post, path = "/v1/invitations/accept", operation_id = "accept_invitation", tag = "invitations", request_body = AcceptInvitation,
    responses((status = 200, description = "Joined", body = Joined),
        (status = 401, description = "The token is unknown, used, revoked or expired, or the password is wrong", body = berth_http::Problem, content_type = "application/problem+json")))]
pub(crate) async fn accept_invitation(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    anonymous: Anonymous,
    ApiJson(body): ApiJson<AcceptInvitation>,
) -> Result<Json<Joined>, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e))?;
    limit(&state, client, &email.canonical())?;
    let invitation =
        credentials::invitation(&state.pool, &token_digest(&body.token)).await?.ok_or_else(|| {
            ApiError::Unauthorized("the invitation token is unknown, used, revoked or expired".to_owned())
        })?;
    let existing = credentials::account(&state.pool, &email.canonical()).await?;
    let user = match &existing {
        Some((user, phc)) => {
            if !verify_password(&body.password, phc) {
                return Err(ApiError::Unauthorized("wrong password for this existing account".to_owned()));
            }
            *user
        }
        None => {
            check_password(&body.password)?;
            UserId::from_uuid(anonymous.new_id())
        }
    };
    // The organization first: the answer's version is the organization's.
    let mut unit = UnitOfWork::new(&state.store);
    let accept = OrganizationCommand::AcceptInvitation {
        invitation_id: invitation.id,
        user_id: user,
        email: email.clone(),
        now: state.clock.now(),
    };
    unit.decide::<Organization>(&invitation.tenant_id.to_string(), accept).await?;
    if existing.is_none() {
        unit.decide::<User>(&user.to_string(), UserCommand::Register { user_id: user, email: email.clone() })
            .await?;
        unit.side_write(password(user, &body.password)?);
    }
    let role = invitation.role;
    let (session_write, token) = session(&state, invitation.tenant_id, user, role);
    unit.side_write(session_write);
    unit.side_write(CredentialWrite::Membership { tenant: invitation.tenant_id, user, role });
    unit.side_write(CredentialWrite::RevokeInvitation { invitation: invitation.id });
    let outcome = unit
        .commit(&anonymous.metadata(Some(invitation.tenant_id.as_uuid()), format!("user:{user}")))
        .await?;
    Ok(Json(Joined {
        tenant_id: invitation.tenant_id.as_uuid(),
        user_id: user.as_uuid(),
        token,
        version: outcome.version,
    }))
}
